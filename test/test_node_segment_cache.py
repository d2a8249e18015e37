"""The `segment_cache_clouds` parameter over real DDS: ~/segment keeps the sessions of that many clouds.

A node started with segment_cache_clouds=1 keeps only the latest cloud's session: after a
request on cloud B, cloud A is opened again (the reply does not say "scan reused"), where the
default of 2 would still hold A.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ros_fixtures import NodeProcess, RosClient, box_scene, node_parameters, scene_cloud

rclpy = pytest.importorskip("rclpy")
from geometry_msgs.msg import Point  # noqa: E402

from clickenhance_ros.srv import SegmentObject  # noqa: E402

pytestmark = pytest.mark.ros
SCENE = box_scene(seed=1)
NAMESPACE = "/cache_one"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RosClient]:
    """A client of a node whose ~/segment caches one cloud."""
    folder = tmp_path_factory.mktemp("segment_cache")
    node = NodeProcess(folder / "node.log", node_parameters(folder, segment_cache_clouds=1, state_publish_rate=0.0),
                       ros_args=("-r", f"__ns:={NAMESPACE}"))
    ros = RosClient("segment_cache_client")
    try:
        ros.client(SegmentObject, f"{NAMESPACE}/clickenhance/segment", timeout=60.0)
        yield ros
    finally:
        ros.close()
        alive = node.alive()
        code = node.stop()
    assert alive and code == 0, f"node exited with {code}:\n{node.log()}"


def test_segment_cache_clouds_bounds_the_reused_scans(client: RosClient) -> None:
    top = SCENE.tops[0]

    def segment(frame: str) -> str:
        cloud = scene_cloud(SCENE)
        cloud.header.frame_id = frame  # the frame is part of a cloud's identity: two clouds of the same points
        request = SegmentObject.Request(cloud=cloud, positive_points=[Point(x=top[0], y=top[1], z=top[2])])
        response = client.call(SegmentObject, f"{NAMESPACE}/clickenhance/segment", request)
        assert response.success, response.message
        return response.message

    messages = [segment(frame) for frame in ("cloud_a", "cloud_a", "cloud_b", "cloud_a")]
    reused = ["scan reused" in message for message in messages]
    assert reused == [False, True, False, False], messages  # B pushed A out of a one-cloud cache
