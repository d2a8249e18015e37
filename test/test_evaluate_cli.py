"""`clickenhance-eval` end to end on a tiny SemanticKITTI folder written in the real format."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cloud_factories import box_surface

import clickenhance_model.segmenter as segmenter_module
from clickenhance_model.evaluate import LOG_FILE, main

SUMMARY = re.compile(
    r"^NoC@80=(\d+\.\d\d) NoC@85=(\d+\.\d\d) NoC@90=(\d+\.\d\d) "
    r"IoU@5=(\d+\.\d|nan) IoU@10=(\d+\.\d|nan) IoU@15=(\d+\.\d|nan) objects=(\d+)$"  # IoU@k: nan beyond the budget
)
REPO = Path(__file__).resolve().parents[1]
CAR_1, CAR_2 = 10 | 1 << 16, 10 | 2 << 16  # SemanticKITTI labels: car (10), instances 1 and 2


def write_scan(folder: Path, stem: str, shift: float) -> None:
    """One scan: a 12 x 12 m road (40) with two cars (10, instances 1 and 2), as .bin + .label."""
    g = np.arange(-6, 6, 0.25)
    road = np.stack(np.meshgrid(g, g, [-1.7]), -1).reshape(-1, 3)
    car_1 = box_surface((-4 + shift, 1, -1.4), (-0.5 + shift, 2.8, 0.0), 0.12)
    car_2 = box_surface((1 + shift, -3, -1.4), (4.5 + shift, -1.2, -0.2), 0.12)
    xyz = np.concatenate([road, car_1, car_2])
    labels = np.concatenate([np.full(len(road), 40), np.full(len(car_1), CAR_1), np.full(len(car_2), CAR_2)])
    points = np.concatenate([xyz, np.full((len(xyz), 1), 0.3)], axis=1).astype("<f4")
    points.tofile(folder / f"{stem}.bin")
    labels.astype("<u4").tofile(folder / f"{stem}.label")


@pytest.fixture(scope="module")
def kitti_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two good scans and one whose .bin is cut mid-point (20 bytes)."""
    root = tmp_path_factory.mktemp("kitti") / "sequences" / "08"
    (root / "velodyne").mkdir(parents=True)
    (root / "labels").mkdir()
    write_scan(root / "velodyne", "000000", 0.0)
    (root / "velodyne" / "000000.label").rename(root / "labels" / "000000.label")
    write_scan(root / "velodyne", "000001", 0.5)
    (root / "velodyne" / "000001.label").rename(root / "labels" / "000001.label")
    (root / "velodyne" / "000002.bin").write_bytes(b"\0" * 20)
    (root / "labels" / "000002.label").write_bytes(b"\0" * 4)
    return root.parents[1]


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    """Call the CLI in-process; return (exit code, stdout, stderr)."""
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def base_args(root: Path, out: Path) -> list[str]:
    """The options every test passes."""
    return ["--dataset", "semantickitti", "--root", str(root), "--method", "baseline", "--out", str(out)]


