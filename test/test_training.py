"""Iterative click training end to end on generated scenes: generator -> reader -> clicks -> loss -> checkpoint.

Every test runs the real pieces (scene generator, SemanticKITTI reader, spconv network,
simulated user, checkpoint files) on the tiny config, so the whole file takes seconds.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from clickenhance_model.checkpoint import load_checkpoint, save_checkpoint
from clickenhance_model.datasets.scene import SceneObject
from clickenhance_model.errors import CheckpointError
from clickenhance_model.evaluation.protocol import ProtocolSettings, evaluate_scene
from clickenhance_model.inference.network_input import collate, encode_crop
from clickenhance_model.inference.voxel_graph import maps_graph_config
from clickenhance_model.model_config import SegmenterConfig
from clickenhance_model.segmenter import Segmenter
from clickenhance_model.train import main
from clickenhance_model.training.click_simulation import (
    _next_state,
    encode_sample,
    initial_clicks,
    simulate_clicks,
)  # fmt: skip
from clickenhance_model.training.config import CONFIG_DIR, ClickConfig, load_train_config
from clickenhance_model.training.data import index_objects, load_train_object, open_split
from clickenhance_model.training.distributed import ProcessContext, shard
from clickenhance_model.training.loop import TrainingRun
from clickenhance_model.training.optimization import build_optimizer, build_scheduler
from clickenhance_model.training.resume import check_resumable
from clickenhance_model.training.sampling import epoch_rng, sample_objects
from clickenhance_model.training.step import train_step
from clickenhance_model.training.synthetic import ensure_generated, generation_workers
from clickenhance_model.unet import PRIOR_SCALE_INIT, ClickEnhanceNet

CPU = ProcessContext(0, 1, torch.device("cpu"))


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def scenes_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny config's generated scans (2 train, 1 val), made once for the module."""
    root = tmp_path_factory.mktemp("tiny_scenes")
    config = load_train_config("synthetic_tiny")
    open_split(dataclasses.replace(config.data, root=str(root)), "train", show_progress=False)
    return root


def tiny_config(scenes_root: Path, **overrides):
    """synthetic_tiny with its data in the module's generated folder."""
    config = load_train_config("synthetic_tiny", **overrides)
    return dataclasses.replace(config, data=dataclasses.replace(config.data, root=str(scenes_root)))


def run_cli(scenes_root: Path, out: Path, *options: str) -> int:
    """`clickenhance-train --config synthetic_tiny` into `out`, without progress bars."""
    return main(["--config", "synthetic_tiny", "--data-root", str(scenes_root), "--out", str(out), "--device", "cpu",
                 "--no-progress", *options])  # fmt: skip


def hand_noc(run: TrainingRun, config, threshold: float) -> float:
    """Mean number of clicks to reach `threshold` IoU on the run's validation objects with its final model,
    counted here (the network alone, as validation runs it)."""
    segmenter = Segmenter(run.model, config.model, torch.device("cpu"), SegmenterConfig(ground_gate=False))
    counts = []
    for name in sorted({o.scene for o in run.val_objects}):
        scene = run.val_data.load_scene(name)
        objects = [o for o in run.val_objects if o.scene == name]
        for result in evaluate_scene(segmenter, scene, objects, ProtocolSettings(max_clicks=config.val.max_clicks)):
            reached = [k for k, value in enumerate(result.ious, start=1) if value >= threshold]
            counts.append(reached[0] if reached else config.val.max_clicks)
    run.model.train()
    return float(np.mean(counts))


def test_generated_scenes_are_read_through_the_semantickitti_reader(scenes_root: Path) -> None:
    config = tiny_config(scenes_root)
    train, val = open_split(config.data, "train"), open_split(config.data, "val")
    assert train.name == val.name == "semantickitti"
    assert train.scene_names() == ["00/000000", "00/000001"] and val.scene_names() == ["01/000000"]
    objects = index_objects(train, config.data)
    assert objects and all(o.num_points >= config.data.min_points for o in objects)
    assert (scenes_root / "synthetic.yaml").is_file()
    before = (scenes_root / "sequences/00/velodyne/000000.bin").read_bytes()
    open_split(config.data, "train")  # a complete folder is reused, not regenerated
    assert (scenes_root / "sequences/00/velodyne/000000.bin").read_bytes() == before
    other = dataclasses.replace(config.data.synthetic, seed=5)
    with pytest.raises(ValueError, match="other settings"):
        open_split(dataclasses.replace(config.data, synthetic=other), "train")


