"""The launch file (needs launch_ros: skipped on the pip wheels), the parameter file and the RViz template.

Upstream launch runs `LaunchService.run` only in the main thread, so the launch tests run the
service there and their ROS client in a thread that calls `service.shutdown()` when done.
The launch-free parts (flags, names, the generated RViz config) are in test_rviz_config.py.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def load_launch_module() -> Any:
    """Import launch/segment.launch.py (a file, not a module of the package)."""
    pytest.importorskip("launch_ros", reason=NO_LAUNCH)
    spec = importlib.util.spec_from_file_location("segment_launch", LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def launch_context(module: Any, **arguments: str) -> Any:
    """A LaunchContext holding `arguments` and every other argument's default."""
    from launch import LaunchContext
    from launch.utilities import perform_substitutions

    context = LaunchContext()
    context.launch_configurations.update(arguments)
    for name, argument in module.launch_arguments().items():
        if name not in arguments:
            context.launch_configurations[name] = perform_substitutions(context, argument.default_value)
    return context


def run_launch(arguments: dict[str, str], client_side: Callable[[], Any], timeout: float = 120.0
               ) -> tuple[int, Any, list[int]]:
    """Run the launch file in the main thread and `client_side` in a thread; return the launch's return
    code, what `client_side` returned and the exit codes of the launched processes."""
    from launch import LaunchDescription, LaunchService
    from launch.actions import IncludeLaunchDescription, RegisterEventHandler
    from launch.event_handlers import OnProcessExit
    from launch.launch_description_sources import PythonLaunchDescriptionSource

    exits: list[int] = []
    include = IncludeLaunchDescription(PythonLaunchDescriptionSource(str(LAUNCH_FILE)),
                                       launch_arguments=arguments.items())
    on_exit = RegisterEventHandler(OnProcessExit(on_exit=lambda event, _: exits.append(event.returncode)))
    service = LaunchService()
    service.include_launch_description(LaunchDescription([on_exit, include]))
    outcome: dict[str, Any] = {}
    launch_done = threading.Event()

    def client_thread() -> None:
        try:
            outcome["result"] = client_side()
        except BaseException as error:  # noqa: BLE001 - re-raised in the main thread
            outcome["error"] = error
        while not launch_done.is_set():  # shutdown() does nothing until the service runs
            service.shutdown()
            launch_done.wait(1.0)

    thread = threading.Thread(target=client_thread, daemon=True)
    thread.start()
    try:
        return_code = service.run()
    finally:
        launch_done.set()
        thread.join(timeout)
    if "error" in outcome:
        raise outcome["error"]
    return return_code, outcome.get("result"), exits


def test_launch_arguments_have_defaults_descriptions_and_choices() -> None:
    arguments = load_launch_module().launch_arguments()
    assert list(arguments) == ["namespace", "use_sim_time", "params_file", "log_level", "cloud_topic", "rviz"]
    for argument in arguments.values():
        assert argument.default_value is not None and argument.description.strip()
    assert arguments["log_level"].choices == ["debug", "info", "warn", "error", "fatal"]
    # flags are parsed by the launch file (True/1/yes...), so launch's exact-string choices are not used
    assert arguments["use_sim_time"].choices is None and arguments["rviz"].choices is None
    assert "rviz2" in arguments["rviz"].description
    from launch.utilities import perform_substitutions
    assert perform_substitutions(launch_context(load_launch_module()), arguments["rviz"].default_value) == "false"


@pytest.mark.parametrize(("name", "value"), [("use_sim_time", "maybe"), ("rviz", "2"), ("namespace", "1robot")])
def test_bad_argument_values_are_refused_naming_the_argument(name: str, value: str) -> None:
    module = load_launch_module()
    with pytest.raises(ValueError, match=name if name != "namespace" else "namespace '1robot'"):
        module.launch_nodes(launch_context(module, **{name: value}))


