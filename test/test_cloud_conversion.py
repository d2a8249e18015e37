"""PointCloud2 <-> NumPy: clouds built byte by byte from the message spec, exact round trips, clear errors."""

from __future__ import annotations

import array
import math
import struct
from dataclasses import dataclass

import numpy as np
import pytest

pytest.importorskip("sensor_msgs.msg", reason="ROS 2 message wheels are not installed")
from sensor_msgs.msg import PointCloud2, PointField  # noqa: E402

from clickenhance_ros.cloud_conversion import (  # noqa: E402
    cloud_from_array,
    pack_rgb,
    points_rgb,
    read_points,
    read_xyz,
    segmentation_cloud,
    select_points,
    unpack_rgb,
)

F32, F64, U8, U16, U32, I16 = (PointField.FLOAT32, PointField.FLOAT64, PointField.UINT8, PointField.UINT16,
                               PointField.UINT32, PointField.INT16)
STRUCT = {PointField.INT8: "b", PointField.UINT8: "B", PointField.INT16: "h", PointField.UINT16: "H",
          PointField.INT32: "i", PointField.UINT32: "I", PointField.FLOAT32: "f", PointField.FLOAT64: "d"}
PAD_BYTE, ROW_PAD_BYTE = b"\xab", b"\xcd"


@dataclass
class Spec:
    """A cloud layout: fields (name, offset, datatype, count), point_step, shape, byte order, row padding."""

    fields: list[tuple[str, int, int, int]]
    point_step: int
    height: int = 1
    width: int = 6
    big_endian: bool = False
    row_padding: int = 0
    nan_points: tuple[int, ...] = ()


