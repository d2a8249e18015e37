"""Launch-time RViz config and launch arguments, without `launch`: topics follow namespace, remap and params."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from clickenhance_ros.launch_arguments import parse_flag, resolve_name, resolve_namespace
from clickenhance_ros.rviz_config import NodeTopics, node_topics, read_node_parameters, rviz_config, write_rviz_config

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "config" / "segment.rviz"


def shown_topics(config: dict) -> set[str]:
    """'Class:topic' of every display of an RViz config, and the Publish Point tool's topic."""
    manager = config["Visualization Manager"]
    shown = {d["Class"].split("/")[-1] + ":" + d.get("Topic", {}).get("Value", d.get(
        "Interactive Markers Namespace", "")) for d in manager["Displays"]}
    tools = {t["Class"]: t for t in manager["Tools"]}
    return shown | {"PublishPoint:" + tools["rviz_default_plugins/PublishPoint"]["Topic"]["Value"]}


@pytest.mark.parametrize(("text", "value"), [
    ("true", True), ("True", True), ("TRUE", True), ("1", True), ("yes", True), ("On", True),
    ("false", False), ("False", False), ("0", False), ("No", False), (" off ", False)])
def test_flags_accept_what_operators_type(text: str, value: bool) -> None:
    assert parse_flag(text, "use_sim_time") is value


@pytest.mark.parametrize("text", ["", "maybe", "2", "truee", "-1"])
def test_other_flag_values_are_refused_naming_the_argument(text: str) -> None:
    with pytest.raises(ValueError, match=f"launch argument 'rviz' must be true or false .*got {text!r}"):
        parse_flag(text, "rviz")


@pytest.mark.parametrize(("name", "namespace", "expected"), [
    ("cloud", "", "/cloud"), ("cloud", "/", "/cloud"), ("cloud", "robot", "/robot/cloud"),
    ("cloud", "/a/b/", "/a/b/cloud"), ("/velodyne_points", "robot", "/velodyne_points"),
    ("~/clicks", "robot", "/robot/clickenhance/clicks"), ("~/clicks", "", "/clickenhance/clicks"),
    ("sensors/points", "r1", "/r1/sensors/points")])
def test_names_resolve_as_rcl_expands_them(name: str, namespace: str, expected: str) -> None:
    assert resolve_name(name, namespace, "clickenhance") == expected


@pytest.mark.parametrize(("call", "message"), [
    (lambda: resolve_namespace("1robot"), "namespace '1robot' is not a valid ROS name"),
    (lambda: resolve_namespace("ro bot"), "bad part 'ro bot'"),
    (lambda: resolve_namespace("a//b"), "bad part ''"),
    (lambda: resolve_name("points/", "", "clickenhance"), "ends with '/'"),
    (lambda: resolve_name("", "", "clickenhance"), "is empty"),
    (lambda: resolve_name("/velodyne-points", "", "clickenhance"), "topic name '/velodyne-points'")])
def test_bad_names_raise_value_error_naming_them(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_default_launch_keeps_the_template_topics() -> None:
    template = yaml.safe_load(TEMPLATE.read_text())
    assert rviz_config(template, node_topics()) == template
    assert shown_topics(template) == {
        "Grid:", "PointCloud2:/cloud", "PointCloud2:/clickenhance/segmentation", "PointCloud2:/clickenhance/object",
        "PointCloud2:/clickenhance/followed_object", "MarkerArray:/clickenhance/click_markers",
        "InteractiveMarkers:/clickenhance/clicks",
        "PublishPoint:/clicked_point"}


def test_generated_config_follows_namespace_and_cloud_topic(tmp_path: Path) -> None:
    topics = node_topics("robot", "/velodyne_points")
    path = write_rviz_config(TEMPLATE, topics, tmp_path / "robot.rviz")
    config = yaml.safe_load(path.read_text())
    assert shown_topics(config) == {
        "Grid:", "PointCloud2:/velodyne_points", "PointCloud2:/robot/clickenhance/segmentation",
        "PointCloud2:/robot/clickenhance/object", "PointCloud2:/robot/clickenhance/followed_object",
        "MarkerArray:/robot/clickenhance/click_markers",
        "InteractiveMarkers:/robot/clickenhance/clicks", "PublishPoint:/clicked_point"}
    template = yaml.safe_load(TEMPLATE.read_text())
    assert config["Visualization Manager"]["Global Options"] == template["Visualization Manager"]["Global Options"]
    assert config["Window Geometry"] == template["Window Geometry"]  # only topics change


def test_relative_cloud_topic_follows_the_namespace_and_temp_files_are_reused_per_config() -> None:
    first = write_rviz_config(TEMPLATE, node_topics("robot", "points"))
    second = write_rviz_config(TEMPLATE, node_topics("other"))
    assert first != second and first.suffix == ".rviz"
    assert "PointCloud2:/robot/points" in shown_topics(yaml.safe_load(first.read_text()))
    assert "PointCloud2:/other/cloud" in shown_topics(yaml.safe_load(second.read_text()))
    before = sorted(first.parent.iterdir())
    assert write_rviz_config(TEMPLATE, node_topics("robot", "points")) == first  # a relaunch adds no file
    assert sorted(first.parent.iterdir()) == before


def test_topic_parameters_of_the_params_file_are_followed(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({
        "/**": {"ros__parameters": {"use_sim_time": True, "cloud_topic": "ignored_by_later_section"}},
        "/**/clickenhance": {"ros__parameters": {"cloud_topic": "/ouster/points", "marker_namespace": "~/menu"}},
        "/robot/clickenhance": {"ros__parameters": {"clicked_point_topic": "clicked"}},
        "/other/clickenhance": {"ros__parameters": {"clicked_point_topic": "not_this_node"}},
        "clickenhance_other": {"ros__parameters": {"cloud_topic": "not_this_node"}}}))
    values = read_node_parameters(params, "robot")
    assert values == {"use_sim_time": True, "cloud_topic": "/ouster/points", "marker_namespace": "~/menu",
                      "clicked_point_topic": "clicked"}
    # the launch remap of `cloud` no longer applies: the parameter names another topic
    assert node_topics("robot", "/velodyne_points", values) == NodeTopics(
        cloud="/ouster/points", segmentation="/robot/clickenhance/segmentation",
        object="/robot/clickenhance/object", followed_object="/robot/clickenhance/followed_object",
        click_markers="/robot/clickenhance/click_markers",
        interactive_markers="/robot/clickenhance/menu", clicked_point="/robot/clicked")
    config = yaml.safe_load(write_rviz_config(TEMPLATE, node_topics("robot", "", values), tmp_path / "a.rviz")
                            .read_text())
    assert {"InteractiveMarkers:/robot/clickenhance/menu", "PublishPoint:/robot/clicked"} <= shown_topics(config)


def test_shipped_params_file_gives_the_default_topics() -> None:
    values = read_node_parameters(REPO / "config" / "segment.yaml", "robot")
    assert node_topics("robot", "/velodyne_points", values).cloud == "/velodyne_points"
    assert node_topics("robot", "cloud", values).cloud == "/robot/cloud"


@pytest.mark.parametrize(("text", "message"), [("[1, 2", "cannot be read as YAML"), ("- a\n- b\n", "must map")])
def test_unreadable_params_file_is_named(tmp_path: Path, text: str, message: str) -> None:
    params = tmp_path / "bad.yaml"
    params.write_text(text)
    with pytest.raises(ValueError, match=f"params_file '{params}' {message}"):
        read_node_parameters(params)
    with pytest.raises(ValueError, match="missing.yaml' cannot be read"):
        read_node_parameters(tmp_path / "missing.yaml")
