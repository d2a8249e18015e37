"""End to end over real DDS: the node in its own process, a scan published, services called,
published outputs and saved files checked against the scene's ground truth."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from ros_fixtures import (
    FRAME,
    LATCHED,
    NodeProcess,
    RosClient,
    box_scene,
    iou,
    node_parameters,
    ouster_cloud,
    ouster_t,
    scene_cloud,
)

from clickenhance_model.annotation import Annotation

rclpy = pytest.importorskip("rclpy")
from geometry_msgs.msg import Point, PointStamped  # noqa: E402
from sensor_msgs.msg import PointCloud2  # noqa: E402
from std_srvs.srv import SetBool, Trigger  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

from clickenhance_ros.msg import SegmentationState  # noqa: E402
from clickenhance_ros.srv import AcceptObject, AddClick, SaveAnnotation, SegmentObject  # noqa: E402

pytestmark = pytest.mark.ros
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


# --------------------------------------------- the shipped model on LiDAR scans, IoU per click
# The node with `method: model` (the shipped clickenhance_model/weights/default.pt) in the
# namespace /street, so it never meets the baseline node above; the simulated user of the
# evaluation clicks through ~/add_click and the mask is read back from ~/object (the `t` field of
# the Ouster-like layout carries each point's index in the published scan).
STREET_SEED = 3
STREET = "/street/clickenhance"


@dataclass(frozen=True)
class LabelledScan:
    """A LiDAR scan with an instance key per point (0 = no object) and the objects to click."""

    xyz: np.ndarray  # float32 (N, 3)
    intensity: np.ndarray  # float32 (N,)
    objects: tuple[np.ndarray, ...]  # bool (N,) ground truth of each object to click, largest first


def largest_cars(xyz: np.ndarray, intensity: np.ndarray, semantic: np.ndarray, key: np.ndarray,
                 count: int) -> LabelledScan:
    """The scan with the `count` largest cars (SemanticKITTI class 10) as its objects."""
    keys, sizes = np.unique(key[(semantic == 10) & (key > 0)], return_counts=True)
    chosen = keys[np.argsort(-sizes)][:count]
    return LabelledScan(xyz.astype(np.float32), intensity.astype(np.float32), tuple(key == k for k in chosen))


@pytest.fixture(scope="module")
def street_scan() -> LabelledScan:
    """The generator's ray-cast street scan (about 110k points, as `make demo` uses, another seed)."""
    from clickenhance_model.scenes.generate import generate_scan

    scan = generate_scan("outdoor", STREET_SEED, 0)
    return largest_cars(scan.xyz, scan.remission, scan.semantic, scan.instance, 2)


@pytest.fixture(scope="module")
def model_client(output_dir: Path) -> Iterator[RosClient]:
    """A client of the shipped-model node: ~/object subscribed, ready to publish scans on /street/cloud."""
    node = NodeProcess(output_dir / "model_node.log",
                       node_parameters(output_dir / "street", method="model", state_publish_rate=0.0),
                       ros_args=("-r", "__ns:=/street"))
    ros = RosClient("street_client")
    try:
        ros.client(Trigger, f"{STREET}/reset", timeout=120.0)  # the node serves once torch and the model are loaded
        ros.objects = ros.subscribe(PointCloud2, f"{STREET}/object", LATCHED)
        ros.cloud_publisher = ros.node.create_publisher(PointCloud2, "/street/cloud", 1)
        ros.timer = None
        yield ros
    finally:
        ros.close()
        alive = node.alive()
        code = node.stop()
    assert alive and code == 0, f"the model node exited with {code}:\n{node.log()}"


