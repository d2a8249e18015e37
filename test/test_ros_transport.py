"""The set-up works end to end: built interfaces, services and clouds between processes over DDS."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from geometry_msgs.msg import Point  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import PointCloud2, PointField  # noqa: E402

PEERS = Path(__file__).parent / "ros_peers"
sys.path.insert(0, str(PEERS))
from reference_cloud import reference_cloud  # noqa: E402

pytestmark = pytest.mark.ros


@pytest.fixture
def ros_node() -> Iterator[rclpy.node.Node]:
    """An rclpy node in its own context, with an executor attached as `node.test_executor`."""
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("transport_test", context=context)
    node.test_executor = rclpy.executors.SingleThreadedExecutor(context=context)
    node.test_executor.add_node(node)
    yield node
    node.test_executor.shutdown()
    node.destroy_node()
    rclpy.shutdown(context=context)


def start_peer(script: str, *args: str) -> subprocess.Popen:
    """Start a peer script of test/ros_peers as its own Python process."""
    return subprocess.Popen([sys.executable, str(PEERS / script), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop_peer(process: subprocess.Popen) -> str:
    """Stop a peer process and return what it printed (for failure messages)."""
    process.terminate()
    try:
        output, _ = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output or ""


def test_generated_interfaces_come_from_the_built_package() -> None:
    import clickenhance_ros
    from clickenhance_ros.msg import Click, SegmentationState
    from clickenhance_ros.srv import AcceptObject, AddClick, SaveAnnotation, SegmentObject

    source_tree = Path(__file__).resolve().parents[1] / "clickenhance_ros"
    assert Path(clickenhance_ros.__file__).resolve().parent != source_tree
    request_fields = SegmentObject.Request.get_fields_and_field_types()
    assert request_fields == {
        "cloud": "sensor_msgs/PointCloud2",
        "positive_points": "sequence<geometry_msgs/Point>",
        "negative_points": "sequence<geometry_msgs/Point>",
    }
    response_fields = SegmentObject.Response.get_fields_and_field_types()
    assert response_fields == {
        "success": "boolean", "message": "string", "indices": "sequence<uint32>",
        "object_cloud": "sensor_msgs/PointCloud2", "inference_time_ms": "float",
    }
    assert AddClick.Request.POLARITY_NEGATIVE == 2
    assert "clicks" in SegmentationState.get_fields_and_field_types()
    assert Click().positive is False
    assert "object_id" in AcceptObject.Response.get_fields_and_field_types()
    assert "directory" in SaveAnnotation.Response.get_fields_and_field_types()


def test_segment_service_call_between_two_processes(ros_node) -> None:
    from clickenhance_ros.srv import SegmentObject

    peer = start_peer("segment_echo_server.py")
    try:
        client = ros_node.create_client(SegmentObject, "segment")
        assert client.wait_for_service(timeout_sec=20.0), stop_peer(peer)
        xyz = np.array([[0, 0, 0], [0.5, 0, 0], [3, 0, 0], [0, 0.2, 0.1]], dtype=np.float32)
        request = SegmentObject.Request()
        request.cloud.height, request.cloud.width = 1, len(xyz)
        request.cloud.point_step, request.cloud.row_step = 12, 12 * len(xyz)
        request.cloud.fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
                                for i, n in enumerate("xyz")]
        request.cloud.data = xyz.tobytes()
        request.positive_points = [Point(x=0.0, y=0.0, z=0.0)]
        request.negative_points = [Point(x=3.0, y=0.0, z=0.0)]
        future = client.call_async(request)
        ros_node.test_executor.spin_until_future_complete(future, timeout_sec=20.0)
        response = future.result()
        assert response is not None, "no response within 20 s"
        assert response.success
        assert list(response.indices) == [0, 1, 3]
        assert response.message == "4 points, 1 negative clicks"
        assert response.inference_time_ms == pytest.approx(1.5)
    finally:
        stop_peer(peer)


def test_pointcloud2_arrives_intact_in_another_process(ros_node) -> None:
    count = 50_000
    peer = start_peer("cloud_publisher.py", "7", str(count))
    received: list[PointCloud2] = []
    ros_node.create_subscription(PointCloud2, "points", received.append, qos_profile_sensor_data)
    try:
        deadline = time.monotonic() + 30.0
        while not received and time.monotonic() < deadline:
            ros_node.test_executor.spin_once(timeout_sec=0.1)
        assert received, "no cloud within 30 s: " + stop_peer(peer)
    finally:
        stop_peer(peer)
    expected = reference_cloud(7, count)
    got = received[0]
    assert got.header.frame_id == "os_sensor"
    assert (got.height, got.width, got.point_step, got.row_step) == (1, count, 32, 32 * count)
    assert [(f.name, f.offset, f.datatype, f.count) for f in got.fields] == [
        (f.name, f.offset, f.datatype, f.count) for f in expected.fields]
    assert bytes(got.data) == bytes(expected.data)
