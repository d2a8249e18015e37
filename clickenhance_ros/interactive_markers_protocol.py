"""Interactive marker server: the `interactive_markers` library when importable, else our own.

RViz's "Interactive Markers" display only sees the ROS 2 protocol, in namespace `<ns>`:
- service `<ns>/get_interactive_markers` (visualization_msgs/srv/GetInteractiveMarkers):
  the full marker set and the sequence number it corresponds to;
- topic `<ns>/update` (InteractiveMarkerUpdate): each change as an UPDATE whose `seq_num`
  is one more than the previous one; a client that sees a gap asks the service again;
- topic `<ns>/feedback` (InteractiveMarkerFeedback): the client's clicks, e.g. MENU_SELECT
  with the `menu_entry_id` of a menu entry.
ROS 2 clients ignore KEEP_ALIVE updates (and warn once about them), so this server only
publishes UPDATE; `InteractiveMarkerUpdate.KEEP_ALIVE` keeps its meaning for old clients.

`create_marker_server` returns the library's server on a full ROS install (the lazily
imported path, `LibraryMarkerServer`) and `ProtocolMarkerServer` where it is absent, as on
the pip-installed ROS wheels. Both offer insert / erase / apply_changes / shutdown, and
`implementation` names which one runs (the node reports it in its first log line).

Two behaviours of the library (2.5.x) decide when ours runs instead: it subscribes to
feedback with depth 1 unless given `feedback_sub_qos` (quick menu selections are lost), so
it gets FEEDBACK_QOS; and it rejects feedback from a client within 1 s of the marker's last
feedback from another client id, timed by the node's clock, so with use_sim_time and no
`/clock` (time stays 0) every menu selection is rejected: with use_sim_time we use ours.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from geometry_msgs.msg import Point
from rclpy.callback_groups import CallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSProfile
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import (
    InteractiveMarker,
    InteractiveMarkerControl,
    InteractiveMarkerFeedback,
    InteractiveMarkerUpdate,
    Marker,
    MenuEntry,
)
from visualization_msgs.srv import GetInteractiveMarkers

FeedbackCallback = Callable[[InteractiveMarkerFeedback], None]
UPDATE_QOS = QoSProfile(depth=100)  # the library's defaults
FEEDBACK_QOS = QoSProfile(depth=100)


class MarkerServer(Protocol):
    """What the node needs from an interactive marker server."""

    implementation: str  # which server this is, for the node's log and diagnostics

    def insert(self, marker: InteractiveMarker) -> None:
        """Add or replace a marker (sent on the next `apply_changes`)."""

    def erase(self, name: str) -> None:
        """Remove a marker (sent on the next `apply_changes`)."""

    def apply_changes(self) -> None:
        """Send the pending changes to the clients."""

    def shutdown(self) -> None:
        """Release the server's ROS entities."""


class ProtocolMarkerServer:
    """The interactive_markers server protocol in plain rclpy (see the module doc)."""

    def __init__(self, node: Node, namespace: str, feedback_callback: FeedbackCallback,
                 callback_group: CallbackGroup | None = None, reason: str = "interactive_markers not importable"):
        self.implementation = f"built-in protocol server ({reason})"
        self._node = node
        self._callback = feedback_callback
        self._lock = threading.Lock()
        self.seq_num = 0
        self.server_id = node.get_fully_qualified_name()
        self._markers: dict[str, InteractiveMarker] = {}
        self._pending: dict[str, InteractiveMarker | None] = {}  # None = erase
        self._service = node.create_service(GetInteractiveMarkers, f"{namespace}/get_interactive_markers",
                                            self._get_markers, callback_group=callback_group)
        self._publisher = node.create_publisher(InteractiveMarkerUpdate, f"{namespace}/update", UPDATE_QOS)
        self._subscription = node.create_subscription(InteractiveMarkerFeedback, f"{namespace}/feedback",
                                                      self._on_feedback, FEEDBACK_QOS, callback_group=callback_group)

    def insert(self, marker: InteractiveMarker) -> None:
        """Add or replace `marker` on the next `apply_changes`."""
        with self._lock:
            self._pending[marker.name] = marker

    def erase(self, name: str) -> None:
        """Remove the marker called `name` on the next `apply_changes`."""
        with self._lock:
            if name in self._markers or name in self._pending:
                self._pending[name] = None

    def apply_changes(self) -> None:
        """Publish the pending changes as one UPDATE with the next sequence number."""
        with self._lock:
            if not self._pending:
                return
            update = InteractiveMarkerUpdate(server_id=self.server_id, type=InteractiveMarkerUpdate.UPDATE)
            for name, marker in self._pending.items():
                if marker is not None:
                    self._markers[name] = marker
                    update.markers.append(marker)
                elif self._markers.pop(name, None) is not None:
                    update.erases.append(name)
            self._pending.clear()
            self.seq_num += 1
            update.seq_num = self.seq_num
            self._publisher.publish(update)  # under the lock: clients see sequence numbers in order

    def shutdown(self) -> None:
        """Destroy the service, publisher and subscription."""
        self._node.destroy_service(self._service)
        self._node.destroy_publisher(self._publisher)
        self._node.destroy_subscription(self._subscription)

    def _get_markers(self, request: GetInteractiveMarkers.Request,
                     response: GetInteractiveMarkers.Response) -> GetInteractiveMarkers.Response:
        """Answer a client's (re)initialisation with every marker and the current sequence number."""
        with self._lock:
            response.sequence_number = self.seq_num
            response.markers = list(self._markers.values())
        return response

    def _on_feedback(self, feedback: InteractiveMarkerFeedback) -> None:
        """Pass feedback about one of our markers to the callback; ignore unknown markers."""
        with self._lock:
            known = feedback.marker_name in self._markers
        if known:
            self._callback(feedback)