def values_for(spec: Spec, seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic values per field: shape (N,) or (N, count), exactly representable in the field type."""
    rng = np.random.default_rng(seed)
    n = spec.height * spec.width
    values = {}
    for name, _, datatype, count in spec.fields:
        if datatype in (F32, F64):
            v = np.round(rng.uniform(-50, 50, (n, count)), 2).astype(np.float32).astype(np.float64)
        else:
            v = rng.integers(0, 100, (n, count)).astype(np.float64)
        if name in ("x", "y", "z"):
            v[list(spec.nan_points)] = math.nan
        values[name] = v
    return values


def build_cloud(spec: Spec, values: dict[str, np.ndarray]) -> PointCloud2:
    """Pack every point with struct, in row-major order, padding bytes filled with a marker."""
    order = ">" if spec.big_endian else "<"
    data = bytearray()
    for row in range(spec.height):
        for column in range(spec.width):
            point = bytearray(PAD_BYTE * spec.point_step)
            for name, offset, datatype, count in spec.fields:
                if name == "_":
                    continue  # PCL's padding fields: left as marker bytes
                items = values[name][row * spec.width + column]
                if datatype not in (F32, F64):
                    items = [int(v) for v in items]
                struct.pack_into(order + STRUCT[datatype] * count, point, offset, *items)
            data += point
        data += ROW_PAD_BYTE * spec.row_padding
    cloud = PointCloud2(height=spec.height, width=spec.width, is_bigendian=spec.big_endian,
                        point_step=spec.point_step, row_step=spec.width * spec.point_step + spec.row_padding)
    cloud.fields = [PointField(name=n, offset=o, datatype=d, count=c) for n, o, d, c in spec.fields]
    cloud.header.frame_id = "sensor"
    cloud.data = array.array("B", bytes(data))
    return cloud


XYZ32 = [("x", 0, F32, 1), ("y", 4, F32, 1), ("z", 8, F32, 1)]
OUSTER = XYZ32 + [("intensity", 16, F32, 1), ("ring", 20, U16, 1), ("t", 24, U32, 1)]
SPECS = {
    "xyz": Spec(XYZ32, 12),
    "padding_and_extra_fields": Spec(OUSTER, 32),
    "nan": Spec(OUSTER, 32, nan_points=(0, 3)),
    "empty": Spec(OUSTER, 32, width=0),
    "organized_row_padding": Spec(OUSTER, 32, height=3, width=4, row_padding=8),
    "organized_nan": Spec(XYZ32, 12, height=2, width=5, nan_points=(1, 7)),
    "big_endian": Spec(OUSTER, 32, big_endian=True),
    "big_endian_organized": Spec(OUSTER, 32, height=2, width=3, big_endian=True, row_padding=4),
    "count_3": Spec(XYZ32 + [("normal", 12, F32, 3), ("rgb", 24, F32, 1)], 28),
    "float64_reordered": Spec([("x", 0, F64, 1), ("z", 8, F64, 1), ("y", 16, F64, 1), ("label", 24, U8, 1)], 32),
    "int16_extra_count_2": Spec(XYZ32 + [("uv", 12, I16, 2)], 16),
}


@pytest.fixture(params=list(SPECS), ids=list(SPECS))
def case(request: pytest.FixtureRequest) -> tuple[Spec, dict[str, np.ndarray], PointCloud2]:
    spec = SPECS[request.param]
    values = values_for(spec)
    return spec, values, build_cloud(spec, values)


def test_read_points_is_a_zero_copy_row_major_view(case) -> None:
    spec, values, cloud = case
    points = read_points(cloud)
    assert points.shape == (spec.height, spec.width)
    assert points.dtype.names == tuple(name for name, *_ in spec.fields)
    for name, _, _, count in spec.fields:
        got = points[name].reshape(spec.height * spec.width, count).astype(np.float64)
        np.testing.assert_array_equal(got, values[name])
    if points.size:
        assert np.shares_memory(points, np.frombuffer(cloud.data, dtype=np.uint8))
        assert not points.flags.writeable


def test_read_xyz_matches_the_packed_values(case) -> None:
    spec, values, cloud = case
    xyz = read_xyz(cloud)
    expected = np.concatenate([values[c] for c in "xyz"], axis=1).astype(np.float32)
    assert xyz.dtype == np.float32 and xyz.shape == (spec.height * spec.width, 3)
    np.testing.assert_array_equal(xyz, expected)


def test_cloud_from_array_round_trip_is_exact(case) -> None:
    spec, values, cloud = case
    rebuilt = cloud_from_array(read_points(cloud), cloud.header)
    assert (rebuilt.height, rebuilt.width) == (cloud.height, cloud.width)
    assert [(f.name, f.offset, f.datatype, f.count) for f in rebuilt.fields] == spec.fields
    assert rebuilt.point_step == cloud.point_step and rebuilt.is_bigendian == cloud.is_bigendian
    assert rebuilt.is_dense == (not spec.nan_points)
    if spec.row_padding == 0:
        assert bytes(rebuilt.data) == bytes(cloud.data)  # padding bytes too
    else:
        assert rebuilt.row_step == cloud.width * cloud.point_step
    assert_points_equal(read_points(rebuilt), read_points(cloud))


def test_select_points_copies_the_original_bytes(case) -> None:
    spec, _, cloud = case
    n = spec.height * spec.width
    indices = np.array([n - 1, 0, n // 2]) if n else np.array([], dtype=np.int64)
    selected = select_points(cloud, indices)
    assert (selected.height, selected.width) == (1, len(indices))
    assert [(f.name, f.offset, f.datatype, f.count) for f in selected.fields] == spec.fields
    raw = bytes(cloud.data)
    for k, index in enumerate(indices):
        row, column = divmod(int(index), spec.width)
        start = row * cloud.row_step + column * spec.point_step
        assert bytes(selected.data[k * spec.point_step:(k + 1) * spec.point_step]) == \
            raw[start:start + spec.point_step]
    assert selected.is_dense == (not set(indices.tolist()) & set(spec.nan_points))


def assert_points_equal(a: np.ndarray, b: np.ndarray) -> None:
    """Structured arrays equal field by field (NaN equals NaN)."""
    assert a.dtype.names == b.dtype.names and a.shape == b.shape
    for name in a.dtype.names:
        np.testing.assert_array_equal(a[name], b[name])


def _broken(**changes) -> PointCloud2:
    spec = SPECS["padding_and_extra_fields"]
    cloud = build_cloud(spec, values_for(spec))
    for name, value in changes.items():
        setattr(cloud, name, value)
    return cloud


def _fields(*specs: tuple[str, int, int, int]) -> list[PointField]:
    return [PointField(name=n, offset=o, datatype=d, count=c) for n, o, d, c in specs]


@pytest.mark.parametrize(("cloud", "message"), [
    (_broken(fields=_fields(("x", 0, F32, 1), ("z", 8, F32, 1))), "the cloud has no 'y' field (fields: x, z)"),
    (_broken(fields=[]), "the cloud has no 'x' field (fields: none)"),
    (_broken(data=array.array("B", bytes(100))), "data is truncated: 100 bytes, but height 1 x row_step 192"),
    (_broken(data=array.array("B", bytes(200))), "data is longer than its layout says: 200 bytes"),
    (_broken(point_step=16), "field 'intensity' (offset 16, 4 bytes) ends beyond point_step 16"),
    (_broken(point_step=0), "point_step is 0 for a cloud of 6 points"),
    (_broken(row_step=100), "row_step 100 is smaller than width * point_step = 192"),
    (_broken(fields=_fields(*XYZ32[:2], ("z", 8, PointField.INT32, 1))),
     "field 'z' must be one FLOAT32 or FLOAT64 value, got INT32 with count 1"),
    (_broken(fields=_fields(("x", 0, F32, 2), *XYZ32[1:])),
     "field 'x' must be one FLOAT32 or FLOAT64 value, got FLOAT32 with count 2"),
    (_broken(fields=_fields(*XYZ32, ("intensity", 16, 9, 1))), "field 'intensity' has unknown datatype 9"),
    (_broken(fields=_fields(*XYZ32, ("y", 16, F32, 1))), "field 'y' appears twice"),
    (_broken(fields=_fields(*XYZ32, ("ring", 20, U16, 0))), "field 'ring' has count 0"),
    (_broken(fields=_fields(*XYZ32, ("", 20, U16, 1))), "PointField #3 has an empty name"),
], ids=["no_y", "no_fields", "truncated", "too_long", "point_step_small", "point_step_zero", "row_step_small",
        "int_z", "x_count_2", "unknown_datatype", "duplicate", "count_0", "empty_name"])
def test_malformed_clouds_raise_value_error_naming_the_problem(cloud: PointCloud2, message: str) -> None:
    with pytest.raises(ValueError) as error:
        read_xyz(cloud)
    assert message in str(error.value)


def test_pcl_padding_fields_are_skipped() -> None:
    spec = Spec(XYZ32 + [("_", 12, U8, 4), ("intensity", 16, F32, 1), ("_", 20, U8, 12)], 32)
    points = read_points(build_cloud(spec, values_for(spec)))
    assert points.dtype.names == ("x", "y", "z", "intensity")


def test_select_points_rejects_out_of_range_indices() -> None:
    with pytest.raises(ValueError, match=r"point indices must lie in \[0, 6\)"):
        select_points(_broken(), np.array([0, 6]))


def test_rgb_packing_matches_pcl() -> None:
    colors = np.array([[255, 0, 0], [0, 128, 255], [1, 2, 3]], dtype=np.uint8)
    packed = pack_rgb(colors)
    expected = [struct.unpack("<f", struct.pack("<I", r << 16 | g << 8 | b))[0] for r, g, b in colors.tolist()]
    np.testing.assert_array_equal(packed.view("<u4"), np.array(expected, "<f4").view("<u4"))
    np.testing.assert_array_equal(unpack_rgb(packed), colors)
    np.testing.assert_array_equal(unpack_rgb(packed.astype(">f4")), colors)


def test_points_rgb_reads_packed_and_separate_channels() -> None:
    spec = Spec(XYZ32 + [("rgb", 12, F32, 1)], 16, width=2)
    values = values_for(spec)
    values["rgb"] = pack_rgb(np.array([[255, 0, 0], [0, 51, 255]], np.uint8)).astype(np.float64)[:, None]
    rgb = points_rgb(read_points(build_cloud(spec, values)))
    np.testing.assert_allclose(rgb, [[1, 0, 0], [0, 0.2, 1]], atol=1e-6)
    spec = Spec(XYZ32 + [("r", 12, U8, 1), ("g", 13, U8, 1), ("b", 14, U8, 1)], 16, width=2)
    values = values_for(spec)
    rgb = points_rgb(read_points(build_cloud(spec, values)))
    np.testing.assert_allclose(rgb, np.concatenate([values[c] for c in "rgb"], axis=1) / 255, atol=1e-6)
    assert points_rgb(read_points(_broken())) is None


def test_segmentation_cloud_layout() -> None:
    xyz = np.array([[1, 2, 3], [4, 5, np.nan]], np.float32)
    labels = np.array([0, 7], np.uint32)
    colors = np.array([[10, 20, 30], [255, 140, 0]], np.uint8)
    cloud = segmentation_cloud(_broken().header, xyz, labels, colors)
    assert [(f.name, f.offset, f.datatype) for f in cloud.fields] == \
        [("x", 0, F32), ("y", 4, F32), ("z", 8, F32), ("rgb", 12, F32), ("label", 16, U32)]
    assert cloud.point_step == 20 and not cloud.is_dense
    for k in range(2):
        x, y, z, rgb, label = struct.unpack_from("<fffII", bytes(cloud.data), 20 * k)
        np.testing.assert_array_equal([x, y, z], xyz[k])
        assert rgb == int(colors[k, 0]) << 16 | int(colors[k, 1]) << 8 | int(colors[k, 2]) and label == labels[k]


def test_cloud_from_array_rejects_what_pointcloud2_cannot_hold() -> None:
    with pytest.raises(ValueError, match="structured array"):
        cloud_from_array(np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match="1-D or"):
        cloud_from_array(np.zeros((2, 2, 2), np.dtype([("x", "<f4")])))
    with pytest.raises(ValueError, match="mix big- and little-endian"):
        cloud_from_array(np.zeros(2, np.dtype([("x", "<f4"), ("y", ">f4")])))
    with pytest.raises(ValueError, match="field 'c' has dtype complex64"):
        cloud_from_array(np.zeros(2, np.dtype([("x", "<f4"), ("c", "<c8")])))