def publish_scan(ros: RosClient, scan: LabelledScan) -> str:
    """Publish `scan` repeatedly until the node reports it as its latest cloud; returns ~/diagnostics."""
    if ros.timer is not None:
        ros.timer.cancel()
    ros.wait_for_subscriber(ros.cloud_publisher, timeout=60.0)
    assert ros.call(Trigger, f"{STREET}/reset").success  # the next click freezes the new scan
    ros.timer = ros.keep_publishing(ros.cloud_publisher, ouster_cloud(scan.xyz, scan.intensity), period=0.5)
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        message = ros.call(Trigger, f"{STREET}/diagnostics").message
        if f"latest cloud {len(scan.xyz)} points" in message:
            return message
        time.sleep(0.1)
    pytest.fail(f"the node did not report the {len(scan.xyz)}-point scan within 60 s: {message}")


def click_object(ros: RosClient, scan: LabelledScan, truth: np.ndarray, clicks: int) -> list[float]:
    """Click one object `clicks` times as the simulated user does; the IoU after each click."""
    from clickenhance_model.evaluation.simulated_user import next_click

    assert ros.call(Trigger, f"{STREET}/reset").success
    prediction, ious = np.zeros(len(scan.xyz), dtype=bool), []
    for _ in range(clicks):
        chosen = next_click(scan.xyz, prediction, truth)
        if chosen is None:
            break
        seen = len(ros.objects.messages)
        polarity = AddClick.Request.POLARITY_POSITIVE if chosen.positive else AddClick.Request.POLARITY_NEGATIVE
        request = AddClick.Request(polarity=polarity)
        x, y, z = map(float, scan.xyz[chosen.index])
        request.point = PointStamped(point=Point(x=x, y=y, z=z))
        request.point.header.frame_id = FRAME
        response = ros.call(AddClick, f"{STREET}/add_click", request)
        assert response.success and response.point_index == chosen.index, response.message
        published = ros.objects.wait_for(lambda c, n=response.object_point_count: c.width == n, after=seen)
        prediction = np.zeros(len(scan.xyz), dtype=bool)
        prediction[ouster_t(published)] = True
        ious.append(iou(prediction, truth))
    return ious


@pytest.mark.slow  # the shipped model in the node process: about 10 s
def test_shipped_model_through_the_node_segments_street_cars_click_by_click(
        model_client: RosClient, street_scan: LabelledScan) -> None:
    """Measured (seed 3): car 1 (2403 points) 0.834 -> 0.990 (a negative click) -> 0.995,
    car 2 (602 points) 0.973 -> 0.982 -> 0.983; the thresholds leave a margin below that."""
    diagnostics = publish_scan(model_client, street_scan)
    assert "segmenter: learned ClickEnhance model from the shipped default" in diagnostics, diagnostics
    for number, truth in enumerate(street_scan.objects, start=1):
        ious = click_object(model_client, street_scan, truth, clicks=3)
        assert len(ious) == 3, f"car {number}: {ious}"
        assert ious[0] >= 0.8, f"car {number}: first click IoU {ious}"
        assert ious[-1] >= 0.95, f"car {number}: IoU after 3 clicks {ious}"
        assert (np.diff(ious) >= -0.02).all(), f"car {number}: a click lowered the IoU {ious}"


@pytest.mark.slow
def test_shipped_model_through_the_node_on_a_real_semantickitti_car(
        model_client: RosClient, real_scans_dir: Path) -> None:
    """Real HDL-64E scan (frame 000000): the first click on each of the two largest cars.

    Measured: 0.965 (1737 points) and 0.917 (1103 points) after one click.
    """
    from clickenhance_model.datasets.semantic_kitti import read_labels, read_scan

    path = real_scans_dir / "seq00_frames" / "000000.bin"
    points = read_scan(path)
    labels = read_labels(path.with_suffix(".label"), len(points))
    key = np.where(labels >> 16 > 0, labels.astype(np.int64), 0)
    real = largest_cars(points[:, :3], points[:, 3], (labels & 0xFFFF).astype(np.int64), key, 2)
    assert "learned ClickEnhance model" in publish_scan(model_client, real)
    for number, truth in enumerate(real.objects, start=1):
        ious = click_object(model_client, real, truth, clicks=1)
        assert ious[0] >= 0.88, f"real car {number} ({int(truth.sum())} points): first click IoU {ious[0]:.3f}"