class LibraryMarkerServer:
    """Adapter over `interactive_markers.InteractiveMarkerServer` (full ROS installs only)."""

    implementation = "interactive_markers library (feedback queue depth 100)"

    def __init__(self, server: object, feedback_callback: FeedbackCallback):
        self._server = server
        self._callback = feedback_callback

    def insert(self, marker: InteractiveMarker) -> None:
        """Add or replace `marker`; every feedback goes to the node's callback."""
        self._server.insert(marker, feedback_callback=self._callback)

    def erase(self, name: str) -> None:
        """Remove a marker."""
        self._server.erase(name)

    def apply_changes(self) -> None:
        """Send the pending changes."""
        self._server.applyChanges()

    def shutdown(self) -> None:
        """Release the library server."""
        self._server.shutdown()


def create_marker_server(node: Node, namespace: str, feedback_callback: FeedbackCallback,
                         callback_group: CallbackGroup | None = None, prefer_library: bool = True,
                         use_sim_time: bool = False) -> MarkerServer:
    """The library's server when `interactive_markers` imports, else ours; ours also with
    `use_sim_time` (the library rejects all feedback while sim time is 0) or without `prefer_library`."""
    if not prefer_library:
        return ProtocolMarkerServer(node, namespace, feedback_callback, callback_group, "library not preferred")
    if use_sim_time:
        return ProtocolMarkerServer(node, namespace, feedback_callback, callback_group,
                                    "use_sim_time: the library rejects feedback while sim time is 0")
    try:  # ---- lazily imported path: only a full ROS 2 install has this package ----
        from interactive_markers import InteractiveMarkerServer
    except ImportError:
        return ProtocolMarkerServer(node, namespace, feedback_callback, callback_group)
    server = InteractiveMarkerServer(node, namespace, update_pub_qos=UPDATE_QOS, feedback_sub_qos=FEEDBACK_QOS)
    return LibraryMarkerServer(server, feedback_callback)


def menu_marker(name: str, header: Header, position: Point, description: str, entries: Sequence[str],
                size: float = 0.6, color: ColorRGBA | None = None) -> InteractiveMarker:
    """A cube that opens a context menu of `entries` (menu_entry_id = 1-based position) on right click."""
    marker = InteractiveMarker(header=header, name=name, description=description, scale=size)
    marker.pose.position = position
    marker.pose.orientation.w = 1.0
    marker.menu_entries = [MenuEntry(id=i, parent_id=0, title=title, command_type=MenuEntry.FEEDBACK)
                           for i, title in enumerate(entries, start=1)]
    cube = Marker(type=Marker.CUBE, color=color or ColorRGBA(r=0.2, g=0.6, b=1.0, a=0.8))
    cube.scale.x = cube.scale.y = cube.scale.z = size * 0.5
    cube.pose.orientation.w = 1.0
    control = InteractiveMarkerControl(name="menu", interaction_mode=InteractiveMarkerControl.MENU,
                                       always_visible=True, markers=[cube])
    control.orientation.w = 1.0
    marker.controls = [control]
    return marker
