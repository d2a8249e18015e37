"""The ablation study end to end on tiny settings: scenes -> trainings -> evaluations -> report, and its verdict rule.

The study runs once per module (2 settings x 2 variants x 1 seed, tiny network, 2 steps each,
3 objects per generated set, 3 clicks), through its command line; the tests then check the
report against the results files, rerunning, and refusing changed settings.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from clickenhance_model.ablation.__main__ import main
from clickenhance_model.ablation.claims import CLAIMS, OPPOSITE, REPRODUCED, UNCLEAR, compare, judge, overall, rank
from clickenhance_model.ablation.report import cell
from clickenhance_model.ablation.variants import VARIANTS, get_variants
from clickenhance_model.training.config import CONFIG_DIR, SplitConfig, load_train_config
from clickenhance_model.training.data import open_split

TINY_STUDY = ["--variants", "sparse,base", "--seeds", "0", "--max-clicks", "3", "--min-points", "40",
              "--generated-objects", "3", "--threads", "1", "--device", "cpu", "--no-progress"]  # fmt: skip


def write_tiny_configs(folder: Path, **changes: float) -> list[str]:
    """synthetic_tiny as an indoor and an outdoor training YAML (2 steps of batch 2); returns the CLI options."""
    folder.mkdir(parents=True, exist_ok=True)
    options = []
    for domain in ("indoor", "outdoor"):
        config = yaml.safe_load((CONFIG_DIR / "synthetic_tiny.yaml").read_text())
        config["data"]["synthetic"]["domain"] = domain
        config["data"]["train"] = config["data"]["val"] = {"options": {"rgb": False}}
        config["model"]["input"]["sparse_cube_size"] = 0.5  # two of the tiny config's 0.25 m voxels
        config.update(epochs=1, samples_per_epoch=4, val={"objects": 0}, checkpoint_every_steps=1)
        config["optimizer"].update(changes)
        path = folder / f"tiny_{domain}.yaml"
        path.write_text(yaml.safe_dump(config))
        options += [f"--{domain}-config", str(path)]
    return options


def run_study(out: Path, configs: list[str], *extra: str) -> int:
    """The study CLI on the tiny settings, keeping torch's thread count as it was."""
    threads = torch.get_num_threads()
    try:
        return main(["--out", str(out / "runs"), "--report", str(out / "docs" / "ablation.md"), *configs,
                     *TINY_STUDY, *extra])  # fmt: skip
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], str]:
    """One tiny study without real scans: (folder, config options, its summary line)."""
    import contextlib
    import io

    folder = tmp_path_factory.mktemp("ablation")
    configs = write_tiny_configs(folder / "configs")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert run_study(folder, configs, "--real-root", str(folder / "no_real_scans")) == 0
    return folder, configs, stdout.getvalue().strip().splitlines()[-1]


def results_files(folder: Path) -> dict[tuple[str, str, str], dict]:
    """Every results.json of the study by (setting, variant, eval set)."""
    found = {}
    for path in sorted((folder / "runs").glob("*/*/seed0/eval/*/results.json")):
        setting, variant = path.parts[-6], path.parts[-5]
        found[(setting, variant, path.parts[-2])] = json.loads(path.read_text())
    return found


def report_row(report: str, setting_heading: str, set_heading: str, variant_title: str) -> list[str]:
    """Cells of one variant's row in the table under the given headings of the report."""
    section = report.split(f"### {setting_heading}\n", 1)[1]
    table = section.split(f"#### Evaluated on {set_heading}", 1)[1].split("\n\n", 2)[1]
    row = next(line for line in table.splitlines() if line.startswith(f"| {variant_title} |"))
    return [c.strip() for c in row.strip("|").split("|")]


