"""The set-up works end to end: built interfaces, services and clouds between processes over DDS."""

from __future__ import annotations

import subprocess
import sys
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
from ros_fixtures import RosClient  # noqa: E402

pytestmark = pytest.mark.ros


@pytest.fixture
def ros_client() -> Iterator[RosClient]:
    """An rclpy node of this test process, spun in a background thread."""
    client = RosClient("transport_test")
    yield client
    client.close()


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


def test_segment_service_call_between_two_processes(ros_client) -> None:
    from clickenhance_ros.srv import SegmentObject

    peer = start_peer("segment_echo_server.py")
    try:
        xyz = np.array([[0, 0, 0], [0.5, 0, 0], [3, 0, 0], [0, 0.2, 0.1]], dtype=np.float32)
        request = SegmentObject.Request()
        request.cloud.height, request.cloud.width = 1, len(xyz)
        request.cloud.point_step, request.cloud.row_step = 12, 12 * len(xyz)
        request.cloud.fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
                                for i, n in enumerate("xyz")]
        request.cloud.data = xyz.tobytes()
        request.positive_points = [Point(x=0.0, y=0.0, z=0.0)]
        request.negative_points = [Point(x=3.0, y=0.0, z=0.0)]
        response = ros_client.call(SegmentObject, "segment", request, timeout=60.0)
    finally:
        output = stop_peer(peer)
    assert response.success, output
    assert list(response.indices) == [0, 1, 3]
    assert response.message == "4 points, 1 negative clicks"
    assert response.inference_time_ms == pytest.approx(1.5)


def test_pointcloud2_arrives_intact_in_another_process(ros_client) -> None:
    count = 50_000
    inbox = ros_client.subscribe(PointCloud2, "points", qos_profile_sensor_data)
    peer = start_peer("cloud_publisher.py", "7", str(count))
    try:
        got = inbox.wait_for(timeout=60.0)
    finally:
        stop_peer(peer)
    expected = reference_cloud(7, count)
    assert got.header.frame_id == "os_sensor"
    assert (got.height, got.width, got.point_step, got.row_step) == (1, count, 32, 32 * count)
    assert [(f.name, f.offset, f.datatype, f.count) for f in got.fields] == [
        (f.name, f.offset, f.datatype, f.count) for f in expected.fields]
    assert bytes(got.data) == bytes(expected.data)
