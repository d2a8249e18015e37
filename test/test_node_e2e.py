"""End to end over real DDS: the node in its own process, a scan published, services called,
published outputs and saved files checked against the scene's ground truth."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from ros_fixtures import FRAME, NodeProcess, RosClient, box_scene, iou, node_parameters, ouster_t, scene_cloud

from clickenhance_model.annotation import Annotation

rclpy = pytest.importorskip("rclpy")
from geometry_msgs.msg import Point, PointStamped  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import PointCloud2  # noqa: E402
from std_srvs.srv import SetBool, Trigger  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

from clickenhance_ros.msg import SegmentationState  # noqa: E402
from clickenhance_ros.srv import AcceptObject, AddClick, SaveAnnotation, SegmentObject  # noqa: E402

pytestmark = pytest.mark.ros
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
MIN_IOU = 0.85
SCENE = box_scene(seed=0)


@pytest.fixture(scope="module")
def output_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def node(output_dir: Path) -> Iterator[NodeProcess]:
    process = NodeProcess(output_dir / "node.log", node_parameters(output_dir, state_publish_rate=0.0))
    yield process
    code = process.stop()
    assert code == 0, f"node exited with {code}:\n{process.log()}"


@pytest.fixture(scope="module")
def client(node: NodeProcess) -> Iterator[RosClient]:
    """A client with the scene being published on /cloud and the node's outputs subscribed."""
    ros = RosClient("e2e_client")
    publisher = ros.node.create_publisher(PointCloud2, "/cloud", 1)
    ros.wait_for_subscriber(publisher)
    ros.timer = ros.keep_publishing(publisher, scene_cloud(SCENE))
    ros.objects = ros.subscribe(PointCloud2, "/clickenhance/object", LATCHED)
    ros.segmentations = ros.subscribe(PointCloud2, "/clickenhance/segmentation", LATCHED)
    ros.states = ros.subscribe(SegmentationState, "/clickenhance/state", LATCHED)
    ros.markers = ros.subscribe(MarkerArray, "/clickenhance/click_markers", LATCHED)
    yield ros
    ros.close()
    assert node.alive(), node.log()


def click(ros: RosClient, xyz, polarity: int = AddClick.Request.POLARITY_POSITIVE) -> AddClick.Response:
    request = AddClick.Request(polarity=polarity)
    request.point = PointStamped(point=Point(x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2])))
    request.point.header.frame_id = FRAME
    return ros.call(AddClick, "/clickenhance/add_click", request)


def wait_for_segment_ready(ros: RosClient) -> None:
    """~/segment answers 'no cloud yet' until the first scan arrives; poll it with a deadline."""
    request = SegmentObject.Request(positive_points=[Point(x=5.0, y=0.0, z=1.5)])
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        response = ros.call(SegmentObject, "/clickenhance/segment", request)
        if response.success or "no usable cloud" not in response.message:
            return
        time.sleep(0.05)
    pytest.fail(f"the node did not receive the scan within 60 s: {response.message}")


def test_segment_service_returns_the_clicked_box(client: RosClient) -> None:
    wait_for_segment_ready(client)
    for box, top in enumerate(SCENE.tops, start=1):
        request = SegmentObject.Request(positive_points=[Point(x=top[0], y=top[1], z=top[2])])
        response = client.call(SegmentObject, "/clickenhance/segment", request)
        assert response.success, response.message
        mask = np.zeros(len(SCENE.xyz), dtype=bool)
        mask[np.asarray(response.indices, dtype=np.int64)] = True
        assert iou(mask, SCENE.instance == box) >= MIN_IOU
        assert response.inference_time_ms > 0
        # The object cloud carries the original layout and bytes of exactly those points.
        cloud = response.object_cloud
        assert [f.name for f in cloud.fields] == ["x", "y", "z", "intensity", "ring", "t"]
        assert cloud.point_step == 32 and cloud.width == len(response.indices) and cloud.height == 1
        np.testing.assert_array_equal(ouster_t(cloud), np.asarray(response.indices))


