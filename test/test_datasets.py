"""Dataset readers on tiny files written byte by byte in each benchmark's own format."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from clickenhance_model.datasets import DATASETS, build_dataset, register_dataset
from clickenhance_model.datasets.ply import read_ply, write_ply
from clickenhance_model.datasets.scene import Scene, SceneDataset
from clickenhance_model.errors import DatasetError

# ----------------------------------------------------------------------------- PLY


def test_ply_reads_a_hand_written_binary_file(tmp_path: Path) -> None:
    header = (
        "ply\nformat binary_little_endian 1.0\ncomment made by hand\nelement vertex 2\n"
        "property float x\nproperty uchar red\nproperty int instance\n"
        "element face 1\nproperty list uchar int vertex_indices\nend_header\n"
    )
    body = struct.pack("<fBi", 1.5, 200, -7) + struct.pack("<fBi", -2.0, 3, 26001) + struct.pack("<B3i", 3, 0, 1, 0)
    path = tmp_path / "hand.ply"
    path.write_bytes(header.encode() + body)
    ply = read_ply(path)
    assert ply["vertex"]["x"].tolist() == [1.5, -2.0]
    assert ply["vertex"]["red"].dtype == np.uint8 and ply["vertex"]["red"].tolist() == [200, 3]
    assert ply["vertex"]["instance"].tolist() == [-7, 26001]
    assert ply["face"]["vertex_indices"].tolist() == [[0, 1, 0]]


def test_ply_reads_ascii_with_varying_lists(tmp_path: Path) -> None:
    text = (
        "ply\nformat ascii 1.0\nelement vertex 2\nproperty double x\nproperty short label\n"
        "element face 2\nproperty list uchar int vertex_indices\nend_header\n"
        "0.25 -3\n1e3 4\n3 0 1 1\n4 1 0 1 0\n"
    )
    path = tmp_path / "ascii.ply"
    path.write_text(text)
    ply = read_ply(path)
    assert ply["vertex"]["x"].tolist() == [0.25, 1000.0]
    assert ply["vertex"]["label"].tolist() == [-3, 4]
    assert [f.tolist() for f in ply["face"]["vertex_indices"]] == [[0, 1, 1], [1, 0, 1, 0]]


def test_ply_reads_binary_lists_of_varying_length(tmp_path: Path) -> None:
    header = "ply\nformat binary_big_endian 1.0\nelement face 2\nproperty list uchar int idx\nproperty uchar k\n"
    header += "end_header\n"
    body = struct.pack(">B3iB", 3, 0, 1, 2, 7) + struct.pack(">B4iB", 4, 3, 4, 5, 6, 9)
    (tmp_path / "f.ply").write_bytes(header.encode() + body)
    face = read_ply(tmp_path / "f.ply")["face"]
    assert [f.tolist() for f in face["idx"]] == [[0, 1, 2], [3, 4, 5, 6]]
    assert face["k"].tolist() == [7, 9]


@pytest.mark.parametrize("fmt", ["ascii", "binary_little_endian", "binary_big_endian"])
def test_ply_write_read_round_trip(tmp_path: Path, fmt: str) -> None:
    vertex = {
        "x": np.array([0.1, -2.5, 3e4], dtype=np.float32),
        "red": np.array([0, 128, 255], dtype=np.uint8),
        "semantic": np.array([26, 7, 0], dtype=np.int32),
        "confidence": np.array([0.5, 1.0, 0.0], dtype=np.float64),
    }
    faces = {"vertex_indices": np.array([[0, 1, 2], [2, 1, 0]], dtype=np.int32)}
    write_ply(tmp_path / "t.ply", {"vertex": vertex, "face": faces}, fmt=fmt)
    ply = read_ply(tmp_path / "t.ply")
    for name, array in vertex.items():
        assert ply["vertex"][name].dtype == array.dtype
        np.testing.assert_array_equal(ply["vertex"][name], array)
    np.testing.assert_array_equal(ply["face"]["vertex_indices"], faces["vertex_indices"])
    assert (tmp_path / "t.ply").read_bytes().startswith(f"ply\nformat {fmt} 1.0\nelement vertex 3\n".encode())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a ply", "not a PLY file"),
        (b"ply\nformat binary_little_endian 1.0\nelement vertex 4\nproperty float x\nend_header\n\0\0", "truncated"),
        (b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n1 2\n", "bad PLY row 1"),
        (b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float128 x\nend_header\n1\n", "unsupported"),
    ],
)
def test_ply_errors_name_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.ply"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=message) as error:
        read_ply(path)
    assert str(path) in str(error.value)


# ------------------------------------------------------------------- SemanticKITTI


def write_kitti_scan(folder: Path, stem: str, labels: list[tuple[int, int]], label_folder: Path | None = None) -> None:
    """Write `stem.bin` (x = index, y = 2 * index, z = -1, remission 0.5) and `stem.label`."""
    folder.mkdir(parents=True, exist_ok=True)
    points = b"".join(struct.pack("<4f", i, 2 * i, -1.0, 0.5) for i in range(len(labels)))
    (folder / f"{stem}.bin").write_bytes(points)
    label_folder = label_folder or folder
    label_folder.mkdir(parents=True, exist_ok=True)
    (label_folder / f"{stem}.label").write_bytes(b"".join(struct.pack("<I", s | (i << 16)) for s, i in labels))


KITTI_LABELS = [(40, 0)] * 3 + [(10, 5)] * 4 + [(30, 5)] * 2 + [(10, 6)] * 1


def test_semantic_kitti_dataset_root_layout(tmp_path: Path) -> None:
    sequence = tmp_path / "sequences" / "08"
    write_kitti_scan(sequence / "velodyne", "000000", KITTI_LABELS, sequence / "labels")
    (tmp_path / "sequences" / "11" / "velodyne").mkdir(parents=True)  # a test sequence: no labels, ignored
    dataset = build_dataset("semantickitti", tmp_path)
    assert dataset.scene_names() == ["08/000000"]
    scene = dataset.load_scene("08/000000")
    assert scene.xyz.dtype == np.float32 and scene.xyz.shape == (10, 3)
    np.testing.assert_array_equal(scene.xyz[3], [3.0, 6.0, -1.0])
    assert scene.rgb is None
    assert scene.semantic.tolist() == [40] * 3 + [10] * 4 + [30] * 2 + [10]
    # the same instance id 5 under two classes is two objects
    assert scene.instance.tolist() == [0] * 3 + [10 | 5 << 16] * 4 + [30 | 5 << 16] * 2 + [10 | 6 << 16]
    objects = dataset.objects(scene, min_points=2)
    assert [(o.class_name, o.num_points) for o in objects] == [("car", 4), ("person", 2)]
    assert [o.num_points for o in dataset.objects(scene, min_points=1)] == [4, 2, 1]


def test_semantic_kitti_sequence_selection(tmp_path: Path) -> None:
    for sequence in ("00", "08"):
        folder = tmp_path / "sequences" / sequence
        write_kitti_scan(folder / "velodyne", "000000", KITTI_LABELS, folder / "labels")
    assert build_dataset("semantickitti", tmp_path, sequences=("8",)).scene_names() == ["08/000000"]
    with pytest.raises(DatasetError, match="sequence"):
        build_dataset("semantickitti", tmp_path, sequences=("05",))


def test_semantic_kitti_reads_colours_of_the_rgb_folder(tmp_path: Path) -> None:
    sequence = tmp_path / "sequences" / "01"
    write_kitti_scan(sequence / "velodyne", "000000", KITTI_LABELS, sequence / "labels")
    (sequence / "rgb").mkdir()
    colours = [(255, 0, 51)] + [(i, 2 * i, 3 * i) for i in range(1, len(KITTI_LABELS))]
    (sequence / "rgb" / "000000.bin").write_bytes(b"".join(struct.pack("<3B", *c) for c in colours))
    scene = build_dataset("semantickitti", tmp_path).load_scene("01/000000")
    assert scene.rgb is not None and scene.rgb.dtype == np.float32 and scene.rgb.shape == (10, 3)
    np.testing.assert_allclose(scene.rgb[0], [1.0, 0.0, 0.2])
    np.testing.assert_allclose(scene.rgb[4] * 255, [4, 8, 12], atol=1e-4)
    assert build_dataset("semantickitti", tmp_path, rgb=False).load_scene("01/000000").rgb is None
    assert build_dataset("semantickitti", sequence).load_scene("000000").rgb is not None  # one sequence folder
    (sequence / "rgb" / "000000.bin").write_bytes(b"\0" * 27)  # 9 colours for 10 points
    with pytest.raises(DatasetError, match="9 colours .* but its scan has 10 points") as error:
        build_dataset("semantickitti", tmp_path).load_scene("01/000000")
    assert str(sequence / "rgb" / "000000.bin") in str(error.value)
    assert build_dataset("semantickitti", tmp_path, rgb=False).load_scene("01/000000").rgb is None


def test_semantic_kitti_reads_the_colours_the_scene_writer_writes(tmp_path: Path) -> None:
    from clickenhance_model.scenes.lidar import LidarScan
    from clickenhance_model.scenes.writer import write_scan

    rgb = np.array([[0, 128, 255], [10, 20, 30], [255, 255, 255]], dtype=np.uint8)
    semantic, instance = np.array([5, 5, 2]), np.array([1, 1, 0])
    scan = LidarScan(np.eye(3, dtype=np.float32), np.zeros(3, np.float32), semantic, instance, rgb)
    write_scan(tmp_path, 1, 0, scan)
    scene = build_dataset("semantickitti", tmp_path).load_scene("01/000000")
    np.testing.assert_allclose(scene.rgb * 255, rgb, atol=1e-4)
    np.testing.assert_array_equal(scene.xyz, np.eye(3))


def test_semantic_kitti_flat_and_nested_folders(tmp_path: Path) -> None:
    write_kitti_scan(tmp_path / "seq00_frames", "000000", KITTI_LABELS)
    write_kitti_scan(tmp_path / "seq00_frames", "000001", KITTI_LABELS)
    assert build_dataset("semantickitti", tmp_path).scene_names() == ["seq00_frames/000000", "seq00_frames/000001"]
    assert build_dataset("semantickitti", tmp_path / "seq00_frames").scene_names() == ["000000", "000001"]


def test_semantic_kitti_bad_files_are_named_and_skipped(tmp_path: Path) -> None:
    write_kitti_scan(tmp_path, "000000", KITTI_LABELS)
    write_kitti_scan(tmp_path, "000001", KITTI_LABELS)
    write_kitti_scan(tmp_path, "000002", KITTI_LABELS)
    (tmp_path / "000001.bin").write_bytes(b"\0" * 20)  # not a multiple of 16
    (tmp_path / "000002.label").write_bytes(b"\0" * 12)  # 3 labels for 10 points
    dataset = build_dataset("semantickitti", tmp_path)
    with pytest.raises(DatasetError, match="not a positive multiple of 16") as error:
        dataset.load_scene("000001")
    assert str(tmp_path / "000001.bin") in str(error.value)
    with pytest.raises(DatasetError, match="3 labels, but its scan has 10 points") as error:
        dataset.load_scene("000002")
    assert str(tmp_path / "000002.label") in str(error.value)
    reported: list[str] = []
    scenes = list(dataset.scenes(on_error=lambda name, err: reported.append(name)))
    assert [s.name for s in scenes] == ["000000"]
    assert reported == ["000001", "000002"]
    assert [name for name, _ in dataset.skipped] == ["000001", "000002"]


def test_missing_root_and_empty_root(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="is not a folder") as error:
        build_dataset("semantickitti", tmp_path / "absent")
    assert str(tmp_path / "absent") in str(error.value)
    with pytest.raises(DatasetError, match="no SemanticKITTI scans"):
        build_dataset("semantickitti", tmp_path)


def test_semantic_kitti_real_scans(real_scans_dir: Path) -> None:
    dataset = build_dataset("semantickitti", real_scans_dir)
    assert len(dataset.scene_names()) == 3
    scene = dataset.load_scene(dataset.scene_names()[0])
    assert 120_000 < scene.num_points < 130_000
    objects = dataset.objects(scene, min_points=100)
    assert 6 <= len(objects) <= 7
    assert all(o.num_points >= 100 and o.instance_id >> 16 > 0 for o in objects)


# ------------------------------------------------------------------------ KITTI-360

KITTI360_HEADER = (
    "ply\nformat binary_little_endian 1.0\nelement vertex {n}\n"
    "property float x\nproperty float y\nproperty float z\n"
    "property uchar red\nproperty uchar green\nproperty uchar blue\n"
    "property int semantic\nproperty int instance\nproperty uchar visible\nproperty float confidence\nend_header\n"
)


def write_kitti360_window(path: Path, rows: list[tuple[int, int]], offset: float = 1000.0) -> None:
    """A window as released: x y z red green blue semantic instance visible confidence."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = b"".join(
        struct.pack("<3f3B2iBf", offset + i, offset + 2 * i, 110.0, 10, 20, 30, semantic, instance, 1, 0.9)
        for i, (semantic, instance) in enumerate(rows)
    )
    path.write_bytes(KITTI360_HEADER.format(n=len(rows)).encode() + body)