def test_study_writes_report_and_plots_from_its_results(study) -> None:
    folder, _, line = study
    assert line.startswith("ablation: runs=4 evaluations=6 dense_vs_sparse=")
    assert "cse_first_clicks=NOT_TESTED" in line and line.endswith(f"report={folder / 'docs' / 'ablation.md'}")
    report = (folder / "docs" / "ablation.md").read_text()
    for setting in ("indoor", "outdoor"):
        png = folder / "docs" / "ablation" / f"{setting}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        assert f"](ablation/{setting}.png)" in report
    results = results_files(folder)
    assert sorted(results) == sorted((s, v, e) for v in ("sparse", "base") for s, e in
                                     [("indoor", "indoor_val"), ("indoor", "outdoor_val"), ("outdoor", "outdoor_val")])
    headings = {"indoor": "Trained on generated indoor rooms", "outdoor": "Trained on generated street scans",
                "indoor_val": "generated indoor rooms (validation scans)",
                "outdoor_val": "generated street scans (validation scans)"}  # fmt: skip
    for (setting, variant, eval_set), result in results.items():
        summary = result["summary"]
        cells = report_row(report, headings[setting], headings[eval_set], VARIANTS[variant].title)
        ious = summary["IoU@k"]
        assert summary["objects"] == 3 and len(ious) == 3
        expected = ["1", f"{100 * ious[0]:.1f}", f"{100 * ious[2]:.1f}",
                    *(f"{summary[f'NoC@{t}']:.2f}" for t in (80, 85, 90)), f"{100 * np.mean(ious):.1f}"]  # fmt: skip
        assert cells[1:] == expected, (setting, variant, eval_set)
    assert "real SemanticKITTI scans: NOT evaluated" in report
    assert "Seeds: 0 " in report and "3 objects (a fixed draw from" in report


def test_verdicts_in_the_report_follow_the_results(study) -> None:
    folder, _, line = study
    report = (folder / "docs" / "ablation.md").read_text()
    results = results_files(folder)
    mean_iou = {v: 100 * np.mean(results[("indoor", v, "outdoor_val")]["summary"]["IoU@k"]) for v in ("base", "sparse")}
    outcome = compare([mean_iou["base"] / 100], [mean_iou["sparse"] / 100], "mIoU")
    claim_line = next(x for x in report.splitlines() if "→ generated street scans" in x and "Sparse cubes" in x)
    means = f"Base (dense maps) {mean_iou['base']:.1f} vs Sparse cubes {mean_iou['sparse']:.1f} mean IoU@1–3"
    assert means in claim_line
    assert claim_line.endswith(f"**{outcome}**")
    expected = {REPRODUCED: "REPRODUCED", OPPOSITE: "NOT_REPRODUCED", UNCLEAR: "NOT_REPRODUCED"}[outcome]
    assert f"dense_vs_sparse={expected}" in line
    summary = json.loads((folder / "runs" / "summary.json").read_text())
    assert summary["claims"][0]["evaluations"][0]["outcome"] == outcome
    keys = {e: [[(o["scene"], o["instance_id"]) for o in r["objects"]] for (_, _, s), r in results.items() if s == e]
            for e in ("indoor_val", "outdoor_val")}  # fmt: skip
    assert {e: len(k) for e, k in keys.items()} == {"indoor_val": 2, "outdoor_val": 4}
    assert all(x == k[0] for k in keys.values() for x in k), "the same objects for every run"


def test_rerun_skips_finished_trainings_and_evaluations(study) -> None:
    folder, configs, _ = study
    stamps = {p: p.stat().st_mtime_ns for p in (folder / "runs").glob("*/*/seed0/**/*.json")}
    checkpoint = folder / "runs" / "outdoor" / "base" / "seed0" / "last.pt"
    weights = checkpoint.read_bytes()
    assert run_study(folder, configs, "--real-root", str(folder / "no_real_scans")) == 0
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    (checkpoint.parent / "done.json").unlink()  # as if killed after training, before the record was written
    assert run_study(folder, configs, "--real-root", str(folder / "no_real_scans")) == 0
    assert checkpoint.read_bytes() == weights, "the finished run continued from its last.pt, not from scratch"
    assert json.loads((checkpoint.parent / "done.json").read_text())["step"] == 2


