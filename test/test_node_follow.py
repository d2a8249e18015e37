"""`~/follow` over DDS: an object clicked once is segmented in every new cloud, with that cloud's header.

The node runs in its own process; clouds go out on its input topic one at a time and the
test waits for `~/followed_object` and `~/follow_state` answers carrying each cloud's stamp.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from ros_fixtures import LATCHED, NodeProcess, RosClient, iou, node_parameters, ouster_cloud, ouster_t

rclpy = pytest.importorskip("rclpy")
from geometry_msgs.msg import Point, PointStamped  # noqa: E402
from sensor_msgs.msg import PointCloud2  # noqa: E402
from std_srvs.srv import SetBool, Trigger  # noqa: E402

from clickenhance_ros.msg import FollowState  # noqa: E402
from clickenhance_ros.srv import AddClick  # noqa: E402

FIRST_STAMP = 100.0  # seconds; frame k is stamped FIRST_STAMP + k * period


class Follow:
    """A client of one node under `namespace`: publishes frames, clicks, follows, collects answers."""

    def __init__(self, namespace: str, name: str):
        self.base = f"{namespace}/clickenhance"
        self.ros = RosClient(name)
        self.ros.client(Trigger, f"{self.base}/reset", timeout=120.0)  # served once the segmenter is loaded
        self.objects = self.ros.subscribe(PointCloud2, f"{self.base}/followed_object", LATCHED)
        self.states = self.ros.subscribe(FollowState, f"{self.base}/follow_state", LATCHED)
        self.publisher = self.ros.node.create_publisher(PointCloud2, f"{namespace}/cloud", 1)
        self.ros.wait_for_subscriber(self.publisher, timeout=60.0)

    def show_first_frame(self, cloud: PointCloud2) -> None:
        """Publish `cloud` until the node reports it as its latest cloud, then stop."""
        timer = self.ros.keep_publishing(self.publisher, cloud, period=0.5)
        deadline = time.monotonic() + 60.0
        try:
            while time.monotonic() < deadline:
                if f"latest cloud {cloud.width} points" in self.ros.call(Trigger, f"{self.base}/diagnostics").message:
                    return
                time.sleep(0.1)
            pytest.fail("the node did not report the first frame within 60 s")
        finally:
            timer.cancel()

    def click(self, xyz: np.ndarray) -> AddClick.Response:
        request = AddClick.Request(polarity=AddClick.Request.POLARITY_POSITIVE)
        request.point = PointStamped(point=Point(x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2])))
        return self.ros.call(AddClick, f"{self.base}/add_click", request)

    def follow(self, on: bool) -> SetBool.Response:
        return self.ros.call(SetBool, f"{self.base}/follow", SetBool.Request(data=on))

    def answer(self, cloud: PointCloud2, timeout: float = 60.0) -> tuple[PointCloud2, FollowState, float]:
        """Publish one frame; the followed object and state carrying its stamp, and seconds to the answer."""
        def same_stamp(message) -> bool:
            return message.header.stamp == cloud.header.stamp

        seen, start = len(self.objects.messages), time.monotonic()
        self.publisher.publish(cloud)
        found = self.objects.wait_for(same_stamp, timeout=timeout, after=seen)
        latency = time.monotonic() - start
        return found, self.states.wait_for(same_stamp, timeout=timeout), latency

    def close(self) -> None:
        self.ros.close()


def stamped(xyz: np.ndarray, intensity: np.ndarray, seconds: float) -> PointCloud2:
    """An Ouster-like cloud stamped `seconds` (frame 'lidar')."""
    cloud = ouster_cloud(xyz, intensity, stamp_sec=int(seconds))
    cloud.header.stamp.nanosec = int(round((seconds - int(seconds)) * 1e9))
    return cloud


def run_node(tmp_path: Path, namespace: str, **parameters) -> NodeProcess:
    return NodeProcess(tmp_path / f"{namespace.strip('/')}.log",
                       node_parameters(tmp_path, state_publish_rate=0.0, **parameters),
                       ros_args=("-r", f"__ns:={namespace}"))


def follow_frames(client: Follow, frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]], period: float
                  ) -> tuple[list[float], list[float], list[FollowState]]:
    """Click the object of frame 0 once, `~/follow` true, then each later frame: IoU, latency, state."""
    from clickenhance_model.evaluation.simulated_user import next_click

    xyz, intensity, truth = frames[0]
    client.show_first_frame(stamped(xyz, intensity, FIRST_STAMP))
    chosen = next_click(xyz, np.zeros(len(xyz), dtype=bool), truth)
    assert client.click(xyz[chosen.index]).success
    response = client.follow(True)
    assert response.success and "following the current object" in response.message, response.message
    ious, latencies, states = [], [], []
    for k, (xyz, intensity, truth) in enumerate(frames[1:], start=1):
        cloud = stamped(xyz, intensity, FIRST_STAMP + k * period)
        found, state, latency = client.answer(cloud)
        assert found.header.frame_id == cloud.header.frame_id == state.header.frame_id
        prediction = np.zeros(len(xyz), dtype=bool)
        prediction[ouster_t(found)] = True
        ious.append(iou(prediction, truth))
        latencies.append(latency)
        states.append(state)
        assert state.following and not state.lost, state.reason
        assert state.point_count == found.width > 0
        centroid = xyz[prediction].mean(axis=0)
        assert np.allclose([state.centroid.x, state.centroid.y, state.centroid.z], centroid, atol=1e-3)
    return ious, latencies, states


# ------------------------------------------------------------------ generated frames (always run)
@pytest.fixture(scope="module")
def drive() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """5 frames (32-beam LiDAR, about 27k points) of a drive at 3 m/s; truth: the largest nearby car."""
    from clickenhance_model.scenes.lidar import LidarConfig
    from clickenhance_model.scenes.sequence import SequenceConfig, generate_sequence, largest_car

    scans = [scan for _, scan in generate_sequence(0, SequenceConfig(frames=5, lidar=LidarConfig(
        beams=32, azimuth_steps=1024)))]
    car = largest_car(scans[0])
    return [(s.xyz, s.remission, s.instance == car) for s in scans]


@pytest.fixture(scope="module")
def baseline_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Follow]:
    tmp_path = tmp_path_factory.mktemp("follow")
    node = run_node(tmp_path, "/follow_gen")
    client = Follow("/follow_gen", "follow_client")
    try:
        yield client
    finally:
        client.close()
        alive, code = node.alive(), node.stop()
    assert alive and code == 0, f"the node exited with {code}:\n{node.log()}"


@pytest.mark.ros
def test_follow_is_refused_without_an_object(baseline_client: Follow) -> None:
    response = baseline_client.follow(True)
    assert not response.success and "no object to follow" in response.message


@pytest.mark.ros
def test_a_car_clicked_once_is_followed_through_generated_frames(baseline_client: Follow, drive) -> None:
    """Measured (seed 0): IoU 0.96, 0.88, 0.88, 0.86 over frames 1-4 with the baseline."""
    ious, latencies, states = follow_frames(baseline_client, drive, period=0.1)
    print(f"generated frames 1-4: IoU {np.round(ious, 3)}, publish-to-answer {np.round(latencies, 2)} s")
    assert np.mean(ious) >= 0.85 and min(ious) >= 0.7, ious
    assert [s.clouds_followed for s in states] == [1, 2, 3, 4]
    assert all(s.confidence >= 0.5 and s.clouds_lost == 0 for s in states)
    diagnostics = baseline_client.ros.call(Trigger, f"{baseline_client.base}/diagnostics").message
    assert "4 clouds processed, 0 lost, 0 skipped" in diagnostics and "Hz achieved" in diagnostics, diagnostics


@pytest.mark.ros
def test_a_lost_object_is_reported_and_never_replaced(baseline_client: Follow, drive) -> None:
    """The car's points removed from a frame: an empty answer with that stamp and a lost state; then found again."""
    xyz, intensity, truth = drive[-1]
    found, state, _ = baseline_client.answer(stamped(xyz[~truth], intensity[~truth], FIRST_STAMP + 0.5))
    assert found.width == 0 and state.lost and state.following and state.reason, state
    found, state, _ = baseline_client.answer(stamped(xyz, intensity, FIRST_STAMP + 0.6))
    assert not state.lost and found.width > 0, state.reason
    prediction = np.zeros(len(xyz), dtype=bool)
    prediction[ouster_t(found)] = True
    assert iou(prediction, truth) >= 0.8