def test_kitti360_global_instance_ids(tmp_path: Path) -> None:
    rows = [(7, 7000)] * 3 + [(26, 26001)] * 3 + [(26, 26002)] * 2 + [(21, 21004)] * 2 + [(17, 17001)] * 2
    static = tmp_path / "data_3d_semantics" / "train" / "2013_05_28_drive_0000_sync" / "static"
    write_kitti360_window(static / "0000000002_0000000385.ply", rows)
    write_kitti360_window(static.parent / "dynamic" / "0000000002_0000000385.ply", rows)  # not read
    dataset = build_dataset("kitti360", tmp_path)
    name = "data_3d_semantics/train/2013_05_28_drive_0000_sync/static/0000000002_0000000385"
    assert dataset.scene_names() == [name]
    scene = dataset.load_scene(name)
    assert scene.instance.tolist() == [0] * 3 + [26001] * 3 + [26002] * 2 + [21004] * 2 + [17001] * 2
    np.testing.assert_allclose(scene.rgb[0], [10 / 255, 20 / 255, 30 / 255], rtol=1e-6)
    # centred on the bounding box: x spans 1000..1011 -> -5.5..5.5
    assert scene.xyz[:, 0].min() == -5.5 and scene.xyz[:, 0].max() == 5.5
    assert scene.xyz[0, 2] == 0.0
    objects = dataset.objects(scene, min_points=2)  # vegetation (21) is not an evaluated class
    assert [(o.instance_id, o.class_name, o.num_points) for o in objects] == [
        (17001, "pole", 2), (26001, "car", 3), (26002, "car", 2)]  # fmt: skip


