"""Benchmark of the ROS side; it prints figures and is not a test.

What it measures:
1. PointCloud2 -> NumPy conversion throughput on a 120k-point scan (target >= 1 GB/s);
2. the node's click-to-published-object latency next to the segmenter's own latency in the
   same run (target: the node adds <= 15 ms);
3. a 10 Hz stream of 120k-point clouds while clicking: no backlog (a click freezes the newest
   cloud) and flat memory. `--duration 300` is the 5-minute run.
4. stateless `~/segment` calls that send the same cloud with new clicks (a pipeline): the first
   call pays for the scan (voxels, graph), later ones only for their clicks. `--segment-only`
   runs just this part (and 1).

    tools/ros_env.sh .venv/bin/python bench/bench_node.py [--duration 20] [--method baseline]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import rclpy
from geometry_msgs.msg import Point, PointStamped
from rclpy.executors import MultiThreadedExecutor
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header
from std_srvs.srv import Trigger

from clickenhance_ros.cloud_conversion import cloud_from_array, read_points, read_xyz, select_points
from clickenhance_ros.demo import NodeRunner, call_service
from clickenhance_ros.executor_shutdown import BackgroundSpin
from clickenhance_ros.msg import SegmentationState
from clickenhance_ros.srv import AddClick, SegmentObject

FRAME = "velodyne"
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
OUSTER = np.dtype({"names": ["x", "y", "z", "intensity", "ring", "t"],
                   "formats": ["<f4", "<f4", "<f4", "<f4", "<u2", "<u4"],
                   "offsets": [0, 4, 8, 16, 20, 24], "itemsize": 32})


def make_scan(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A ~120k-point generated street scan: xyz, intensity, instance ids."""
    from clickenhance_model.scenes.generate import GeneratorConfig, generate_scan
    from clickenhance_model.scenes.lidar import LidarConfig

    scan = generate_scan("outdoor", seed, 0, GeneratorConfig(lidar=LidarConfig(azimuth_steps=2300)))
    return scan.xyz.astype(np.float32), scan.remission.astype(np.float32), scan.instance.astype(np.int64)


def ouster_message(xyz: np.ndarray, intensity: np.ndarray) -> PointCloud2:
    """The scan in an Ouster-like 32-byte layout (padding, ring, t), the common heavy case."""
    points = np.zeros(len(xyz), dtype=OUSTER)
    for k, name in enumerate("xyz"):
        points[name] = xyz[:, k]
    points["intensity"], points["ring"], points["t"] = intensity, np.arange(len(xyz)) % 64, np.arange(len(xyz))
    return cloud_from_array(points, Header(frame_id=FRAME))


def best_of(function, repeats: int) -> float:
    """Fastest of `repeats` runs, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_conversion(cloud: PointCloud2, repeats: int = 50) -> None:
    """Print the conversion throughput: bytes of `data` per second of view + xyz copy."""
    size = len(cloud.data)
    view = best_of(lambda: read_points(cloud), repeats)
    xyz = best_of(lambda: read_xyz(cloud), repeats)
    pick = np.arange(0, cloud.width, 30)
    select = best_of(lambda: select_points(cloud, pick), repeats)
    print(f"[conversion] {cloud.width} points x {cloud.point_step} B = {size / 1e6:.2f} MB")
    print(f"  zero-copy structured view: {view * 1e6:8.1f} us")
    print(f"  view + float32 xyz copy:   {xyz * 1e3:8.3f} ms = {size / xyz / 1e9:.2f} GB/s (target >= 1 GB/s)")
    print(f"  select {len(pick)} points (object cloud, original fields): {select * 1e3:.3f} ms")


class BenchClient:
    """Publishes clouds, calls services and timestamps what the node publishes."""

    def __init__(self) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("clickenhance_bench", context=self.context)
        self.executor = MultiThreadedExecutor(num_threads=3, context=self.context)
        self.executor.add_node(self.node)
        self.objects: list[tuple[float, int]] = []  # (arrival time, width)
        self.states: list[SegmentationState] = []
        self.lock = threading.Lock()
        self.node.create_subscription(PointCloud2, "/clickenhance/object", self._on_object, LATCHED)
        self.node.create_subscription(SegmentationState, "/clickenhance/state", self._on_state, LATCHED)
        self.cloud_pub = self.node.create_publisher(PointCloud2, "/cloud", 1)
        self.add_click = self.node.create_client(AddClick, "/clickenhance/add_click")
        self.segment = self.node.create_client(SegmentObject, "/clickenhance/segment")
        self.triggers = {name: self.node.create_client(Trigger, f"/clickenhance/{name}")
                         for name in ("undo", "new_scan", "diagnostics")}
        self._spin = BackgroundSpin(self.executor)

    def _on_object(self, cloud: PointCloud2) -> None:
        with self.lock:
            self.objects.append((time.perf_counter(), cloud.width))

    def _on_state(self, state: SegmentationState) -> None:
        with self.lock:
            self.states.append(state)

    def call(self, client, request, timeout: float = 120.0):
        return call_service(client, request, timeout)

    def click(self, xyz: np.ndarray, positive: bool = True):
        request = AddClick.Request(polarity=1 if positive else 2, point=PointStamped(
            header=Header(frame_id=FRAME), point=Point(x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2]))))
        return self.call(self.add_click, request)

    def wait_for_cloud(self, cloud: PointCloud2, points: int) -> None:
        """Publish until the node reports the cloud as its latest."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.cloud_pub.publish(cloud)
            if f"latest cloud {points} points" in self.call(self.triggers["diagnostics"], Trigger.Request()).message:
                return
            time.sleep(0.2)
        raise RuntimeError("the node never received the cloud")

    def object_after(self, count: int, timeout: float = 60.0) -> float:
        """Arrival time of the first ~/object message after the first `count` ones."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.objects) > count:
                    return self.objects[count][0]
            time.sleep(0.0005)
        raise RuntimeError("no ~/object message")

    def state_after(self, count: int, predicate, timeout: float = 30.0) -> SegmentationState:
        """The first ~/state message after the first `count` ones that satisfies `predicate`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [s for s in self.states[count:] if predicate(s)]
            if found:
                return found[0]
            time.sleep(0.002)
        raise RuntimeError("no matching ~/state message")

    def close(self) -> None:
        self._spin.stop()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


