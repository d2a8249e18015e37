"""`make follow-demo`: the node follows one car, clicked once, through a generated drive, over DDS.

    python -m clickenhance_ros.follow_demo --frames 20 --speed 3

1. generates a street scene and scans it from an ego car driving along it (ray-cast LiDAR,
   clickenhance_model.scenes.sequence), frames `--period` s apart;
2. starts the `clickenhance` node as its own process and shows it frame 0 on /cloud;
3. clicks the largest nearby car once (~/add_click, the simulated user's first click) and
   calls ~/follow true;
4. publishes the other frames one at a time (or at `--rate` Hz, like a sensor, where the
   node skips stale clouds), pairs each ~/followed_object answer with its frame by stamp and
   prints the IoU per frame, lost frames and latency;
5. exits 1 when the mean IoU of the followed frames is below --min-iou (or a step fails).
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

import numpy as np
import rclpy
from rclpy.executors import MultiThreadedExecutor
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header
from std_srvs.srv import SetBool, Trigger

from clickenhance_model.evaluation.simulated_user import next_click
from clickenhance_ros.cloud_conversion import points_xyz, read_points
from clickenhance_ros.demo import LATCHED, DemoScan, NodeRunner, call_service, click_request, scan_message
from clickenhance_ros.executor_shutdown import BackgroundSpin
from clickenhance_ros.msg import FollowState
from clickenhance_ros.srv import AddClick

START_STAMP = 1_000.0  # seconds; frame k is stamped START_STAMP + k * period


class FollowClient:
    """The demo's ROS side: publishes frames, calls the node's services, collects the follow answers by stamp."""

    def __init__(self) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("clickenhance_follow_demo", context=self.context)
        self.executor = MultiThreadedExecutor(num_threads=3, context=self.context)
        self.executor.add_node(self.node)
        self.answers: dict[float, tuple[PointCloud2, float]] = {}
        self.states: dict[float, FollowState] = {}
        self._arrived = threading.Condition()
        self.node.create_subscription(PointCloud2, "/clickenhance/followed_object", self._on_object, LATCHED)
        self.node.create_subscription(FollowState, "/clickenhance/follow_state", self._on_state, LATCHED)
        self.publisher = self.node.create_publisher(PointCloud2, "/cloud", 1)
        self.clients = {name: self.node.create_client(kind, f"/clickenhance/{name}")
                        for name, kind in (("add_click", AddClick), ("follow", SetBool), ("diagnostics", Trigger))}
        self._spin = BackgroundSpin(self.executor)

    def _on_object(self, cloud: PointCloud2) -> None:
        with self._arrived:
            self.answers[stamp_of(cloud.header)] = (cloud, time.monotonic())
            self._arrived.notify_all()

    def _on_state(self, state: FollowState) -> None:
        with self._arrived:
            self.states[stamp_of(state.header)] = state
            self._arrived.notify_all()

    def call(self, name: str, request: object) -> object:
        return call_service(self.clients[name], request)

    def show(self, cloud: PointCloud2, timeout: float = 60.0) -> None:
        """Publish `cloud` until the node reports it as its latest cloud."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.publisher.publish(cloud)
            if f"latest cloud {cloud.width} points" in self.call("diagnostics", Trigger.Request()).message:
                return
            time.sleep(0.3)
        raise RuntimeError(f"the node did not receive frame 0 on /cloud within {timeout} s")

    def wait_for(self, stamp: float, timeout: float) -> bool:
        """Wait until both the followed object and the state of `stamp` arrived; False at the deadline."""
        with self._arrived:
            return self._arrived.wait_for(lambda: stamp in self.answers and stamp in self.states, timeout)

    def close(self) -> None:
        """Stop spinning (every callback finished) and release the context."""
        self._spin.stop()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


def stamp_of(header: Header) -> float:
    """A header's stamp in seconds, rounded to the microsecond (stamps are compared as keys)."""
    return round(header.stamp.sec + header.stamp.nanosec * 1e-9, 6)


def frame_message(scan: DemoScan, stamp: float) -> PointCloud2:
    """The frame as a KITTI-style PointCloud2 stamped `stamp` seconds."""
    cloud = scan_message(scan)
    cloud.header.stamp.sec, cloud.header.stamp.nanosec = int(stamp), int(round((stamp - int(stamp)) * 1e9))
    return cloud


def generated_frames(args: argparse.Namespace) -> list[DemoScan]:
    """The drive's frames as DemoScans (about 2 s per 64-beam frame to generate)."""
    from clickenhance_model.scenes.lidar import LidarConfig
    from clickenhance_model.scenes.sequence import SequenceConfig, generate_sequence

    config = SequenceConfig(frames=args.frames, period=args.period, speed=args.speed,
                            lidar=LidarConfig(beams=args.beams))
    return [DemoScan(s.xyz, s.remission, s.semantic.astype(np.int64), s.instance.astype(np.int64),
                     f"drive seed {args.seed} frame {k}")
            for k, (_, s) in enumerate(generate_sequence(args.seed, config))]


