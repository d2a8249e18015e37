"""Shared pieces of the node tests: a synthetic scene, clouds built from the message spec,
the node in its own process, and an rclpy client that spins in a background thread.

Every wait has a deadline and polls a condition (service ready, subscriber matched,
message received); nothing sleeps for a fixed time hoping discovery is done.
"""

from __future__ import annotations

import array
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy (ROS 2 wheels) is not installed")
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import PointCloud2, PointField  # noqa: E402

from clickenhance_ros.demo import stop_node  # noqa: E402
from clickenhance_ros.executor_shutdown import BackgroundSpin  # noqa: E402

NODE_MODULE = "clickenhance_ros.segment_node"
FRAME = "lidar"
# QoS of the node's outputs (latched: a late subscriber still gets the latest message).
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


# --------------------------------------------------------------------------- the scene
@dataclass(frozen=True)
class BoxScene:
    """Ground plane with three car-sized boxes; `instance` is 0 on the ground, k on box k."""

    xyz: np.ndarray  # float32 (N, 3)
    intensity: np.ndarray  # float32 (N,)
    instance: np.ndarray  # int64 (N,)
    tops: tuple[tuple[float, float, float], ...]  # centre of each box's top face (a good first click)


def _grid(u: tuple[float, float], v: tuple[float, float], step: float) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.meshgrid(np.arange(u[0], u[1] + 1e-9, step), np.arange(v[0], v[1] + 1e-9, step), indexing="ij")
    return a.ravel(), b.ravel()


def box_surface(center: tuple[float, float], size: tuple[float, float, float], step: float) -> np.ndarray:
    """Points on the top and the four sides of an axis-aligned box standing on z = 0."""
    (cx, cy), (lx, ly, lz) = center, size
    x0, x1, y0, y1 = cx - lx / 2, cx + lx / 2, cy - ly / 2, cy + ly / 2
    faces = []
    x, y = _grid((x0, x1), (y0, y1), step)
    faces.append(np.stack([x, y, np.full_like(x, lz)], 1))
    for fixed_y in (y0, y1):
        x, z = _grid((x0, x1), (step, lz - step), step)
        faces.append(np.stack([x, np.full_like(x, fixed_y), z], 1))
    for fixed_x in (x0, x1):
        y, z = _grid((y0, y1), (step, lz - step), step)
        faces.append(np.stack([np.full_like(y, fixed_x), y, z], 1))
    return np.concatenate(faces)


def box_scene(seed: int = 0, ground_step: float = 0.4, box_step: float = 0.15) -> BoxScene:
    """About 7k points: 24 m x 24 m ground and three 4 x 2 x 1.5 m boxes, points shuffled."""
    rng = np.random.default_rng(seed)
    centers = [(5.0, 0.0), (-4.0, 5.0), (0.0, -7.0)]
    size = (4.0, 2.0, 1.5)
    gx, gy = _grid((-12.0, 12.0), (-12.0, 12.0), ground_step)
    under = np.zeros(gx.shape, dtype=bool)
    for cx, cy in centers:
        under |= (np.abs(gx - cx) <= size[0] / 2) & (np.abs(gy - cy) <= size[1] / 2)
    parts = [np.stack([gx[~under], gy[~under], np.zeros((~under).sum())], 1)]
    labels = [np.zeros(len(parts[0]), dtype=np.int64)]
    for k, center in enumerate(centers, start=1):
        parts.append(box_surface(center, size, box_step))
        labels.append(np.full(len(parts[-1]), k, dtype=np.int64))
    xyz = np.concatenate(parts) + rng.normal(scale=0.01, size=(sum(map(len, parts)), 3))
    instance = np.concatenate(labels)
    order = rng.permutation(len(xyz))
    tops = tuple((cx, cy, size[2]) for cx, cy in centers)
    intensity = rng.uniform(0, 1, len(xyz)).astype(np.float32)
    return BoxScene(xyz[order].astype(np.float32), intensity, instance[order], tops)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


