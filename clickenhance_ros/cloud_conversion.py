"""sensor_msgs/PointCloud2 <-> NumPy, without sensor_msgs_py.

Reading goes through one structured dtype built from the message's `PointField`s
(names, formats, offsets, `itemsize=point_step`, byte order from `is_bigendian`), laid
over `cloud.data` without a copy. Organized clouds come out as `(height, width)`,
row-major as the message stores them, and `row_step` may exceed `width * point_step`.
Only selecting fields (xyz, rgb) copies. A malformed cloud raises ValueError naming the
field or the size that is wrong.

Writing builds clouds from structured arrays (`cloud_from_array`), copies selected
points with all their original fields (`select_points`), and builds the x, y, z, rgb,
label cloud RViz shows for a segmentation (`segmentation_cloud`).
"""

from __future__ import annotations

import array
from collections.abc import Sequence

import numpy as np
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import Header

# PointField.datatype -> NumPy kind and size (byte order is added per cloud).
DATATYPES: dict[int, str] = {
    PointField.INT8: "i1", PointField.UINT8: "u1",
    PointField.INT16: "i2", PointField.UINT16: "u2",
    PointField.INT32: "i4", PointField.UINT32: "u4",
    PointField.FLOAT32: "f4", PointField.FLOAT64: "f8",
}
_DATATYPE_NAMES = {PointField.INT8: "INT8", PointField.UINT8: "UINT8", PointField.INT16: "INT16",
                   PointField.UINT16: "UINT16", PointField.INT32: "INT32", PointField.UINT32: "UINT32",
                   PointField.FLOAT32: "FLOAT32", PointField.FLOAT64: "FLOAT64"}
_KIND_TO_DATATYPE = {kind: datatype for datatype, kind in DATATYPES.items()}
PADDING_NAMES = ("_",)  # PCL's name for padding fields; several may share it, they are skipped
XYZ = ("x", "y", "z")


def cloud_dtype(fields: Sequence[PointField], point_step: int, is_bigendian: bool) -> np.dtype:
    """Structured dtype of one point: every named field at its offset, itemsize `point_step`.

    Raises ValueError naming the field for an unknown datatype, a zero count, a duplicate
    or empty name, or a field that ends beyond `point_step`.
    """
    order = ">" if is_bigendian else "<"
    names, formats, offsets = [], [], []
    for number, field in enumerate(fields):
        if field.name in PADDING_NAMES:
            continue
        if not field.name:
            raise ValueError(f"PointField #{number} has an empty name")
        if field.name in names:
            raise ValueError(f"field '{field.name}' appears twice in the cloud's fields")
        kind = DATATYPES.get(field.datatype)
        if kind is None:
            raise ValueError(f"field '{field.name}' has unknown datatype {field.datatype} (valid: 1..8)")
        if field.count < 1:
            raise ValueError(f"field '{field.name}' has count {field.count}; it must be at least 1")
        scalar = np.dtype(order + kind)
        end = field.offset + scalar.itemsize * field.count
        if end > point_step:
            raise ValueError(f"field '{field.name}' (offset {field.offset}, {end - field.offset} bytes) "
                             f"ends beyond point_step {point_step}")
        names.append(field.name)
        formats.append(scalar if field.count == 1 else (scalar, (field.count,)))
        offsets.append(field.offset)
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": point_step})


def check_layout(cloud: PointCloud2) -> np.dtype:
    """Validate sizes and the x/y/z fields of `cloud` without touching its points; return its dtype."""
    points = cloud.height * cloud.width
    if points and cloud.point_step <= 0:
        raise ValueError(f"point_step is {cloud.point_step} for a cloud of {points} points")
    dtype = cloud_dtype(cloud.fields, cloud.point_step, cloud.is_bigendian)
    for name in XYZ:
        if name not in dtype.names:
            present = ", ".join(dtype.names) or "none"
            raise ValueError(f"the cloud has no '{name}' field (fields: {present})")
        field_type = dtype.fields[name][0]
        if field_type.shape or field_type.kind != "f":
            field = next(f for f in cloud.fields if f.name == name)
            raise ValueError(f"field '{name}' must be one FLOAT32 or FLOAT64 value, got "
                             f"{_DATATYPE_NAMES.get(field.datatype, field.datatype)} with count {field.count}")
    row_bytes = cloud.width * cloud.point_step
    if cloud.height and cloud.row_step < row_bytes:
        raise ValueError(f"row_step {cloud.row_step} is smaller than width * point_step = {row_bytes}")
    expected = cloud.row_step * cloud.height
    # an empty cloud may carry its rows' padding (height x row_step bytes) or no data at all
    if len(cloud.data) != expected and not (points == 0 and len(cloud.data) == 0):
        problem = "truncated" if len(cloud.data) < expected else "longer than its layout says"
        raise ValueError(f"data is {problem}: {len(cloud.data)} bytes, but height {cloud.height} x "
                         f"row_step {cloud.row_step} = {expected} (point_step {cloud.point_step}, "
                         f"width {cloud.width})")
    return dtype