def test_segment_service_with_a_request_cloud_and_a_negative_click(client: RosClient) -> None:
    """A cloud in the request (big-endian here) is used instead of the latest; a negative click removes."""
    top = SCENE.tops[0]
    request = SegmentObject.Request(cloud=scene_cloud(SCENE, big_endian=True),
                                    positive_points=[Point(x=top[0], y=top[1], z=top[2])],
                                    negative_points=[Point(x=top[0] + 1.9, y=top[1], z=top[2])])
    response = client.call(SegmentObject, "/clickenhance/segment", request)
    assert response.success, response.message
    assert response.object_cloud.is_bigendian
    near_negative = np.linalg.norm(SCENE.xyz[np.asarray(response.indices)] - [top[0] + 1.9, top[1], top[2]], axis=1)
    assert near_negative.min() > 0.05  # the negatively clicked point itself is excluded
    mask = np.zeros(len(SCENE.xyz), dtype=bool)
    mask[np.asarray(response.indices, dtype=np.int64)] = True
    assert mask.sum() < (SCENE.instance == 1).sum()
    assert not (mask & (SCENE.instance != 1)).any()


def test_segment_service_reuses_the_scan_of_a_resent_cloud_and_no_earlier_click(client: RosClient) -> None:
    """The same cloud sent again is not voxelised again (the reply says so); each request's clicks stand alone."""
    top = SCENE.tops[2]
    cloud = scene_cloud(SCENE, big_endian=True)
    cloud.header.frame_id = "resent_cloud"  # a cloud no other test sends: the first call opens its session
    positive, negative = [Point(x=top[0], y=top[1], z=top[2])], [Point(x=top[0] + 1.0, y=top[1], z=top[2])]

    def segment(negative_points: list) -> SegmentObject.Response:
        request = SegmentObject.Request(cloud=cloud, positive_points=positive, negative_points=negative_points)
        response = client.call(SegmentObject, "/clickenhance/segment", request)
        assert response.success, response.message
        return response

    first = segment(negative)
    alone, again = segment([]), segment(negative)
    assert "scan reused" not in first.message and "scan reused" in alone.message and "scan reused" in again.message
    np.testing.assert_array_equal(np.asarray(again.indices), np.asarray(first.indices))
    assert set(first.indices) < set(alone.indices)  # the negative click of the first request is gone