# ------------------------------------------------------------------ spec-built clouds
# An Ouster-like point layout written out by hand from the PointCloud2 spec: x, y, z FLOAT32
# at 0/4/8, 4 padding bytes, intensity FLOAT32 at 16, ring UINT16 at 20, t UINT32 at 24,
# point_step 32.
OUSTER_FIELDS = [("x", 0, PointField.FLOAT32), ("y", 4, PointField.FLOAT32), ("z", 8, PointField.FLOAT32),
                 ("intensity", 16, PointField.FLOAT32), ("ring", 20, PointField.UINT16), ("t", 24, PointField.UINT32)]


def ouster_cloud(xyz: np.ndarray, intensity: np.ndarray, frame_id: str = FRAME, big_endian: bool = False,
                 stamp_sec: int = 1) -> PointCloud2:
    """A PointCloud2 in the Ouster-like layout above; `ring`/`t` encode the point's index."""
    n = len(xyz)
    order = ">" if big_endian else "<"
    raw = np.zeros((n, 32), dtype=np.uint8)
    for column, offset in ((0, 0), (1, 4), (2, 8)):
        values = np.ascontiguousarray(xyz[:, column], dtype=order + "f4")
        raw[:, offset:offset + 4] = values.view(np.uint8).reshape(n, 4)
    raw[:, 16:20] = np.asarray(intensity, dtype=order + "f4").view(np.uint8).reshape(n, 4)
    raw[:, 20:22] = (np.arange(n) % 128).astype(order + "u2").view(np.uint8).reshape(n, 2)
    raw[:, 24:28] = np.arange(n).astype(order + "u4").view(np.uint8).reshape(n, 4)
    cloud = PointCloud2(height=1, width=n, is_bigendian=big_endian, point_step=32, row_step=32 * n, is_dense=True)
    cloud.header.frame_id = frame_id
    cloud.header.stamp.sec = stamp_sec
    cloud.fields = [PointField(name=name, offset=offset, datatype=datatype, count=1)
                    for name, offset, datatype in OUSTER_FIELDS]
    data = array.array("B")
    data.frombytes(raw.tobytes())
    cloud.data = data
    return cloud


def scene_cloud(scene: BoxScene, **kwargs: Any) -> PointCloud2:
    """The scene as an Ouster-like cloud."""
    return ouster_cloud(scene.xyz, scene.intensity, **kwargs)


def ouster_t(cloud: PointCloud2) -> np.ndarray:
    """The `t` field (the original point index in `ouster_cloud`) of every point, read by hand."""
    raw = np.frombuffer(bytes(cloud.data), dtype=np.uint8).reshape(-1, cloud.point_step)
    return raw[:, 24:28].copy().view(">u4" if cloud.is_bigendian else "<u4").reshape(-1)


