"""The frames an annotator session walks through: scan files, folders of them, rosbag2 topics.

`open_sources(paths, topic)` lists every frame without reading its points; `FrameSource.load`
reads one when the page shows it. A rosbag2 (sqlite3 or MCAP; a folder with metadata.yaml,
or the .db3/.mcap file) is read with `rosbags` (no ROS install needed); its PointCloud2
messages are decoded by a small reader of the message's fields (`decode_pointcloud2`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clickenhance_model.annotate.point_files import SCAN_SUFFIXES, read_points_file
from clickenhance_model.datasets.semantic_kitti import read_labels
from clickenhance_model.errors import DatasetError

POINTCLOUD2 = "sensor_msgs/msg/PointCloud2"
# sensor_msgs/PointField datatype constants (1..8) -> NumPy kind
_FIELD_KINDS = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 8: "f8"}


@dataclass(frozen=True)
class Frame:
    """One scan to annotate: points, optional intensity and existing SemanticKITTI labels."""

    name: str
    xyz: np.ndarray  # float32 (N, 3)
    intensity: np.ndarray | None  # float32 (N,)
    frame_id: str = ""
    stamp_ns: int = 0
    labels: np.ndarray | None = None  # uint32 (N,) from a .label next to a .bin


@dataclass(frozen=True)
class FrameSource:
    """A frame not read yet: its unique name and how to read it."""

    name: str
    load: Callable[[], Frame]


def open_sources(paths: Sequence[str | Path], topic: str | None = None) -> list[FrameSource]:
    """Every frame of `paths` in order; DatasetError names a path that holds none or is unusable."""
    sources: list[FrameSource] = []
    for raw in paths:
        path = Path(raw)
        if _is_bag(path):
            sources.extend(_bag_sources(path, topic))
        elif path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in SCAN_SUFFIXES)
            if not files:
                raise DatasetError(f"{path}: no scan file ({', '.join(SCAN_SUFFIXES)}) in this folder")
            sources.extend(_file_source(p) for p in files)
        elif path.is_file():
            sources.append(_file_source(path))
        else:
            raise DatasetError(f"{path}: no such file or folder")
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise DatasetError(f"two frames are both named '{duplicate}': their labels would overwrite each other")
    return sources


def _file_source(path: Path) -> FrameSource:
    def load() -> Frame:
        xyz, intensity = read_points_file(path)
        label_path = path.with_suffix(".label")
        labels = read_labels(label_path, len(xyz)) if path.suffix == ".bin" and label_path.is_file() else None
        return Frame(path.stem, xyz, intensity, labels=labels)

    return FrameSource(path.stem, load)


def _is_bag(path: Path) -> bool:
    return path.suffix in (".db3", ".mcap") or (path.is_dir() and (path / "metadata.yaml").is_file())


def _bag_sources(path: Path, topic: str | None) -> list[FrameSource]:
    """One frame per PointCloud2 message of `topic` in the bag at `path`."""
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    bag = path.parent if path.is_file() else path
    typestore = get_typestore(Stores.ROS2_JAZZY)
    with AnyReader([bag], default_typestore=typestore) as reader:
        clouds = sorted({c.topic for c in reader.connections if c.msgtype == POINTCLOUD2})
        if topic is None or topic not in clouds:
            named = f"--topic {topic} is not a PointCloud2 topic of it" if topic else "pass --topic"
            raise DatasetError(f"{bag}: {named} (its PointCloud2 topics: {', '.join(clouds) or 'none'})")
        connections = [c for c in reader.connections if c.topic == topic]
        stamps = [stamp for _, stamp, _ in reader.messages(connections=connections)]
    if not stamps:
        raise DatasetError(f"{bag}: topic {topic} has no message")

    def loader(number: int, stamp: int) -> Callable[[], Frame]:
        def load() -> Frame:
            with AnyReader([bag], default_typestore=typestore) as reader:
                chosen = [c for c in reader.connections if c.topic == topic]
                for connection, _, raw in reader.messages(connections=chosen, start=stamp, stop=stamp + 1):
                    message = reader.deserialize(raw, connection.msgtype)
                    xyz, intensity = decode_pointcloud2(message)
                    header = message.header
                    return Frame(f"{bag.name}_{number:06d}", xyz, intensity, header.frame_id,
                                 header.stamp.sec * 10**9 + header.stamp.nanosec)
            raise DatasetError(f"{bag}: message {number} of {topic} disappeared")

        return load

    return [FrameSource(f"{bag.name}_{n:06d}", loader(n, stamp)) for n, stamp in enumerate(stamps)]


def decode_pointcloud2(message) -> tuple[np.ndarray, np.ndarray | None]:
    """The xyz float32 (N, 3) and intensity (N,) or None of a PointCloud2-like message (rosbags or rclpy).

    Handles padding, `row_step` beyond `width * point_step` and big-endian data; a malformed
    layout raises DatasetError naming what is wrong.
    """
    order = ">" if message.is_bigendian else "<"
    names, formats, offsets = [], [], []
    for field in message.fields:
        kind = _FIELD_KINDS.get(field.datatype)
        if kind is None:
            raise DatasetError(f"PointCloud2 field '{field.name}' has unknown datatype {field.datatype}")
        if field.name in ("x", "y", "z", "intensity") and field.count == 1:
            names.append(field.name)
            formats.append(order + kind)
            offsets.append(field.offset)
    if not all(k in names for k in "xyz"):
        raise DatasetError(f"the PointCloud2 has no x, y, z fields (fields: {[f.name for f in message.fields]})")
    if max(o + np.dtype(f).itemsize for o, f in zip(offsets, formats, strict=True)) > message.point_step:
        raise DatasetError(f"a PointCloud2 field ends beyond point_step {message.point_step}")
    dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": message.point_step})
    data = np.asarray(message.data, dtype=np.uint8).tobytes() if not isinstance(message.data, bytes) else message.data
    if message.row_step < message.width * message.point_step or len(data) < message.row_step * message.height:
        raise DatasetError(f"PointCloud2 data holds {len(data)} bytes, less than height {message.height} x "
                           f"row_step {message.row_step} (width {message.width}, point_step {message.point_step})")
    points = np.ndarray((message.height, message.width), dtype=dtype, buffer=data,
                        strides=(message.row_step, message.point_step)).reshape(-1)
    xyz = np.stack([points[k] for k in "xyz"], axis=1).astype(np.float32)
    return xyz, (points["intensity"].astype(np.float32) if "intensity" in names else None)