def target_points(xyz: np.ndarray, instance: np.ndarray, count: int) -> list[np.ndarray]:
    """A point near the centre of each of the `count` largest objects."""
    ids, sizes = np.unique(instance[instance > 0], return_counts=True)
    points = []
    for k in np.argsort(-sizes)[:count]:
        members = xyz[instance == ids[k]]
        points.append(members[np.argmin(np.linalg.norm(members - members.mean(0), axis=1))])
    return points


def bench_latency(client: BenchClient, xyz: np.ndarray, instance: np.ndarray, clicks: int) -> None:
    """Click-to-published-object latency vs the segmenter's own, same run; first click (session build) apart."""
    targets = target_points(xyz, instance, 3)
    first_start = time.perf_counter()
    seen = len(client.objects)
    response = client.click(targets[0])
    first = (client.object_after(seen) - first_start) * 1e3
    print(f"[node latency] first click (freezes the cloud, builds the session): {first:.0f} ms "
          f"(segmenter {response.inference_time_ms:.1f} ms)")
    totals, models, trips = [], [], []
    for k in range(clicks):
        target = targets[k % len(targets)] if k % 2 == 0 else targets[0]
        seen = len(client.objects)
        start = time.perf_counter()
        response = client.click(target) if k % 2 == 0 else client.call(client.triggers["undo"], Trigger.Request())
        trips.append((time.perf_counter() - start) * 1e3)
        totals.append((client.object_after(seen) - start) * 1e3)
        models.append(response.inference_time_ms if k % 2 == 0 else 0.0)
        time.sleep(0.1)  # an operator's pace; the outputs of one request are published before the next
    totals, models = np.array(totals), np.array(models)
    overhead = totals - models
    print(f"  {clicks} requests (clicks and undos) on {len(xyz)} points:")
    print(f"  click -> ~/object received: median {np.median(totals):.1f} ms, p90 {np.percentile(totals, 90):.1f} ms")
    print(f"  segmenter's own time:       median {np.median(models[::2]):.1f} ms (clicks; undo needs none)")
    print(f"  node overhead (total - segmenter): median {np.median(overhead):.1f} ms, "
          f"p90 {np.percentile(overhead, 90):.1f} ms (target <= 15 ms)")
    print(f"  service round trip: median {np.median(trips):.1f} ms")