# ------------------------------------------------------------------ the node process
class NodeProcess:
    """`python -m clickenhance_ros.segment_node --ros-args ...` in its own process, log to a file."""

    def __init__(self, log_path: Path, parameters: dict[str, Any], remaps: dict[str, str] | None = None,
                 ros_args: tuple[str, ...] = ()):
        self.log_path = log_path
        args = [sys.executable, "-m", NODE_MODULE, "--ros-args", *ros_args]
        for name, value in parameters.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            args += ["-p", f"{name}:={text}"]
        for source, target in (remaps or {}).items():
            args += ["-r", f"{source}:={target}"]
        self._log = log_path.open("w")
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env=os.environ.copy())

    def log(self) -> str:
        """Everything the node printed so far."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> int:
        """Stop the node as the demos do (`stop_node`: SIGINT; SIGUSR1 and SIGKILL if it hangs); the exit code."""
        code = stop_node(self.process, timeout)
        self._log.close()
        return code


def node_parameters(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """Parameters of a fast test node: the baseline, outputs under `tmp_path`."""
    parameters = {"method": "baseline", "output_directory": str(tmp_path / "annotations"), "service_threads": 32}
    parameters.update(overrides)
    return parameters


# -------------------------------------------------------------------- the ROS client
class Inbox:
    """Messages received on one subscription, with a deadline-bound wait."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self._condition = threading.Condition()

    def __call__(self, message: Any) -> None:
        with self._condition:
            self.messages.append(message)
            self._condition.notify_all()

    def wait_for(self, predicate: Callable[[Any], bool] = lambda m: True, timeout: float = 20.0,
                 after: int = 0) -> Any:
        """The first message from index `after` on that satisfies `predicate`; fails at the deadline."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                for message in self.messages[after:]:
                    if predicate(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"no matching message within {timeout} s ({len(self.messages)} received)")
                self._condition.wait(left)


class RosClient:
    """An rclpy node in its own context, spun by a MultiThreadedExecutor in a background thread."""

    def __init__(self, name: str):
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = MultiThreadedExecutor(num_threads=4, context=self.context)
        self.executor.add_node(self.node)
        self._spin = BackgroundSpin(self.executor)
        self._clients: dict[str, Any] = {}

    def client(self, service_type: type, name: str, timeout: float = 30.0) -> Any:
        """A service client, once the service is available (fails at the deadline)."""
        if name not in self._clients:
            client = self.node.create_client(service_type, name)
            if not client.wait_for_service(timeout_sec=timeout):
                pytest.fail(f"service {name} not available within {timeout} s")
            self._clients[name] = client
        return self._clients[name]

    def call_async(self, service_type: type, name: str, request: Any) -> Any:
        """Send a request and return its future."""
        return self.client(service_type, name).call_async(request)

    def call(self, service_type: type, name: str, request: Any | None = None, timeout: float = 60.0) -> Any:
        """Call a service and return its response (fails at the deadline)."""
        future = self.call_async(service_type, name, request if request is not None else service_type.Request())
        return self.result(future, timeout)

    def call_read_only(self, service_type: type, name: str, attempts: int = 3, timeout: float = 20.0) -> Any:
        """Call a service without side effects, resending when the response is lost.

        A request that arrives before the server has matched the client's response reader gets
        no answer (the server logs "failed to send response (timeout)"): a DDS discovery race.
        Resending is only safe for read-only services, hence this separate method.
        """
        for _ in range(attempts - 1):
            future = self.call_async(service_type, name, service_type.Request())
            if self.wait_done(future, timeout):
                return future.result()
            self.node.get_logger().warning(f"no response from {name} within {timeout} s; resending")
        return self.call(service_type, name, timeout=timeout)

    @staticmethod
    def wait_done(future: Any, timeout: float) -> bool:
        """Wait until `future` is done (the executor thread completes it); False at the deadline."""
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        return done.wait(timeout)

    @classmethod
    def result(cls, future: Any, timeout: float = 60.0) -> Any:
        """Wait for a future's result with a deadline."""
        if not cls.wait_done(future, timeout):
            pytest.fail(f"no service response within {timeout} s")
        return future.result()

    def subscribe(self, message_type: type, topic: str, qos: QoSProfile | int = 10) -> Inbox:
        """Collect messages of a topic in an Inbox."""
        inbox = Inbox()
        self.node.create_subscription(message_type, topic, inbox, qos)
        return inbox

    def wait_for_subscriber(self, publisher: Any, timeout: float = 20.0) -> None:
        """Wait until `publisher` has a matched subscription."""
        wait_until(lambda: publisher.get_subscription_count() > 0, timeout, f"a subscriber of {publisher.topic_name}")

    def keep_publishing(self, publisher: Any, message: Any, period: float = 0.3) -> Any:
        """Publish `message` every `period` s (the node keeps only the latest); returns the timer."""
        publisher.publish(message)
        return self.node.create_timer(period, lambda: publisher.publish(message))

    def close(self) -> None:
        """Stop spinning (every callback finished), then destroy the node and shut the context down."""
        self._spin.stop()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` until true; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)