def test_kitti360_local_instance_ids_are_encoded(tmp_path: Path) -> None:
    write_kitti360_window(tmp_path / "w.ply", [(26, 1)] * 2 + [(24, 1)] * 2 + [(7, 0)] * 2)
    scene = build_dataset("kitti360", tmp_path).load_scene("w")
    assert scene.instance.tolist() == [26001, 26001, 24001, 24001, 0, 0]


def test_kitti360_missing_field_is_named(tmp_path: Path) -> None:
    write_ply(tmp_path / "w.ply", {"vertex": {k: np.zeros(2, np.float32) for k in ("x", "y", "z", "semantic")}})
    with pytest.raises(DatasetError, match="lacks field.*instance"):
        build_dataset("kitti360", tmp_path).load_scene("w")


# -------------------------------------------------------------------------- ScanNet


def write_scannet_scene(root: Path, name: str = "scene0000_00", segments: list[int] | None = None) -> Path:
    """A scan folder: 6-vertex mesh, its segments and an aggregation with a chair and a wall."""
    folder = root / "scans" / name
    folder.mkdir(parents=True)
    header = (
        "ply\nformat binary_little_endian 1.0\ncomment VCGLIB generated\nelement vertex 6\n"
        "property float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nproperty uchar alpha\n"
        "element face 2\nproperty list uchar int vertex_indices\nend_header\n"
    )
    vertices = b"".join(struct.pack("<3f4B", 0.1 * i, 0.0, 0.5, 255, 0, 51, 255) for i in range(6))
    faces = struct.pack("<B3i", 3, 0, 1, 2) + struct.pack("<B3i", 3, 3, 4, 5)
    (folder / f"{name}_vh_clean_2.ply").write_bytes(header.encode() + vertices + faces)
    segments = segments if segments is not None else [10, 10, 20, 20, 30, 40]
    (folder / f"{name}_vh_clean_2.0.010000.segs.json").write_text(
        json.dumps({"params": {"kThresh": "0.0001"}, "sceneId": name, "segIndices": segments}))  # fmt: skip
    groups = [
        {"id": 0, "objectId": 0, "segments": [10, 20], "label": "office chair"},
        {"id": 1, "objectId": 1, "segments": [30], "label": "wall"},
        {"id": 2, "objectId": 2, "segments": [40], "label": "stuffed animal"},
    ]
    (folder / f"{name}.aggregation.json").write_text(json.dumps({"sceneId": name, "segGroups": groups}))
    return folder


