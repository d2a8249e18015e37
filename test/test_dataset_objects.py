"""Object sets of the evaluation readers: stuff components, laser rings (sparser sensors) and npy triplets.

Every file is written in its documented format by hand (SemanticKITTI .bin/.label, KITTI-360
PLY, .npy triplets), then read through `build_dataset` as the evaluation CLI does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clickenhance_model.datasets import build_dataset
from clickenhance_model.datasets.laser_rings import keep_every_kth_ring, ring_index
from clickenhance_model.datasets.ply import write_ply
from clickenhance_model.datasets.stuff_objects import STUFF_BASE, cell_component_labels, component_labels
from clickenhance_model.errors import DatasetError

CAR = 10 | 7 << 16  # SemanticKITTI label: car (10), instance 7


def ring_scan(rings: int, per_ring: int, start_deg: float = 0.0, rising: bool = True) -> np.ndarray:
    """A spinning-LiDAR scan stored ring by ring: each ring one full turn from `start_deg`, at its own elevation.

    The azimuth steps by 360/per_ring degrees with +-0.2 step of jitter, so points near the +-180
    wrap cross it and come back, as on real scans.
    """
    rng = np.random.default_rng(0)
    rows = []
    for ring in range(rings):
        turn = np.arange(per_ring) + rng.uniform(-0.2, 0.2, per_ring)
        azimuth = np.radians(start_deg + (1 if rising else -1) * 360.0 * turn / per_ring)
        elevation = np.radians(2.0 - 0.5 * ring)
        distance = 10.0 + ring
        rows.append(np.stack([distance * np.cos(elevation) * np.cos(azimuth),
                              distance * np.cos(elevation) * np.sin(azimuth),
                              np.full(per_ring, distance * np.sin(elevation))], axis=1))  # fmt: skip
    return np.concatenate(rows)


@pytest.mark.parametrize("start_deg, rising", [(0.0, True), (0.0, False), (-170.0, True), (123.0, False)])
def test_ring_index_follows_the_turns_of_the_point_order(start_deg: float, rising: bool) -> None:
    xyz = ring_scan(rings=8, per_ring=300, start_deg=start_deg, rising=rising)
    np.testing.assert_array_equal(ring_index(xyz), np.repeat(np.arange(8), 300))
    kept = keep_every_kth_ring(xyz, 4)
    np.testing.assert_array_equal(np.flatnonzero(kept) // 300 % 4, 0)
    assert kept.sum() == 2 * 300 and keep_every_kth_ring(xyz, 1).all()


@pytest.mark.parametrize("k", [0, -2, 1.5, True, "4"])
def test_keep_rings_rejects_what_is_not_a_positive_integer(k: object) -> None:
    with pytest.raises(ValueError, match="keep_rings must be an integer >= 1"):
        keep_every_kth_ring(np.zeros((4, 3)), k)


def write_scan(folder: Path, xyz: np.ndarray, labels: np.ndarray, stem: str = "000000") -> None:
    """A SemanticKITTI pair: float32 x, y, z, remission rows and uint32 labels."""
    folder.mkdir(parents=True, exist_ok=True)
    np.concatenate([xyz, np.full((len(xyz), 1), 0.2)], axis=1).astype("<f4").tofile(folder / f"{stem}.bin")
    labels.astype("<u4").tofile(folder / f"{stem}.label")


def test_semantic_kitti_keep_rings_keeps_every_kth_ring_with_its_labels(tmp_path: Path) -> None:
    xyz = ring_scan(rings=8, per_ring=200)
    labels = np.where(np.arange(len(xyz)) // 200 % 2 == 0, CAR, 40)  # even rings car, odd rings road
    write_scan(tmp_path, xyz, labels)
    scene = build_dataset("semantickitti", tmp_path, keep_rings=2).load_scene("000000")
    assert scene.num_points == 4 * 200 and (scene.semantic == 10).all()
    np.testing.assert_allclose(scene.xyz, xyz[np.arange(len(xyz)) // 200 % 2 == 0], rtol=1e-6)
    with pytest.raises(ValueError, match="keep_rings"):
        build_dataset("semantickitti", tmp_path, keep_rings=0)


def street_with_stuff() -> tuple[np.ndarray, np.ndarray]:
    """A car (labelled instance), two poles 1.5 m apart, a fence of two parts 1 m apart, and road."""
    rng = np.random.default_rng(1)
    car = rng.uniform((0, 0, 0), (4, 1.8, 1.5), (150, 3))
    pole_a = np.column_stack([np.full(60, 8.0), np.full(60, 0.0), np.linspace(0, 3, 60)])
    pole_b = pole_a + (1.5, 0, 0)
    fence_1 = np.column_stack([np.linspace(0, 3, 80), np.full(80, 5.0), np.tile([0.2, 0.5, 0.8, 1.1], 20)])
    fence_2 = fence_1 + (4.0, 0, 0)
    road = rng.uniform((-5, -5, -0.1), (15, 10, -0.05), (300, 3))
    xyz = np.concatenate([car, pole_a, pole_b, fence_1, fence_2, road])
    labels = np.concatenate([np.full(150, CAR), np.full(120, 80), np.full(160, 51), np.full(300, 40)])
    return xyz, labels


@pytest.mark.parametrize("objects, expected", [
    ("things", [("car", 150)]),
    ("stuff", [("fence", 80), ("fence", 80), ("pole", 60), ("pole", 60)]),
    ("all", [("car", 150), ("fence", 80), ("fence", 80), ("pole", 60), ("pole", 60)]),
])  # fmt: skip
def test_semantic_kitti_object_sets(tmp_path: Path, objects: str, expected: list[tuple[str, int]]) -> None:
    xyz, labels = street_with_stuff()
    write_scan(tmp_path, xyz, labels)
    dataset = build_dataset("semantickitti", tmp_path, objects=objects)
    scene = dataset.load_scene("000000")
    found = dataset.objects(scene, min_points=50)
    assert [(o.class_name, o.num_points) for o in found] == expected
    stuff = [o for o in found if o.class_name != "car"]
    assert all(o.instance_id >= STUFF_BASE for o in stuff)
    for obj in stuff:  # each component is exactly one pole or one fence part
        members = np.flatnonzero(scene.object_mask(obj.instance_id))
        assert np.ptp(scene.xyz[members, 0]) <= 3.0 + 1e-5


def test_stuff_gap_joins_parts_closer_than_the_gap(tmp_path: Path) -> None:
    xyz, labels = street_with_stuff()
    write_scan(tmp_path, xyz, labels)
    dataset = build_dataset("semantickitti", tmp_path, objects="stuff", stuff_gap=1.6)
    found = dataset.objects(dataset.load_scene("000000"), min_points=50)
    assert [(o.class_name, o.num_points) for o in found] == [("fence", 160), ("pole", 120)]
    with pytest.raises(ValueError, match="objects must be one of"):
        build_dataset("semantickitti", tmp_path, objects="cars")
    with pytest.raises(ValueError, match="gap must be > 0"):
        build_dataset("semantickitti", tmp_path, objects="stuff", stuff_gap=0.0)


def test_component_labels_number_components_by_their_first_point() -> None:
    xyz = np.array([[5.0, 0, 0], [0, 0, 0], [5.3, 0, 0], [0.2, 0, 0], [9, 9, 9]])
    assert component_labels(xyz, 0.4).tolist() == [0, 1, 0, 1, 2]
    assert component_labels(np.zeros((0, 3)), 0.4).tolist() == []


def test_cell_components_join_touching_cells_only() -> None:
    xyz = np.array([[0.1, 0.1, 0], [0.9, 0.9, 0], [1.5, 1.5, 0], [3.5, 0.2, 0], [-0.5, 0.2, 0]])
    # cells (0,0), (0,0), (1,1) touches by a corner, (3,0) two cells away, (-1,0) touches by a face
    assert cell_component_labels(xyz, 1.0).tolist() == [0, 0, 0, 1, 0]
    assert cell_component_labels(np.zeros((0, 3)), 1.0).tolist() == []


def test_ground_objects_are_the_main_pieces_of_each_ground_class(tmp_path: Path) -> None:
    """The ground surface's main pieces are objects: the road with its lane markings, and a sidewalk 2 m
    away from it; a far stub of road (under a tenth of the ground's points) stays background; labelled
    instances and the object set are untouched."""
    rng = np.random.default_rng(3)
    road = np.column_stack([rng.uniform(0, 20, 2000), rng.uniform(-4, 4, 2000), np.zeros(2000)])
    marking = np.column_stack([rng.uniform(0, 20, 200), rng.uniform(-0.1, 0.1, 200), np.zeros(200)])
    stub = np.column_stack([rng.uniform(40, 41, 100), rng.uniform(-1, 1, 100), np.zeros(100)])  # 20 m beyond
    sidewalk = np.column_stack([rng.uniform(0, 20, 900), rng.uniform(6, 8, 900), np.full(900, 0.15)])
    car = rng.uniform((5, -2, 0.2), (9, 0, 1.6), (300, 3))
    xyz = np.concatenate([road, marking, stub, sidewalk, car])
    labels = np.concatenate([np.full(2000, 40), np.full(200, 60), np.full(100, 40), np.full(900, 48),
                             np.full(300, CAR)])  # fmt: skip
    write_scan(tmp_path, xyz, labels)
    plain = build_dataset("semantickitti", tmp_path)
    assert [o.class_name for o in plain.objects(plain.load_scene("000000"), 50)] == ["car"]
    dataset = build_dataset("semantickitti", tmp_path, ground_objects=True)
    scene = dataset.load_scene("000000")
    found = {o.class_name: o for o in dataset.objects(scene, 50)}
    assert sorted(found) == ["car", "road", "sidewalk"] and found["car"].instance_id == CAR
    assert found["road"].num_points == 2200 and found["sidewalk"].num_points == 900  # markings in, stub out
    assert found["road"].instance_id >= STUFF_BASE and (scene.instance[2200:2300] == 0).all()


def test_kitti360_stuff_objects_are_unlabelled_points_of_stuff_classes(tmp_path: Path) -> None:
    xyz, _ = street_with_stuff()
    semantic = np.concatenate([np.full(150, 26), np.full(120, 17), np.full(160, 13), np.full(300, 7)])
    instance = np.concatenate([np.full(150, 26001), np.full(60, 17001), np.full(60, 17000), np.full(460, 0)])
    vertex = {"x": xyz[:, 0].astype(np.float32), "y": xyz[:, 1].astype(np.float32),
              "z": xyz[:, 2].astype(np.float32), "semantic": semantic.astype(np.int32),
              "instance": instance.astype(np.int32)}  # fmt: skip
    write_ply(tmp_path / "w.ply", {"vertex": vertex})
    things = build_dataset("kitti360", tmp_path, objects="things")
    assert [o.class_name for o in things.objects(things.load_scene("w"), 50)] == ["pole", "car"]
    stuff = build_dataset("kitti360", tmp_path, objects="stuff")
    found = stuff.objects(stuff.load_scene("w"), 50)  # the labelled pole is a thing, the other one stuff
    assert [(o.class_name, o.num_points) for o in found] == [("fence", 80), ("fence", 80), ("pole", 60)]
    everything = build_dataset("kitti360", tmp_path, objects="all")
    assert len(everything.objects(everything.load_scene("w"), 50)) == 5


def write_triplet(folder: Path, name: str, xyz: np.ndarray, instance: np.ndarray, rgb: np.ndarray | None = None,
                  semantic: np.ndarray | None = None) -> None:  # fmt: skip
    """NAME.xyz.npy, NAME.instance.npy and, when given, NAME.rgb.npy and NAME.semantic.npy."""
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"{name}.xyz.npy", xyz)
    np.save(folder / f"{name}.instance.npy", instance)
    if rgb is not None:
        np.save(folder / f"{name}.rgb.npy", rgb)
    if semantic is not None:
        np.save(folder / f"{name}.semantic.npy", semantic)


def test_npy_triplets_read_colours_objects_and_nested_scenes(tmp_path: Path) -> None:
    xyz = np.arange(30, dtype=np.float32).reshape(10, 3)
    xyz[9] = np.nan
    instance = np.array([0, 1, 1, 1, 2, 2, -1, 0, 0, 1], dtype=np.int32)
    rgb = np.full((10, 3), 255, dtype=np.uint8)
    write_triplet(tmp_path / "room", "a", xyz, instance, rgb)
    write_triplet(tmp_path, "b", xyz[:3].astype(np.float64), np.array([3, 3, 0]), semantic=np.array([5, 5, 0]))
    dataset = build_dataset("npy", tmp_path)
    assert dataset.scene_names() == ["b", "room/a"] and dataset.domain == "outdoor"  # "b" has no colours
    scene = dataset.load_scene("room/a")
    assert scene.num_points == 9 and scene.rgb.max() == 1.0 and scene.instance.tolist() == [0, 1, 1, 1, 2, 2, 0, 0, 0]
    assert [(o.instance_id, o.class_name, o.num_points) for o in dataset.objects(scene, 2)] == [
        (1, "object", 3), (2, "object", 2)]  # fmt: skip
    other = dataset.load_scene("b")
    assert [(o.class_name, o.num_points) for o in dataset.objects(other, 1)] == [("class_5", 2)]
    assert build_dataset("npy", tmp_path / "room").domain == "indoor"
    assert build_dataset("npy", tmp_path, domain="indoor").domain == "indoor"


@pytest.mark.parametrize("instance, rgb, message", [
    (np.zeros(4, dtype=np.int64), None, r"instance ids \(N,\) must be a numeric array of shape \(3,\)"),
    (np.zeros(3, dtype=np.float32), None, "instance ids must be integers"),
    (np.zeros(3, dtype=np.int64), np.full((3, 3), 2.0), r"float colours must be finite and in \[0, 1\]"),
    (np.zeros(3, dtype=np.int64), np.zeros((3, 4), dtype=np.uint8), r"colours \(N, 3\) must be"),
])  # fmt: skip
def test_npy_triplets_bad_files_are_named(tmp_path: Path, instance: np.ndarray, rgb: np.ndarray | None,
                                          message: str) -> None:  # fmt: skip
    write_triplet(tmp_path, "bad", np.zeros((3, 3)), instance, rgb)
    with pytest.raises(DatasetError, match=message) as error:
        build_dataset("npy", tmp_path, domain="outdoor").load_scene("bad")
    assert "bad." in str(error.value)


def test_npy_triplets_missing_instance_file_and_empty_root(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no labelled cloud"):
        build_dataset("npy", tmp_path)
    np.save(tmp_path / "lonely.xyz.npy", np.zeros((3, 3)))
    with pytest.raises(DatasetError, match="lonely.instance.npy: missing"):
        build_dataset("npy", tmp_path).load_scene("lonely")
    with pytest.raises(ValueError, match="domain must be one of"):
        build_dataset("npy", tmp_path, domain="space")


def test_real_scan_has_64_rings_and_stuff_objects(real_scans_dir: Path) -> None:
    dataset = build_dataset("semantickitti", real_scans_dir, objects="stuff", keep_rings=4)
    full = build_dataset("semantickitti", real_scans_dir).load_scene(dataset.scene_names()[0])
    assert ring_index(full.xyz).max() == 63
    scene = dataset.load_scene(dataset.scene_names()[0])
    assert 0.24 < scene.num_points / full.num_points < 0.26
    stuff = build_dataset("semantickitti", real_scans_dir, objects="stuff")
    classes = {o.class_name for o in stuff.objects(stuff.load_scene(stuff.scene_names()[0]), 100)}
    assert {"pole", "trunk", "fence"} <= classes


def test_real_indoor_region(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2] / "shared" / "real_scans" / "scannet"
    if not root.is_dir():
        pytest.skip(f"real indoor region not present at {root}")
    dataset = build_dataset("npy", root)
    scene = dataset.load_scene(dataset.scene_names()[0])
    assert dataset.domain == "indoor" and scene.rgb is not None and scene.num_points == 53_074
    assert [o.num_points for o in dataset.objects(scene, 100)][0] == 30_311  # the floor
