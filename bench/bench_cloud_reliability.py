"""How many multi-MB clouds reach the node, per `cloud_reliability`; it prints figures and is not a test.

Two nodes (namespaces /reliable and /best_effort) subscribe to the same stream: a reliable
publisher (which matches both) sends `--count` clouds of `--points` points (32 bytes each) at
`--rate` Hz; each node's ~/diagnostics then says how many arrived.

    ROS_DOMAIN_ID=<yours> tools/ros_env.sh .venv/bin/python bench/bench_cloud_reliability.py [--points 250000]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import PointCloud2, PointField
from std_srvs.srv import Trigger

MODES = ("reliable", "best_effort")


def random_cloud(points: int) -> PointCloud2:
    """`points` random points, x/y/z float32 in a 32-byte point (an Ouster-like size)."""
    raw = np.zeros((points, 8), np.float32)
    raw[:, :3] = np.random.default_rng(0).uniform(-30, 30, (points, 3))
    cloud = PointCloud2(height=1, width=points, point_step=32, row_step=32 * points, is_dense=True)
    cloud.header.frame_id = "lidar"
    cloud.fields = [PointField(name=n, offset=4 * k, datatype=PointField.FLOAT32, count=1) for k, n in enumerate("xyz")]
    cloud.data = raw.tobytes()
    return cloud


def start_node(mode: str, folder: str) -> subprocess.Popen:
    """The node in namespace /<mode>, subscribing to the shared /cloud topic."""
    command = [sys.executable, "-m", "clickenhance_ros.segment_node", "--ros-args", "-r", f"__ns:=/{mode}",
               "-r", f"/{mode}/cloud:=/cloud", "-p", "method:=baseline", "-p", f"cloud_reliability:={mode}",
               "-p", f"output_directory:={folder}"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())


def arrived(node: Node, mode: str) -> int:
    """Clouds the node of namespace /<mode> reports as arrived (0 before the first)."""
    client = node.create_client(Trigger, f"/{mode}/clickenhance/diagnostics")
    if not client.wait_for_service(timeout_sec=60):
        raise RuntimeError(f"/{mode} node did not come up")
    future = client.call_async(Trigger.Request())
    rclpy.spin_until_future_complete(node, future, timeout_sec=30)
    match = re.search(r"(\d+) arrived", future.result().message)
    return int(match.group(1)) if match else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=250_000, help="points per cloud (32 bytes each)")
    parser.add_argument("--count", type=int, default=20, help="clouds to publish")
    parser.add_argument("--rate", type=float, default=2.0, help="publishing rate [Hz]")
    args = parser.parse_args()
    rclpy.init()
    node = Node("bench_cloud_reliability")
    publisher = node.create_publisher(PointCloud2, "/cloud", 1)  # reliable: matches both subscribers
    with tempfile.TemporaryDirectory() as folder:
        processes = [start_node(mode, folder) for mode in MODES]
        try:
            before = {mode: arrived(node, mode) for mode in MODES}
            deadline = time.monotonic() + 30
            while publisher.get_subscription_count() < len(MODES) and time.monotonic() < deadline:
                time.sleep(0.05)
            cloud = random_cloud(args.points)
            for _ in range(args.count):
                publisher.publish(cloud)
                time.sleep(1.0 / args.rate)
            time.sleep(2.0)  # let the last one land
            size = len(cloud.data) / 1e6
            for mode in MODES:
                print(f"cloud_reliability {mode:11s}: {arrived(node, mode) - before[mode]:3d} of {args.count} "
                      f"clouds of {size:.1f} MB arrived")
        finally:
            for process in processes:
                process.send_signal(signal.SIGINT)
                process.wait(15)
    node.destroy_node()
    rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
