"""Annotation of a frozen scan: SemanticKITTI labels, PLY per object, clicks JSON, atomic saves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from clickenhance_model.annotation import Annotation
from clickenhance_model.errors import DatasetError
from clickenhance_model.inference.session import Click


def scan(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xyz = rng.normal(size=(n, 3)).astype(np.float32)
    xyz[7] = np.nan  # a non-finite point keeps its place in the scan
    return xyz, rng.uniform(size=n).astype(np.float32)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    xyz, intensity = scan()
    annotation = Annotation(xyz, intensity, "velodyne", 1_234_567_890_123)
    first, second = np.zeros(200, bool), np.zeros(200, bool)
    first[10:50], second[40:60] = True, True  # overlap: the later object wins
    annotation.accept(first, [Click(10, True, (1.0, 2.0, 3.0))], semantic_label=10)
    annotation.accept(second, [Click(45, True, (0.0, 0.0, 0.0)), Click(12, False, (4.0, 5.0, 6.0))], 30)
    assert not annotation.saved
    directory = annotation.save(tmp_path / "scan_a")
    assert annotation.saved and directory == (tmp_path / "scan_a").absolute()

    labels = np.fromfile(directory / "scan.label", dtype="<u4")  # read as SemanticKITTI tools do
    expected = np.zeros(200, np.uint32)
    expected[10:40] = 10 | 1 << 16
    expected[40:60] = 30 | 2 << 16
    np.testing.assert_array_equal(labels, expected)
    velodyne = np.fromfile(directory / "scan.bin", dtype="<f4").reshape(-1, 4)
    np.testing.assert_array_equal(velodyne[:, :3], xyz)
    np.testing.assert_array_equal(velodyne[:, 3], intensity)

    loaded = Annotation.load(directory)
    np.testing.assert_array_equal(loaded.labels, expected)
    assert loaded.frame_id == "velodyne" and loaded.stamp_ns == 1_234_567_890_123
    assert [(o.object_id, o.semantic_label, o.clicks) for o in loaded.objects] == \
        [(o.object_id, o.semantic_label, o.clicks) for o in annotation.objects]
    ply = Annotation.read_object(directory, 1)
    np.testing.assert_array_equal(ply["index"], np.arange(10, 40))
    np.testing.assert_array_equal(ply["x"], xyz[10:40, 0])
    document = json.loads((directory / "clicks.json").read_text())
    assert [o["point_count"] for o in document["objects"]] == [30, 20]


def test_overwriting_a_save_leaves_no_staging_folders(tmp_path: Path) -> None:
    xyz, _ = scan()
    annotation = Annotation(xyz)
    mask = np.zeros(200, bool)
    mask[:5] = True
    annotation.accept(mask, [])
    annotation.save(tmp_path / "s")
    mask[:] = False
    mask[100:110] = True
    annotation.accept(mask, [])
    annotation.save(tmp_path / "s")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == \
        ["clicks.json", "object_001.ply", "object_002.ply", "scan.bin", "scan.label"]
    assert len(Annotation.load(tmp_path / "s").objects) == 2


def test_a_failed_save_keeps_the_previous_one(tmp_path: Path) -> None:
    xyz, _ = scan()
    annotation = Annotation(xyz)
    mask = np.zeros(200, bool)
    mask[:5] = True
    annotation.accept(mask, [])
    annotation.save(tmp_path / "s")
    annotation.intensity = np.zeros(3, np.float32)  # makes writing scan.bin fail midway
    with pytest.raises(ValueError):
        annotation.save(tmp_path / "s")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]
    assert len(Annotation.load(tmp_path / "s").objects) == 1


@pytest.mark.parametrize(("mask", "label", "message"), [
    (np.zeros(200, bool), 0, "the object has no point"),
    (np.ones(10, bool), 0, "mask must have shape (200,)"),
    (np.ones(200, bool), 70000, "semantic_label must be in [0, 65535]"),
])
def test_accept_rejects_bad_objects(mask: np.ndarray, label: int, message: str) -> None:
    annotation = Annotation(scan()[0])
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        annotation.accept(mask, [], label)
    assert annotation.objects == [] and annotation.saved


def test_load_names_the_broken_file(tmp_path: Path) -> None:
    annotation = Annotation(scan()[0])
    annotation.save(tmp_path / "s")
    (tmp_path / "s" / "scan.label").write_bytes(b"\0" * 12)
    with pytest.raises(DatasetError, match=r"scan\.label: expected 200 values"):
        Annotation.load(tmp_path / "s")
    with pytest.raises(DatasetError, match="clicks.json"):
        Annotation.load(tmp_path / "missing")