def write_label_map(root: Path) -> None:
    """ScanNet's label table: tab-separated, raw_category and nyu40id among other columns."""
    rows = ["id\traw_category\tcategory\tcount\tnyu40id\tnyu40class", "1\toffice chair\tchair\t10\t5\tchair",
            "2\twall\twall\t99\t1\twall", "3\tstuffed animal\tstuffed animal\t3\t40\totherprop"]  # fmt: skip
    (root / "scannetv2-labels.combined.tsv").write_text("\n".join(rows) + "\n")


def test_scannet_scene_and_label_sets(tmp_path: Path) -> None:
    write_scannet_scene(tmp_path)
    write_label_map(tmp_path)
    dataset = build_dataset("scannet", tmp_path, label_set="scannet40")
    scene = dataset.load_scene("scene0000_00")
    assert scene.instance.tolist() == [1, 1, 1, 1, 2, 3]
    assert scene.semantic.tolist() == [5, 5, 5, 5, 1, 40]
    np.testing.assert_allclose(scene.rgb[0], [1.0, 0.0, 0.2], rtol=1e-6)
    np.testing.assert_allclose(scene.xyz[:, 0], 0.1 * np.arange(6, dtype=np.float32))
    names = lambda ds: [o.class_name for o in ds.objects(scene, min_points=1)]  # noqa: E731
    assert names(dataset) == ["chair", "wall", "otherprop"]
    assert names(build_dataset("scannet", tmp_path, label_set="scannet20")) == ["chair", "wall"]
    assert names(build_dataset("scannet", tmp_path, label_set="unseen")) == ["otherprop"]
    assert names(dataset)[:1] == [o.class_name for o in dataset.objects(scene, min_points=4)]


