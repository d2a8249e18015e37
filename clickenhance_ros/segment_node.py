"""The `clickenhance` ROS 2 node: LiDAR clouds and clicks in, segmented objects out.

Run it with `python -m clickenhance_ros.segment_node --ros-args -p method:=baseline ...`
(or `ros2 run clickenhance_ros segment_node`). Interfaces, all relative to the node:

- subscribes `cloud` (PointCloud2, depth 1: only the latest kept; `cloud_reliability`), `/clicked_point`
  (RViz Publish Point; polarity from the current mode) and the interactive marker feedback;
- serves `~/segment` (stateless, one call one object), and the interactive session:
  `~/add_click`, `~/undo`, `~/reset`, `~/accept`, `~/save`, `~/set_positive_mode`,
  `~/new_scan`, `~/diagnostics`, `~/follow`; RViz's menu on the `~/clicks` interactive marker does the same;
- publishes `~/object` (the object's points with their original fields), `~/segmentation`
  (the frozen scan with label and colour), `~/click_markers` and `~/state`; while following,
  `~/followed_object` (the object in each new cloud, with that cloud's header) and `~/follow_state`.

The node stays thin: message -> NumPy -> clickenhance_model -> message. Inference for the
interactive session runs in `AnnotationWorker`'s thread; `~/segment` runs in the executor's
thread pool; the cloud subscription has its own callback group, so neither blocks it.
Following runs in `FollowWorker`'s thread on the newest cloud; all inference shares one `FairLock`.
"""

from __future__ import annotations

import array
import ctypes
import ctypes.util
import faulthandler
import hashlib
import signal
import sys
import threading
import time
import traceback
from collections.abc import Sequence

import numpy as np
import rclpy
from geometry_msgs.msg import Point, PointStamped
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.event_handler import QoSRequestedIncompatibleQoSInfo, SubscriptionEventCallbacks
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import (
    DurabilityPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
    qos_profile_services_default,
)
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header
from std_srvs.srv import SetBool, Trigger
from visualization_msgs.msg import InteractiveMarkerFeedback, MarkerArray

from clickenhance_model.errors import ClickEnhanceError
from clickenhance_model.inference.session_cache import SessionCache
from clickenhance_model.object_following import FollowConfig
from clickenhance_ros.annotation_worker import (
    ACCEPT,
    CLICK,
    FOLLOW_TARGET,
    MODE,
    NEW_SCAN,
    RESET,
    SAVE,
    UNDO,
    AnnotationWorker,
    JobResult,
)
from clickenhance_ros.click_markers import click_markers
from clickenhance_ros.cloud_conversion import (
    check_layout,
    points_rgb,
    points_xyz,
    read_points,
    select_points,
)
from clickenhance_ros.executor_shutdown import spin_until_shutdown, stop_executor
from clickenhance_ros.fair_lock import FairLock
from clickenhance_ros.follow_worker import FollowedCloud, FollowWorker
from clickenhance_ros.frames import ClickFrames
from clickenhance_ros.interactive_markers_protocol import create_marker_server, menu_marker
from clickenhance_ros.msg import Click as ClickMsg
from clickenhance_ros.msg import FollowState, SegmentationState
from clickenhance_ros.node_parameters import NodeParameters, declare_parameters
from clickenhance_ros.segmentation_display import SegmentationDisplay
from clickenhance_ros.segmenter_loading import LoadedSegmenter, load_configured_segmenter
from clickenhance_ros.srv import AcceptObject, AddClick, SaveAnnotation, SegmentObject
from clickenhance_ros.web_page import attach_web_page

NODE_NAME = "clickenhance"
MENU = ("Positive mode", "Negative mode", "Undo", "Reset", "Accept object", "Save", "New scan", "Follow",
        "Stop following")