def bench_segment_repeats(client: BenchClient, cloud: PointCloud2, xyz: np.ndarray, instance: np.ndarray,
                          calls: int) -> None:  # fmt: skip
    """Round trips of `~/segment` sending the same cloud each time, with another object's click each time."""
    targets = target_points(xyz, instance, 5)
    trips, models, replies = [], [], []
    for k in range(calls):
        top = targets[k % len(targets)]
        request = SegmentObject.Request(cloud=cloud, positive_points=[Point(x=float(top[0]), y=float(top[1]),
                                                                            z=float(top[2]))])  # fmt: skip
        start = time.perf_counter()
        response = client.call(client.segment, request)
        trips.append((time.perf_counter() - start) * 1e3)
        models.append(response.inference_time_ms)
        replies.append(response.message)
    print(f"[~/segment, same {len(xyz)}-point cloud in every request, {calls} calls]")
    print(f"  first call: {trips[0]:.0f} ms round trip (segmenter {models[0]:.1f} ms): {replies[0]}")
    print(f"  later calls: median {np.median(trips[1:]):.0f} ms round trip (segmenter median "
          f"{np.median(models[1:]):.1f} ms); {sum('scan reused' in r for r in replies[1:])} of {calls - 1} "
          "reused the scan")


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_stream(client: BenchClient, cloud: PointCloud2, xyz, instance, pid: int, duration: float) -> None:
    """10 Hz stream of fresh clouds while clicking; report freeze lag (frames) and memory."""
    target = target_points(xyz, instance, 1)[0]
    published = [0]

    def publish() -> None:
        published[0] += 1
        cloud.header.stamp.sec, cloud.header.stamp.nanosec = published[0], 0
        client.cloud_pub.publish(cloud)

    timer = client.node.create_timer(0.1, publish)
    memory, lags, click_ms, trips = [], [], [], []
    start = time.monotonic()
    next_freeze = start
    while time.monotonic() - start < duration:
        memory.append((time.monotonic() - start, rss_mb(pid)))
        clicked = time.perf_counter()
        if time.monotonic() >= next_freeze:  # release, click: the click must freeze the newest cloud
            client.call(client.triggers["new_scan"], Trigger.Request())
            seen, newest = len(client.states), published[0]
            response = client.click(target)
            frozen = client.state_after(seen, lambda s: s.active and len(s.clicks) == 1)
            lags.append(newest - frozen.header.stamp.sec)
            next_freeze = time.monotonic() + 10.0
        else:
            response = client.click(target, positive=True)
            client.call(client.triggers["undo"], Trigger.Request())
        click_ms.append(response.inference_time_ms)
        trips.append((time.perf_counter() - clicked) * 1e3)
        time.sleep(max(0.0, 1.0 - (time.monotonic() - start) % 1.0))
    timer.cancel()
    t, mb = np.array(memory).T
    slope = np.polyfit(t, mb, 1)[0] * 60 if len(t) > 2 else float("nan")
    print(f"[stream] {duration:.0f} s of 10 Hz {cloud.width}-point clouds ({published[0]} published), "
          f"{len(click_ms)} clicks")
    print(f"  freeze lag behind the newest published cloud: {lags} frames (a backlog would grow with time)")
    print(f"  per second: click + undo (or release + click freezing a new cloud) round trip median "
          f"{np.median(trips):.0f} ms, segmenter median {np.median(click_ms):.1f} ms")
    print(f"  node memory: start {mb[0]:.0f} MB, end {mb[-1]:.0f} MB, max {mb.max():.0f} MB, "
          f"trend {slope:+.1f} MB/min")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of the 10 Hz stream (300 = 5 min)")
    parser.add_argument("--clicks", type=int, default=30, help="requests timed for the latency figures")
    parser.add_argument("--method", choices=["auto", "model", "baseline"], default="baseline")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--segment-calls", type=int, default=10, help="~/segment calls with the same cloud")
    parser.add_argument("--segment-only", action=argparse.BooleanOptionalAction, default=False,
                        help="measure only the conversion and the repeated ~/segment calls")
    args = parser.parse_args(argv)
    xyz, intensity, instance = make_scan(args.seed)
    cloud = ouster_message(xyz, intensity)
    bench_conversion(cloud)
    with tempfile.TemporaryDirectory() as out:
        node = NodeRunner(Path(out), args.method)
        client = None
        try:
            print("node:", node.wait_for_line("segmenter:", 120).split("clickenhance: ", 2)[-1])
            client = BenchClient()
            client.wait_for_cloud(cloud, len(xyz))
            bench_segment_repeats(client, cloud, xyz, instance, args.segment_calls)
            if not args.segment_only:
                bench_latency(client, xyz, instance, args.clicks)
                bench_stream(client, cloud, xyz, instance, node.process.pid, args.duration)
        finally:
            if client is not None:
                client.close()
            node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
