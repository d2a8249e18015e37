"""Recorded data for the browser annotator: rosbag2 clouds, scan files, and resuming saved work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cloud_factories import ground_and_box

from clickenhance_model import ClickError, load_segmenter
from clickenhance_model.annotate.frame_annotator import FrameAnnotator
from clickenhance_model.annotate.point_files import read_points_file
from clickenhance_model.annotate.scan_sources import open_sources
from clickenhance_model.errors import DatasetError

TOPIC = "/lidar/points"


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def write_bag(path: Path, clouds: list[np.ndarray], storage: str) -> None:
    """A rosbag2 of PointCloud2 messages (x, y, z, 4 padding bytes, intensity: point_step 20)."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    types = store.types
    fields = [types["sensor_msgs/msg/PointField"](name=n, offset=o, datatype=7, count=1)
              for n, o in (("x", 0), ("y", 4), ("z", 8), ("intensity", 16))]
    with Writer(path, version=9, storage_plugin=getattr(StoragePlugin, storage)) as writer:
        connection = writer.add_connection(TOPIC, "sensor_msgs/msg/PointCloud2", typestore=store)
        for number, xyz in enumerate(clouds):
            record = np.zeros(len(xyz), dtype={"names": ["xyz", "i"], "formats": [("<f4", (3,)), "<f4"],
                                               "offsets": [0, 16], "itemsize": 20})
            record["xyz"], record["i"] = xyz, np.arange(len(xyz)) % 7
            header = types["std_msgs/msg/Header"](
                stamp=types["builtin_interfaces/msg/Time"](sec=100 + number, nanosec=5), frame_id="lidar")
            message = types["sensor_msgs/msg/PointCloud2"](
                header=header, height=1, width=len(xyz), fields=fields, is_bigendian=False, point_step=20,
                row_step=20 * len(xyz), data=np.frombuffer(record.tobytes(), np.uint8), is_dense=True)
            writer.write(connection, (100 + number) * 10**9,
                         store.serialize_cdr(message, "sensor_msgs/msg/PointCloud2"))


@pytest.mark.parametrize("storage", ["SQLITE3", "MCAP"])
def test_bag_round_trip_annotates_two_frames_and_restores_them(tmp_path: Path, storage: str) -> None:
    scenes = [ground_and_box(0.0), ground_and_box(2.0)]
    bag, out = tmp_path / "drive", tmp_path / "labels"
    write_bag(bag, [xyz for xyz, _ in scenes], storage)
    sources = open_sources([bag], TOPIC)
    assert [s.name for s in sources] == ["drive_000000", "drive_000001"]
    annotator = FrameAnnotator(sources, load_segmenter("baseline"), out)
    np.testing.assert_array_equal(annotator.frame.xyz, scenes[0][0])
    np.testing.assert_array_equal(annotator.frame.intensity, np.arange(len(scenes[0][0])) % 7)
    assert annotator.frame.stamp_ns == 100 * 10**9 + 5 and annotator.frame.frame_id == "lidar"
    for number, (_, box) in enumerate(scenes):
        annotator.click(int(np.flatnonzero(box)[len(box) // 50]))
        if number == 0:
            annotator.accept()  # frame 1 is saved with its object still in progress
        annotator.save()
        if number == 0:
            annotator.step(1)
    reopened = FrameAnnotator(open_sources([bag], TOPIC), load_segmenter("baseline"), out)
    for number, (_, box) in enumerate(scenes):
        labels = np.fromfile(out / f"drive_{number:06d}.label", dtype="<u4")
        assert iou(labels >> 16 == 1, box) > 0.9
        assert [o.object_id for o in reopened.annotation.objects] == [1]
        np.testing.assert_array_equal(reopened.annotation.labels, labels)
        assert len(reopened.annotation.objects[0].clicks) == 1
        assert (out / f"drive_{number:06d}" / "object_001.ply").is_file()
        if number == 0:
            reopened.step(1)


def test_a_bag_without_the_topic_names_its_cloud_topics(tmp_path: Path) -> None:
    write_bag(tmp_path / "bag", [ground_and_box()[0]], "SQLITE3")
    with pytest.raises(DatasetError, match=f"/other is not a PointCloud2 topic of it .*{TOPIC}"):
        open_sources([tmp_path / "bag"], "/other")


def test_frames_do_not_change_while_an_object_is_in_progress(tmp_path: Path) -> None:
    for name in ("a", "b"):
        xyz, _ = ground_and_box()
        np.save(tmp_path / f"{name}.npy", xyz)
    annotator = FrameAnnotator(open_sources([tmp_path]), load_segmenter("baseline"), tmp_path / "out")
    annotator.click(int(np.flatnonzero(ground_and_box()[1])[0]))
    with pytest.raises(ClickError, match="Accept or Reset"):
        annotator.step(1)
    assert annotator.frame.name == "a" and len(annotator.clicks) == 1  # nothing lost
    annotator.reset()
    annotator.step(1)
    assert annotator.frame.name == "b"


def test_pcd_ascii_and_binary_give_the_same_points(tmp_path: Path) -> None:
    xyz = np.array([[1.5, -2.0, 0.25], [3.0, 4.0, 5.0]], dtype=np.float32)
    intensity = np.array([7.0, 9.0], dtype=np.float32)
    head = ("VERSION .7\nFIELDS x y z intensity\nSIZE 4 4 4 4\nTYPE F F F F\nCOUNT 1 1 1 1\n"
            "WIDTH 2\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 2\n")
    rows = "".join(f"{a} {b} {c} {i}\n" for (a, b, c), i in zip(xyz, intensity, strict=True))
    (tmp_path / "a.pcd").write_text(head + "DATA ascii\n" + rows)
    packed = np.concatenate([xyz, intensity[:, None]], axis=1).astype("<f4").tobytes()
    (tmp_path / "b.pcd").write_bytes((head + "DATA binary\n").encode() + packed)
    for name in ("a.pcd", "b.pcd"):
        points, values = read_points_file(tmp_path / name)
        np.testing.assert_array_equal(points, xyz)
        np.testing.assert_array_equal(values, intensity)


def test_compressed_pcd_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "c.pcd").write_text("FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nPOINTS 1\nDATA binary_compressed\n")
    with pytest.raises(DatasetError, match="binary_compressed is not supported"):
        read_points_file(tmp_path / "c.pcd")


def test_the_command_names_a_missing_path_in_one_line(tmp_path: Path, capsys) -> None:
    from clickenhance_model.annotate.__main__ import main

    code = main([str(tmp_path / "absent.bin"), "--out", str(tmp_path / "out"), "--method", "baseline"])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and "absent.bin: no such file or folder" in error
