"""Bad input to the running node: each gets a clear error (response or log) and the node keeps serving."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from ros_fixtures import (
    FRAME,
    NodeProcess,
    RosClient,
    box_scene,
    node_parameters,
    ouster_cloud,
    scene_cloud,
    wait_until,
)

rclpy = pytest.importorskip("rclpy")
from geometry_msgs.msg import Point, PointStamped  # noqa: E402
from sensor_msgs.msg import PointCloud2, PointField  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from clickenhance_ros.srv import AcceptObject, AddClick, SaveAnnotation, SegmentObject  # noqa: E402

pytestmark = pytest.mark.ros
SCENE = box_scene(seed=1)
TOP = SCENE.tops[0]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    folder = tmp_path_factory.mktemp("bad_input")
    process = NodeProcess(folder / "node.log", node_parameters(folder))
    yield process
    assert process.stop() == 0, process.log()


@pytest.fixture(scope="module")
def client(node: NodeProcess) -> Iterator[RosClient]:
    ros = RosClient("bad_input_client")
    ros.cloud_pub = ros.node.create_publisher(PointCloud2, "/cloud", 1)
    yield ros
    ros.close()


def segment(ros: RosClient, cloud: PointCloud2 | None = None, positive=(TOP,), negative=()) -> SegmentObject.Response:
    request = SegmentObject.Request(positive_points=[Point(x=p[0], y=p[1], z=p[2]) for p in positive],
                                    negative_points=[Point(x=p[0], y=p[1], z=p[2]) for p in negative])
    if cloud is not None:
        request.cloud = cloud
    return ros.call(SegmentObject, "/clickenhance/segment", request)


def add_click(ros: RosClient, xyz, frame: str = FRAME, polarity: int = 1) -> AddClick.Response:
    request = AddClick.Request(polarity=polarity, point=PointStamped(point=Point(x=xyz[0], y=xyz[1], z=xyz[2])))
    request.point.header.frame_id = frame
    return ros.call(AddClick, "/clickenhance/add_click", request)


def small_cloud(**changes) -> PointCloud2:
    """The scene's cloud with some message fields overwritten."""
    cloud = scene_cloud(SCENE)
    for name, value in changes.items():
        setattr(cloud, name, value)
    return cloud


# ---------------------------------------------------------------- before any cloud
def test_segment_and_click_before_any_cloud(client: RosClient) -> None:
    response = segment(client)
    assert not response.success and "no usable cloud received yet on '/cloud'" in response.message
    assert len(response.indices) == 0
    clicked = add_click(client, TOP)
    assert not clicked.success and "no usable cloud" in clicked.message


def test_requests_without_an_object(client: RosClient) -> None:
    assert "nothing to undo" in client.call(Trigger, "/clickenhance/undo").message
    accepted = client.call(AcceptObject, "/clickenhance/accept")
    assert not accepted.success and "no object to accept" in accepted.message
    saved = client.call(SaveAnnotation, "/clickenhance/save")
    assert not saved.success and "nothing to save" in saved.message
    wrong = add_click(client, TOP, polarity=7)
    assert not wrong.success and "polarity must be 0, 1 or 2" in wrong.message
    assert "at least one positive point" in segment(client, positive=()).message


def test_empty_cloud_on_the_topic_is_logged_and_reported(client: RosClient, node: NodeProcess) -> None:
    client.wait_for_subscriber(client.cloud_pub)
    empty = ouster_cloud(np.zeros((0, 3), np.float32), np.zeros(0, np.float32))
    timer = client.keep_publishing(client.cloud_pub, empty, period=0.2)
    try:
        wait_until(lambda: "rejected cloud on 'cloud': the cloud is empty" in node.log(), 20, "the rejection log")
    finally:
        timer.cancel()
    response = segment(client)
    assert not response.success and "last cloud rejected: the cloud is empty (0 points)" in response.message


# ------------------------------------------------------------ malformed request clouds
def _nan_cloud() -> PointCloud2:
    return ouster_cloud(np.full((50, 3), np.nan, np.float32), np.zeros(50, np.float32))


def _without_z() -> PointCloud2:
    cloud = small_cloud()
    cloud.fields = [f for f in cloud.fields if f.name != "z"]
    return cloud


def _xyz_type(datatype: int) -> PointCloud2:
    cloud = small_cloud()
    cloud.fields = [PointField(name=f.name, offset=f.offset, datatype=datatype if f.name == "x" else f.datatype,
                               count=1) for f in cloud.fields]
    return cloud


def _truncated() -> PointCloud2:
    cloud = small_cloud()
    cloud.data = cloud.data[:-7]
    return cloud


@pytest.mark.parametrize(("make", "expected"), [
    (_nan_cloud, "no finite point"),
    (_without_z, "no 'z' field (fields: x, y, intensity, ring, t)"),
    (lambda: _xyz_type(PointField.INT16), "field 'x' must be one FLOAT32 or FLOAT64 value, got INT16"),
    (lambda: _xyz_type(13), "field 'x' has unknown datatype 13"),
    (_truncated, "data is truncated"),
    (lambda: small_cloud(point_step=24), "field 't' (offset 24, 4 bytes) ends beyond point_step 24"),
    (lambda: small_cloud(point_step=40), "row_step"),
    (lambda: small_cloud(point_step=40, row_step=40 * len(SCENE.xyz)), "data is truncated"),
    (lambda: small_cloud(point_step=0), "point_step is 0"),
], ids=["all_nan", "no_z", "int16_x", "unknown_datatype", "truncated", "point_step_too_small",
        "point_step_beyond_row", "point_step_and_row_step", "point_step_zero"])