MENU_MARKER_NAME = "clickenhance_menu"
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
RELIABILITY = {"reliable": ReliabilityPolicy.RELIABLE, "best_effort": ReliabilityPolicy.BEST_EFFORT}
# A clean stop takes well under a second; the workers get 5 s each to finish the request they run. Past this the
# stop is hung: `main` writes every thread's stack to stderr and exits with 1 (stop_node in the demos waits 15 s).
SHUTDOWN_DEADLINE_S = 12.0


def cloud_identity(cloud: PointCloud2) -> tuple:
    """What makes two clouds the same input: frame, layout and a hash of the bytes (stamps may repeat or be 0)."""
    fields = tuple((f.name, f.offset, f.datatype, f.count) for f in cloud.fields)
    digest = hashlib.blake2b(memoryview(cloud.data), digest_size=16).digest()  # about 1 GB/s
    layout = (cloud.height, cloud.width, cloud.point_step, cloud.row_step, cloud.is_bigendian)
    return (cloud.header.frame_id, layout, fields, digest)


class SegmentNode(Node):
    """ClickEnhance as a ROS 2 node (see the module doc for its interfaces)."""

    def __init__(self, **node_kwargs):
        super().__init__(NODE_NAME, **node_kwargs)
        self.params: NodeParameters = declare_parameters(self)
        self.loaded: LoadedSegmenter = load_configured_segmenter(self.params)
        self._latest: PointCloud2 | None = None
        self._clouds_received = 0  # usable clouds
        self._clouds_arrived = 0  # every cloud, rejected ones too
        self._last_arrival: float | None = None  # time.monotonic() of the latest arrival
        self._rejected = ""
        self._last_rejection_log = (0.0, "")
        self._latency_ms: list[float] = []
        self._lock = threading.Lock()
        self._outputs: tuple[SegmentationState, MarkerArray] | None = None
        self._display = SegmentationDisplay()
        self._recorded_batches = 0
        self._segment_sessions = SessionCache(self.params.segment_cache_clouds)  # `~/segment`: one per recent cloud
        self._create_interfaces()
        frames = ClickFrames(self, self.params.tf_timeout)
        self.worker = AnnotationWorker(
            self.loaded.segmenter, FairLock(), self._latest_cloud, frames,
            self._publish_outputs, self.params.snap_distance, self.params.output_path, self.params.autosave,
            lambda text: self.get_logger().error(text),
            self.params.click_rules)
        self.follower = FollowWorker(
            self.loaded.segmenter, self.worker.segmenter_lock,
            FollowConfig(max_speed=self.params.follow_max_speed, min_confidence=self.params.follow_min_confidence),
            self._publish_followed,
            lambda previous, new: frames.cloud_to_cloud(previous, new, self.params.follow_odom_frame),
            lambda text: self.get_logger().error(text))
        self.worker.start()
        self.follower.start()
        self.web_page = None if not self.params.web_port else attach_web_page(
            self.worker, self._latest_cloud, self.params.web_host, self.params.web_port, self.params.request_timeout)
        if self.web_page is not None:
            self.get_logger().info(f"annotation page at {self.web_page.url}")
        self.get_logger().info(self.diagnostics())

    # ------------------------------------------------------------------ ROS interfaces
    def _create_interfaces(self) -> None:
        """Create subscriptions, services, publishers, the marker server and the state timer."""
        clouds, requests = MutuallyExclusiveCallbackGroup(), ReentrantCallbackGroup()
        cloud_qos = QoSProfile(depth=1, reliability=RELIABILITY[self.params.cloud_reliability],
                               durability=qos_profile_sensor_data.durability)
        self.create_subscription(PointCloud2, self.params.cloud_topic, self._on_cloud, cloud_qos,
                                 callback_group=clouds,
                                 event_callbacks=SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible))
        # rclpy's default depth of 10 silently drops the 11th simultaneous request, whatever the thread count.
        queue_qos = QoSProfile(depth=self.params.request_queue_depth,
                               reliability=qos_profile_services_default.reliability,
                               durability=qos_profile_services_default.durability)
        self.create_subscription(PointStamped, self.params.clicked_point_topic, self._on_clicked_point, queue_qos,
                                 callback_group=requests)
        services = [(SegmentObject, "~/segment", self._segment), (AddClick, "~/add_click", self._add_click),
                    (Trigger, "~/undo", self._simple(UNDO)), (Trigger, "~/reset", self._simple(RESET)),
                    (AcceptObject, "~/accept", self._accept), (SaveAnnotation, "~/save", self._save),
                    (SetBool, "~/set_positive_mode", self._set_mode), (Trigger, "~/new_scan", self._simple(NEW_SCAN)),
                    (Trigger, "~/diagnostics", self._diagnostics), (SetBool, "~/follow", self._follow)]
        for service_type, name, callback in services:
            self.create_service(service_type, name, callback, qos_profile=queue_qos, callback_group=requests)
        self.object_pub = self.create_publisher(PointCloud2, "~/object", LATCHED)
        self.segmentation_pub = self.create_publisher(PointCloud2, "~/segmentation", LATCHED)
        self.markers_pub = self.create_publisher(MarkerArray, "~/click_markers", LATCHED)
        self.state_pub = self.create_publisher(SegmentationState, "~/state", LATCHED)
        self.followed_pub = self.create_publisher(PointCloud2, "~/followed_object", LATCHED)
        self.follow_state_pub = self.create_publisher(FollowState, "~/follow_state", LATCHED)
        # The menu appears once a cloud gives it a frame (RViz cannot place a marker without one).
        self.marker_server = create_marker_server(self, self.params.marker_namespace, self._on_menu, requests,
                                                  use_sim_time=self.get_parameter("use_sim_time").value)
        self._menu_frame = ""
        if self.params.state_publish_rate > 0:
            self.create_timer(1.0 / self.params.state_publish_rate, self._republish,
                              callback_group=MutuallyExclusiveCallbackGroup())

    def destroy_node(self) -> None:
        """Stop the workers (and the web page) before the node's entities go away."""
        self.follower.shutdown()
        self.worker.stop()
        if self.web_page is not None:
            self.web_page.stop()
        super().destroy_node()

    # ------------------------------------------------------------------------ inputs
    def _on_cloud(self, cloud: PointCloud2) -> None:
        """Keep the latest usable cloud (layout checked, no data pass); log why a cloud is rejected."""
        self._clouds_arrived += 1
        self._last_arrival = time.monotonic()
        try:
            if cloud.width * cloud.height == 0:
                raise ValueError("the cloud is empty (0 points)")
            check_layout(cloud)
        except ValueError as error:
            self._rejected = f"{error}"
            now, (last, text) = time.monotonic(), self._last_rejection_log
            if text != self._rejected or now - last > 10.0:
                self.get_logger().error(f"rejected cloud on '{self.params.cloud_topic}': {error}")
                self._last_rejection_log = (now, self._rejected)
            return
        self._latest, self._rejected = cloud, ""
        self._clouds_received += 1
        self.follower.offer(cloud)
        if cloud.header.frame_id != self._menu_frame and self.worker.scan is None:
            self._update_menu(cloud.header.frame_id, None, self.worker.positive_mode)

    def _on_incompatible(self, info: QoSRequestedIncompatibleQoSInfo) -> None:
        """A publisher on the cloud topic that can never match (typically best-effort against reliable)."""
        self.get_logger().warning(
            f"a publisher on '{self.resolve_topic_name(self.params.cloud_topic)}' has a QoS incompatible with "
            f"cloud_reliability '{self.params.cloud_reliability}' (policy {info.last_policy_kind.name}): its clouds "
            "never arrive; set cloud_reliability:=best_effort for a best-effort publisher")

    def _latest_cloud(self) -> tuple[PointCloud2 | None, str]:
        """The latest usable cloud and why the last cloud was rejected ('' if it was not)."""
        return self._latest, self._rejected

    def _report(self, what: str):
        """`on_done` callback logging the outcome of a request nobody waits for.

        rclpy fixes a call site's severity at its first call (a second severity raises), so each
        severity has its own line.
        """
        def log(result: JobResult) -> None:
            if result.success:
                self.get_logger().info(f"{what}: {result.message}")
            else:
                self.get_logger().warning(f"{what}: {result.message}")
        return log

    def _on_clicked_point(self, point: PointStamped) -> None:
        """RViz Publish Point: a click with the current mode's polarity."""
        self.worker.submit(CLICK, on_done=self._report("clicked point"), position=(point.point.x, point.point.y,
                           point.point.z), frame_id=point.header.frame_id, positive=None)

    def _on_menu(self, feedback: InteractiveMarkerFeedback) -> None:
        """RViz interactive marker menu: the entries of MENU, by 1-based id."""
        if feedback.event_type != InteractiveMarkerFeedback.MENU_SELECT:
            return
        if not 1 <= feedback.menu_entry_id <= len(MENU):
            self.get_logger().warning(f"unknown menu entry id {feedback.menu_entry_id}")
            return
        entry = MENU[feedback.menu_entry_id - 1]
        report = self._report(f"menu '{entry}'")
        if entry in ("Positive mode", "Negative mode"):
            self.worker.submit(MODE, on_done=report, positive=entry == "Positive mode")
        elif entry == "Accept object":
            self.worker.submit(ACCEPT, on_done=report, semantic_label=self.params.default_semantic_label)
        elif entry in ("Follow", "Stop following"):
            threading.Thread(target=lambda: report(self._set_following(entry == "Follow")), daemon=True).start()
        else:
            kind = {"Undo": UNDO, "Reset": RESET, "Save": SAVE, "New scan": NEW_SCAN}[entry]
            self.worker.submit(kind, on_done=report)

    # ---------------------------------------------------------------------- services
    def _wait(self, kind: str, **args) -> JobResult:
        """Queue a request for the worker and wait for its result."""
        return self.worker.submit(kind, **args).wait(self.params.request_timeout)

    def _add_click(self, request: AddClick.Request, response: AddClick.Response) -> AddClick.Response:
        polarity = {AddClick.Request.POLARITY_MODE: None, AddClick.Request.POLARITY_POSITIVE: True,
                    AddClick.Request.POLARITY_NEGATIVE: False}
        if request.polarity not in polarity:
            response.success, response.message = False, f"polarity must be 0, 1 or 2, got {request.polarity}"
            return response
        p = request.point.point
        result = self._wait(CLICK, position=(p.x, p.y, p.z), frame_id=request.point.header.frame_id,
                            positive=polarity[request.polarity])
        response.success, response.message = result.success, result.message
        response.point_index, response.object_point_count = result.point_index, result.object_point_count
        response.inference_time_ms = result.inference_ms
        return response

    def _simple(self, kind: str):
        """A std_srvs/Trigger handler for a request without arguments."""
        def handle(request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
            result = self._wait(kind)
            response.success, response.message = result.success, result.message
            return response
        return handle

    def _accept(self, request: AcceptObject.Request, response: AcceptObject.Response) -> AcceptObject.Response:
        result = self._wait(ACCEPT, semantic_label=request.semantic_label)
        response.success, response.message = result.success, result.message
        response.object_id, response.point_count = result.object_id, result.point_count
        return response

    def _save(self, request: SaveAnnotation.Request, response: SaveAnnotation.Response) -> SaveAnnotation.Response:
        result = self._wait(SAVE)
        response.success, response.message, response.directory = result.success, result.message, result.directory
        return response

    def _set_mode(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        result = self._wait(MODE, positive=request.data)
        response.success, response.message = result.success, result.message
        return response

    def _follow(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        result = self._set_following(request.data)
        response.success, response.message = result.success, result.message
        return response

    def _set_following(self, start: bool) -> JobResult:
        """Start following the current (else last accepted) object in every new cloud, or stop."""
        if not start:
            was = self.follower.stop_following()
            self._publish_follow_state(None)
            return JobResult(True, "stopped following" if was else "was not following")
        result = self._wait(FOLLOW_TARGET)
        if not result.success:
            return result
        try:
            self.follower.follow(result.target)
        except ValueError as error:
            return JobResult(False, f"cannot follow {result.target.description}: {error}")
        self._publish_follow_state(None)
        return JobResult(True, f"{result.message}; segmenting it in every new cloud on "
                         f"'{self.resolve_topic_name(self.params.cloud_topic)}'")

    def _diagnostics(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        response.success, response.message = True, self.diagnostics()
        self.get_logger().info(response.message)
        return response

    def _segment(self, request: SegmentObject.Request, response: SegmentObject.Response) -> SegmentObject.Response:
        """Stateless segmentation; every failure becomes success=False with a message."""
        try:
            self._segment_once(request, response)
        except (ClickEnhanceError, ValueError) as error:
            response.success, response.message = False, str(error)
        except Exception as error:  # the node never dies on a request
            self.get_logger().error(f"~/segment failed: {error}\n{traceback.format_exc()}")
            response.success, response.message = False, f"internal error: {error}"
        if not response.success:
            response.indices = array.array("I")
        return response

    def _segment_once(self, request: SegmentObject.Request, response: SegmentObject.Response) -> None:
        """Segment one object of the request's cloud (or the latest) from its clicks."""
        if not request.positive_points:
            raise ValueError("at least one positive point is needed")
        cloud = request.cloud
        if cloud.width * cloud.height == 0 and len(cloud.data) == 0:
            cloud, rejected = self._latest_cloud()
            if cloud is None:
                raise ValueError(f"no usable cloud received yet on '{self.resolve_topic_name(self.params.cloud_topic)}'"
                                 + (f" (last cloud rejected: {rejected})" if rejected else ""))
        points = read_points(cloud)
        segmenter = self.loaded.segmenter
        key = (segmenter, cloud_identity(cloud))  # same content again (a pipeline's new clicks): no rebuild
        session, reused = self._segment_sessions.session(
            key, lambda: segmenter.session(points_xyz(points), points_rgb(points)))
        clicks = [((p.x, p.y, p.z), True) for p in request.positive_points]
        clicks += [((p.x, p.y, p.z), False) for p in request.negative_points]
        with self.worker.segmenter_lock:  # also serialises the use of a cached session
            session.reset()
            session.snap_distance = self.params.snap_distance
            mask = session.add_clicks(clicks)
            inference_ms = float(session.last_inference_ms)
        self._record_latency(inference_ms)
        indices = np.flatnonzero(mask).astype(np.uint32)
        response.indices = array.array("I", indices.tobytes())
        response.object_cloud = select_points(cloud, indices)
        response.inference_time_ms = inference_ms
        response.success = True
        response.message = (f"{len(indices)} of {points.size} points from {len(clicks)} click(s)"
                            + ("; scan reused (same cloud as a recent request)" if reused else ""))

    # ---------------------------------------------------------------------- outputs
    def _publish_outputs(self, worker: AnnotationWorker, clouds_changed: bool) -> None:
        """Publish the object (first: it is what a caller waits for), the segmentation, state, markers, menu."""
        scan = worker.scan
        header = scan.cloud.header if scan is not None else Header()
        mask = worker.mask
        if clouds_changed:
            if scan is None:
                self.object_pub.publish(PointCloud2(header=Header(), height=1, width=0))
            else:
                self.object_pub.publish(select_points(scan.cloud, np.flatnonzero(mask)))
                self.segmentation_pub.publish(self._display.cloud(header, scan.xyz, scan.annotation, mask))
            if worker.batches != self._recorded_batches:  # a new inference, not an undo/reset
                self._recorded_batches = worker.batches
                self._record_latency(worker.last_inference_ms)
        if self.web_page is not None:  # the browser shows the same state as RViz
            self.web_page.backend.capture()
            self.web_page.request_refresh()
        state, markers = self._state(worker, header, mask), click_markers(header, worker.clicks)
        with self._lock:
            self._outputs = (state, markers)
        self.state_pub.publish(state)
        self.markers_pub.publish(markers)
        latest = self._latest
        frame = header.frame_id or (latest.header.frame_id if latest is not None else "")
        if frame:
            self._update_menu(frame, worker.clicks[-1].position if worker.clicks else None, worker.positive_mode)

    def _publish_followed(self, followed: FollowedCloud) -> None:
        """The object in one followed cloud (empty when lost: never a wrong object), then the follow state."""
        result = followed.result
        found = result is not None and not result.lost
        indices = np.flatnonzero(result.mask) if found else np.zeros(0, dtype=np.int64)
        self.followed_pub.publish(select_points(followed.cloud, indices))
        if found:
            self._record_latency(result.inference_ms)
        self._publish_follow_state(followed)

    def _publish_follow_state(self, followed: FollowedCloud | None) -> None:
        """FollowState of the latest followed cloud (`followed`), or of a start/stop (None)."""
        worker = self.follower
        state = FollowState(following=worker.following, target=worker.target_description,
                            clouds_followed=worker.processed, clouds_lost=worker.lost,
                            clouds_skipped=worker.skipped, rate_hz=float(worker.rate_hz()))
        last = followed or worker.last
        if last is not None:
            state.header, state.latency_ms = last.cloud.header, float(last.latency_ms)
            result = last.result
            state.lost = result is None or result.lost
            state.reason = last.error if result is None else result.reason
            if result is not None:
                x, y, z = map(float, result.centroid)
                state.centroid = Point(x=x, y=y, z=z)
                state.point_count, state.confidence = result.point_count, float(result.confidence)
                state.inference_time_ms = float(result.inference_ms)
        self.follow_state_pub.publish(state)

    def _state(self, worker: AnnotationWorker, header: Header, mask: np.ndarray | None) -> SegmentationState:
        """The SegmentationState message of the worker's current state."""
        scan = worker.scan
        state = SegmentationState(header=header, active=scan is not None, positive_mode=worker.positive_mode,
                                  method=self.loaded.method, inference_time_ms=float(worker.last_inference_ms))
        state.clicks = [ClickMsg(position=Point(x=c.position[0], y=c.position[1], z=c.position[2]),
                                 point_index=c.index, positive=c.positive) for c in worker.clicks]
        if scan is not None:
            state.object_id = scan.annotation.next_object_id
            state.object_point_count = int(mask.sum())
            state.accepted_object_ids = array.array("I", [o.object_id for o in scan.annotation.objects])
        return state

    def _update_menu(self, frame_id: str, last_click: Sequence[float] | None, positive_mode: bool) -> None:
        """Show the RViz menu cube above the last click (or at the frame's origin), its title giving the mode."""
        position = Point() if last_click is None else Point(x=last_click[0], y=last_click[1], z=last_click[2] + 1.5)
        mode = "positive" if positive_mode else "negative"
        with self._lock:
            self._menu_frame = frame_id
            self.marker_server.insert(menu_marker(MENU_MARKER_NAME, Header(frame_id=frame_id), position,
                                                  f"ClickEnhance ({mode} mode): right-click", MENU))
            self.marker_server.apply_changes()

    def _republish(self) -> None:
        """Re-publish the latest state and click markers for late subscribers."""
        with self._lock:
            outputs = self._outputs
        if outputs is not None:
            self.state_pub.publish(outputs[0])
            self.markers_pub.publish(outputs[1])

    # ------------------------------------------------------------------ diagnostics
    def _record_latency(self, milliseconds: float) -> None:
        with self._lock:
            self._latency_ms = (self._latency_ms + [float(milliseconds)])[-1000:]

    def diagnostics(self) -> str:
        """One line: segmenter, device, parameters that matter, and inference latency so far."""
        with self._lock:
            latency = np.array(self._latency_ms)
        timing = "no inference yet" if latency.size == 0 else (
            f"inference {latency.size} runs, last {latency[-1]:.1f} ms, mean {latency.mean():.1f} ms, "
            f"max {latency.max():.1f} ms")
        cloud, last = self._latest, self._last_arrival
        points = "no cloud yet" if cloud is None else (
            f"latest cloud {cloud.width * cloud.height} points, stamp {cloud.header.stamp.sec}."
            f"{cloud.header.stamp.nanosec:09d}, {self._clouds_received} clouds received")
        arrivals = "none arrived" if last is None else (
            f"{self._clouds_arrived} arrived, {self._clouds_arrived - self._clouds_received} rejected, "
            f"last {time.monotonic() - last:.1f} s ago")
        return (f"clickenhance: {self.loaded.description}; device {self.loaded.device}; snap distance "
                f"{self.params.snap_distance} m; input '{self.resolve_topic_name(self.params.cloud_topic)}' "
                f"({self.params.cloud_reliability}; {points}; {arrivals}); interactive markers: "
                f"{self.marker_server.implementation}; {timing}; {self._follow_diagnostics()}")

    def _follow_diagnostics(self) -> str:
        """Follow part of the diagnostics: target, clouds processed, lost and skipped, achieved rate."""
        worker = self.follower
        if not worker.following:
            return "not following"
        return (f"following {worker.target_description}: {worker.processed} clouds processed, {worker.lost} lost, "
                f"{worker.skipped} skipped (stale), {worker.rate_hz():.2f} Hz achieved")


M_MMAP_THRESHOLD = -3  # glibc mallopt parameter


def keep_large_buffers_off_the_heap(threshold: int = 128 * 1024) -> bool:
    """Fix glibc's mmap threshold so that freed clouds go back to the OS.

    glibc raises the threshold after the first large free, after which 4 MB clouds arriving
    at 10 Hz are carved from per-thread heaps that fragment: the node's memory then creeps up
    by about 3 MB/s (measured in bench/bench_node.py). A fixed threshold keeps it flat. No-op
    where the C library has no mallopt.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError):
        return False


def main(argv: list[str] | None = None) -> int:
    """Run the node until shutdown; a start-up failure exits 1 with a one-line reason on stderr."""
    faulthandler.enable()  # a crash in native code (DDS, spconv, torch) leaves every thread's Python stack in the log
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 PID`: a hung node's stacks, node running on
    keep_large_buffers_off_the_heap()
    rclpy.init(args=argv if argv is not None else sys.argv)
    try:
        node = SegmentNode()
    except KeyboardInterrupt:  # interrupted while loading
        rclpy.try_shutdown()
        return 0
    except Exception as error:  # bad parameters or checkpoint: one line, no traceback
        reason = " ".join(str(error).split()) or type(error).__name__
        print(f"clickenhance: cannot start: {reason}", file=sys.stderr, flush=True)
        rclpy.try_shutdown()
        return 1
    executor = MultiThreadedExecutor(num_threads=node.params.service_threads)
    executor.add_node(node)
    try:
        spin_until_shutdown(executor)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        # A stop that hangs (a callback that never returns, DDS teardown, a thread joined at exit) must not
        # keep the process alive until launch or the operator escalates to SIGKILL: past the deadline every
        # thread's stack goes to stderr (the log says where it hung) and the process exits with 1.
        faulthandler.dump_traceback_later(SHUTDOWN_DEADLINE_S, exit=True)
        # The running callbacks finish before the node's entities go; one that hangs meets the deadline.
        stop_executor(executor, timeout=SHUTDOWN_DEADLINE_S + 1.0)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
