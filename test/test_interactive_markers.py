"""The interactive marker protocol as RViz speaks it: initial request, sequenced updates, menu feedback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from ros_fixtures import FRAME, LATCHED, NodeProcess, RosClient, box_scene, node_parameters, scene_cloud, wait_until
from test_node_operator_path import resend_until

rclpy = pytest.importorskip("rclpy")
from geometry_msgs.msg import Point, PointStamped  # noqa: E402
from rclpy.qos import QoSProfile  # noqa: E402
from sensor_msgs.msg import PointCloud2  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from visualization_msgs.msg import (  # noqa: E402
    InteractiveMarker,
    InteractiveMarkerFeedback,
    InteractiveMarkerUpdate,
)
from visualization_msgs.srv import GetInteractiveMarkers  # noqa: E402

from clickenhance_ros.interactive_markers_protocol import (  # noqa: E402
    ProtocolMarkerServer,
    create_marker_server,
    menu_marker,
)
from clickenhance_ros.msg import FollowState, SegmentationState  # noqa: E402
from clickenhance_ros.srv import SegmentObject  # noqa: E402

pytestmark = pytest.mark.ros
SCENE = box_scene(seed=2)
NS = "/clickenhance/clicks"
ENTRIES = ["Positive mode", "Negative mode", "Undo", "Reset", "Accept object", "Save", "New scan", "Follow",
           "Stop following"]


class RvizLikeClient:
    """Follows the ROS 2 interactive marker client: request the markers, then apply updates in sequence."""

    def __init__(self, ros: RosClient, namespace: str):
        self.ros, self.namespace = ros, namespace
        self.updates = ros.subscribe(InteractiveMarkerUpdate, f"{namespace}/update", QoSProfile(depth=100))
        self.feedback = ros.node.create_publisher(InteractiveMarkerFeedback, f"{namespace}/feedback", 100)
        self.markers: dict[str, InteractiveMarker] = {}
        self.seq = 0
        self.applied = 0  # index into self.updates.messages

    def initialize(self) -> None:
        """The GetInteractiveMarkers call RViz makes on (re)connection."""
        response = self.ros.call_read_only(GetInteractiveMarkers, f"{self.namespace}/get_interactive_markers")
        self.markers = {m.name: m for m in response.markers}
        self.seq = response.sequence_number
        self.applied = len(self.updates.messages)

    def sync(self, predicate=lambda client: True, timeout: float = 20.0) -> None:
        """Apply updates in order until `predicate(self)`; a gap in sequence numbers fails the test."""
        def step(update: InteractiveMarkerUpdate) -> bool:
            self.applied += 1
            if update.type == InteractiveMarkerUpdate.KEEP_ALIVE or update.seq_num <= self.seq:
                return False  # ROS 2 clients ignore keep-alives; older updates are in the initial state
            assert update.seq_num == self.seq + 1, f"sequence gap: {self.seq} -> {update.seq_num}"
            self.seq = update.seq_num
            self.markers.update({m.name: m for m in update.markers})
            for name in update.erases:
                self.markers.pop(name, None)
            return predicate(self)
        if predicate(self):
            return
        while True:
            message = self.updates.wait_for(timeout=timeout, after=self.applied)
            if step(message):
                return

    def select(self, marker: str, title: str) -> None:
        """Right-click menu selection, as RViz publishes it."""
        entry = next(e for e in self.markers[marker].menu_entries if e.title == title)
        self.feedback.publish(InteractiveMarkerFeedback(
            header=Header(frame_id=FRAME), client_id="/rviz_like", marker_name=marker,
            event_type=InteractiveMarkerFeedback.MENU_SELECT, menu_entry_id=entry.id))


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    folder = tmp_path_factory.mktemp("markers")
    process = NodeProcess(folder / "node.log", node_parameters(folder))
    process.folder = folder
    yield process
    assert process.stop() == 0, process.log()


def test_menu_drives_the_session(node: NodeProcess) -> None:
    ros = RosClient("rviz_like")
    try:
        _drive_menu(ros, node)
    finally:
        ros.close()


def _drive_menu(ros: RosClient, node: NodeProcess) -> None:
    rviz = RvizLikeClient(ros, NS)
    states = ros.subscribe(SegmentationState, "/clickenhance/state", LATCHED)
    rviz.initialize()
    assert rviz.markers == {}  # no cloud yet: no frame to place the menu in
    cloud_pub = ros.node.create_publisher(PointCloud2, "/cloud", 1)
    ros.wait_for_subscriber(cloud_pub)
    timer = ros.keep_publishing(cloud_pub, scene_cloud(SCENE), period=0.2)
    rviz.sync(lambda c: "clickenhance_menu" in c.markers)
    menu = rviz.markers["clickenhance_menu"]
    assert menu.header.frame_id == FRAME
    assert [e.title for e in menu.menu_entries] == ENTRIES
    assert [e.id for e in menu.menu_entries] == list(range(1, 10))
    ros.wait_for_subscriber(rviz.feedback)

    resend_until(lambda: rviz.select("clickenhance_menu", "Negative mode"),
                 lambda: any(not s.positive_mode for s in states.messages), "the first menu selection")
    rviz.sync(lambda c: "negative mode" in c.markers["clickenhance_menu"].description)
    rviz.select("clickenhance_menu", "Positive mode")
    states.wait_for(lambda s: s.positive_mode)

    clicks = ros.node.create_publisher(PointStamped, "/clicked_point", 10)
    ros.wait_for_subscriber(clicks)
    top = SCENE.tops[1]

    def click() -> None:
        clicks.publish(PointStamped(header=Header(frame_id=FRAME), point=Point(x=top[0], y=top[1], z=top[2])))

    wait_until(lambda: _node_has_cloud(ros), 30, "the node to receive the scan")
    timer.cancel()
    click()
    states.wait_for(lambda s: len(s.clicks) == 1)
    rviz.sync(lambda c: c.markers["clickenhance_menu"].pose.position.z > top[2])  # the menu follows the click
    rviz.select("clickenhance_menu", "Undo")
    states.wait_for(lambda s: len(s.clicks) == 0 and s.active, after=len(states.messages) - 1)
    click()
    states.wait_for(lambda s: len(s.clicks) == 1, after=len(states.messages) - 1)
    rviz.select("clickenhance_menu", "Accept object")
    accepted = states.wait_for(lambda s: list(s.accepted_object_ids) == [1])
    assert accepted.object_id == 2 and len(accepted.clicks) == 0
    rviz.select("clickenhance_menu", "Save")
    wait_until(lambda: "menu 'Save': saved 1 object(s) to" in node.log(), 20, "the save log line")
    saved = re.search(r"saved 1 object\(s\) to (\S+)", node.log()).group(1)
    assert (Path(saved) / "scan.label").is_file() and Path(saved).parent == node.folder / "annotations"

    follow_states = ros.subscribe(FollowState, "/clickenhance/follow_state", LATCHED)
    followed = ros.subscribe(PointCloud2, "/clickenhance/followed_object", LATCHED)
    rviz.select("clickenhance_menu", "Follow")
    follow_states.wait_for(lambda s: s.following and s.target == "accepted object 1")
    cloud_pub.publish(scene_cloud(SCENE, stamp_sec=7))
    assert followed.wait_for(lambda c: c.header.stamp.sec == 7).width > 0
    rviz.select("clickenhance_menu", "Stop following")
    follow_states.wait_for(lambda s: not s.following, after=1)

    rviz.sync()  # apply whatever arrived; then a fresh client's initial state must match ours
    fresh = ros.call_read_only(GetInteractiveMarkers, f"{NS}/get_interactive_markers")
    rviz.sync(lambda c: c.seq >= fresh.sequence_number)
    assert fresh.sequence_number == rviz.seq
    assert fresh.markers[0].pose == rviz.markers["clickenhance_menu"].pose
    assert node.alive()


def _node_has_cloud(ros: RosClient) -> bool:
    top = SCENE.tops[0]
    request = SegmentObject.Request(positive_points=[Point(x=top[0], y=top[1], z=top[2])])
    return ros.call(SegmentObject, "/clickenhance/segment", request).success


def test_protocol_server_sequences_updates_and_ignores_unknown_markers() -> None:
    ros = RosClient("protocol_server")
    try:
        received = []
        server = create_marker_server(ros.node, "/proto", received.append, prefer_library=False)
        assert isinstance(server, ProtocolMarkerServer)
        rviz = RvizLikeClient(ros, "/proto")
        rviz.initialize()
        assert rviz.markers == {} and rviz.seq == 0
        for name in ("a", "b"):
            server.insert(menu_marker(name, Header(frame_id="f"), Point(), name, ["One", "Two"]))
        server.apply_changes()
        server.erase("a")
        server.apply_changes()
        server.apply_changes()  # nothing pending: no update, no sequence number used
        rviz.sync(lambda c: c.seq == 2)
        assert list(rviz.markers) == ["b"] and [e.title for e in rviz.markers["b"].menu_entries] == ["One", "Two"]
        state = ros.call_read_only(GetInteractiveMarkers, "/proto/get_interactive_markers")
        assert state.sequence_number == 2 and [m.name for m in state.markers] == ["b"]
        ros.wait_for_subscriber(rviz.feedback)
        rviz.feedback.publish(InteractiveMarkerFeedback(marker_name="a", event_type=2, menu_entry_id=1))
        rviz.select("b", "Two")
        wait_until(lambda: len(received) >= 1, 10, "the feedback callback")
        assert [(f.marker_name, f.menu_entry_id) for f in received] == [("b", 2)]
    finally:
        ros.close()
