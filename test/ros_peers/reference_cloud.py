"""A deterministic Ouster-like PointCloud2 (padding, mixed field types) for transport tests."""

import numpy as np
from sensor_msgs.msg import PointCloud2, PointField


def reference_cloud(seed: int, count: int) -> PointCloud2:
    """PointCloud2 with x,y,z float32, 4 pad bytes, intensity float32, ring uint16, t uint32."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype({
        "names": ["x", "y", "z", "intensity", "ring", "t"],
        "formats": ["<f4", "<f4", "<f4", "<f4", "<u2", "<u4"],
        "offsets": [0, 4, 8, 16, 20, 24],
        "itemsize": 32,
    })
    points = np.zeros(count, dtype=dtype)
    for name in ("x", "y", "z", "intensity"):
        points[name] = rng.normal(size=count).astype(np.float32)
    points["ring"] = rng.integers(0, 128, count)
    points["t"] = rng.integers(0, 100_000, count)
    message = PointCloud2()
    message.header.frame_id = "os_sensor"
    message.height, message.width = 1, count
    message.fields = [
        PointField(name="x", offset=0, datatype=PointField.FLOAT32, count=1),
        PointField(name="y", offset=4, datatype=PointField.FLOAT32, count=1),
        PointField(name="z", offset=8, datatype=PointField.FLOAT32, count=1),
        PointField(name="intensity", offset=16, datatype=PointField.FLOAT32, count=1),
        PointField(name="ring", offset=20, datatype=PointField.UINT16, count=1),
        PointField(name="t", offset=24, datatype=PointField.UINT32, count=1),
    ]
    message.is_bigendian = False
    message.point_step = 32
    message.row_step = 32 * count
    message.is_dense = True
    message.data = points.tobytes()
    return message