def read_points(cloud: PointCloud2) -> np.ndarray:
    """Zero-copy, read-only structured view of the points, shape (height, width).

    Raises ValueError for a malformed cloud (see `check_layout`).
    """
    dtype = check_layout(cloud)
    if cloud.height * cloud.width == 0:
        return np.zeros((cloud.height, cloud.width), dtype=dtype)
    view = np.ndarray(shape=(cloud.height, cloud.width), dtype=dtype, buffer=memoryview(cloud.data),
                      strides=(cloud.row_step, cloud.point_step))
    view.flags.writeable = False
    return view


def points_xyz(points: np.ndarray) -> np.ndarray:
    """Float32 (N, 3) copy of x, y, z from a structured view (row-major for organized clouds)."""
    fields = points.dtype.fields
    x_type, x_offset = fields["x"][:2]
    adjacent = all(fields[n][0] == x_type and fields[n][1] == x_offset + i * x_type.itemsize
                   for i, n in enumerate(XYZ))
    if adjacent:
        # x, y, z are adjacent: one strided copy through a (3,) subarray field.
        packed = np.dtype({"names": ["xyz"], "formats": [(x_type, (3,))], "offsets": [x_offset],
                           "itemsize": points.dtype.itemsize})
        return points.view(packed)["xyz"].astype(np.float32).reshape(-1, 3)
    out = np.empty((points.size, 3), dtype=np.float32)
    for column, name in enumerate(XYZ):
        out[:, column] = points[name].reshape(-1)
    return out


def read_xyz(cloud: PointCloud2) -> np.ndarray:
    """Float32 (N, 3) x, y, z of every point, row-major; N = height * width."""
    return points_xyz(read_points(cloud))


def pack_rgb(colors: np.ndarray) -> np.ndarray:
    """Pack uint8 (N, 3) RGB into PCL's float32 `rgb` field (0x00RRGGBB reinterpreted)."""
    c = np.asarray(colors, dtype=np.uint32)
    return ((c[:, 0] << 16) | (c[:, 1] << 8) | c[:, 2]).astype("<u4").view("<f4")


def unpack_rgb(values: np.ndarray) -> np.ndarray:
    """Unpack PCL's packed `rgb`/`rgba` field (float32 or uint32 bits) into uint8 (N, 3)."""
    v = np.ascontiguousarray(values)
    bits = (v.view(v.dtype.str.replace("f", "u")) if v.dtype.kind == "f" else v).astype(np.uint32)
    return np.stack([(bits >> 16) & 255, (bits >> 8) & 255, bits & 255], axis=-1).astype(np.uint8)


def points_rgb(points: np.ndarray) -> np.ndarray | None:
    """Float32 (N, 3) colours in [0, 1] from `rgb`/`rgba` or r, g, b fields; None when absent."""
    names = points.dtype.names or ()
    for packed in ("rgb", "rgba"):
        if packed in names and points.dtype.fields[packed][0].itemsize == 4:
            return unpack_rgb(points[packed].reshape(-1)).astype(np.float32) / 255.0
    if all(c in names for c in "rgb"):
        channels = [points[c].reshape(-1).astype(np.float32) for c in "rgb"]
        scale = 255.0 if points.dtype.fields["r"][0].kind in "iu" else 1.0
        return np.stack(channels, axis=-1) / scale
    return None


def byte_array(data: bytes | bytearray | memoryview | np.ndarray) -> array.array:
    """`array('B')` of the given bytes (one copy): the type rclpy stores without checking every byte."""
    out = array.array("B")
    if isinstance(data, np.ndarray):
        data = memoryview(np.ascontiguousarray(data).reshape(-1).view(np.uint8))
    out.frombytes(data)
    return out


