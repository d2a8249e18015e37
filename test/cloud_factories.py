"""Small hand-built clouds shared by tests: surfaces of boxes as a LiDAR would see them, and
PointCloud2 messages packed byte by byte from the message spec."""

from __future__ import annotations

import array
import struct
from dataclasses import dataclass

import numpy as np


def box_surface(low: tuple[float, float, float], high: tuple[float, float, float], step: float) -> np.ndarray:
    """Points on the top and the four sides of an axis-aligned box, `step` metres apart."""
    (x0, y0, z0), (x1, y1, z1) = low, high
    xs, ys, zs = np.arange(x0, x1 + 1e-6, step), np.arange(y0, y1 + 1e-6, step), np.arange(z0, z1 + 1e-6, step)
    faces = [np.stack(np.meshgrid(xs, ys, [z1]), -1).reshape(-1, 3)]
    faces += [np.stack(np.meshgrid(xs, [y], zs), -1).reshape(-1, 3) for y in (y0, y1)]
    faces += [np.stack(np.meshgrid([x], ys, zs), -1).reshape(-1, 3) for x in (x0, x1)]
    return np.concatenate(faces)


# ------------------------------------------------------------ PointCloud2 from the spec
# PointField datatypes (sensor_msgs/PointField constants) -> struct format character and size.
# Written out from the message definition, not taken from the code under test.
STRUCT_TYPES: dict[int, tuple[str, int]] = {1: ("b", 1), 2: ("B", 1), 3: ("h", 2), 4: ("H", 2),
                                            5: ("i", 4), 6: ("I", 4), 7: ("f", 4), 8: ("d", 8)}


@dataclass(frozen=True)
class FieldSpec:
    """One PointField: name, byte offset in the point, datatype constant (1..8) and count."""

    name: str
    offset: int
    datatype: int
    count: int = 1


@dataclass(frozen=True)
class CloudSpec:
    """A PointCloud2 layout: fields, point_step, height x width, byte order, padding after each row."""

    fields: tuple[FieldSpec, ...]
    point_step: int
    height: int
    width: int
    big_endian: bool = False
    row_padding: int = 0

    @property
    def row_step(self) -> int:
        """Bytes per row: the points and the row's padding."""
        return self.width * self.point_step + self.row_padding


def pack_cloud(spec: CloudSpec, values: dict[str, np.ndarray], data_delta: int = 0, frame_id: str = "sensor"):
    """PointCloud2 whose bytes are packed with `struct`, point by point in row-major order.

    `values[name]` is (height * width, count); padding bytes are 0xAB, row padding 0xCD; fields
    named '_' (PCL padding) and fields with a datatype outside 1..8 are left as padding bytes.
    `data_delta` bytes are cut from (< 0) or added to (> 0) the end of the data.
    """
    from sensor_msgs.msg import PointCloud2, PointField

    order = ">" if spec.big_endian else "<"
    ends = [f.offset + STRUCT_TYPES.get(f.datatype, ("", 0))[1] * f.count for f in spec.fields]
    room = max([spec.point_step, *ends])  # a field beyond point_step is cut off at it
    data = bytearray()
    for row in range(spec.height):
        for column in range(spec.width):
            point = bytearray(b"\xab" * room)
            for field in spec.fields:
                if field.name == "_" or field.datatype not in STRUCT_TYPES or field.count < 1:
                    continue
                code, _ = STRUCT_TYPES[field.datatype]
                items = values[field.name][row * spec.width + column].tolist()
                struct.pack_into(order + code * field.count, point, field.offset, *items)
            data += point[:spec.point_step]
        data += b"\xcd" * spec.row_padding
    data = data[:len(data) + data_delta] if data_delta < 0 else data + b"\xee" * data_delta
    cloud = PointCloud2(height=spec.height, width=spec.width, is_bigendian=spec.big_endian,
                        point_step=spec.point_step, row_step=spec.row_step)
    cloud.fields = [PointField(name=f.name, offset=f.offset, datatype=f.datatype, count=f.count) for f in spec.fields]
    cloud.header.frame_id = frame_id
    cloud.data = array.array("B", bytes(data))
    return cloud


def ground_and_box(shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A small annotation scene: a 12 m ground grid and a box 0.7 m above it (beyond the baseline's
    0.5 m graph edge, so it is one object), centred at (shift, 0). Returns xyz float32 and the box mask."""
    ground = np.stack(np.meshgrid(np.arange(-6, 6, 0.25), np.arange(-6, 6, 0.25), [0.0]), -1).reshape(-1, 3)
    box = box_surface((shift - 0.75, -0.75, 0.7), (shift + 0.75, 0.75, 2.0), 0.1)
    xyz = np.concatenate([ground, box]).astype(np.float32)
    return xyz, np.arange(len(xyz)) >= len(ground)
