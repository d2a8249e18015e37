"""Bringing click positions into the frame of the cloud they refer to.

With `tf2_ros` (a full ROS install) a click in another frame is transformed with the
latest transform on /tf. Without it (the pip-installed wheels) a click must already be
in the cloud's frame, or carry no frame; anything else is a ClickError that says so.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Transform
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.time import Time
from std_msgs.msg import Header

from clickenhance_model.errors import ClickError


def apply_transform(transform: Transform, xyz: np.ndarray) -> np.ndarray:
    """Apply a geometry_msgs/Transform (rotation, then translation) to (3,) or (N, 3) points."""
    points = np.asarray(xyz, dtype=np.float64)
    q = transform.rotation
    norm = np.sqrt(q.x * q.x + q.y * q.y + q.z * q.z + q.w * q.w)
    if not norm > 0:
        raise ClickError("the transform has a zero quaternion")
    u = np.array([q.x, q.y, q.z]) / norm
    w = q.w / norm
    t = 2.0 * np.cross(u, points)
    rotated = points + w * t + np.cross(u, t)
    return rotated + np.array([transform.translation.x, transform.translation.y, transform.translation.z])


def transform_matrix(transform: Transform) -> np.ndarray:
    """The 4x4 homogeneous matrix of a geometry_msgs/Transform (the same map as `apply_transform`)."""
    translation = apply_transform(transform, np.zeros(3))
    matrix = np.eye(4)
    matrix[:3, :3] = (apply_transform(transform, np.eye(3)) - translation).T  # column k: the image of axis k
    matrix[:3, 3] = translation
    return matrix


class ClickFrames:
    """Transforms click positions into a cloud's frame, through tf2 when it is installed."""

    def __init__(self, node: Node, timeout_s: float = 0.1):
        self.timeout = Duration(seconds=timeout_s)
        self._buffer = None
        try:  # ---- lazily imported path: only a full ROS 2 install has tf2_ros ----
            import tf2_ros
        except ImportError:
            return
        self._transform_error = tf2_ros.TransformException
        self._buffer = tf2_ros.Buffer()
        self._listener = tf2_ros.TransformListener(self._buffer, node)

    @property
    def has_tf(self) -> bool:
        """True when tf2_ros is installed and clicks in other frames can be transformed."""
        return self._buffer is not None

    def to_cloud_frame(self, xyz: np.ndarray, click_frame: str, cloud_frame: str) -> np.ndarray:
        """`xyz` (3,) in `click_frame` as a point in `cloud_frame`; an empty click frame means the cloud's."""
        xyz = np.asarray(xyz, dtype=np.float64)
        if not click_frame or click_frame.lstrip("/") == cloud_frame.lstrip("/"):
            return xyz
        if self._buffer is None:
            raise ClickError(f"the click is in frame '{click_frame}' but the cloud is in '{cloud_frame}', and "
                             f"tf2_ros is not installed to transform it: send clicks in '{cloud_frame}'")
        try:
            stamped = self._buffer.lookup_transform(cloud_frame, click_frame, Time(), timeout=self.timeout)
        except self._transform_error as error:  # lookup, connectivity, extrapolation
            raise ClickError(f"cannot transform the click from frame '{click_frame}' to the cloud's frame "
                             f"'{cloud_frame}': {error}") from error
        return apply_transform(stamped.transform, xyz)

    # ---- tf2 path of ~/follow (only with tf2_ros and a follow_odom_frame) ----
    def cloud_to_cloud(self, previous: Header, new: Header, fixed_frame: str) -> np.ndarray | None:
        """4x4 matrix taking points of the `previous` cloud into the `new` one's frame through `fixed_frame`.

        Static points keep their place in `fixed_frame` (e.g. odom) between the two stamps. None
        without tf2_ros, without a fixed frame, or when the lookup fails (the follower then
        finds the motion by matching alone).
        """
        if self._buffer is None or not fixed_frame:
            return None
        try:
            stamped = self._buffer.lookup_transform_full(
                new.frame_id, Time.from_msg(new.stamp), previous.frame_id, Time.from_msg(previous.stamp),
                fixed_frame, timeout=self.timeout)
        except self._transform_error:
            return None
        return transform_matrix(stamped.transform)