def test_changed_training_settings_are_refused(study, tmp_path: Path, capsys) -> None:
    folder, _, _ = study
    changed = write_tiny_configs(tmp_path / "configs", lr=0.5)
    assert run_study(folder, changed, "--real-root", str(folder / "no_real_scans")) == 2
    assert "other settings" in capsys.readouterr().err


def test_real_scans_are_evaluated_when_present(real_scans_dir: Path, tmp_path: Path) -> None:
    configs = write_tiny_configs(tmp_path / "configs")
    options = ["--settings", "outdoor", "--real-root", str(real_scans_dir), "--real-objects", "2"]
    assert run_study(tmp_path, configs, *options) == 0
    results = json.loads((tmp_path / "runs/outdoor/base/seed0/eval/real/results.json").read_text())
    assert results["summary"]["objects"] == 2 and results["run"]["root"] == str(real_scans_dir.resolve())
    assert "#### Evaluated on real SemanticKITTI scans (cross-domain): 2 objects" in (
        tmp_path / "docs/ablation.md").read_text()


def test_training_reads_generated_rooms_without_colour_when_asked(study) -> None:
    folder, configs, _ = study
    data = dataclasses.replace(load_train_config(configs[1]).data, root=str(folder / "runs" / "scenes" / "indoor"))
    geometry = open_split(data, "train")
    name = geometry.scene_names()[0]
    assert geometry.load_scene(name).rgb is None
    coloured = open_split(dataclasses.replace(data, train=SplitConfig()), "train").load_scene(name)
    assert coloured.rgb is not None and 0.0 <= coloured.rgb.min() and coloured.rgb.max() <= 1.0
    with pytest.raises(ValueError, match="generated splits are fixed"):
        open_split(dataclasses.replace(data, train=SplitConfig(options={"sequences": ["01"]})), "train")


def test_report_only_without_runs_lists_what_is_missing(tmp_path: Path, capsys) -> None:
    configs = write_tiny_configs(tmp_path / "configs")
    assert run_study(tmp_path, configs, "--report-only", "--settings", "outdoor") == 0
    report = (tmp_path / "docs" / "ablation.md").read_text()
    assert "No evaluation finished yet." in report and "- training outdoor/sparse/seed0" in report
    assert "runs=0 evaluations=0" in capsys.readouterr().out


@pytest.mark.parametrize("option", [["--variants", "bogus"], ["--seeds", "x"], ["--settings", "mars"],
                                    ["--seeds", "0,0"]])  # fmt: skip
def test_bad_options_are_refused(option: list[str], tmp_path: Path, capsys) -> None:
    assert main(["--out", str(tmp_path), "--report-only", *option]) == 2
    assert "clickenhance-ablation: error:" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the verdict rule


def figures(miou: float, iou1: float = 0.5, final: float = 0.8) -> dict:
    """Hand-made figures of one evaluation."""
    return {"mIoU": miou, "IoU@1": iou1, "IoU@final": final, "NoC@85": 10.0}


def test_compare_both_ways_and_within_noise() -> None:
    assert compare([0.50, 0.62], [0.45, 0.58], "mIoU") == REPRODUCED
    assert compare([0.45, 0.58], [0.50, 0.62], "mIoU") == OPPOSITE
    assert compare([0.505], [0.50], "mIoU") == UNCLEAR  # below one IoU point
    assert compare([0.60, 0.49], [0.50, 0.50], "mIoU") == UNCLEAR  # mean better, one seed worse
    assert compare([5.0, 6.0], [6.0, 7.0], "NoC@85") == REPRODUCED  # fewer clicks is better
    assert compare([6.0], [5.0], "NoC@85") == OPPOSITE
    with pytest.raises(ValueError, match="same non-zero number of seeds"):
        compare([0.5], [], "mIoU")