def test_malformed_request_cloud(client: RosClient, make, expected: str) -> None:
    response = segment(client, make())
    assert not response.success
    assert expected in response.message


def test_big_endian_cloud_segments_like_little_endian(client: RosClient) -> None:
    little = segment(client, scene_cloud(SCENE))
    big = segment(client, scene_cloud(SCENE, big_endian=True))
    assert little.success and big.success, (little.message, big.message)
    np.testing.assert_array_equal(np.asarray(big.indices), np.asarray(little.indices))
    assert big.object_cloud.is_bigendian and bytes(big.object_cloud.data[:4]) != bytes(little.object_cloud.data[:4])


# ------------------------------------------------------------------- bad clicks
def test_click_far_from_every_point(client: RosClient) -> None:
    far = (TOP[0] + 50.0, TOP[1], TOP[2])
    response = segment(client, scene_cloud(SCENE), positive=(far,))
    assert not response.success and "m from the nearest point (snap distance 0.50 m)" in response.message
    _publish_scene(client)
    clicked = add_click(client, far)
    assert not clicked.success and "from the nearest point" in clicked.message


def test_click_in_an_unknown_frame(client: RosClient) -> None:
    _publish_scene(client)
    response = add_click(client, TOP, frame="map")
    assert not response.success
    assert "frame 'map'" in response.message and f"'{FRAME}'" in response.message


def test_malformed_cloud_on_the_topic_keeps_the_previous_one(client: RosClient, node: NodeProcess) -> None:
    _publish_scene(client)
    bad = small_cloud(point_step=24)
    client.cloud_pub.publish(bad)
    wait_until(lambda: "ends beyond point_step 24" in node.log(), 20, "the rejection log of a malformed cloud")
    response = segment(client)
    assert response.success, response.message


# -------------------------------------------------------------------- concurrency
def test_twenty_concurrent_service_calls(client: RosClient) -> None:
    _publish_scene(client)
    client.call(Trigger, "/clickenhance/new_scan")
    requests = []
    for k in range(20):
        top = SCENE.tops[k % 3]
        if k % 2:
            request = SegmentObject.Request(positive_points=[Point(x=top[0], y=top[1], z=top[2])])
            requests.append(("segment", client.call_async(SegmentObject, "/clickenhance/segment", request)))
        else:
            request = AddClick.Request(polarity=1, point=PointStamped(point=Point(x=TOP[0], y=TOP[1], z=TOP[2])))
            requests.append(("click", client.call_async(AddClick, "/clickenhance/add_click", request)))
    responses = [(kind, client.result(future, 120)) for kind, future in requests]
    assert all(response.success for _, response in responses), [r.message for _, r in responses]
    counts = {r.object_point_count for kind, r in responses if kind == "click"}
    assert len(counts) == 1  # the same clicked point each time: the same object


# ------------------------------------------------------------------- still alive
def test_node_is_still_alive_and_serving(client: RosClient, node: NodeProcess) -> None:
    assert node.alive(), node.log()
    diagnostics = client.call_read_only(Trigger, "/clickenhance/diagnostics")
    assert diagnostics.success and "BASELINE" in diagnostics.message and "inference" in diagnostics.message
    assert segment(client, scene_cloud(SCENE)).success
    assert "Traceback" not in node.log()


def test_sigusr1_writes_every_thread_stack_and_the_node_serves_on(client: RosClient, node: NodeProcess) -> None:
    """What the test fixture sends a node that does not stop in time: its stacks go to the log, it keeps running."""
    node.process.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 10.0
    while "Current thread" not in node.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "Current thread" in node.log() and "segment_node.py" in node.log()
    assert node.alive() and segment(client, scene_cloud(SCENE)).success


# ---------------------------------------------------------------- start-up failures
@pytest.mark.slow  # imports torch in a fresh process
@pytest.mark.parametrize("content", [b"\x80\x02 not a checkpoint" * 10, None], ids=["garbage", "missing"])
def test_bad_checkpoint_at_startup_exits_with_one_line(tmp_path: Path, content: bytes | None) -> None:
    checkpoint = tmp_path / "model.pt"
    if content is not None:
        checkpoint.write_bytes(content)
    command = [sys.executable, "-m", "clickenhance_ros.segment_node", "--ros-args",
               "-p", "method:=model", "-p", f"checkpoint:={checkpoint}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("clickenhance: cannot start:") and str(checkpoint) in lines[0]


def test_unknown_method_exits_with_one_line() -> None:
    command = [sys.executable, "-m", "clickenhance_ros.segment_node", "--ros-args", "-p", "method:=magic"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.strip() == ("clickenhance: cannot start: parameter 'method' must be one of auto, model, "
                                     "baseline, got 'magic'")


def _publish_scene(client: RosClient) -> None:
    """Make the scene the node's latest cloud (published until ~/segment sees it)."""
    client.wait_for_subscriber(client.cloud_pub)
    cloud = scene_cloud(SCENE)
    timer = client.keep_publishing(client.cloud_pub, cloud, period=0.2)
    try:
        wait_until(lambda: segment(client).success, 30, "the node to use the scene as its latest cloud")
    finally:
        timer.cancel()