@pytest.mark.ros
def test_a_cloud_without_finite_points_is_answered_as_lost(baseline_client: Follow) -> None:
    """Bad input while following: an empty answer with its stamp and a reason; the node keeps following."""
    nan = np.full((500, 3), np.nan, dtype=np.float32)
    found, state, _ = baseline_client.answer(stamped(nan, np.zeros(500, np.float32), FIRST_STAMP + 0.7))
    assert found.width == 0 and state.lost and state.following and "no point" in state.reason, state


@pytest.mark.ros
def test_a_fast_sensor_is_followed_on_its_newest_cloud_and_clicks_are_not_blocked(baseline_client: Follow,
                                                                                   drive) -> None:
    """Clouds at 20 Hz, faster than the follow rate: stale ones are skipped, the newest answered at once
    (a backlog of the 60 clouds would take many seconds), and a click meanwhile is served between two follows."""
    client, published = baseline_client, []
    seen = len(client.states.messages)
    clicked: dict[str, float] = {}

    def click() -> None:
        started = time.monotonic()
        xyz, _, truth = drive[0]
        clicked["ok"] = client.click(xyz[np.flatnonzero(truth)[0]]).success
        clicked["seconds"] = time.monotonic() - started

    thread = None
    for k in range(60):
        xyz, intensity, _ = drive[1 + k % 4]
        published.append(stamped(xyz, intensity, 200.0 + 0.05 * k))
        client.publisher.publish(published[-1])
        if k == 20:
            thread = threading.Thread(target=click)
            thread.start()
        time.sleep(0.05)
    ended = time.monotonic()
    last = client.states.wait_for(lambda s: s.header.stamp == published[-1].header.stamp, timeout=30.0, after=seen)
    assert time.monotonic() - ended <= 5.0, "the newest cloud waited behind a backlog"
    thread.join(30.0)
    assert clicked.get("ok") and clicked["seconds"] <= 5.0, clicked
    assert last.clouds_skipped > 0 and last.rate_hz > 0.0, last
    answered = [s for s in client.states.messages[seen:] if s.header.stamp.sec >= 200]
    assert len(answered) < len(published), "every cloud was processed: none was skipped"
    stamps = [stamp.header.stamp.sec + stamp.header.stamp.nanosec * 1e-9 for stamp in answered]
    assert stamps == sorted(stamps), "an older cloud was answered after a newer one"