def test_judge_and_rank_on_hand_made_tables() -> None:
    dense_wins = {"indoor": {
        "indoor_val": {"base": {0: figures(0.9)}, "sparse": {0: figures(0.95)}},  # in-domain: not part of claim 1
        "outdoor_val": {"base": {0: figures(0.6), 1: figures(0.62)}, "sparse": {0: figures(0.4), 1: figures(0.45)}},
        "real": {"base": {0: figures(0.5), 1: figures(0.52)}, "sparse": {0: figures(0.3), 1: figures(0.31)}},
    }}  # fmt: skip
    dense_claim = CLAIMS[0]
    verdicts = judge(dense_claim, dense_wins)
    assert [(v.eval_set, v.outcome) for v in verdicts] == [("outdoor_val", REPRODUCED), ("real", REPRODUCED)]
    assert overall(verdicts) == "REPRODUCED" and verdicts[1].difference == pytest.approx(0.205)
    sparse_wins = {"indoor": {"real": {"base": {0: figures(0.3)}, "sparse": {0: figures(0.5)}},
                              "outdoor_val": {"base": {0: figures(0.5)}, "sparse": {0: figures(0.5)}}}}  # fmt: skip
    verdicts = judge(dense_claim, sparse_wins)
    assert sorted(v.outcome for v in verdicts) == sorted([OPPOSITE, UNCLEAR])
    assert overall(verdicts) == "NOT REPRODUCED"
    assert overall(judge(CLAIMS[1], sparse_wins)) == "NOT TESTED"  # no Base + CSE run
    cse = {"outdoor": {"real": {"base_cse": {0: figures(0.5, iou1=0.40)}, "base": {0: figures(0.5, iou1=0.30)}},
                       "outdoor_val": {"base_cse": {0: figures(0.5, iou1=0.3)}, "base": {0: figures(0.5, iou1=0.4)}}}}
    assert overall(judge(CLAIMS[1], cse)) == "PARTLY REPRODUCED"
    ranking = rank(dense_wins, "indoor", "real")
    assert [v for v, _ in ranking.order] == ["base", "sparse"] and ranking.clear
    close = {"outdoor": {"real": {"full": {0: figures(0.501)}, "base": {0: figures(0.5)}}}}
    assert not rank(close, "outdoor", "real").clear


def test_variants_switch_only_the_three_ablation_settings() -> None:
    config = load_train_config("ablation_outdoor")
    sparse, full = (VARIANTS[name].apply(config, seed=3) for name in ("sparse", "full"))
    assert (sparse.model.input.encoding, sparse.model.network.use_cse, sparse.model.loss.click_loss) == (
        "sparse", False, False)  # fmt: skip
    assert (full.model.input.encoding, full.model.network.use_cse, full.model.loss.click_loss) == ("dense", True, True)
    assert sparse.seed == full.seed == 3 and sparse.optimizer == full.optimizer == config.optimizer
    assert sparse.model.network.channels == full.model.network.channels == config.model.network.channels
    assert [v.name for v in get_variants(["full", "sparse"])] == ["sparse", "full"]
    for name in ("ablation_indoor", "ablation_outdoor"):
        shipped = load_train_config(name)
        assert shipped.val.objects == 0 and shipped.data.train.options == {"rgb": False}
        assert re.fullmatch(r"(in|out)door", shipped.data.synthetic.domain)


def test_cells_show_the_mean_and_the_range_over_seeds() -> None:
    assert cell("IoU@1", [0.40, 0.424]) == "41.2 (40.0–42.4)"
    assert cell("NoC@85", [5.0, 6.5]) == "5.75 (5.00–6.50)"
    assert cell("IoU@1", [0.5]) == "50.0" and cell("IoU@10", [None, None]) == "–"
