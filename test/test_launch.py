"""The launch file (needs launch_ros: skipped on the pip wheels), the parameter file and the RViz config."""

from __future__ import annotations

import dataclasses
import importlib.util
import threading
from pathlib import Path

import pytest
import yaml
from ros_fixtures import NodeProcess, RosClient

from clickenhance_ros.node_parameters import NodeParameters

REPO = Path(__file__).resolve().parents[1]
LAUNCH_FILE = REPO / "launch" / "segment.launch.py"
PARAMS_FILE = REPO / "config" / "segment.yaml"
RVIZ_FILE = REPO / "config" / "segment.rviz"
NODE_KEY = "/**/clickenhance"
NO_LAUNCH = "launch_ros is not installed (the pip ROS 2 wheels lack it); the launch file needs a full ROS 2 install"


def load_launch_module():
    """Import launch/segment.launch.py (a file, not a module of the package)."""
    spec = importlib.util.spec_from_file_location("segment_launch", LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_launch_arguments_have_defaults_descriptions_and_choices() -> None:
    pytest.importorskip("launch_ros", reason=NO_LAUNCH)
    arguments = load_launch_module().launch_arguments()
    assert list(arguments) == ["namespace", "use_sim_time", "params_file", "log_level", "cloud_topic", "rviz"]
    for argument in arguments.values():
        assert argument.default_value is not None and argument.description.strip()
    assert arguments["use_sim_time"].choices == ["true", "false"] and arguments["rviz"].choices == ["true", "false"]
    assert "info" in arguments["log_level"].choices


def test_launch_starts_a_serving_node(tmp_path: Path) -> None:
    pytest.importorskip("launch_ros", reason=NO_LAUNCH)
    from launch import LaunchDescription, LaunchService
    from launch.actions import IncludeLaunchDescription
    from launch.launch_description_sources import PythonLaunchDescriptionSource
    from std_srvs.srv import Trigger

    include = IncludeLaunchDescription(PythonLaunchDescriptionSource(str(LAUNCH_FILE)), launch_arguments={
        "namespace": "launch_test", "params_file": str(PARAMS_FILE), "rviz": "false"}.items())
    service = LaunchService()
    service.include_launch_description(LaunchDescription([include]))
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    client = RosClient("launch_test_client")
    try:
        response = client.call(Trigger, "/launch_test/clickenhance/diagnostics", timeout=60)
        assert response.success and "clickenhance" in response.message
    finally:
        client.close()
        service.shutdown()
        thread.join(30)


def test_params_file_holds_every_parameter_with_its_default() -> None:
    document = yaml.safe_load(PARAMS_FILE.read_text())
    assert list(document) == [NODE_KEY]
    values = document[NODE_KEY]["ros__parameters"]
    defaults = dataclasses.asdict(NodeParameters())
    assert values == defaults
    assert all(type(values[name]) is type(defaults[name]) for name in defaults)  # 0.0 stays a double


@pytest.mark.ros
def test_params_file_applies_to_a_namespaced_node(tmp_path: Path) -> None:
    changed = PARAMS_FILE.read_text().replace("snap_distance: 0.5 ", "snap_distance: 0.75 ")
    changed = changed.replace("method: auto ", "method: baseline ")
    assert changed.count("0.75") == 1
    params = tmp_path / "segment.yaml"
    params.write_text(changed)
    node = NodeProcess(tmp_path / "node.log", {}, ros_args=("--params-file", str(params), "-r", "__ns:=/robot"))
    client = RosClient("params_file_client")
    try:
        from std_srvs.srv import Trigger

        response = client.call_read_only(Trigger, "/robot/clickenhance/diagnostics")
        assert "snap distance 0.75 m" in response.message and "input '/robot/cloud'" in response.message
    finally:
        client.close()
        assert node.stop() == 0, node.log()


def test_rviz_config_shows_the_node_and_publishes_clicks() -> None:
    config = yaml.safe_load(RVIZ_FILE.read_text())["Visualization Manager"]
    displays = {d["Class"].split("/")[-1] + ":" + d.get("Topic", {}).get("Value", d.get(
        "Interactive Markers Namespace", "")) for d in config["Displays"]}
    assert {"PointCloud2:/cloud", "PointCloud2:/clickenhance/segmentation", "PointCloud2:/clickenhance/object",
            "MarkerArray:/clickenhance/click_markers", "InteractiveMarkers:/clickenhance/clicks"} <= displays
    tools = {t["Class"]: t for t in config["Tools"]}
    assert tools["rviz_default_plugins/PublishPoint"]["Topic"]["Value"] == "/clicked_point"