def _point_fields(dtype: np.dtype) -> tuple[list[PointField], bool]:
    """PointFields of a structured dtype and its byte order (True = big-endian)."""
    fields, orders = [], set()
    for name in dtype.names:
        field_type, offset = dtype.fields[name][:2]
        scalar, count = (field_type.base, int(np.prod(field_type.shape))) if field_type.shape else (field_type, 1)
        datatype = _KIND_TO_DATATYPE.get(f"{scalar.kind}{scalar.itemsize}")
        if datatype is None:
            raise ValueError(f"field '{name}' has dtype {scalar}, which PointField cannot describe")
        if scalar.itemsize > 1 and scalar.byteorder != "|":
            orders.add(scalar.byteorder == ">" or (scalar.byteorder == "=" and np.little_endian is False))
        fields.append(PointField(name=name, offset=offset, datatype=datatype, count=count))
    if len(orders) > 1:
        raise ValueError("the fields mix big- and little-endian types; PointCloud2 has one byte order")
    return fields, orders.pop() if orders else False


def cloud_from_array(points: np.ndarray, header: Header | None = None) -> PointCloud2:
    """PointCloud2 holding a structured array: 1-D -> height 1, 2-D (height, width) -> organized."""
    if points.dtype.names is None:
        raise ValueError(f"expected a structured array with named fields, got dtype {points.dtype}")
    if points.ndim not in (1, 2):
        raise ValueError(f"expected a 1-D or (height, width) array, got shape {points.shape}")
    height, width = (1, points.shape[0]) if points.ndim == 1 else points.shape
    fields, big_endian = _point_fields(points.dtype)
    finite = True
    if all(n in points.dtype.names for n in XYZ) and points.size:
        finite = bool(all(np.isfinite(points[n]).all() for n in XYZ))
    return PointCloud2(
        header=header if header is not None else Header(), height=height, width=width, fields=fields,
        is_bigendian=big_endian, point_step=points.dtype.itemsize, row_step=points.dtype.itemsize * width,
        data=byte_array(np.ascontiguousarray(points)), is_dense=finite)


def select_points(cloud: PointCloud2, indices: np.ndarray, header: Header | None = None) -> PointCloud2:
    """Unorganized cloud of the points at row-major `indices`, every original field kept byte for byte."""
    check_layout(cloud)
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    count = cloud.width * cloud.height
    if indices.size and (indices.min() < 0 or indices.max() >= count):
        raise ValueError(f"point indices must lie in [0, {count}), got [{indices.min()}, {indices.max()}]")
    data = b""
    if indices.size:
        raw = np.ndarray(shape=(cloud.height, cloud.width), dtype=np.dtype((np.void, cloud.point_step)),
                         buffer=memoryview(cloud.data), strides=(cloud.row_step, cloud.point_step))
        data = raw[indices // cloud.width, indices % cloud.width]
    out = PointCloud2(header=header if header is not None else cloud.header, height=1, width=int(indices.size),
                      fields=list(cloud.fields), is_bigendian=cloud.is_bigendian, point_step=cloud.point_step,
                      row_step=cloud.point_step * int(indices.size), data=byte_array(data))
    out.is_dense = bool(indices.size == 0 or np.isfinite(read_xyz(out)).all())
    return out


SEGMENTATION_DTYPE = np.dtype({"names": ["x", "y", "z", "rgb", "label"],
                               "formats": ["<f4", "<f4", "<f4", "<f4", "<u4"],
                               "offsets": [0, 4, 8, 12, 16], "itemsize": 20})


def segmentation_cloud(header: Header, xyz: np.ndarray, labels: np.ndarray, colors: np.ndarray) -> PointCloud2:
    """Cloud of x, y, z (float32), rgb (packed float32) and label (uint32) for RViz and tools."""
    xyz = np.asarray(xyz, dtype=np.float32)
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        raise ValueError(f"xyz must have shape (N, 3), got {xyz.shape}")
    n = len(xyz)
    if np.shape(labels) != (n,) or np.shape(colors) != (n, 3):
        raise ValueError(f"labels must be ({n},) and colors ({n}, 3), got {np.shape(labels)} and {np.shape(colors)}")
    points = np.empty(n, dtype=SEGMENTATION_DTYPE)
    points["x"], points["y"], points["z"] = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    points["rgb"] = pack_rgb(colors)
    points["label"] = labels
    return cloud_from_array(points, header)