def test_cli_outputs(kitti_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, err = run(capsys, *base_args(kitti_root, tmp_path / "eval"))
    assert code == 0, err
    match = SUMMARY.match(out.strip().splitlines()[-1])
    assert match, out
    assert int(match.group(7)) == 4  # two cars in each of the two readable scans
    assert "skipping scene 08/000002" in err and "000002.bin" in err
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    summary = results["summary"]
    assert summary["objects"] == 4 and len(summary["IoU@k"]) == 20 and len(summary["AP@k"]) == 20
    assert float(match.group(1)) == pytest.approx(summary["NoC@80"], abs=0.005)
    assert float(match.group(5)) == pytest.approx(100 * summary["IoU@k"][9], abs=0.05)
    assert [s["scene"] for s in results["skipped_scenes"]] == ["08/000002"]
    rows = results["objects"]
    expected = [("08/000000", CAR_1), ("08/000000", CAR_2), ("08/000001", CAR_1), ("08/000001", CAR_2)]
    assert [(r["scene"], r["instance_id"]) for r in rows] == expected
    for row in rows:
        assert len(row["ious"]) == 20 and row["class_name"] == "car"
        assert 1 <= len(row["clicks"]) <= 20 and row["clicks"][0][1] is True
    table = (tmp_path / "eval" / "table.md").read_text()
    assert "| Method | Train → Eval | NoC@80 ↓ | NoC@85 ↓ | NoC@90 ↓ | IoU@5 ↑ | IoU@10 ↑ | IoU@15 ↑ |" in table
    assert "– → SemanticKITTI" in table
    assert (tmp_path / "eval" / "iou_vs_clicks.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_scene_stride_evaluates_every_kth_scene(kitti_root: Path, tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, *base_args(kitti_root, tmp_path / "eval"), "--scene-stride", "2", "--max-clicks", "3")
    assert code == 0, err
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert {r["scene"] for r in results["objects"]} == {"08/000000"}  # scenes 0 and 2 (unreadable), not 1
    assert results["run"]["scene_stride"] == 2
    with pytest.raises(SystemExit):
        main([*base_args(kitti_root, tmp_path / "bad"), "--scene-stride", "0"])


def test_cli_resumes_after_an_interruption(kitti_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "eval"
    args = [*base_args(kitti_root, out), "--max-clicks", "8"]
    assert run(capsys, *args)[0] == 0
    complete = json.loads((out / "results.json").read_text())["objects"]
    lines = (out / LOG_FILE).read_text().splitlines()
    first = json.loads(lines[0])
    first["object"]["ious"] = [0.125] * 8  # a marker: a reused row keeps it, a recomputed one would not
    (out / LOG_FILE).write_text(json.dumps(first) + "\n" + lines[1][:25])  # killed while writing line 2
    code, _, err = run(capsys, *args)
    assert code == 0
    assert "ignoring an unreadable line" in err
    resumed = json.loads((out / "results.json").read_text())["objects"]
    assert resumed[0]["ious"] == [0.125] * 8
    assert [r["clicks"] for r in resumed[1:]] == [r["clicks"] for r in complete[1:]]
    assert [r["ious"] for r in resumed[1:]] == [r["ious"] for r in complete[1:]]


def test_cli_jobs_give_the_one_process_results(kitti_root: Path, tmp_path: Path, capsys) -> None:
    """Scenes in two worker processes: the same objects, clicks and IoUs in the same order, the unreadable scene
    skipped, and a half-done log continued (its logged object reused, not recomputed)."""
    args = [*base_args(kitti_root, tmp_path / "one"), "--max-clicks", "6"]
    assert run(capsys, *args)[0] == 0
    one = json.loads((tmp_path / "one" / "results.json").read_text())
    out = tmp_path / "two"
    two_args = [*base_args(kitti_root, out), "--max-clicks", "6", "--jobs", "2"]
    out.mkdir()
    (out / "run.json").write_text((tmp_path / "one" / "run.json").read_text())
    first = json.loads((tmp_path / "one" / LOG_FILE).read_text().splitlines()[0])
    first["object"]["ious"] = [0.125] * 6  # a marker: a reused row keeps it
    (out / LOG_FILE).write_text(json.dumps(first) + "\n")
    code, stdout, err = run(capsys, *two_args)
    assert code == 0, err
    assert "skipping scene 08/000002" in err
    two = json.loads((out / "results.json").read_text())
    assert [(r["scene"], r["instance_id"]) for r in two["objects"]] == [(r["scene"], r["instance_id"])
                                                                         for r in one["objects"]]  # fmt: skip
    assert two["objects"][0]["ious"] == [0.125] * 6
    assert [r["clicks"] for r in two["objects"]] == [r["clicks"] for r in one["objects"]]
    assert [r["ious"] for r in two["objects"][1:]] == [r["ious"] for r in one["objects"][1:]]
    assert [s["scene"] for s in two["skipped_scenes"]] == ["08/000002"]
    assert stdout.strip().endswith("objects=4")
    with pytest.raises(SystemExit):  # the first N objects are a one-process notion
        main([*two_args, "--limit-objects", "1"])


def test_cli_gain_reach_is_click_rule_3_for_every_session(kitti_root: Path, tmp_path: Path, capsys) -> None:
    """`--gain-reach` puts click rule 3 on the sessions the protocol opens, is recorded, and a run with another
    value is not continued in the same folder."""
    from clickenhance_model.baseline import BaselineSegmenter
    from clickenhance_model.datasets import build_dataset
    from clickenhance_model.evaluation.protocol import ProtocolSettings, evaluate_scene
    from clickenhance_model.inference.click_rules import ClickRules

    class KeepingSessions:
        """The outdoor baseline, keeping the sessions it opens."""

        def __init__(self) -> None:
            self.baseline, self.opened = BaselineSegmenter.for_domain("outdoor"), []

        def session(self, xyz: np.ndarray, rgb: np.ndarray | None = None):
            self.opened.append(self.baseline.session(xyz, rgb))
            return self.opened[-1]

    dataset = build_dataset("semantickitti", kitti_root)
    scene = dataset.load_scene(dataset.scene_names()[0])
    segmenter, rules = KeepingSessions(), ClickRules(gain_reach=1.0)
    settings = ProtocolSettings(max_clicks=2, click_rules=rules)
    assert len(list(evaluate_scene(segmenter, scene, dataset.objects(scene, 100), settings))) == 2
    assert segmenter.opened[0].click_rules is rules
    out = tmp_path / "eval"
    code, _, err = run(capsys, *base_args(kitti_root, out), "--max-clicks", "4", "--gain-reach", "1.0")
    assert code == 0, err
    assert json.loads((out / "results.json").read_text())["run"]["gain_reach"] == 1.0
    assert json.loads((out / "results.json").read_text())["run"]["click_rules"] == dataclasses.asdict(rules)
    code, _, err = run(capsys, *base_args(kitti_root, tmp_path / "plain"), "--max-clicks", "4")
    plain = json.loads((tmp_path / "plain" / "results.json").read_text())["run"]
    assert code == 0 and "gain_reach" not in plain and plain["click_rules"] == dataclasses.asdict(ClickRules())
    code, _, err = run(capsys, *base_args(kitti_root, out), "--max-clicks", "4", "--gain-reach", "0.5")
    assert code == 2 and "gain_reach" in err
    with pytest.raises(SystemExit):
        main([*base_args(kitti_root, tmp_path / "bad"), "--gain-reach", "-1"])


def test_cli_refuses_other_settings_in_the_same_folder(kitti_root: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "eval"
    assert run(capsys, *base_args(kitti_root, out), "--limit-objects", "1")[0] == 0
    code, _, err = run(capsys, *base_args(kitti_root, out), "--max-clicks", "5")
    assert code == 2 and "max_clicks" in err and "--restart" in err
    code, stdout, _ = run(capsys, *base_args(kitti_root, out), "--max-clicks", "5", "--limit-objects", "3", "--restart")
    assert code == 0 and stdout.strip().endswith("objects=3")
    rows = json.loads((out / "results.json").read_text())["objects"]
    assert all(len(r["ious"]) == 5 for r in rows)


def test_cli_temperature_is_seeded(kitti_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    clicks = {}
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        args = [*base_args(kitti_root, tmp_path / name), "--temperature", "0.8", "--seed", seed, "--max-clicks", "6"]
        assert run(capsys, *args)[0] == 0
        clicks[name] = [r["clicks"] for r in json.loads((tmp_path / name / "results.json").read_text())["objects"]]
    assert clicks["a"] == clicks["b"]
    assert clicks["a"] != clicks["c"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--root", "/nonexistent/kitti"], "/nonexistent/kitti"),
        (["--label-set", "scannet20"], "--label-set does not apply"),
    ],
)
def test_cli_bad_input(kitti_root: Path, tmp_path: Path, capsys, extra: list[str], message: str) -> None:
    code, out, err = run(capsys, *base_args(kitti_root, tmp_path / "eval"), *extra)
    assert code == 2 and out == ""
    assert message in err


def test_cli_model_without_checkpoint_needs_the_shipped_default(kitti_root: Path, tmp_path: Path, capsys,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segmenter_module, "DEFAULT_CHECKPOINT", tmp_path / "weights" / "default.pt")
    code, out, err = run(capsys, *base_args(kitti_root, tmp_path / "eval"), "--method", "model")
    assert code == 2 and out == "" and "no default model is shipped yet" in err


def test_cli_model_without_checkpoint_uses_the_shipped_default(kitti_root: Path, tmp_path: Path, capsys,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from clickenhance_model.model_config import ModelConfig, NetworkConfig

    shipped = tmp_path / "weights" / "default.pt"  # a tiny real network standing where the package ships its model
    config = ModelConfig(network=NetworkConfig(channels=(8, 16), cse_channels=(4, 8)))
    segmenter_module.Segmenter.from_config(config).save(shipped)
    monkeypatch.setattr(segmenter_module, "DEFAULT_CHECKPOINT", shipped)
    code, out, _ = run(capsys, *base_args(kitti_root, tmp_path / "eval"), "--method", "model", "--max-clicks", "2",
                       "--limit-objects", "1", "--no-ground-gate", "--ground-prior", "--joined-click", "free",
                       "--views", "2", "--gain-reach", "1.5")  # fmt: skip
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert code == 0 and "NoC@85=" in out and results["summary"]["objects"] == 1
    assert results["run"]["method"] == "model" and results["run"]["checkpoint"] == "shipped default"
    assert results["run"]["ground_gate"] is False  # the options given on the command line reached the segmenter
    assert results["run"]["ground_prior"] is True and results["run"]["views"] == 2
    assert results["run"]["joined_click"] == "free" and results["run"]["gain_reach"] == 1.5
    assert results["run"]["click_rules"]["gain_reach"] == 1.5  # the rules its sessions answered under


def test_cli_rejects_a_missing_checkpoint(kitti_root: Path, tmp_path: Path, capsys) -> None:
    args = [*base_args(kitti_root, tmp_path / "eval"), "--method", "model", "--checkpoint", str(tmp_path / "no.pt")]
    code, out, err = run(capsys, *args)
    assert code == 2 and out == "" and err.startswith("clickenhance-eval: error:")


def test_cli_rejects_a_bad_temperature(kitti_root: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*base_args(kitti_root, tmp_path / "eval"), "--temperature", "1.5"])
    assert exit_info.value.code == 2
    assert "--temperature" in capsys.readouterr().err


def test_cli_indoor_dataset_with_options(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """An S3DIS room (floor and a table) through --areas: the reader options and the indoor preset."""
    for area in (1, 2):
        folder = tmp_path / "s3dis" / f"Area_{area}" / "office_1" / "Annotations"
        folder.mkdir(parents=True)
        g = np.arange(0, 3, 0.05)
        floor = np.stack(np.meshgrid(g, g, [0.0]), -1).reshape(-1, 3)
        table = box_surface((1.0, 1.0, 0.03), (1.8, 1.6, 0.7), 0.04)
        for name, points in (("floor_1", floor), ("table_1", table)):
            np.savetxt(folder / f"{name}.txt", np.concatenate([points, np.full((len(points), 3), 100)], axis=1))
    args = ["--dataset", "s3dis", "--root", str(tmp_path / "s3dis"), "--areas", "2", "--method", "baseline",
            "--out", str(tmp_path / "eval"), "--max-clicks", "5"]  # fmt: skip
    code, out, err = run(capsys, *args)
    assert code == 0, err
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert results["run"]["dataset_options"] == {"areas": [2]}
    assert results["run"]["baseline_config"]["voxel_size"] == 0.03  # the indoor preset
    assert [(r["scene"], r["class_name"]) for r in results["objects"]] == [
        ("Area_2/office_1", "floor"), ("Area_2/office_1", "table")]  # fmt: skip
    assert all(r["ious"][-1] > 0.9 for r in results["objects"])


def test_module_entry_point(kitti_root: Path, tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "clickenhance_model.evaluate", *base_args(kitti_root, tmp_path / "eval"),
               "--limit-objects", "1", "--max-clicks", "3"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    match = SUMMARY.match(result.stdout.strip().splitlines()[-1])
    assert match and match.group(4) == "nan" and match.group(7) == "1"  # 3 clicks: no IoU@5


def test_cli_on_real_scans(real_scans_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["--dataset", "semantickitti", "--root", str(real_scans_dir), "--method",
            "baseline", "--out", str(tmp_path / "real"), "--limit-objects", "2", "--max-clicks", "10"]  # fmt: skip
    code, out, err = run(capsys, *args)
    assert code == 0, err
    match = SUMMARY.match(out.strip().splitlines()[-1])
    assert match and match.group(7) == "2"
    assert float(match.group(4)) > 70.0  # IoU@5 of the baseline on two real cars


def test_cli_stuff_objects_rings_and_responsiveness(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """--objects stuff and --keep-rings reach the reader; results.json and table.md report stuck objects."""
    from test_dataset_objects import CAR, ring_scan, street_with_stuff
    from test_dataset_objects import write_scan as write_pair

    xyz, labels = street_with_stuff()
    write_pair(tmp_path / "scans", xyz, labels)
    args = ["--dataset", "semantickitti", "--root", str(tmp_path / "scans"), "--method", "baseline",
            "--objects", "stuff", "--stuff-gap", "0.4", "--min-points", "50", "--max-clicks", "8"]  # fmt: skip
    code, _, err = run(capsys, *args, "--out", str(tmp_path / "eval"))
    assert code == 0, err
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert results["run"]["dataset_options"] == {"objects": "stuff", "stuff_gap": 0.4}
    assert sorted(results["per_class"]) == ["fence", "pole"] and results["summary"]["objects"] == 4
    flags = [row["responsiveness"] for row in results["objects"]]
    assert results["summary"]["stuck_objects"] == sum(f["stuck"] for f in flags)
    assert results["summary"]["rising_after_5"] == sum(f["rising"] for f in flags)
    table = (tmp_path / "eval" / "table.md").read_text()
    assert "| pole | 2 |" in table and "### Click responsiveness (IoU@8 − IoU@5)" in table
    assert f"**{results['summary']['stuck_objects']} of 4 objects stuck**" in table
    collapsed = [row for row in results["objects"] if row["collapses"]]
    assert results["summary"]["collapsed_objects"] == len(collapsed)
    assert f"**{len(collapsed)} of 4 objects collapse**" in table
    code, _, err = run(capsys, *args, "--ground-objects", "--out", str(tmp_path / "eval_ground"))
    assert code == 0, err
    results = json.loads((tmp_path / "eval_ground" / "results.json").read_text())
    assert results["run"]["dataset_options"]["ground_objects"] is True and "road" in results["per_class"]
    code, _, err = run(capsys, *args, "--classes", "80", "--out", str(tmp_path / "eval_poles"))
    assert code == 0, err
    results = json.loads((tmp_path / "eval_poles" / "results.json").read_text())
    assert sorted(results["per_class"]) == ["pole"] and results["run"]["classes"] == [80]
    rings = ring_scan(rings=8, per_ring=200)
    write_pair(tmp_path / "rings", rings, np.full(len(rings), CAR))
    code, _, err = run(capsys, "--dataset", "semantickitti", "--root", str(tmp_path / "rings"), "--method",
                       "baseline", "--keep-rings", "2", "--max-clicks", "2",
                       "--out", str(tmp_path / "eval2"))  # fmt: skip
    assert code == 0, err
    results = json.loads((tmp_path / "eval2" / "results.json").read_text())
    assert results["run"]["dataset_options"] == {"keep_rings": 2} and results["objects"][0]["num_points"] == 800
    code, out, err = run(capsys, "--dataset", "npy", "--root", str(tmp_path), "--method", "baseline",
                         "--keep-rings", "2", "--out", str(tmp_path / "eval3"))  # fmt: skip
    assert code == 2 and "--keep-rings does not apply to --dataset npy" in err


def test_cli_npy_dataset_on_a_coloured_room(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    g = np.arange(0, 3, 0.05)
    floor = np.stack(np.meshgrid(g, g, [0.0]), -1).reshape(-1, 3)
    table = box_surface((1.0, 1.0, 0.03), (1.8, 1.6, 0.7), 0.04)
    xyz = np.concatenate([floor, table]).astype(np.float32)
    np.save(tmp_path / "room.xyz.npy", xyz)
    np.save(tmp_path / "room.rgb.npy", np.full((len(xyz), 3), 120, dtype=np.uint8))
    np.save(tmp_path / "room.instance.npy", np.repeat([1, 2], [len(floor), len(table)]).astype(np.int32))
    code, _, err = run(capsys, "--dataset", "npy", "--root", str(tmp_path), "--method", "baseline",
                       "--out", str(tmp_path / "eval"), "--max-clicks", "5")  # fmt: skip
    assert code == 0, err
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert results["run"]["baseline_config"]["voxel_size"] == 0.03  # coloured: the indoor preset
    assert [(r["instance_id"], r["num_points"]) for r in results["objects"]] == [(1, len(floor)), (2, len(table))]
    assert all(r["ious"][-1] > 0.9 for r in results["objects"])
    assert "Not measured" in (tmp_path / "eval" / "table.md").read_text()