@pytest.mark.ros
def test_follow_false_stops(baseline_client: Follow, drive) -> None:
    response = baseline_client.follow(False)
    assert response.success and response.message == "stopped following"
    baseline_client.states.wait_for(lambda s: not s.following)
    assert "not following" in baseline_client.ros.call(Trigger, f"{baseline_client.base}/diagnostics").message


# ------------------------------------------------------------------ real scans (where present)
@pytest.mark.slow  # the shipped model in the node: about 40 s
def test_the_shipped_model_follows_real_cars_into_the_next_scans(tmp_path: Path, real_scans_dir: Path) -> None:
    """Real SemanticKITTI frames 0-2 (0.1 s apart): the largest car, clicked once in frame 0."""
    from clickenhance_model.datasets.semantic_kitti import read_labels, read_scan

    frames, car = [], None
    for k in range(3):
        path = real_scans_dir / "seq00_frames" / f"00000{k}.bin"
        points = read_scan(path)
        labels = read_labels(path.with_suffix(".label"), len(points))
        if car is None:
            cars = labels[np.isin(labels & 0xFFFF, (10, 252)) & (labels >> 16 > 0)]
            ids, counts = np.unique(cars, return_counts=True)
            car = ids[np.argmax(counts)]
        frames.append((points[:, :3].astype(np.float32), points[:, 3].astype(np.float32), labels == car))
    node = run_node(tmp_path, "/follow_real", method="model")  # the shipped weights, whatever auto picks
    client = Follow("/follow_real", "follow_real_client")
    try:
        ious, latencies, _ = follow_frames(client, frames, period=0.1)
    finally:
        client.close()
        alive, code = node.alive(), node.stop()
    assert alive and code == 0, f"the node exited with {code}:\n{node.log()}"
    print(f"real frames 1-2: IoU {np.round(ious, 3)}, publish-to-answer {np.round(latencies, 2)} s")
    assert np.mean(ious) >= 0.85 and min(ious) >= 0.7, ious  # the time is printed, not asserted: bench_follow.py
