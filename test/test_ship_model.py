"""tools/ship_model.py end to end on tiny data: strip a checkpoint, evaluate model and baseline, write the card.

Real pieces throughout: an untrained tiny network saved with `save_checkpoint` (with an SGD
optimizer's state in `extra`, as last.pt has), two small generated LiDAR scans in the
SemanticKITTI layout, and the `clickenhance-eval` code path. Everything goes under tmp_path.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from cloud_factories import box_surface
from test_training import scenes_root  # noqa: F401 (fixture)

from clickenhance_model.checkpoint import load_checkpoint, save_checkpoint
from clickenhance_model.config import save_config
from clickenhance_model.datasets.semantic_kitti import object_kind
from clickenhance_model.scenes.generate import GeneratorConfig, generate_scan
from clickenhance_model.scenes.lidar import LidarConfig
from clickenhance_model.scenes.writer import write_scan
from clickenhance_model.segmenter import Segmenter
from clickenhance_model.training.config import load_train_config
from clickenhance_model.training.synthetic import manifest_domains

TOOL = Path(__file__).resolve().parents[1] / "tools" / "ship_model.py"
TRAIN_ROWS = ("step,epoch,lr,total,ce,dice,click,rounds,seconds_per_step\n"
              "2,1,0.01,1,1,1,1,1,1.5\n4,1,0.01,1,1,1,1,1,2.0\n6,2,0.01,1,1,1,1,1,5.0\n")  # 7 s to step 4, 17 s in all
VAL_ROWS = ("step,epoch,objects,NoC@80,NoC@85,NoC@90,IoU@1,IoU@5,IoU@10,seconds\n"
            "4,1,3,3,3,3,0.1,0.1,0.1,3.0\n6,2,3,3,3,3,0.1,0.1,0.1,4.0\n")  # the checkpoint is from step 4
OPTIMIZER_KEYS = ("optimizer", "scheduler", "scaler", "torch_rng")
GATE_FOLDERS = ["val_baseline", "val_model", "val_rings16_baseline", "val_rings16_model"]  # the generated gate's runs


def _load_tool():
    """tools/ship_model.py as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("ship_model", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ship_model = _load_tool()


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two small generated street scans (16 beams x 256 steps) as sequence 01 of a SemanticKITTI root."""
    root = tmp_path_factory.mktemp("scans")
    config = GeneratorConfig(lidar=LidarConfig(beams=16, azimuth_steps=256))
    for frame in range(2):
        write_scan(root, 1, frame, generate_scan("outdoor", 0, frame, config))
    return root


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder as the trainer leaves it: last.pt with optimizer state, train_config.yaml, both CSV logs."""
    run = tmp_path_factory.mktemp("run")
    config = load_train_config("synthetic_tiny", seed=7)
    segmenter = Segmenter.from_config(config.model, seed=7)
    optimizer = torch.optim.SGD(segmenter.model.parameters(), lr=0.01, momentum=0.9)
    for parameter in segmenter.model.parameters():
        parameter.grad = torch.ones_like(parameter)
    optimizer.step()  # momentum buffers: real optimizer state, as in last.pt
    extra = {"train_config": config.to_dict(), "state": {"epoch": 1, "epoch_step": 0, "step": 4, "best": 3.0},
             "metrics": {"NoC@85": 3.0}, "world_size": 1, "trained_on": {"dataset": "synthetic", "root": "x"},
             "optimizer": optimizer.state_dict(), "scheduler": {"last_epoch": 4}, "scaler": {},
             "torch_rng": torch.get_rng_state()}  # fmt: skip
    save_checkpoint(run / "last.pt", segmenter.model, config.model, extra)
    save_config(config, run / "train_config.yaml")
    (run / "train_log.csv").write_text(TRAIN_ROWS)
    (run / "val_log.csv").write_text(VAL_ROWS)
    return run


@pytest.fixture(scope="module")
def indoor(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A coloured room (floor, a table, a box) as npy triplets, standing in for the real indoor region."""
    root = tmp_path_factory.mktemp("indoor")
    g = np.arange(0, 3, 0.06)
    floor = np.stack(np.meshgrid(g, g, [0.0]), -1).reshape(-1, 3)
    table = box_surface((1.0, 1.0, 0.03), (1.8, 1.6, 0.7), 0.05)
    box = box_surface((0.2, 2.2, 0.03), (0.6, 2.6, 0.4), 0.05)
    xyz = np.concatenate([floor, table, box]).astype(np.float32)
    np.save(root / "room.xyz.npy", xyz)
    np.save(root / "room.rgb.npy", np.full((len(xyz), 3), 128, dtype=np.uint8))
    np.save(root / "room.instance.npy", np.repeat([1, 2, 3], [len(floor), len(table), len(box)]))
    return root


def _argv(run_dir: Path, scans: Path, out: Path, eval_dir: Path, *more: str, indoor: Path) -> list[str]:
    """The generated scans stand in for the real SemanticKITTI scans; 3 clicks, 3 objects per set, on the CPU."""
    return ["--checkpoint", str(run_dir / "last.pt"), "--run-dir", str(run_dir), "--val-root", str(scans),
            "--val-sequences", "01", "--real-root", str(scans), "--indoor-root", str(indoor), "--out", str(out),
            "--eval-dir", str(eval_dir), "--max-clicks", "3", "--min-points", "10", "--limit-objects", "3",
            "--device", "cpu", "--no-demo-gate", *more]  # fmt: skip


def _card_rows(card: str) -> dict[tuple[str, str], list[str]]:
    """(set, method) -> cells [objects, NoC@80, NoC@85, NoC@90, IoU@1, IoU@5, IoU@10, stuck, collapsed] of the
    card's table."""
    rows = {}
    for line in card.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 11 and cells[0] in ship_model.SETS:
            rows[(cells[0], cells[1])] = cells[2:]
    return rows


def _expected_cells(results: dict) -> list[str]:
    """The same cells computed from a results.json summary (NoC 2 decimals, IoU percent 1 decimal, – past budget)."""
    summary = results["summary"]
    ious = summary["IoU@k"]
    iou_cells = [f"{100 * ious[k - 1]:.1f}" if k <= len(ious) else "–" for k in (1, 5, 10)]
    stuck = "–" if summary["stuck_objects"] is None else str(summary["stuck_objects"])
    collapsed = (f"{summary['collapsed_objects']} ({summary['collapses_after_negative']} / "
                 f"{summary['collapses_after_positive']})")  # fmt: skip
    return [str(summary["objects"])] + [f"{summary[f'NoC@{t}']:.2f}" for t in (80, 85, 90)] + iou_cells + [stuck,
                                                                                                        collapsed]


def test_ships_stripped_weights_with_a_card_matching_the_evaluations(run_dir: Path, scans: Path, indoor: Path,
                                                                     tmp_path: Path):
    out, eval_dir = tmp_path / "weights", tmp_path / "eval"
    out.mkdir()  # the weights shipped before, refused to `method: auto` by a re-judgement
    (out / "default.json").write_text('{"trained_domains": ["outdoor", "indoor"], "auto_refused": "judged"}')
    assert ship_model.main(_argv(run_dir, scans, out, eval_dir, "--no-refuse-if-worse", indoor=indoor)) == 0

    state_dict, _, extra = load_checkpoint(out / "default.pt")
    original, _, original_extra = load_checkpoint(run_dir / "last.pt")
    assert not set(OPTIMIZER_KEYS) & set(extra) and set(OPTIMIZER_KEYS) <= set(original_extra)
    assert extra["train_config"] == original_extra["train_config"] and extra["state"]["step"] == 4
    assert all(torch.equal(state_dict[k], original[k]) for k in original)
    assert Segmenter.load(out / "default.pt", device="cpu").config == Segmenter.load(run_dir / "last.pt").config
    # synthetic_tiny generates streets only: the node's `method: auto` will not serve this model on rooms; the
    # earlier weights' refusal is gone with them
    assert json.loads((out / "default.json").read_text()) == {"trained_domains": ["outdoor"]}

    card = (out / "README.md").read_text()
    rows = _card_rows(card)
    assert len(rows) == 12
    for name in ship_model.SETS:
        for method in ("model", "baseline"):
            results = json.loads((eval_dir / f"{name}_{method}" / "results.json").read_text())
            assert rows[(name, method)] == _expected_cells(results)
            assert results["run"]["max_clicks"] == 3 and results["summary"]["objects"] == 3
    assert json.loads((eval_dir / "rings16_model" / "results.json").read_text())["run"]["dataset_options"] == {
        "objects": "all", "keep_rings": 4}  # fmt: skip
    cut = json.loads((eval_dir / "val_rings16_baseline" / "results.json").read_text())["run"]  # the generated cut
    assert cut["dataset_options"] == {"sequences": ["01"], "keep_rings": 4}
    assert cut["min_points"] == 10 // 4 and cut["scene_stride"] == 1
    assert "- val_rings16: the generated validation streets cut to every 4th laser ring" in card
    assert json.loads((eval_dir / "indoor_baseline" / "results.json").read_text())["run"]["dataset"] == "npy"
    assert "### stuff: per class" in card and "### indoor: per class" in card and "### val: per class" not in card
    model_keys = [(o["scene"], o["instance_id"]) for o in json.loads((eval_dir / "stuff_model" / "results.json")
                                                                     .read_text())["objects"]]  # fmt: skip
    baseline_keys = [(o["scene"], o["instance_id"]) for o in json.loads((eval_dir / "stuff_baseline" / "results.json")
                                                                        .read_text())["objects"]]  # fmt: skip
    assert model_keys == baseline_keys
    assert "--seed 7" in card and "step 4 (its validation: NoC@85 3.00)" in card
    assert "= 7 s training steps + 3 s validation; the whole run: 24 s." in card
    assert re.search(r"does NOT beat|BEATS", card) and "lr: 0.02" in card and "all stages" not in card


def test_card_of_a_fine_tuned_run_lists_every_stage(run_dir: Path, scans: Path, indoor: Path, tmp_path: Path):
    stage2 = tmp_path / "stage2"
    stage2.mkdir()
    config = dataclasses.replace(load_train_config("synthetic_tiny", seed=3), init_from=str(run_dir / "last.pt"))
    state_dict, model_config, extra = load_checkpoint(run_dir / "last.pt")
    extra = {**extra, "train_config": config.to_dict(), "state": {"epoch": 1, "epoch_step": 0, "step": 2}}
    segmenter = Segmenter.from_config(model_config)
    segmenter.model.load_state_dict(state_dict)
    save_checkpoint(stage2 / "best.pt", segmenter.model, model_config, extra)
    save_config(config, stage2 / "train_config.yaml")
    (stage2 / "train_log.csv").write_text(TRAIN_ROWS)
    argv = _argv(run_dir, scans, tmp_path / "weights", tmp_path / "eval", "--no-refuse-if-worse", indoor=indoor)
    argv[1:4] = [str(stage2 / "best.pt"), "--run-dir", str(stage2)]
    assert ship_model.main(argv) == 0
    card = (tmp_path / "weights" / "README.md").read_text()
    first, second = card.index(f"--seed 7 --out {run_dir}"), card.index(f"--seed 3 --out {stage2}")
    assert first < second  # stage 1 (the init_from run) comes first
    assert "Wall time to step 4" in card and "Wall time to step 2" in card
    assert "Wall time of all stages to these weights: 0.00 h." in card


def test_chosen_inference_options_travel_in_the_shipped_weights(run_dir: Path, tmp_path: Path) -> None:
    chosen = {"ground_gate": False, "ground_prior": True, "joined_click": "free", "views": 4, "gain_reach": 1.0,
              "keep_direction": True}
    size, metadata = ship_model.strip_checkpoint(run_dir / "last.pt", tmp_path / "off.pt", chosen)
    assert metadata["inference_options"] == chosen and "optimizer" not in metadata
    options = Segmenter.load(tmp_path / "off.pt", device="cpu").options
    assert options.ground_gate is False and options.ground_prior is True and options.views == 4
    assert options.joined_click == "free" and options.gain_reach == 1.0 and options.keep_direction is True
    assert Segmenter.load(tmp_path / "off.pt", device="cpu", ground_gate=True).options.ground_gate is True
    card = "\n".join(ship_model.provenance(run_dir, tmp_path / "off.pt", size, metadata))
    assert "ground_gate=False" in card and "ground_prior=True" in card and "views=4" in card
    assert "gain_reach=1.0" in card and "keep_direction=True" in card
    required = [f"--{name}=x" for name in ("checkpoint", "run-dir", "val-root", "real-root", "indoor-root", "out")]
    assert ship_model.build_parser().parse_args([*required, "--views", "4"]).views == 4
    assert ship_model.build_parser().parse_args([*required, "--joined-click", "free"]).joined_click == "free"
    with pytest.raises(SystemExit):
        ship_model.build_parser().parse_args([*required, "--views", "9"])
    assert ship_model.build_parser().parse_args([*required, "--gain-reach", "1.0"]).gain_reach == 1.0
    with pytest.raises(SystemExit):
        ship_model.main([*required, "--gain-reach", "-1"])


def test_card_of_a_run_started_from_a_shipped_checkpoint_names_it(run_dir: Path, tmp_path: Path) -> None:
    shipped = tmp_path / "weights" / "default.pt"  # stripped, with its training metadata, no run folder beside it
    shipped.parent.mkdir()
    ship_model.strip_checkpoint(run_dir / "last.pt", shipped)
    stage = tmp_path / "any_object"
    stage.mkdir()
    save_config(dataclasses.replace(load_train_config("synthetic_tiny", seed=5), init_from=str(shipped)),
                stage / "train_config.yaml")  # fmt: skip
    (stage / "train_log.csv").write_text(TRAIN_ROWS)
    size, metadata = ship_model.strip_checkpoint(run_dir / "last.pt", tmp_path / "candidate.pt")
    card = "\n".join(ship_model.provenance(stage, tmp_path / "candidate.pt", size, metadata))
    assert f"0. Start: `{shipped}` as it was when this run began (step 4 of its own run" in card
    assert f"--seed 5 --out {stage}" in card and "after the start checkpoint's own." in card
    state_dict, model_config, _ = load_checkpoint(run_dir / "last.pt")
    segmenter = Segmenter.from_config(model_config)
    segmenter.model.load_state_dict(state_dict)
    save_checkpoint(shipped, segmenter.model, model_config, {})  # no metadata: nothing says where it came from
    with pytest.raises(ship_model.ShipError, match="run folder"):
        ship_model.provenance(stage, tmp_path / "candidate.pt", size, metadata)


def test_refuses_an_untrained_model_that_loses_on_the_real_scans(run_dir: Path, scans: Path, indoor: Path,
                                                                 tmp_path: Path):
    out, eval_dir = tmp_path / "weights", tmp_path / "eval"
    assert ship_model.main(_argv(run_dir, scans, out, eval_dir, "--no-validation-gate", indoor=indoor)) == 1
    assert not (out / "default.pt").exists() and not out.exists()
    card = (eval_dir / "README.md").read_text()
    assert "NOT SHIPPED" in card and "does NOT beat" in card and "default.pt was NOT written" in card


def test_reuse_eval_renders_the_card_again_without_evaluating(run_dir: Path, scans: Path, indoor: Path,
                                                              tmp_path: Path, capsys):
    out, eval_dir = tmp_path / "weights", tmp_path / "eval"
    assert ship_model.main(_argv(run_dir, scans, out, eval_dir, "--no-validation-gate", indoor=indoor)) == 1
    first_card = (eval_dir / "README.md").read_text()
    stamps = {p: p.stat().st_mtime_ns for p in eval_dir.glob("*/results.json")}
    assert len(stamps) == 12
    capsys.readouterr()
    assert ship_model.main(_argv(run_dir, scans, out, eval_dir, "--reuse-eval", "--no-validation-gate",
                                 indoor=indoor)) == 1  # fmt: skip
    assert capsys.readouterr().err.count("reusing") == 12
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps and (eval_dir / "README.md").read_text() == first_card
    # an evaluation made under another preset (the baseline moved since) is not reused: that set is measured again
    record = eval_dir / "stuff_baseline" / ship_model.EVAL_RECORD
    stale = json.loads(record.read_text())
    assert stale["graph_presets"] == ship_model.graph_presets() and "--restart" not in stale["argv"]
    stale["graph_presets"]["outdoor"]["shape_penalty"] = 0.0
    record.write_text(json.dumps(stale))
    assert ship_model.main(_argv(run_dir, scans, out, eval_dir, "--reuse-eval", "--no-validation-gate",
                                 indoor=indoor)) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert err.count("reusing") == 11 and f"--method baseline --out {eval_dir / 'stuff_baseline'}" in err
    assert json.loads(record.read_text())["graph_presets"] == ship_model.graph_presets()
    other = tmp_path / "other.pt"
    config = load_train_config("synthetic_tiny")
    Segmenter.from_config(config.model, seed=99).save(other, extra={"train_config": config.to_dict()})
    argv = _argv(run_dir, scans, out, eval_dir, "--reuse-eval", indoor=indoor)
    argv[1] = str(other)
    assert ship_model.main(argv) == 2 and "other weights" in capsys.readouterr().err


def test_rejudge_refuses_installed_weights_to_method_auto_and_says_so_in_their_card(
        run_dir: Path, scans: Path, indoor: Path, tmp_path: Path, capsys) -> None:  # fmt: skip
    """Weights shipped earlier, judged again by today's rule: an untrained network loses, so default.json records
    the refusal (its other facts kept) and the card gets a pointer under its title and a section with the
    figures; a second run replaces both instead of adding more. The weights themselves are not touched."""
    from clickenhance_model.shipped_facts import read_auto_refusal, read_trained_domains, write_facts

    out, eval_dir = tmp_path / "weights", tmp_path / "eval"
    out.mkdir()
    ship_model.strip_checkpoint(run_dir / "last.pt", out / "default.pt")
    write_facts(out / "default.pt", load_train_config("synthetic_tiny").to_dict())
    (out / "README.md").write_text("# ClickEnhance default model\n\nCard written 2026-11-26.\n\n**Verdict.** Old.\n")
    weights = (out / "default.pt").read_bytes()
    argv = ["--rejudge-installed", "--out", str(out), "--real-root", str(scans), "--indoor-root", str(indoor),
            "--eval-dir", str(eval_dir), "--max-clicks", "3", "--min-points", "10", "--limit-objects", "3",
            "--device", "cpu"]  # fmt: skip
    assert ship_model.main(argv) == 1
    refusal = read_auto_refusal(out / "default.pt")
    assert refusal is not None and "not better on" in refusal and read_trained_domains(out / "default.pt") == (
        "outdoor",)
    assert (out / "default.pt").read_bytes() == weights
    assert sorted(p.name for p in eval_dir.iterdir()) == sorted(f"{s}_{m}" for s in ("vehicles", "stuff", "rings16",
                                                                                        "indoor")
                                                                 for m in ("model", "baseline"))  # no val set
    card = (out / "README.md").read_text()
    lines = card.splitlines()
    assert lines[0] == "# ClickEnhance default model" and lines[2].startswith("**Judged again")
    assert "`method: auto` serves the baseline" in lines[2] and "**Verdict.** Old." in card
    section = card.split(ship_model.REJUDGED_HEADING)[1]
    assert "does NOT beat" in section and "serves the training-free baseline instead" in section
    results = json.loads((eval_dir / "stuff_model" / "results.json").read_text())
    assert any(line.startswith("| stuff | model |") and _expected_cells(results) == _card_rows(card)[("stuff",
               "model")] for line in section.splitlines())  # fmt: skip
    assert ship_model.main([*argv, "--reuse-eval"]) == 1
    again = (out / "README.md").read_text()
    assert again.count(ship_model.REJUDGED_HEADING) == 1 and again.count("**Judged again") == 1
    assert again.count("\n\n\n") == 0 and again.splitlines()[:4] == lines[:4]
    capsys.readouterr()
    (out / "default.pt").unlink()
    assert ship_model.main(argv) == 2 and "no installed weights" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        ship_model.main(["--out", str(out), "--real-root", str(scans), "--indoor-root", str(indoor)])
    assert "--checkpoint, --val-root" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # worker processes evaluate whole scenes: not the first N objects
        ship_model.main([*argv, "--jobs", "2"])
    assert "run it with --jobs 1" in capsys.readouterr().err


def test_refuses_weights_over_the_size_limit(run_dir: Path, scans: Path, indoor: Path,
                                             tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setattr(ship_model, "MAX_BYTES", 1000)
    out = tmp_path / "weights"
    assert ship_model.main(_argv(run_dir, scans, out, tmp_path / "eval", "--no-refuse-if-worse", indoor=indoor)) == 2
    assert "more than the" in capsys.readouterr().err and not out.exists()
    assert not (tmp_path / "eval" / "candidate.pt").exists()


def test_refuses_training_scans_as_validation(run_dir: Path, scans: Path, indoor: Path, tmp_path: Path, capsys):
    config = load_train_config("synthetic_tiny")
    other = tmp_path / "run"  # a run whose generated scenes are `scans` itself: its sequence 00 is training data
    other.mkdir()
    for name in ("last.pt", "train_log.csv"):
        (other / name).write_bytes((run_dir / name).read_bytes())
    data = dataclasses.replace(config.data, root=str(scans))
    save_config(dataclasses.replace(config, data=data), other / "train_config.yaml")
    argv = _argv(other, scans, tmp_path / "weights", tmp_path / "eval", indoor=indoor)
    argv[argv.index("--val-sequences") + 1] = "00"
    assert ship_model.main(argv) == 2
    assert "includes the training scans" in capsys.readouterr().err


def test_the_generated_gate_cuts_the_dense_sensors_streets_and_reads_each_extra_folder(tmp_path: Path,
                                                                                        capsys) -> None:  # fmt: skip
    """A mix's 16-ring cut reads only its streets of 64- or 128-ring sensors (a VLP-16 cut to every 4th ring keeps
    4 rings; a room has none); a mix without such a sensor needs --no-val-ring-cut; each --extra-val-roots folder
    adds its streets whole and cut, under its own name."""
    from clickenhance_model.training.config import SyntheticConfig, SyntheticPart
    from clickenhance_model.training.synthetic import ensure_generated

    def mix_folder(name: str, *sensors: str) -> Path:  # the settings record alone: which scan is which sensor's
        parts = tuple(SyntheticPart("indoor" if s == "rgbd" else "outdoor", s) for s in sensors)
        ensure_generated(tmp_path / name, SyntheticConfig(train_scans=3, val_scans=3, mix=parts), False, splits=())
        return tmp_path / name

    dense, sparse = mix_folder("dense", "hdl64", "vlp16", "rgbd"), mix_folder("sparse", "vlp16", "rgbd")
    assert ship_model.dense_sensors() == {"hdl64", "os1_128", "os2_128"}
    assert ship_model.ring_cut_options(dense) == ("--scene-domain", "outdoor", "--keep-rings", "4",
                                                  "--scene-sensors", "hdl64")  # fmt: skip
    with pytest.raises(ship_model.ShipError, match="no-val-ring-cut"):
        ship_model.ring_cut_options(sparse)
    fences = tmp_path / "any_object_low_fences"  # a street folder of one sensor is cut as it is
    assert ship_model.ring_cut_options(fences) == ("--scene-domain", "outdoor", "--keep-rings", "4")

    required = ["--checkpoint=c", "--run-dir=r", "--real-root=x", "--indoor-root=y", "--out=o"]
    args = ship_model.build_parser().parse_args([*required, "--val-root", str(dense), "--extra-val-roots",
                                                 str(fences), "--min-points", "100"])  # fmt: skip
    sets = ship_model.generated_sets(args)
    assert [s.name for s in sets] == ["val", "val_rings16", "any_object_low_fences", "any_object_low_fences_rings16"]
    assert not any(s.real for s in sets) and [s.folder(args) for s in sets] == [dense, dense, fences, fences]
    assert sets[2].options == ("--scene-domain", "outdoor") and sets[3].min_points_divisor == 4
    assert "- val_rings16: the generated validation streets cut to every 4th laser ring" in "\n".join(
        ship_model.set_lines(args, ["01"], sets))
    args = ship_model.build_parser().parse_args([*required, "--val-root", str(sparse), "--no-val-ring-cut"])
    assert [s.name for s in ship_model.generated_sets(args)] == ["val"]
    for clash in ([tmp_path / "a" / "stuff"], [tmp_path / "a" / "f", tmp_path / "b" / "f"]):
        args = ship_model.build_parser().parse_args([*required, "--val-root", str(dense), "--extra-val-roots",
                                                     *map(str, clash)])  # fmt: skip
        with pytest.raises(ship_model.ShipError, match="a name of its own"):
            ship_model.generated_sets(args)


@pytest.mark.parametrize(("cut_model", "passes"), [((4.3, 0.93, 2), True), ((4.7, 0.93, 2), False),
                                                   ((4.3, 0.92, 2), False), ((4.3, 0.93, 3), False)])  # fmt: skip
def test_validation_gate_needs_the_generated_16_ring_cut_too(cut_model: tuple, passes: bool) -> None:
    """Streets and rooms won, the generated cut decides by the same rule: fewer clicks, a higher IoU@10 and no
    more stuck objects than the baseline's 4.60 / 92.6 / 2 (session 50's preset on that cut)."""
    results = {"val": {"model": _fake_results(2.0, 0.9, 0), "baseline": _fake_results(3.0, 0.8, 1)},
               "val_rings16": {"model": _fake_results(*cut_model), "baseline": _fake_results(4.6, 0.926, 2)}}
    passes_gate, sentence = ship_model.validation_verdict(results, 20)
    assert passes_gate is passes and "val_rings16: NoC@85" in sentence
    assert ("real dev sets were not read" in sentence) is not passes


def _fake_results(noc85: float, iou10: float, stuck: int | None, classes: dict[str, int] | None = None) -> dict:
    """A results.json with only what the rule and the card read: summary and per-class figures."""
    summary = {"objects": 4, "NoC@80": noc85 - 0.5, "NoC@85": noc85, "NoC@90": noc85 + 0.5,
               "IoU@k": [iou10 - 0.1] * 9 + [iou10] * 11, "stuck_objects": stuck, "rising_after_5": 1}  # fmt: skip
    per_class = {name: {**summary, "objects": n} for name, n in (classes or {"car": 4}).items()}
    return {"summary": summary, "per_class": per_class, "objects": []}


def _write_fake_runs(folder: Path, figures: dict[str, tuple[tuple, tuple]]) -> dict:
    """Write SET_METHOD/results.json for every set (val: always a model loss) and read them back as the tool does."""
    results = {}
    for name in ship_model.SETS:
        model, baseline = figures.get(name, ((1.5, 0.95, 0), (2.0, 0.90, 1)))
        for method, values in (("model", model), ("baseline", baseline)):
            path = folder / f"{name}_{method}" / "results.json"
            path.parent.mkdir(parents=True)
            path.write_text(json.dumps(_fake_results(*values) if name != "val" else _fake_results(9.0, 0.1, 3)))
        results[name] = {m: json.loads((folder / f"{name}_{m}" / "results.json").read_text()) for m in ("model",
                                                                                                      "baseline")}
    return results


def test_rule_ships_a_model_that_beats_the_baseline_on_every_real_set(tmp_path: Path) -> None:
    results = _write_fake_runs(tmp_path, {})  # val is lost badly: it is reported, never decisive
    beats, sentence = ship_model.verdict(results, 20)
    assert beats and "BEATS" in sentence and "stuff: NoC@85 1.50 vs 2.00, IoU@10 95.0 vs 90.0, stuck 0 vs 1" in sentence


@pytest.mark.parametrize(("losing_set", "model", "baseline", "why"), [
    ("stuff", (8.82, 0.778, 2), (7.59, 0.865, 1), "NoC@85 8.82 vs 7.59"),  # the stuff objects
    ("indoor", (20.0, 0.219, 6), (20.0, 0.415, 0), "NoC@85 20.00 vs 20.00"),  # a tie in NoC is no win
    ("rings16", (2.0, 0.96, 0), (5.0, 0.96, 0), "IoU@10 96.0 vs 96.0"),  # nor is a tie in IoU
    ("vehicles", (1.4, 0.989, 2), (2.0, 0.923, 1), "stuck 2 vs 1"),  # better means, but more objects stuck
])  # fmt: skip
def test_rule_refuses_a_model_that_loses_one_real_set(tmp_path: Path, losing_set: str, model: tuple,
                                                      baseline: tuple, why: str) -> None:  # fmt: skip
    results = _write_fake_runs(tmp_path, {losing_set: (model, baseline)})
    beats, sentence = ship_model.verdict(results, 20)
    assert not beats and f"it loses on {losing_set})" in sentence and why in sentence
    assert ship_model.set_verdict(losing_set, results, 20)[0] is False
    assert all(ship_model.set_verdict(s, results, 20)[0] for s in ("vehicles", "stuff", "rings16", "indoor")
               if s != losing_set)


@pytest.mark.parametrize(("model_iou", "ships"), [(0.996, True), (0.994, False)])
def test_rule_at_one_click_per_object_needs_only_the_higher_iou(tmp_path: Path, model_iou: float,
                                                                ships: bool) -> None:  # fmt: skip
    # the real indoor region: the baseline needs one click per object, so no model can need fewer
    results = _write_fake_runs(tmp_path, {"indoor": ((1.0, model_iou, 0), (1.0, 0.994, 0))})
    assert ship_model.set_verdict("indoor", results, 20)[0] is ships
    assert ship_model.verdict(results, 20)[0] is ships


@pytest.mark.parametrize(("indoor_model", "passes", "why"), [
    ((2.0, 0.90, 0), True, ""),
    ((2.0, 0.90, 3), False, "generated indoor: NoC@85 2.00 vs 6.00, IoU@10 90.0 vs 70.0, stuck 3 vs 2"),
    ((7.0, 0.90, 0), False, "generated indoor: NoC@85 7.00 vs 6.00"),  # a win in the streets does not carry it
])  # fmt: skip
def test_validation_gate_judges_each_generated_domain_by_the_real_sets_rule(indoor_model: tuple, passes: bool,
                                                                            why: str) -> None:  # fmt: skip
    def val(outdoor: tuple, indoor: tuple, whole: tuple) -> dict:
        parts = {"outdoor (all sensors)": _fake_results(*outdoor)["summary"], "outdoor vlp16": {},
                 "indoor (all sensors)": _fake_results(*indoor)["summary"]}  # fmt: skip
        return {**_fake_results(*whole), "per_sensor": parts}

    results = {"val": {"model": val((3.0, 0.9, 0), indoor_model, (2.5, 0.9, 0)),
                       "baseline": val((3.5, 0.8, 1), (6.0, 0.7, 2), (4.0, 0.8, 3))}}  # fmt: skip
    passes_gate, sentence = ship_model.validation_verdict(results, 20)
    assert passes_gate is passes and why in sentence
    assert "generated outdoor: NoC@85 3.00 vs 3.50" in sentence and "vlp16" not in sentence
    assert ("real dev sets were not read" in sentence) is not passes
    for method in ("model", "baseline"):  # no mix: the whole validation set decides
        del results["val"][method]["per_sensor"]
    whole_passes, whole = ship_model.validation_verdict(results, 20)
    assert whole_passes and "val: NoC@85 2.50 vs 4.00" in whole


def test_a_model_that_loses_the_generated_validation_scans_never_reads_the_real_sets(
        run_dir: Path, scans: Path, indoor: Path, tmp_path: Path, capsys) -> None:  # fmt: skip
    out, eval_dir = tmp_path / "weights", tmp_path / "eval"
    assert ship_model.main(_argv(run_dir, scans, out, eval_dir, indoor=indoor)) == 1  # untrained: no win on val
    assert sorted(p.parent.name for p in eval_dir.glob("*/results.json")) == GATE_FOLDERS
    note = (eval_dir / "README.md").read_text()
    assert note.startswith("# Not a candidate") and "is no candidate" in note and "| val | model |" in note
    # the untrained model is worse on every object, and the noise table says so beside the means
    assert re.search(r"\| val \| 3 \| \+\d\.\d\d ± \d\.\d\d \(95%: \+[\d.]+ to \+[\d.]+; 0 better, 3 worse; worse\) \|",
                     note)
    assert "refused before the real dev sets" in capsys.readouterr().err and not out.exists()


def test_fail_fast_stops_the_generated_gate_at_the_first_set_lost(run_dir: Path, scans: Path, indoor: Path,
                                                                    tmp_path: Path, capsys) -> None:  # fmt: skip
    """--gate-order puts the 16-ring cut first; the untrained model loses it, so --fail-fast evaluates nothing else
    and the note names what it left out."""
    out, eval_dir = tmp_path / "weights", tmp_path / "eval"
    argv = _argv(run_dir, scans, out, eval_dir, "--fail-fast", "--gate-order", "val_rings16", indoor=indoor)
    assert ship_model.main(argv) == 1
    assert sorted(p.parent.name for p in eval_dir.glob("*/results.json")) == GATE_FOLDERS[2:]
    note = (eval_dir / "README.md").read_text()
    assert "val_rings16: NoC@85" in note and "not evaluated after that loss (--fail-fast): val." in note
    assert "| val_rings16 | model |" in note and "| val | model |" not in note
    assert "refused before the real dev sets" in capsys.readouterr().err and not out.exists()


def test_baseline_dir_evaluates_the_baseline_once_for_every_later_candidate(run_dir: Path, scans: Path,
                                                                              indoor: Path, tmp_path: Path,
                                                                              capsys) -> None:  # fmt: skip
    baselines = tmp_path / "baselines"
    for n, clicks in enumerate(("3", "3", "4")):  # two candidates under the same command, then another budget
        argv = _argv(run_dir, scans, tmp_path / "weights", tmp_path / f"eval{n}", "--fail-fast", "--gate-order",
                     "val_rings16", "--baseline-dir", str(baselines), indoor=indoor)  # fmt: skip
        argv[argv.index("--max-clicks") + 1] = clicks
        assert ship_model.main(argv) == 1
        err = capsys.readouterr().err
        assert [p.parent.name for p in (tmp_path / f"eval{n}").glob("*/results.json")] == ["val_rings16_model"]
        assert "--method model" in err  # the model is evaluated afresh each time, the baseline only when it must
        if n == 1:
            assert f"reusing {baselines / 'val_rings16_baseline'}" in err and "--method baseline" not in err
        else:
            assert "reusing" not in err and "--method baseline" in err
    assert json.loads((baselines / "val_rings16_baseline" / "results.json").read_text())["run"]["max_clicks"] == 4


def test_gate_order_moves_the_named_sets_first_and_refuses_an_unknown_one(tmp_path: Path, capsys) -> None:
    required = ["--checkpoint=c", "--run-dir=r", "--real-root=x", "--indoor-root=y", "--out=o"]
    fences = tmp_path / "any_object_low_fences"
    args = ship_model.build_parser().parse_args([*required, "--val-root", str(tmp_path / "v"), "--no-val-ring-cut",
                                                 "--extra-val-roots", str(fences)])  # fmt: skip
    sets = ship_model.generated_sets(args)
    order = ["any_object_low_fences_rings16", "val"]
    assert [s.name for s in ship_model.ordered_sets(sets, order)] == [*order, "any_object_low_fences"]
    assert ship_model.ordered_sets(sets, []) == sets
    with pytest.raises(ship_model.ShipError, match="no generated set val_rings16 "):
        ship_model.ordered_sets(sets, ["val_rings16"])
    with pytest.raises(SystemExit):  # a fail-fast gate that could not refuse would evaluate a partial card
        ship_model.main([*required, "--val-root", "v", "--fail-fast", "--no-validation-gate"])
    assert "--fail-fast stops at a refusal" in capsys.readouterr().err


def test_a_model_that_fails_the_demos_operator_never_reads_the_real_sets(
        run_dir: Path, scans: Path, indoor: Path, tmp_path: Path, capsys) -> None:  # fmt: skip
    """Past the validation gate (here switched off), an untrained network fails `make demo`'s operator on the
    demo's street: the note lists each object's clicks and the one-click cars, and nothing else is read."""
    out, eval_dir = tmp_path / "weights", tmp_path / "eval"
    argv = _argv(run_dir, scans, out, eval_dir, "--no-validation-gate", "--demo-gate", "--demo-seeds", "0",
                 indoor=indoor)  # fmt: skip
    assert ship_model.main(argv) == 1
    assert sorted(p.parent.name for p in eval_dir.glob("*/results.json")) == GATE_FOLDERS
    note = (eval_dir / "README.md").read_text()
    assert note.startswith("# Not a candidate") and "## Shipping checks" in note and "--seeds 0`" in note
    assert len(re.findall(r"^- street seed 0, object \d+ \(class \d+\): [+-]", note, re.M)) == 3
    assert "One-click cars of street seed 97" in note and "do not." in note
    assert "the demo checks failed" in capsys.readouterr().err and not out.exists()


def test_card_tables_show_every_set_and_class(tmp_path: Path) -> None:
    results = _write_fake_runs(tmp_path, {"stuff": ((3.0, 0.8, 1), (3.5, 0.7, 2))})
    results["stuff"]["model"]["per_class"] = {"pole": _fake_results(3.0, 0.8, 1)["summary"]}
    results["stuff"]["baseline"]["per_class"] = {"pole": _fake_results(3.5, 0.7, 2)["summary"]}
    table = ship_model.results_table(results)
    assert "| stuff | model | 4 | 2.50 | 3.00 | 3.50 | 70.0 | 70.0 | 80.0 | 1 | – |" in table  # no collapse counts
    lines = ship_model.class_tables(results, 20)
    assert "| pole | 4 | 3.00 | 3.50 | 80.0 | 70.0 | 1 | 2 |" in lines
    assert sum(line.startswith("### ") for line in lines) == 4  # the four real sets, not val
    # generated validation scans of a mix: one row per part, so that a win in the rooms cannot hide the streets
    results["val"]["model"]["per_sensor"] = {"outdoor vlp16": _fake_results(4.0, 0.8, 0)["summary"],
                                             "indoor rgbd": _fake_results(2.0, 0.9, 0)["summary"]}  # fmt: skip
    results["val"]["baseline"]["per_sensor"] = {"outdoor vlp16": _fake_results(3.0, 0.85, 1)["summary"],
                                                "indoor rgbd": _fake_results(6.0, 0.7, 2)["summary"]}  # fmt: skip
    lines = ship_model.class_tables(results, 20)
    assert lines[lines.index("### val: per sensor (the generated mix's parts)") + 4:][:2] == [
        "| indoor rgbd | 4 | 2.00 | 6.00 | 90.0 | 70.0 | 0 | 2 |",
        "| outdoor vlp16 | 4 | 4.00 | 3.00 | 80.0 | 85.0 | 0 | 1 |"]


def test_card_counts_the_objects_where_the_model_changed_the_baselines_answer(tmp_path: Path) -> None:
    results = _write_fake_runs(tmp_path, {})

    def objects(*curves: list[float]) -> list[dict]:
        return [{"scene": "s", "instance_id": i, "ious": c} for i, c in enumerate(curves)]

    same, quick, late = [0.9] * 20, [0.5] + [0.9] * 19, [0.5] * 10 + [0.9] * 10  # 1, 2 and 11 clicks to 85%
    higher = [0.9] * 9 + [0.95] * 11  # as many clicks to 85%, a higher IoU@10
    results["vehicles"]["baseline"]["objects"] = objects(same, late, same, quick)
    results["vehicles"]["model"]["objects"] = objects(same, quick, higher, late)
    lines = ship_model.differing_objects(results, 20)
    assert "| vehicles | 4 | 3 | 2 | 1 |" in lines  # object 1 better (2 vs 11 clicks), 2 better (IoU@10), 3 worse
    assert "| indoor | 0 | 0 | 0 | 0 |" in lines  # no per-object rows: nothing paired
    assert ship_model.object_noc(late) == 11 and ship_model.object_noc([0.1] * 20) == 21


def test_noise_table_splits_a_generated_mix_by_domain_and_its_streets_by_kind(tmp_path: Path) -> None:
    """Rooms and streets apart; the streets also by the kind each real dev set judges (a car is a thing, a
    building no real set holds)."""
    root = tmp_path / "scenes"
    root.mkdir()
    mix = [{"domain": "outdoor", "sensor": "hdl64", "share": 0.5}, {"domain": "indoor", "sensor": "rgbd", "share": 0.5}]
    (root / "synthetic.yaml").write_text(yaml.safe_dump({"synthetic": {"train_scans": 2, "val_scans": 4, "mix": mix}}))
    domains = manifest_domains(root)
    val_scenes = sorted(s for s in domains if s.startswith("01/"))
    assert {domains[s] for s in val_scenes} == {"outdoor", "indoor"}

    def run(first_hits: list[int]) -> dict:
        objects = [{"scene": s, "instance_id": 1, "semantic_id": (10, 50)[i % 2],
                    "ious": [0.5] * (k - 1) + [0.9] * (21 - k)}
                   for i, (s, k) in enumerate(zip(val_scenes, first_hits, strict=True))]  # fmt: skip
        return {"run": {"root": str(root)}, "objects": objects}

    model = [1 if domains[s] == "indoor" else 4 for s in val_scenes]  # better in the rooms, worse in the streets
    results = {"val": {"model": run(model), "baseline": run([3] * len(val_scenes))}}
    held = {("things", "other")[i % 2] for i, s in enumerate(val_scenes) if domains[s] == "outdoor"}  # car, building
    kinds = [f"generated outdoor: {kind}" for kind in ("things", "stuff", "other") if kind in held]
    assert kinds and object_kind(10) == "things" and object_kind(50) == "other" and object_kind(71) == "stuff"
    assert ([label for label, _, _ in ship_model.paired_parts(results)]
            == ["generated indoor", "generated outdoor", *kinds])  # fmt: skip (no baseline first click is at 90%)
    lines = ship_model.paired_lines(results, 20)
    for kind in kinds:
        assert "| +1.00 ± " in next(line for line in lines if line.startswith(f"| {kind} |"))
    indoor = next(line for line in lines if line.startswith("| generated indoor |"))
    outdoor = next(line for line in lines if line.startswith("| generated outdoor |"))
    assert "| -2.00 ± 0.00" in indoor and "better)" in indoor and "| +1.00 ± 0.00" in outdoor
    baseline = [1 if i < 2 else 3 for i in range(len(val_scenes))]  # two baseline first clicks already at 90%
    model = [2 if i < 2 else 1 for i in range(len(val_scenes))]  # the model spoils those and wins the others
    results = {"val": {"model": run(model), "baseline": run(baseline)}}
    parts = {label: members for label, members, _ in ship_model.paired_parts(results)}
    near = [f"generated {domains[s]}: first click nearly right" for s in val_scenes[:2]]
    assert set(near) <= set(parts) and sum(len(parts[label]) for label in set(near)) == 2
    lines = ship_model.paired_lines(results, 20)
    for label in set(near):
        assert "| +1.00 ± " in next(line for line in lines if line.startswith(f"| {label} |"))


def test_ships_a_point_refiner_fitted_on_shipped_weights_without_a_run_folder(scans: Path, indoor: Path,
                                                                              scenes_root: Path,  # noqa: F811
                                                                              tmp_path: Path, capsys) -> None:
    """A refiner fitted (`clickenhance-fit-point-refiner --as-fusion`) on weights that have no run folder here
    (the shipped ones) ships without --run-dir: the card names the source and the fit's command, the weights keep
    the fit's report, and `default.json` gets the domains of the scans it was fitted on. A checkpoint of a training
    run still needs its --run-dir."""
    from test_prior_fusion import FUSION

    from clickenhance_model.training.point_refiner_fit import main as fit_refiner

    shipped = tmp_path / "weights_before" / "default.pt"  # stripped weights, no run folder beside them
    plain = dataclasses.replace(FUSION, network=dataclasses.replace(FUSION.network, prior_fusion=False))
    Segmenter.from_config(plain, seed=0).save(shipped)
    refined = tmp_path / "refined" / "refined.pt"
    assert fit_refiner(["--checkpoint", str(shipped), "--as-fusion", "--root", str(scenes_root), "--scene-stride",
                        "1", "--held-out-every", "2", "--epochs", "2", "--views", "1", "--no-ground-gate",
                        "--objects-per-scene", "3", "--min-points", "10", "--no-progress", "--threads", "1",
                        "--no-refiner-colour", "--ring-cuts", "1", "2", "--out", str(refined)]) == 0  # fmt: skip
    out = tmp_path / "weights"
    argv = _argv(Path("unused"), scans, out, tmp_path / "eval", "--no-refuse-if-worse", "--no-ground-gate",
                 "--views", "1", indoor=indoor)  # fmt: skip
    argv[1] = str(refined)
    del argv[2:4]  # no --run-dir
    assert ship_model.main(argv) == 0
    card = (out / "README.md").read_text()
    assert f"the network of `{shipped}` as a prior-fusion network at network gain 0" in card
    assert (f"clickenhance-fit-point-refiner --checkpoint {shipped} --root {scenes_root} --views 1 --no-ground-gate "
            f"--as-fusion --no-refiner-colour --objects-per-scene 3 --scene-stride 1 --held-out-every 2 "
            f"--min-points 10 --epochs 2 --ring-cuts 1 2 --out {refined}") in card
    assert "## Point refiner fit" in card and "## Training config" not in card
    extra = load_checkpoint(out / "default.pt")[2]
    assert extra["point_refiner_fit"]["source"] == str(shipped) and extra["inference_options"]["views"] == 1
    assert extra["point_refiner_fit"]["domains"] == ["outdoor"]  # the fit records what it was fitted on
    assert json.loads((out / "default.json").read_text()) == {"trained_domains": ["outdoor"]}  # generated streets
    loaded = Segmenter.load(out / "default.pt", device="cpu")
    assert loaded.config.network.point_refiner and loaded.model.network_gain.item() == 0.0
    assert not loaded.config.network.point_refiner_colour and not loaded.model.point_refiner.colour  # as fitted
    capsys.readouterr()
    trained = tmp_path / "trained.pt"  # the network alone: weights of a training run, whose folder is not given
    Segmenter.from_config(plain, seed=1).save(trained)
    argv[1] = str(trained)
    assert ship_model.main(argv) == 2 and "--run-dir" in capsys.readouterr().err


def test_card_of_a_refiner_served_with_a_network_gain_names_it_and_its_fit_command() -> None:
    """A refiner written with `--network-gain` (set after the fit): the card says the fusion's answer is not the
    prior alone, and the reproduce command carries the option; the domains the fit recorded are the facts' own,
    with the network's training domains."""
    fit = {"source": "weights/default.pt", "root": "runs/scenes/x", "as_fusion": True,
           "settings": {"network_gain": 0.75, "refiner_gain": 1.0}, "domains": ["indoor", "outdoor"]}
    assert "network gain 0.75" in ship_model.fusion_phrase(0.75) and "plus 0.75 times" in ship_model.fusion_phrase(0.75)
    assert "network gain 0 (its answer is the training-free geodesic region" in ship_model.fusion_phrase(0.0)
    command = ship_model.refiner_fit_commands(fit, Path("out.pt"))[-1]
    assert "--network-gain 0.75" in command and "--refiner-gain" not in command and "--as-fusion" in command
    assert ship_model.refiner_domains(fit) == ["indoor", "outdoor"]
    assert ship_model.served_domains({}, {**fit, "domains": ["indoor"]}) == ["indoor"]
    trained = {"train_config": load_train_config("synthetic_tiny").to_dict()}
    assert ship_model.served_domains(trained, {**fit, "domains": ["indoor"]}) == ["indoor", "outdoor"]
    assert ship_model.served_domains(trained, None) is None


def test_card_of_a_refiner_fitted_on_saved_rows_names_each_collection_and_the_fit() -> None:
    """A fit of saved rows: one command per rows file, with the options its collection recorded (a note for rows
    saved before they were), then the fit on them, whose collection-only settings come from the rows."""
    collection = {"checkpoint": "w.pt", "root": "scenes", "sequences": ["00"], "views": 1, "ground_prior": True,
                  "ground_gate": False, "as_fusion": True, "refiner_flips": True, "refiner_memory": True,
                  "refiner_disagree": 4.0, "refiner_reach": 0.0, "objects_per_scene": 5, "states_per_object": 4,
                  "collapse_states": True, "ring_cuts": [4], "memory_from": "gr3.pt", "seed": 0}
    fit = {"source": "w.pt", "root": "scenes", "as_fusion": True, "refiner_flips": True, "refiner_memory": True,
           "refiner_disagree": 4.0, "inference_options": {"views": 1, "ground_prior": True, "ground_gate": False},
           "rows": ["a.npz", "old.npz"], "rows_collections": [collection, {}],
           "settings": {"objects_per_scene": 2, "ring_cuts": [1, 4], "collapse_states": True, "weighting": "iou",
                        "memory_from": "gr3.pt"}}
    first, note, last = ship_model.refiner_fit_commands(fit, Path("out.pt"))
    assert first == ("clickenhance-fit-point-refiner --checkpoint w.pt --root scenes --views 1 --ground-prior "
                     "--no-ground-gate --as-fusion --refiner-flips --refiner-memory --refiner-disagree 4.0 "
                     "--states-per-object 4 --objects-per-scene 5 --ring-cuts 4 --collapse-states --memory-from "
                     "gr3.pt --rows a.npz --out a.pt")
    assert note.startswith("# old.npz: collected before")
    assert last == ("clickenhance-fit-point-refiner --checkpoint w.pt --root scenes --views 1 --ground-prior "
                    "--no-ground-gate --as-fusion --refiner-flips --refiner-memory --refiner-disagree 4.0 "
                    "--weighting iou --rows a.npz old.npz --out out.pt")


def _stuck_objects(stuck_flags: list[bool]) -> list[dict]:
    """Objects of a 20-click run, by index: stuck at 60% from click 5 on, or rising to 90%."""
    return [{"scene": "s", "instance_id": i, "ious": [0.6] * 20 if stuck else [0.5] * 5 + [0.9] * 15}
            for i, stuck in enumerate(stuck_flags)]  # fmt: skip


@pytest.mark.parametrize(("only_model", "only_baseline", "sign_passes"), [(2, 1, True), (4, 1, True), (9, 1, False)])
def test_generated_sets_judge_stuck_objects_by_a_sign_test_the_real_sets_by_their_count(
        only_model: int, only_baseline: int, sign_passes: bool) -> None:  # fmt: skip
    """Stuck in both (3) say nothing; more stuck in the model alone refuse it on a generated set only beyond chance
    (p < 0.05), on a real set whenever its count is higher (the issue's bar)."""
    flags = [(True, False)] * only_model + [(False, True)] * only_baseline + [(True, True)] * 3 + [(False, False)] * 20
    results = {}
    for name in ("val_rings16", "stuff"):
        results[name] = {method: {**_fake_results(4.0 - (method == "model"), 0.9 + 0.01 * (method == "model"),
                                                  sum(f[m] for f in flags)),
                                  "objects": _stuck_objects([f[m] for f in flags])}
                         for m, method in enumerate(("model", "baseline"))}  # fmt: skip
    (sign_ok, sign_text), = ship_model.generated_checks("val_rings16", results, 20, "sign")
    assert sign_ok is sign_passes
    assert f"only in the model, {only_baseline} only in the baseline; sign test p = " in sign_text
    assert ship_model.generated_checks("val_rings16", results, 20, "count")[0][0] is False
    assert ship_model.set_verdict("stuff", results, 20)[0] is False  # the real sets count
    args = ship_model.build_parser().parse_args(["--real-root=x", "--indoor-root=y", "--out=o"])
    assert args.generated_stuck == "sign"


def test_a_model_carrying_click_rules_must_beat_the_baseline_served_with_them_too(tmp_path: Path) -> None:
    results = _write_fake_runs(tmp_path, {})  # the model beats the plain baseline on every real set ...
    results["rings16"][ship_model.RULED] = _fake_results(1.2, 0.97, 0)  # ... but not the baseline with its rules
    beats, sentence = ship_model.verdict(results, 20)
    assert not beats and "it loses on rings16)" in sentence
    assert ("rings16 (against the baseline with the model's click rules): NoC@85 1.50 vs 1.20, IoU@10 95.0 vs "
            "97.0") in sentence  # fmt: skip
    assert ship_model.set_verdict("stuff", results, 20)[0]
    table = "\n".join(ship_model.results_table(results))
    assert "| rings16 | baseline + the model's click rules | 4 | 0.70 | 1.20 |" in table
    assert "| stuff | baseline + the model's click rules |" not in table


def test_a_model_carrying_click_rules_has_the_baseline_evaluated_with_them_and_kept_evaluations_move(
        run_dir: Path, scans: Path, indoor: Path, tmp_path: Path, capsys) -> None:  # fmt: skip
    """--gain-reach and --keep-direction: the gate evaluates the baseline twice, as it ships and with the rules
    (in a folder named after them); a kept baseline folder moved elsewhere is still the same evaluation."""
    kept, moved = tmp_path / "baselines", tmp_path / "moved"
    for n, baselines in enumerate((kept, moved)):
        argv = _argv(run_dir, scans, tmp_path / "weights", tmp_path / f"eval{n}", "--fail-fast", "--gate-order",
                     "val_rings16", "--gain-reach", "1.0", "--keep-direction", "--baseline-dir", str(baselines),
                     indoor=indoor)  # fmt: skip
        argv[argv.index("--max-clicks") + 1] = "6"  # enough clicks to judge stuck objects
        if n:
            kept.rename(moved)
        assert ship_model.main(argv) == 1
        err = capsys.readouterr().err
        ruled = moved / "val_rings16_baseline_gain_reach_1.0_keep_direction"
        assert sorted(p.parent.name for p in baselines.glob("*/results.json")) == ["val_rings16_baseline", ruled.name]
        assert ("reusing" in err) is bool(n) and ("--method baseline" in err) is not bool(n)
    run = json.loads((ruled / "results.json").read_text())["run"]
    assert (run["gain_reach"], run["keep_direction"]) == (1.0, True)
    note = (tmp_path / "eval1" / "README.md").read_text()
    assert "| val_rings16 | baseline + the model's click rules |" in note
    assert "sign test p = " in note


def test_a_verdict_decided_below_the_rounding_shows_the_digits_that_decide_it() -> None:
    """Session 56: a model refused on the streets by 0.004 IoU@10 points read "91.3 vs 91.3"."""
    model, baseline = _fake_results(4.486, 0.912509, 7)["summary"], _fake_results(4.601, 0.912547, 12)["summary"]
    beats, sentence = ship_model.summary_verdict("generated outdoor", model, baseline, 20)
    assert not beats and "NoC@85 4.49 vs 4.60, IoU@10 91.251 vs 91.255," in sentence
    beats, sentence = ship_model.summary_verdict("x", _fake_results(4.001, 0.95, 0)["summary"], baseline, 20)
    assert "IoU@10 95.0 vs 91.3" in sentence