def run(client: FollowClient, frames: list[DemoScan], args: argparse.Namespace) -> list[float | None]:
    """Click the car in frame 0, follow it, publish the rest; IoU per later frame (None: no answer)."""
    from clickenhance_model.scenes.sequence import largest_car

    first = frames[0]
    client.show(frame_message(first, START_STAMP))
    car = largest_car(first)  # a DemoScan has the xyz, semantic and instance it reads
    truth = first.instance == car
    click = next_click(first.xyz, np.zeros(len(first.xyz), dtype=bool), truth)
    response = client.call("add_click", click_request(first.xyz[click.index], True))
    if not response.success:
        raise RuntimeError(f"~/add_click failed: {response.message}")
    print(f"car {car}: {int(truth.sum())} points in frame 0, one click: {response.object_point_count} points")
    response = client.call("follow", SetBool.Request(data=True))
    if not response.success:
        raise RuntimeError(f"~/follow failed: {response.message}")
    print(f"~/follow: {response.message}")
    sent: dict[int, float] = {}
    for k, scan in enumerate(frames[1:], start=1):
        stamp = round(START_STAMP + k * args.period, 6)
        sent[k] = time.monotonic()
        client.publisher.publish(frame_message(scan, stamp))
        if args.rate <= 0:
            client.wait_for(stamp, 60.0)
        else:
            time.sleep(max(0.0, 1.0 / args.rate - (time.monotonic() - sent[k])))
    if args.rate > 0:  # the newest frame is always processed; earlier ones may have been skipped
        client.wait_for(round(START_STAMP + (len(frames) - 1) * args.period, 6), 60.0)
    return [report(client, scan, car, round(START_STAMP + k * args.period, 6), k, sent[k])
            for k, scan in enumerate(frames[1:], start=1)]


def report(client: FollowClient, scan: DemoScan, car: int, stamp: float, k: int, sent: float) -> float | None:
    """Print one frame's line; its IoU, or None when the node skipped it (rate mode) or lost the object."""
    if stamp not in client.answers or stamp not in client.states:
        print(f"frame {k:3d}: skipped (a newer cloud arrived before it was processed)")
        return None
    cloud, arrived = client.answers[stamp]
    state = client.states[stamp]
    truth = scan.instance == car
    prediction = np.zeros(len(scan.xyz), dtype=bool)
    if cloud.width:
        keys = {tuple(p) for p in points_xyz(read_points(cloud)).tolist()}  # the points come back byte for byte
        prediction = np.array([tuple(p) in keys for p in scan.xyz.tolist()])
    iou = float((prediction & truth).sum() / max((prediction | truth).sum(), 1))
    latency = f", {1e3 * (arrived - sent):.0f} ms publish-to-answer"
    status = f"LOST ({state.reason})" if state.lost else f"confidence {state.confidence:.2f}"
    print(f"frame {k:3d}: IoU {iou:.3f}, {cloud.width} points ({int(truth.sum())} true), {status}{latency}")
    return None if state.lost else iou


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Follow a car clicked once through a generated drive, over DDS.")
    parser.add_argument("--out", type=Path, default=Path("out/follow_demo"), help="folder for the node's log")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated street scene")
    parser.add_argument("--frames", type=int, default=20, help="frames of the drive (the first is clicked)")
    parser.add_argument("--period", type=float, default=0.1, help="seconds between frames")
    parser.add_argument("--speed", type=float, default=3.0, help="ego speed in m/s")
    parser.add_argument("--beams", type=int, default=64, help="LiDAR rings (64: about 110k points a frame)")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="publish at this rate in Hz like a sensor (stale clouds are skipped); 0 = one "
                             "frame after another's answer")
    parser.add_argument("--min-iou", type=float, default=0.85, help="fail (exit 1) below this mean IoU")
    parser.add_argument("--method", choices=["auto", "model", "baseline"], default="model",
                        help="segmenter of the node (default: the embedded default model; auto: the node's own pick)")
    args = parser.parse_args(argv)
    if args.frames < 2 or not args.period > 0 or args.beams < 1 or args.rate < 0:
        parser.error("need --frames >= 2, --period > 0, --beams >= 1 and --rate >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the demo; 0 when every step worked and the mean IoU reached --min-iou."""
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    frames = generated_frames(args)
    print(f"drive: {len(frames)} frames, {args.speed} m/s, {np.mean([len(f.xyz) for f in frames]):.0f} points each")
    node = NodeRunner(args.out.resolve(), args.method)
    failures: list[str] = []
    try:
        print(f"node: {node.wait_for_line('segmenter:', 120).split('clickenhance: ', 2)[-1]}")
        client = FollowClient()
        try:
            ious = run(client, frames, args)
        finally:
            client.close()
        followed = [i for i in ious if i is not None]
        print(f"followed {len(followed)} of {len(ious)} frames; mean IoU "
              f"{np.mean(followed) if followed else 0.0:.3f}")
        if not followed or np.mean(followed) < args.min_iou:
            failures.append(f"mean IoU below --min-iou {args.min_iou}")
    except RuntimeError as error:
        failures.append(str(error))
    finally:
        code = node.stop()
    if code != 0:
        failures.append(f"the node exited with code {code} (see {node.log_path})")
    for line in failures:
        print(f"follow demo FAILED: {line}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
