"""Click positions into the cloud's frame: the transform math, and the error without tf2_ros."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

pytest.importorskip("rclpy")
import rclpy  # noqa: E402
from geometry_msgs.msg import Quaternion, Transform, Vector3  # noqa: E402

from clickenhance_model.errors import ClickError  # noqa: E402
from clickenhance_ros.frames import ClickFrames, apply_transform, transform_matrix  # noqa: E402


@pytest.mark.parametrize("seed", range(5))
def test_apply_transform_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rotation = Rotation.random(random_state=seed)
    x, y, z, w = rotation.as_quat() * rng.uniform(0.5, 2.0)  # an unnormalised quaternion is normalised
    translation = rng.normal(size=3)
    transform = Transform(translation=Vector3(x=translation[0], y=translation[1], z=translation[2]),
                          rotation=Quaternion(x=x, y=y, z=z, w=w))
    points = rng.normal(size=(10, 3))
    np.testing.assert_allclose(apply_transform(transform, points), rotation.apply(points) + translation, atol=1e-9)
    np.testing.assert_allclose(apply_transform(transform, points[0]), rotation.apply(points[0]) + translation,
                               atol=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_transform_matrix_is_the_same_map_as_scipy(seed: int) -> None:
    """The matrix ~/follow hands to ObjectFollower on the tf2 path (follow_odom_frame)."""
    rng = np.random.default_rng(seed)
    rotation = Rotation.random(random_state=seed)
    x, y, z, w = rotation.as_quat()
    translation = rng.normal(size=3)
    matrix = transform_matrix(Transform(translation=Vector3(x=translation[0], y=translation[1], z=translation[2]),
                                        rotation=Quaternion(x=x, y=y, z=z, w=w)))
    points = rng.normal(size=(10, 3))
    np.testing.assert_allclose(points @ matrix[:3, :3].T + matrix[:3, 3], rotation.apply(points) + translation,
                               atol=1e-9)
    np.testing.assert_allclose(matrix[3], [0.0, 0.0, 0.0, 1.0])


def test_zero_quaternion_is_an_error() -> None:
    with pytest.raises(ClickError, match="zero quaternion"):
        apply_transform(Transform(rotation=Quaternion(x=0.0, y=0.0, z=0.0, w=0.0)), np.zeros(3))


@pytest.fixture
def frames():
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("frames_test", context=context)
    yield ClickFrames(node)
    node.destroy_node()
    rclpy.shutdown(context=context)


def test_same_or_empty_frame_passes_through(frames: ClickFrames) -> None:
    p = np.array([1.0, 2.0, 3.0])
    for click_frame in ("", "velodyne", "/velodyne"):
        np.testing.assert_array_equal(frames.to_cloud_frame(p, click_frame, "velodyne"), p)


@pytest.mark.skipif(importlib.util.find_spec("tf2_ros") is not None, reason="tf2_ros installed: frames are looked up")
def test_other_frame_without_tf2_is_a_clear_error(frames: ClickFrames) -> None:
    assert not frames.has_tf
    with pytest.raises(ClickError, match="frame 'map' but the cloud is in 'velodyne'.*tf2_ros is not installed"):
        frames.to_cloud_frame(np.zeros(3), "map", "velodyne")
