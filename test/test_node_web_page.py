"""The node's browser page (`web_port`): clicks from the browser and from ROS services go through
the same worker, and the page follows what RViz sees. Real node process, real DDS, headless Chromium."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from cloud_factories import ground_and_box
from ros_fixtures import LATCHED, NodeProcess, RosClient, node_parameters, ouster_cloud, wait_until
from test_annotate_browser import browser, button, wait_for  # noqa: F401 - the fixture

rclpy = pytest.importorskip("rclpy")
from sensor_msgs.msg import PointCloud2  # noqa: E402

from clickenhance_model.annotation import Annotation  # noqa: E402
from clickenhance_ros.msg import SegmentationState  # noqa: E402
from clickenhance_ros.srv import AcceptObject  # noqa: E402

pytestmark = pytest.mark.ros


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[NodeProcess, RosClient, str]]:
    port = free_port()
    node = NodeProcess(tmp_path / "node.log", node_parameters(tmp_path, web_port=port, state_publish_rate=0.0,
                                                              autosave=False))
    ros = RosClient("web_page_client")
    try:
        wait_until(lambda: f"annotation page at http://127.0.0.1:{port}/" in node.log() or not node.alive(),
                   60, "the node's page")
        assert node.alive(), node.log()
        yield node, ros, f"http://127.0.0.1:{port}/"
    finally:
        ros.close()
        node.stop()


def test_browser_and_ros_requests_share_the_node_session(live, browser, tmp_path: Path) -> None:  # noqa: F811
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    node, ros, url = live
    xyz, box = ground_and_box()
    states = ros.subscribe(SegmentationState, "/clickenhance/state", LATCHED)
    publisher = ros.node.create_publisher(PointCloud2, "/cloud", 1)
    ros.wait_for_subscriber(publisher)
    ros.keep_publishing(publisher, ouster_cloud(xyz, np.zeros(len(xyz), np.float32), stamp_sec=42))
    body_text = lambda: browser.find_element(By.TAG_NAME, "body").text  # noqa: E731
    for _ in range(10):  # the page shows the latest cloud once the node has one
        browser.get(url)
        if wait_for(lambda: "Save" in body_text(), "the controls") and re.search(r"Frame\s*live 42", body_text()):
            break
    assert re.search(r"Frame\s*live 42", body_text()), body_text()
    canvas = max(browser.find_elements(By.TAG_NAME, "canvas"), key=lambda c: c.size["width"] * c.size["height"])
    mask_count = re.compile(r"Mask:\s*([1-9]\d*) points")
    for _ in range(3):  # the first click may land before the browser has sent its camera
        ActionChains(browser).move_to_element(canvas).click().perform()
        wait_for(lambda: mask_count.search(body_text()) or "no scan point" in body_text(), "a click", 30)
        if mask_count.search(body_text()):
            break
    assert mask_count.search(body_text()), body_text()
    state = states.wait_for(lambda s: len(s.clicks) == 1)  # RViz's view has the browser's click
    assert state.active and state.object_point_count == int(mask_count.search(body_text()).group(1))
    accepted = ros.call(AcceptObject, "/clickenhance/accept", AcceptObject.Request())  # the RViz side accepts
    assert accepted.success, accepted.message
    wait_for(lambda: re.search(r"Mask:\s*0 points", body_text()), "the page to follow the accept")
    button(browser, "Save").click()
    folder = tmp_path / "annotations" / "scan_0000000042_000000000"
    wait_for(lambda: (folder / "clicks.json").is_file(), "the node's save")
    saved = Annotation.load(folder)
    assert [o.object_id for o in saved.objects] == [1]
    annotated = saved.labels >> 16 == 1
    assert (annotated & box).sum() / (annotated | box).sum() > 0.9