def test_generation_in_worker_processes_writes_the_same_files(scenes_root: Path, tmp_path: Path) -> None:
    config = tiny_config(scenes_root).data.synthetic
    ensure_generated(tmp_path, config, show_progress=False, workers=2)
    files = sorted(p.relative_to(scenes_root) for p in scenes_root.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert any(f.suffix == ".bin" for f in files)
    for name in files:
        assert (tmp_path / name).read_bytes() == (scenes_root / name).read_bytes(), name
    assert generation_workers(0, 1) == 1 and generation_workers(3, 10) == 3
    with pytest.raises(ValueError, match="workers"):
        generation_workers(-1, 10)


def test_prepare_data_generates_the_scans_and_trains_nothing(scenes_root: Path, tmp_path: Path, capsys) -> None:
    """`--prepare-data val` writes the validation scans alone (what a ship gate reads), the same as those generated
    beside the training scans; `--prepare-data` then adds the training scans and keeps them."""
    assert run_cli(tmp_path / "scenes", tmp_path / "run", "--prepare-data", "val") == 0
    assert "val: 1 scans" in capsys.readouterr().out and not (tmp_path / "run").exists()
    assert not (tmp_path / "scenes" / "sequences" / "00").exists()
    val_scan = tmp_path / "scenes" / "sequences/01/velodyne/000000.bin"
    assert val_scan.read_bytes() == (scenes_root / "sequences/01/velodyne/000000.bin").read_bytes()
    stamp = val_scan.stat().st_mtime_ns
    assert run_cli(tmp_path / "scenes", tmp_path / "run", "--prepare-data") == 0
    assert "train: 2 scans" in capsys.readouterr().out and not (tmp_path / "run").exists()
    for name in ("sequences/00/velodyne/000001.bin", "sequences/01/labels/000000.label"):
        assert (tmp_path / "scenes" / name).read_bytes() == (scenes_root / name).read_bytes()
    assert val_scan.stat().st_mtime_ns == stamp  # not written again
    with pytest.raises(ValueError, match="splits must be among"):
        ensure_generated(tmp_path / "scenes", tiny_config(scenes_root).data.synthetic, splits=("test",))


def test_end_to_end_train_checkpoint_load_evaluate(scenes_root: Path, tmp_path: Path) -> None:
    config = tiny_config(scenes_root, max_steps=4)
    run = TrainingRun(config, tmp_path / "run", CPU, show_progress=False)
    result = run.run()
    assert result["step"] == 4 and result["epoch"] == 1  # 8 samples / batch 2 = one epoch, then validation
    rows = run.train_log.read()
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert all(np.isfinite(float(r["total"])) for r in rows)
    state_dict, model_config, extra = load_checkpoint(tmp_path / "run" / "last.pt")
    assert model_config == config.model and extra["state"]["step"] == 4
    for name, value in run.model.state_dict().items():
        assert torch.equal(state_dict[name], value.cpu()), name
    assert extra["metrics"]["objects"] == len(run.val_objects) == 3
    assert extra["metrics"]["NoC@85"] == pytest.approx(hand_noc(run, config, 0.85))  # what the saved model scores
    segmenter = Segmenter.load(tmp_path / "run" / "best.pt", device="cpu")
    val = open_split(config.data, "val")
    scene = val.load_scene(val.scene_names()[0])
    objects = val.objects(scene, config.data.min_points)[:2]
    results = list(evaluate_scene(segmenter, scene, objects, ProtocolSettings(max_clicks=3)))
    assert len(results) == 2 and all(len(r.ious) == 3 for r in results)
    for result in results:  # replaying the recorded clicks gives the recorded IoU, computed here by hand
        mask = segmenter.session(scene.xyz, scene.rgb).add_clicks(result.clicks)
        truth = scene.object_mask(result.instance_id)
        assert result.ious[len(result.clicks) - 1] == pytest.approx((mask & truth).sum() / (mask | truth).sum())
    assert (tmp_path / "run" / "training_curves.png").stat().st_size > 0


def test_resume_continues_from_the_saved_step(scenes_root: Path, tmp_path: Path) -> None:
    assert run_cli(scenes_root, tmp_path / "whole", "--steps", "3", "--val-objects", "0") == 0
    assert run_cli(scenes_root, tmp_path / "split", "--steps", "2", "--val-objects", "0") == 0
    _, _, halfway = load_checkpoint(tmp_path / "split" / "last.pt")
    assert halfway["state"]["step"] == 2 and halfway["scheduler"]["last_epoch"] == 2
    assert halfway["optimizer"]["state"], "momentum buffers are saved"
    assert run_cli(scenes_root, tmp_path / "split", "--steps", "3", "--val-objects", "0") == 0
    whole, split = (load_checkpoint(tmp_path / name / "last.pt") for name in ("whole", "split"))
    assert split[2]["state"]["step"] == 3 and split[2]["scheduler"]["last_epoch"] == 3
    logged = (tmp_path / "split" / "train_log.csv").read_text().splitlines()[1:]
    assert [int(line.split(",")[0]) for line in logged] == [1, 2, 3]  # step 3 continues step 2, not step 1
    reference = (tmp_path / "whole" / "train_log.csv").read_text().splitlines()[1:]
    assert [line.split(",")[2] for line in logged] == [line.split(",")[2] for line in reference]  # same LRs
    for name, value in whole[0].items():  # same samples, clicks, optimizer state and LR: the same weights
        assert torch.equal(split[0][name], value), name


def write_tiny_yaml(path: Path, **sections: dict) -> Path:
    """synthetic_tiny.yaml with top-level `sections` replaced, written to `path`."""
    data = yaml.safe_load((CONFIG_DIR / "synthetic_tiny.yaml").read_text())
    data.update(sections)
    path.write_text(yaml.safe_dump(data))
    return path


def test_with_starts_trains_the_missing_start_runs_of_a_chain_first(
    scenes_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """A stage whose init_from is runs/NAME/last.pt trains the run of NAME.yaml first, once; without the flag it
    refuses with the hint, before any training."""
    monkeypatch.chdir(tmp_path)
    data = {**yaml.safe_load((CONFIG_DIR / "synthetic_tiny.yaml").read_text())["data"], "root": str(scenes_root)}
    tiny = {"data": data, "epochs": 1, "samples_per_epoch": 2, "val": {"objects": 0}}
    write_tiny_yaml(tmp_path / "first.yaml", **tiny)
    write_tiny_yaml(tmp_path / "second.yaml", **tiny, init_from="runs/first/last.pt")
    write_tiny_yaml(tmp_path / "third.yaml", **tiny, init_from="runs/second/last.pt")
    common = ["--config", "third.yaml", "--out", "runs/third", "--device", "cpu", "--no-progress"]
    assert main(common) == 2
    assert "--with-starts" in capsys.readouterr().err and not Path("runs").exists()
    assert main([*common, "--with-starts"]) == 0
    printed = capsys.readouterr().out
    assert printed.index("start run first") < printed.index("start run second")
    runs = {name: load_checkpoint(Path("runs", name, "last.pt")) for name in ("first", "second", "third")}
    assert [runs[name][2]["state"]["step"] for name in ("first", "second", "third")] == [1, 1, 1]
    made = Path("runs/first/last.pt").stat().st_mtime_ns
    assert main(["--config", "third.yaml", "--out", "runs/again", "--device", "cpu", "--no-progress",
                 "--with-starts"]) == 0  # fmt: skip
    assert "start run" not in capsys.readouterr().out and Path("runs/first/last.pt").stat().st_mtime_ns == made
    write_tiny_yaml(tmp_path / "orphan.yaml", **tiny, init_from="weights/nowhere.pt")
    assert main(["--config", "orphan.yaml", "--device", "cpu", "--with-starts"]) == 2
    assert "not the checkpoint of a config's run" in capsys.readouterr().err


def test_a_setting_added_after_a_checkpoint_was_written_does_not_stop_its_resume() -> None:
    config = load_train_config("synthetic_tiny")
    stored = config.to_dict()
    del stored["model"]["network"]["point_refiner"]  # as a checkpoint written before that setting existed
    check_resumable(Path("last.pt"), config, config.model, {"state": {}, "train_config": stored}, 1)
    stored["optimizer"]["lr"] = config.optimizer.lr * 2
    with pytest.raises(CheckpointError, match=r"other settings \(optimizer.lr\)"):
        check_resumable(Path("last.pt"), config, config.model, {"state": {}, "train_config": stored}, 1)


def test_with_starts_resumes_a_start_run_that_stopped_before_its_last_epoch(
    scenes_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """A start run cut short (a closed session) already has best.pt and last.pt; the chain finishes it first
    instead of fine-tuning from its half-trained weights, and a finished one is left alone."""
    monkeypatch.chdir(tmp_path)
    data = {**yaml.safe_load((CONFIG_DIR / "synthetic_tiny.yaml").read_text())["data"], "root": str(scenes_root)}
    tiny = {"data": data, "samples_per_epoch": 2, "batch_size": 2, "val": {"objects": 2}}
    write_tiny_yaml(tmp_path / "first.yaml", **tiny, epochs=2)
    write_tiny_yaml(tmp_path / "second.yaml", **tiny, epochs=1, init_from="runs/first/best.pt")
    assert main(["--config", "first.yaml", "--out", "runs/first", "--device", "cpu", "--no-progress",
                 "--steps", "1"]) == 0  # fmt: skip
    assert Path("runs/first/best.pt").is_file()
    assert load_checkpoint(Path("runs/first/last.pt"))[2]["state"]["epoch"] == 1
    capsys.readouterr()
    common = ["--config", "second.yaml", "--out", "runs/second", "--device", "cpu", "--no-progress", "--with-starts"]
    assert main(common) == 0
    assert "start run first" in capsys.readouterr().out
    assert load_checkpoint(Path("runs/first/last.pt"))[2]["state"]["step"] == 2
    finished = Path("runs/first/last.pt").stat().st_mtime_ns
    assert main([*common[:3], "runs/again", *common[4:]]) == 0
    assert "start run" not in capsys.readouterr().out and Path("runs/first/last.pt").stat().st_mtime_ns == finished
    Path("runs/first/last.pt").write_bytes(b"cut off")
    assert main([*common[:3], "runs/third", *common[4:]]) == 2
    assert "runs/first/last.pt" in capsys.readouterr().err


def test_augmented_run_resumes_to_the_same_weights(scenes_root: Path, tmp_path: Path) -> None:
    augment = {"rotate": True, "flip_prob": 0.5, "scale": [0.9, 1.1], "jitter": 0.01, "dropout_prob": 0.5,
               "keep_ratio": [0.5, 1.0]}  # fmt: skip
    config = write_tiny_yaml(tmp_path / "augmented.yaml", augment=augment)
    common = ["--config", str(config), "--data-root", str(scenes_root), "--device", "cpu", "--no-progress",
              "--val-objects", "0"]  # fmt: skip
    assert main([*common, "--out", str(tmp_path / "whole"), "--steps", "3"]) == 0
    assert main([*common, "--out", str(tmp_path / "split"), "--steps", "2"]) == 0
    assert main([*common, "--out", str(tmp_path / "split"), "--steps", "3"]) == 0
    whole, split = (load_checkpoint(tmp_path / name / "last.pt")[0] for name in ("whole", "split"))
    for name, value in whole.items():  # the augmentation of a sample does not depend on where the run resumed
        assert torch.equal(split[name], value), name
    plain = ["--config", "synthetic_tiny", *common[2:]]
    assert main([*plain, "--out", str(tmp_path / "plain"), "--steps", "3"]) == 0
    unaugmented = load_checkpoint(tmp_path / "plain" / "last.pt")[0]
    assert not all(torch.equal(unaugmented[k], v) for k, v in whole.items()), "augmentation changes what is trained"


def test_init_from_starts_a_run_from_another_runs_weights(scenes_root: Path, tmp_path: Path) -> None:
    assert run_cli(scenes_root, tmp_path / "first", "--steps", "2", "--val-objects", "0") == 0
    source = load_checkpoint(tmp_path / "first" / "last.pt")[0]
    config = write_tiny_yaml(tmp_path / "finetune.yaml", init_from=str(tmp_path / "first" / "last.pt"))
    common = ["--data-root", str(scenes_root), "--device", "cpu", "--no-progress", "--val-objects", "0",
              "--steps", "1", "--lr", "1e-9"]  # fmt: skip
    assert main(["--config", str(config), "--out", str(tmp_path / "tuned"), *common]) == 0
    assert main(["--config", "synthetic_tiny", "--out", str(tmp_path / "fresh"), *common]) == 0
    tuned, fresh = (load_checkpoint(tmp_path / name / "last.pt")[0] for name in ("tuned", "fresh"))
    weights = [k for k in source if "running_" not in k and "num_batches" not in k]
    assert all(torch.allclose(tuned[k], source[k], atol=1e-6) for k in weights)  # one step at lr 1e-9 from source
    assert not all(torch.allclose(fresh[k], source[k], atol=1e-6) for k in weights)
    other = tiny_config(scenes_root)
    wider = dataclasses.replace(other.model.network, channels=(8, 16, 24, 48))
    other = dataclasses.replace(other, model=dataclasses.replace(other.model, network=wider))
    mismatched = TrainingRun(other, tmp_path / "wider", CPU, show_progress=False)
    with pytest.raises(CheckpointError, match="another network"):
        mismatched.initialise_from(tmp_path / "first" / "last.pt")


def test_init_from_adds_geodesic_maps_without_changing_the_output(scenes_root: Path, tmp_path: Path) -> None:
    assert run_cli(scenes_root, tmp_path / "plain", "--steps", "1", "--val-objects", "0") == 0
    source = Segmenter.load(tmp_path / "plain" / "last.pt", device="cpu")
    config = tiny_config(scenes_root)
    geodesic_input = dataclasses.replace(config.model.input, geodesic_maps="outdoor")
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, input=geodesic_input))
    run = TrainingRun(config, tmp_path / "geodesic", CPU, show_progress=False)
    run.initialise_from(tmp_path / "plain" / "last.pt")
    item = load_train_object(run.train_data, run.train_objects[0], geodesic_input.voxel_size)
    positive = item.grid.centroids[np.flatnonzero(item.target)[:1]]
    wide = encode_crop(item.grid, positive, None, None, config.model)
    narrow = encode_crop(item.grid, positive, None, None, source.config)
    assert wide["features"].shape[1] == 10 and narrow["features"].shape[1] == 8
    assert torch.equal(wide["features"][:, :8], narrow["features"])
    assert (wide["features"][:, 8:] < 1).any(), "the clicked object is reachable on its graph"
    run.model.eval()
    source.model.eval()
    with torch.no_grad():
        widened, _ = run.model(collate([wide]), embeddings=False)
        original, _ = source.model(collate([narrow]), embeddings=False)
    torch.testing.assert_close(widened, original)  # the new channels start with zero weight
    run.save("last.pt")
    back = TrainingRun(tiny_config(scenes_root), tmp_path / "narrow", CPU, show_progress=False)
    back.initialise_from(tmp_path / "geodesic" / "last.pt")  # the maps dropped again: the other channels kept
    stem = run.model.state_dict()["stem.conv.weight"]
    torch.testing.assert_close(back.model.state_dict()["stem.conv.weight"], stem[..., :8])


def test_init_from_a_checkpoint_without_prior_fusion_starts_at_the_prior(scenes_root: Path, tmp_path: Path) -> None:
    config = tiny_config(scenes_root)
    geodesic_input = dataclasses.replace(config.model.input, geodesic_maps="outdoor")
    plain_model = dataclasses.replace(config.model, input=geodesic_input)
    fused_model = dataclasses.replace(plain_model, network=dataclasses.replace(plain_model.network, prior_fusion=True))
    plain = ClickEnhanceNet(plain_model)
    save_checkpoint(tmp_path / "plain.pt", plain, plain_model)
    run = TrainingRun(dataclasses.replace(config, model=fused_model), tmp_path / "fused", CPU, show_progress=False)
    run.initialise_from(tmp_path / "plain.pt")
    assert run.model.prior_scale.item() == PRIOR_SCALE_INIT and run.model.network_gain.item() == 0.0
    for name, value in plain.state_dict().items():
        torch.testing.assert_close(run.model.state_dict()[name], value)
    run.save("last.pt")
    assert load_checkpoint(tmp_path / "fused" / "last.pt")[1].network.prior_fusion
    back = TrainingRun(dataclasses.replace(config, model=plain_model), tmp_path / "back", CPU, show_progress=False)
    with pytest.raises(CheckpointError, match="prior_fusion"):
        back.initialise_from(tmp_path / "fused" / "last.pt")


def test_prior_faults_reach_the_training_step_of_a_fusion_run(scenes_root: Path, tmp_path: Path) -> None:
    """The same fusion run, seed and data with and without `prior_noise`: only the faulted priors move the weights
    apart after one step (validation and evaluation never see the faults)."""
    tiny = yaml.safe_load((CONFIG_DIR / "synthetic_tiny.yaml").read_text())
    model = {**tiny["model"], "input": {**tiny["model"]["input"], "geodesic_maps": "outdoor"},
             "network": {**tiny["model"]["network"], "prior_fusion": True}}  # fmt: skip
    common = ["--data-root", str(scenes_root), "--device", "cpu", "--no-progress", "--val-objects", "0", "--steps", "1"]
    weights = {}
    graph = {"prob": 1.0, "cut_share": 0.5, "shape": "graph", "visible_cuts": 0.5}
    for name, noise in (("clean", {"prob": 0.0}), ("faulted", {"prob": 1.0, "cut_share": 1.0}), ("graph", graph)):
        config = write_tiny_yaml(tmp_path / f"{name}.yaml", model=model, prior_noise=noise)
        assert main(["--config", str(config), "--out", str(tmp_path / name), *common]) == 0
        weights[name] = load_checkpoint(tmp_path / name / "last.pt")[0]
    assert load_train_config(tmp_path / "faulted.yaml").prior_noise.prob == 1.0
    assert load_train_config(tmp_path / "graph.yaml").prior_noise.shape == "graph"
    for name in ("faulted", "graph"):
        moved = [k for k in weights["clean"] if not torch.equal(weights["clean"][k], weights[name][k])]
        assert moved, f"a faulted prior ({name}) changes the loss, so the step"


def test_refuses_to_start_over_or_change_settings_of_a_run(scenes_root: Path, tmp_path: Path, capsys) -> None:
    assert run_cli(scenes_root, tmp_path / "run", "--steps", "1", "--val-objects", "0") == 0
    assert run_cli(scenes_root, tmp_path / "run", "--no-resume", "--steps", "2") == 2
    assert "already holds a training run" in capsys.readouterr().err
    assert run_cli(scenes_root, tmp_path / "run", "--lr", "0.5", "--steps", "2") == 2
    assert "optimizer.lr" in capsys.readouterr().err
    _, _, extra = load_checkpoint(tmp_path / "run" / "last.pt")
    assert extra["state"]["step"] == 1  # nothing was overwritten


def test_loss_falls_and_iou_rises_on_a_fixed_sample(scenes_root: Path) -> None:
    config = tiny_config(scenes_root)
    data = open_split(config.data, "train")
    largest = max(index_objects(data, config.data), key=lambda o: o.num_points)
    item = load_train_object(data, largest, config.model.input.voxel_size)
    state = initial_clicks(item, ClickConfig(random_initial_prob=0.0), np.random.default_rng(0))
    sample = encode_sample(item, state, config.model)
    model = Segmenter.from_config(config.model, seed=0).model.train()
    optimizer = build_optimizer(model, config.optimizer)
    constant = dataclasses.replace(config.scheduler, name="constant")
    scheduler, scaler = build_scheduler(optimizer, constant, 100), torch.amp.GradScaler("cuda", enabled=False)

    def object_iou() -> float:  # in train mode: BatchNorm's running means lag behind a dozen steps
        with torch.no_grad():
            prediction = model(collate([sample]), embeddings=False)[0].argmax(1).numpy() == 1
        truth = sample["labels"].numpy() == 1
        return float((prediction & truth).sum() / max((prediction | truth).sum(), 1))

    iou_before = object_iou()
    losses = [train_step(model, [sample], optimizer, scheduler, scaler, config.model.loss, torch.device("cpu"))["total"]
              for _ in range(12)]  # fmt: skip
    assert all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses
    assert object_iou() > iou_before + 0.1


def test_simulated_clicks_land_on_the_model_errors(scenes_root: Path) -> None:
    config = tiny_config(scenes_root)
    data = open_split(config.data, "train")
    item = load_train_object(data, index_objects(data, config.data)[0], config.model.input.voxel_size)
    state = initial_clicks(item, ClickConfig(random_initial_prob=0.0), np.random.default_rng(0))
    assert item.target[state.positive[0]]  # the first click is on the object
    sample = encode_sample(item, state, config.model)
    nothing = np.zeros(len(sample["crop"]), dtype=bool)  # a model predicting no object at all
    assert _next_state(item, state, sample, nothing, ClickConfig(), np.random.default_rng(0))
    assert len(state.positive) == 2 and item.target[state.current]  # the missed object gets a positive click
    everything = np.ones(len(sample["crop"]), dtype=bool)  # a crop full of false positives
    assert _next_state(item, state, sample, everything, ClickConfig(), np.random.default_rng(0))
    assert state.negative and not item.target[state.current]
    model = Segmenter.from_config(config.model, seed=0).model.train()
    samples, rounds = simulate_clicks(model, [item, item], ClickConfig(max_rounds=3), config.model,
                                      np.random.default_rng(2), torch.device("cpu"))  # fmt: skip
    planned = np.random.default_rng(2)  # the plan: after the first clicks, rounds drawn in [0, max_rounds]
    for sample_item in (item, item):
        initial_clicks(sample_item, ClickConfig(max_rounds=3), planned)
    planned_rounds = planned.integers(0, 4, size=2).tolist()
    # an untrained model is never exact, so every sample runs all its planned rounds
    assert len(samples) == 2 and rounds == planned_rounds and max(rounds) > 0 and model.training  # mode given back
    _, no_rounds = simulate_clicks(model, [item, item], ClickConfig(max_rounds=0), config.model,
                                   np.random.default_rng(1), torch.device("cpu"))  # fmt: skip
    assert no_rounds == [0, 0]
    assert all(s["labels"].sum() > 0 for s in samples)


def test_random_start_has_negatives_near_the_object(scenes_root: Path) -> None:
    config = tiny_config(scenes_root)
    data = open_split(config.data, "train")
    item = load_train_object(data, index_objects(data, config.data)[0], config.model.input.voxel_size)
    clicks = ClickConfig(random_initial_prob=1.0, max_initial_negatives=3, negative_radius=1.0)
    for seed in range(5):
        state = initial_clicks(item, clicks, np.random.default_rng(seed))
        assert len(state.positive) == 1 and item.target[state.positive[0]] and len(state.negative) <= 3
        for voxel in state.negative:
            gap = np.linalg.norm(item.grid.centroids[item.target] - item.grid.centroids[voxel], axis=1).min()
            assert not item.target[voxel] and gap <= 1.0


def test_sampling_is_seeded_and_shards_evenly(scenes_root: Path) -> None:
    config = tiny_config(scenes_root)
    objects = index_objects(open_split(config.data, "train"), config.data)
    first = sample_objects(objects, 2 * len(objects) + 1, epoch_rng(0, 3))
    assert first == sample_objects(objects, 2 * len(objects) + 1, epoch_rng(0, 3))
    assert first != sample_objects(objects, 2 * len(objects) + 1, epoch_rng(0, 4))
    assert all(first.count(o) in (2, 3) for o in objects)  # every object once per pass
    shards = [shard(first, ProcessContext(rank, 3, torch.device("cpu"))) for rank in range(3)]
    assert len({len(s) for s in shards}) == 1 and sum(len(s) for s in shards) >= len(first)


def test_sqrt_point_weighting_draws_large_objects_in_proportion() -> None:
    """Objects of 100 and 10000 points: the large one is drawn 10 times as often (sqrt of 100x), seeded."""
    objects = [SceneObject("s", i, 1, "car", 100 if i % 2 else 10000) for i in range(10)]
    first = sample_objects(objects, 22000, epoch_rng(0, 1), "sqrt_points")
    assert first == sample_objects(objects, 22000, epoch_rng(0, 1), "sqrt_points")
    large = sum(o.num_points == 10000 for o in first)
    assert 9.0 < large / (len(first) - large) < 11.0
    with pytest.raises(ValueError, match="object weighting"):
        sample_objects(objects, 4, epoch_rng(0, 1), "by_size")


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_configs_load(path: Path) -> None:
    config = load_train_config(path)
    assert config.optimizer.lr > 0 and config.epochs >= 1
    if path.stem.startswith("scannet"):
        assert (config.epochs, config.optimizer.name, config.optimizer.lr, config.scheduler.name) == (
            60,
            "sgd",
            0.005,
            "onecycle",
        )


def test_config_docstring_example() -> None:
    config = load_train_config("synthetic", epochs=2)
    assert config.epochs == 2 and config == load_train_config(CONFIG_DIR / "synthetic.yaml", epochs=2)
    assert load_train_config("training/scannet40.yaml") == load_train_config("scannet40")
    with pytest.raises(FileNotFoundError, match="shipped configs"):
        load_train_config("training/nonexistent.yaml")


def test_config_base_changes_only_what_the_file_sets(tmp_path: Path) -> None:
    """`base:` starts from another config; nested mappings merge key by key, lists are replaced."""
    child = tmp_path / "child.yaml"
    child.write_text("base: any_object\nmodel: {loss: {prior_error_weight: 3.0}}\naugment: {scale: [0.8, 1.2]}\n"
                     "epochs: 2\n")  # fmt: skip
    base, config = load_train_config("any_object"), load_train_config(child)
    assert config.model.loss.prior_error_weight == 3.0 and config.epochs == 2 and config.augment.scale == (0.8, 1.2)
    assert config.model.loss.click_loss is base.model.loss.click_loss is False  # the base's sibling keys stay
    assert config.model.network == base.model.network and config.data == base.data
    assert dataclasses.replace(config, model=base.model, augment=base.augment, epochs=base.epochs) == base
    loop = tmp_path / "loop.yaml"
    loop.write_text(f"base: {loop}\n")
    with pytest.raises(ValueError, match="cycle"):
        load_train_config(loop)


def test_unknown_config_keys_are_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: 3\noptimiser: {lr: 0.1}\n")
    with pytest.raises(ValueError, match="optimiser"):
        load_train_config(bad)
    assert main(["--config", str(bad)]) == 2


def test_data_workers_build_the_scene_graph_and_the_click_rounds_use_it(scenes_root: Path) -> None:
    """With geodesic maps the loaded object carries its scene's graph; encoding reads it, never rebuilds it."""
    config = tiny_config(scenes_root)
    geodesic = dataclasses.replace(config.model, input=dataclasses.replace(config.model.input, geodesic_maps="outdoor"))
    data = open_split(config.data, "train")
    chosen = index_objects(data, config.data)[0]
    item = load_train_object(data, chosen, geodesic.input.voxel_size, graph_config=maps_graph_config(geodesic))
    assert item.graph is not None and len(item.graph) == len(item.grid)
    assert load_train_object(data, chosen, geodesic.input.voxel_size).graph is None  # "off": no graph
    graph = item.graph
    state = initial_clicks(item, ClickConfig(random_initial_prob=0.0), np.random.default_rng(0))
    sample = encode_sample(item, state, geodesic)
    assert item.graph is graph
    plain = load_train_object(data, chosen, geodesic.input.voxel_size)  # no graph yet: built once on first use
    torch.testing.assert_close(encode_sample(plain, state, geodesic)["features"], sample["features"])
    assert plain.graph is not None