def test_interactive_session_accepts_saves_and_reloads(client: RosClient, output_dir: Path) -> None:
    wait_for_segment_ready(client)
    client.call(Trigger, "/clickenhance/new_scan")
    # Object 1: a click on box 2, a negative click, undo it, accept as a car.
    first = click(client, SCENE.tops[1])
    assert first.success, first.message
    box2 = SCENE.instance == 2
    published = client.objects.wait_for(lambda c: c.width == first.object_point_count)
    assert iou(np.isin(np.arange(len(SCENE.xyz)), ouster_t(published)), box2) >= MIN_IOU
    negative = click(client, SCENE.tops[1] + np.array([1.9, 0.0, 0.0]), AddClick.Request.POLARITY_NEGATIVE)
    assert negative.success and negative.object_point_count < first.object_point_count
    markers = client.markers.wait_for(lambda m: len(m.markers) == 5)
    spheres = [m for m in markers.markers if m.type == m.SPHERE]
    assert [m.text for m in markers.markers if m.type == m.TEXT_VIEW_FACING] == ["1+", "2-"]
    assert spheres[0].color.g > 0.5 > spheres[0].color.r and spheres[1].color.r > 0.5 > spheres[1].color.g
    assert markers.markers[0].action == markers.markers[0].DELETEALL
    undo = client.call(Trigger, "/clickenhance/undo")
    assert undo.success and f"{first.object_point_count} points" in undo.message
    state = client.states.wait_for(lambda s: len(s.clicks) == 1 and s.object_point_count == first.object_point_count)
    assert state.active and state.method == "baseline" and state.clicks[0].positive
    assert state.clicks[0].point_index == first.point_index and state.header.frame_id == FRAME
    accepted = client.call(AcceptObject, "/clickenhance/accept", AcceptObject.Request(semantic_label=10))
    assert accepted.success and accepted.object_id == 1 and accepted.point_count == first.object_point_count
    # Object 2: box 3 in negative-then-positive mode through the mode service.
    assert client.call(SetBool, "/clickenhance/set_positive_mode", SetBool.Request(data=False)).success
    refused = click(client, SCENE.tops[2], AddClick.Request.POLARITY_MODE)
    assert not refused.success and "must be positive" in refused.message
    assert client.call(SetBool, "/clickenhance/set_positive_mode", SetBool.Request(data=True)).success
    second = click(client, SCENE.tops[2], AddClick.Request.POLARITY_MODE)
    assert second.success, second.message
    accepted = client.call(AcceptObject, "/clickenhance/accept", AcceptObject.Request(semantic_label=18))
    assert accepted.success and accepted.object_id == 2
    segmentation = client.segmentations.wait_for(lambda c: c.width == len(SCENE.xyz) and _labels(c).max() == 2)
    assert iou(_labels(segmentation) == 1, box2) >= MIN_IOU

    saved = client.call(SaveAnnotation, "/clickenhance/save")
    assert saved.success, saved.message
    directory = Path(saved.directory)
    assert directory.parent == output_dir / "annotations"
    annotation = Annotation.load(directory)
    instance = annotation.labels >> 16
    assert iou(instance == 1, box2) >= MIN_IOU and iou(instance == 2, SCENE.instance == 3) >= MIN_IOU
    np.testing.assert_array_equal(annotation.labels[instance == 1] & 0xFFFF, 10)
    np.testing.assert_array_equal(annotation.labels[instance == 2] & 0xFFFF, 18)
    np.testing.assert_array_equal(annotation.xyz, SCENE.xyz)
    np.testing.assert_array_equal(_labels(segmentation), instance)
    ply = Annotation.read_object(directory, 2)
    np.testing.assert_array_equal(np.sort(ply["index"]), np.flatnonzero(instance == 2))
    document = json.loads((directory / "clicks.json").read_text())
    assert [o["id"] for o in document["objects"]] == [1, 2]
    assert document["objects"][0]["clicks"][0]["index"] == first.point_index
    assert document["frame_id"] == FRAME


def test_clicked_point_uses_the_mode(client: RosClient) -> None:
    """RViz's Publish Point: a PointStamped on /clicked_point becomes a click of the current mode."""
    wait_for_segment_ready(client)
    assert client.call(Trigger, "/clickenhance/new_scan").success
    publisher = client.node.create_publisher(PointStamped, "/clicked_point", 10)
    client.wait_for_subscriber(publisher)
    after = len(client.states.messages)
    top = SCENE.tops[0]
    publisher.publish(PointStamped(header=_header(), point=Point(x=top[0], y=top[1], z=top[2])))
    state = client.states.wait_for(lambda s: len(s.clicks) == 1, after=after)
    assert state.clicks[0].positive and iou_of_count(state.object_point_count, SCENE.instance == 1)
    assert client.call(SetBool, "/clickenhance/set_positive_mode", SetBool.Request(data=False)).success
    publisher.publish(PointStamped(header=_header(), point=Point(x=top[0] + 1.9, y=top[1], z=top[2])))
    state = client.states.wait_for(lambda s: len(s.clicks) == 2, after=after)
    assert not state.clicks[1].positive and not state.positive_mode
    assert client.call(Trigger, "/clickenhance/reset").success
    state = client.states.wait_for(lambda s: not s.active, after=after)
    assert client.call(SetBool, "/clickenhance/set_positive_mode", SetBool.Request(data=True)).success


def _labels(cloud: PointCloud2) -> np.ndarray:
    """The uint32 `label` field of the node's x, y, z, rgb, label cloud, read by hand."""
    offset = next(f.offset for f in cloud.fields if f.name == "label")
    raw = np.frombuffer(bytes(cloud.data), dtype=np.uint8).reshape(-1, cloud.point_step)
    return raw[:, offset:offset + 4].copy().view("<u4").reshape(-1)


def _header():
    from std_msgs.msg import Header

    return Header(frame_id=FRAME)


def iou_of_count(count: int, truth: np.ndarray) -> bool:
    """The mask size is within 15 % of the true object's size (the state carries only the count)."""
    return abs(count - truth.sum()) <= 0.15 * truth.sum()