def test_scannet_without_label_map_warns_and_maps_nyu_names(tmp_path: Path) -> None:
    write_scannet_scene(tmp_path)
    with pytest.warns(UserWarning, match="scannetv2-labels.combined.tsv"):
        dataset = build_dataset("scannet", tmp_path)
    assert dataset.load_scene("scene0000_00").semantic.tolist() == [0, 0, 0, 0, 1, 0]


def test_scannet_segment_count_mismatch_is_named(tmp_path: Path) -> None:
    folder = write_scannet_scene(tmp_path, segments=[10, 10, 20])
    write_label_map(tmp_path)
    with pytest.raises(DatasetError, match="3 segment indices for a mesh of 6 vertices") as error:
        build_dataset("scannet", tmp_path).load_scene("scene0000_00")
    assert "segs.json" in str(error.value) and str(folder) in str(error.value)


def test_scannet_scene_list(tmp_path: Path) -> None:
    write_scannet_scene(tmp_path, "scene0000_00")
    write_scannet_scene(tmp_path, "scene0001_00")
    write_label_map(tmp_path)
    (tmp_path / "val.txt").write_text("scene0001_00\n")
    assert build_dataset("scannet", tmp_path, scene_list=tmp_path / "val.txt").scene_names() == ["scene0001_00"]
    (tmp_path / "bad.txt").write_text("scene0099_00\n")
    with pytest.raises(DatasetError, match="scene0099_00"):
        build_dataset("scannet", tmp_path, scene_list=tmp_path / "bad.txt")