def test_rviz_starts_only_where_rviz2_is_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_launch_module()
    from launch.substitutions import TextSubstitution
    from launch.utilities import perform_substitutions

    assert set(module.launch_nodes(launch_context(module, rviz="false"))) == {"clickenhance"}
    if not module._package_installed("rviz2"):  # a headless machine: the node starts alone
        assert set(module.launch_nodes(launch_context(module, rviz="True"))) == {"clickenhance"}
        # an ament prefix that holds an rviz2 package (as an apt install of ros-jazzy-rviz2 does)
        marker = tmp_path / "share" / "ament_index" / "resource_index" / "packages" / "rviz2"
        marker.parent.mkdir(parents=True)
        marker.touch()
        monkeypatch.setenv("AMENT_PREFIX_PATH", f"{tmp_path}:{__import__('os').environ['AMENT_PREFIX_PATH']}")
    context = launch_context(module, rviz="yes", namespace="robot", cloud_topic="/velodyne_points")
    rviz = module.launch_nodes(context)["rviz"]
    texts = [part for part in rviz.cmd if all(isinstance(s, TextSubstitution) for s in part)]
    command = [perform_substitutions(context, part) for part in texts]
    config = Path(command[command.index("-d") + 1])
    try:
        text = config.read_text()
        assert "/robot/clickenhance/segmentation" in text and "Value: /velodyne_points" in text
    finally:
        config.unlink()


def test_launch_starts_a_serving_node_and_shuts_it_down_cleanly(tmp_path: Path) -> None:
    load_launch_module()
    from rcl_interfaces.msg import ParameterType
    from rcl_interfaces.srv import GetParameters
    from std_srvs.srv import Trigger

    params = tmp_path / "segment.yaml"
    params.write_text(PARAMS_FILE.read_text().replace("snap_distance: 0.5 ", "snap_distance: 0.75 ")
                      .replace("method: auto ", "method: baseline "))
    client = RosClient("launch_test_client")

    def ask_the_node() -> tuple[str, Any]:
        diagnostics = client.call_read_only(Trigger, "/launch_test/clickenhance/diagnostics", timeout=60)
        request = GetParameters.Request(names=["use_sim_time"])
        return diagnostics.message, client.call(GetParameters, "/launch_test/clickenhance/get_parameters", request)

    try:
        code, (message, parameters), exits = run_launch(
            {"namespace": "launch_test", "params_file": str(params), "use_sim_time": "True",
             "cloud_topic": "/velodyne_points", "log_level": "warn", "rviz": "false"}, ask_the_node)
    finally:
        client.close()
    assert "snap distance 0.75 m" in message and "input '/velodyne_points'" in message
    assert parameters.values[0].type == ParameterType.PARAMETER_BOOL and parameters.values[0].bool_value
    assert code == 0 and exits == [0]  # SIGINT from launch: the node exits cleanly


def test_launch_with_a_bad_flag_fails_without_starting_anything() -> None:
    load_launch_module()
    code, _, exits = run_launch({"use_sim_time": "maybe"}, lambda: None, timeout=30)
    assert code != 0 and exits == []


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


def test_rviz_template_shows_the_node_and_publishes_clicks() -> None:
    config = yaml.safe_load(RVIZ_FILE.read_text())["Visualization Manager"]
    displays = {d["Class"].split("/")[-1] + ":" + d.get("Topic", {}).get("Value", d.get(
        "Interactive Markers Namespace", "")) for d in config["Displays"]}
    assert {"PointCloud2:/cloud", "PointCloud2:/clickenhance/segmentation", "PointCloud2:/clickenhance/object",
            "MarkerArray:/clickenhance/click_markers", "InteractiveMarkers:/clickenhance/clicks"} <= displays
    tools = {t["Class"]: t for t in config["Tools"]}
    assert tools["rviz_default_plugins/PublishPoint"]["Topic"]["Value"] == "/clicked_point"
