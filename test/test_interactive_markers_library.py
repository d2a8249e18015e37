"""The node with the `interactive_markers` library (full ROS installs; skipped where it is absent, as here).

The pip ROS wheels lack the library. To run this file here, put the upstream package (Jazzy era,
2.5.x) on PYTHONPATH from a folder outside the repository; the node process inherits it:

    git -C <clone of ros-visualization/interactive_markers> archive 2.5.4 interactive_markers | tar -x -C /tmp/im
    PYTHONPATH=/tmp/im tools/ros_env.sh .venv/bin/pytest test/test_interactive_markers_library.py \
        test/test_node_operator_path.py -k "library or sim_time"
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ros_fixtures import FRAME, LATCHED, NodeProcess, RosClient, box_scene, node_parameters, scene_cloud, wait_until
from test_node_operator_path import resend_until

pytest.importorskip("interactive_markers", reason="the interactive_markers library is not installed")
rclpy = pytest.importorskip("rclpy")
from sensor_msgs.msg import PointCloud2  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from visualization_msgs.msg import InteractiveMarkerFeedback  # noqa: E402

from clickenhance_ros.msg import SegmentationState  # noqa: E402

pytestmark = pytest.mark.ros
SCENE = box_scene(seed=7)
POSITIVE, NEGATIVE = 1, 2  # menu entry ids


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    folder = tmp_path_factory.mktemp("library")
    process = NodeProcess(folder / "node.log", node_parameters(folder, state_publish_rate=0.0))
    yield process
    assert process.stop() == 0, process.log()


def test_the_library_serves_and_keeps_a_burst_of_menu_selections(node: NodeProcess) -> None:
    ros = RosClient("library_client")
    try:
        diagnostics = ros.call_read_only(Trigger, "/clickenhance/diagnostics").message
        assert "interactive markers: interactive_markers library (feedback queue depth 100)" in diagnostics
        states = ros.subscribe(SegmentationState, "/clickenhance/state", LATCHED)
        cloud_pub = ros.node.create_publisher(PointCloud2, "/cloud", 1)
        ros.wait_for_subscriber(cloud_pub)
        timer = ros.keep_publishing(cloud_pub, scene_cloud(SCENE), period=0.2)  # gives the menu its frame
        feedback = ros.node.create_publisher(InteractiveMarkerFeedback, "/clickenhance/clicks/feedback", 100)
        ros.wait_for_subscriber(feedback)

        def select(entry_id: int) -> None:
            feedback.publish(InteractiveMarkerFeedback(
                header=Header(frame_id=FRAME), client_id="/rviz_like", marker_name="clickenhance_menu",
                event_type=InteractiveMarkerFeedback.MENU_SELECT, menu_entry_id=entry_id))

        resend_until(lambda: select(NEGATIVE), lambda: any(not s.positive_mode for s in states.messages),
                     "the first menu selection")
        timer.cancel()
        before = node.log().count("menu 'Positive mode'")
        for _ in range(15):  # back to back, faster than RViz would send them
            select(POSITIVE)
        wait_until(lambda: node.log().count("menu 'Positive mode'") - before == 15, 30,
                   "all 15 selections in the log")
        states.wait_for(lambda s: s.positive_mode)
    finally:
        ros.close()
    assert "internal error" not in node.log()