# ---------------------------------------------------------------------------- S3DIS


def write_s3dis_room(root: Path, area: int, room: str, objects: dict[str, int]) -> Path:
    """Annotations/<class>_<k>.txt files with `count` points each, rows 'x y z r g b'."""
    folder = root / f"Area_{area}" / room / "Annotations"
    folder.mkdir(parents=True)
    for k, (name, count) in enumerate(objects.items()):
        rows = [f"{k + 0.5 * i:.3f} {i:.3f} 1.000 {255 if k else 0} 128 0" for i in range(count)]
        (folder / f"{name}.txt").write_text("\n".join(rows) + "\n")
    return folder


def test_s3dis_room(tmp_path: Path) -> None:
    write_s3dis_room(tmp_path, 1, "office_1", {"chair_1": 3, "wall_1": 4, "stairs_1": 2})
    write_s3dis_room(tmp_path, 5, "hallway_2", {"floor_1": 2})
    dataset = build_dataset("s3dis", tmp_path)
    assert dataset.scene_names() == ["Area_1/office_1", "Area_5/hallway_2"]
    scene = dataset.load_scene("Area_1/office_1")
    # files in sorted order: chair_1, stairs_1, wall_1
    assert scene.instance.tolist() == [1] * 3 + [2] * 2 + [3] * 4
    assert scene.semantic.tolist() == [8] * 3 + [12] * 2 + [2] * 4  # stairs count as clutter
    np.testing.assert_allclose(scene.rgb[0], [0.0, 128 / 255, 0.0], rtol=1e-6)
    assert [o.class_name for o in dataset.objects(scene, min_points=3)] == ["chair", "wall"]
    assert build_dataset("s3dis", tmp_path, areas=(5,)).scene_names() == ["Area_5/hallway_2"]


def test_s3dis_bad_annotation_is_named(tmp_path: Path) -> None:
    folder = write_s3dis_room(tmp_path, 1, "office_1", {"chair_1": 3})
    (folder / "table_1.txt").write_text("1 2 3 4 5 6\n1 2 3 x 5 6\n")
    with pytest.raises(DatasetError) as error:
        build_dataset("s3dis", tmp_path).load_scene("Area_1/office_1")
    assert str(folder / "table_1.txt") in str(error.value)
    (folder / "table_1.txt").unlink()
    (folder / "sofa2_1.txt").write_text("1 2 3 4 5 6\n")
    with pytest.raises(DatasetError, match="unknown S3DIS class 'sofa2'"):
        build_dataset("s3dis", tmp_path).load_scene("Area_1/office_1")


def test_s3dis_missing_area_and_annotations(tmp_path: Path) -> None:
    (tmp_path / "Area_2" / "office_9").mkdir(parents=True)
    with pytest.raises(DatasetError, match="Area_5"):
        build_dataset("s3dis", tmp_path, areas=(5,))
    with pytest.raises(DatasetError, match="missing annotation files"):
        build_dataset("s3dis", tmp_path).load_scene("Area_2/office_9")


# ------------------------------------------------------------------ registry, Scene


def test_registry_lists_the_five_readers_and_rejects_duplicates() -> None:
    assert sorted(DATASETS) == ["kitti360", "npy", "s3dis", "scannet", "semantickitti"]
    with pytest.raises(ValueError, match="unknown dataset"):
        build_dataset("nuscenes", ".")
    with pytest.raises(ValueError, match="already registered"):
        register_dataset("s3dis")(type("Other", (SceneDataset,), {}))


def test_scene_rejects_inconsistent_arrays() -> None:
    xyz = np.zeros((3, 3))
    with pytest.raises(DatasetError, match="instance has shape"):
        Scene("s", xyz, None, np.zeros(2), np.zeros(3))
    with pytest.raises(DatasetError, match="non-finite"):
        Scene("s", np.full((3, 3), np.nan), None, np.zeros(3), np.zeros(3))
    with pytest.raises(DatasetError, match="rgb has shape"):
        Scene("s", xyz, np.zeros((3, 4)), np.zeros(3), np.zeros(3))
