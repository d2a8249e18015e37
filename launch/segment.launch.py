"""Launch the clickenhance node, and RViz when asked.

    ros2 launch clickenhance_ros segment.launch.py cloud_topic:=/velodyne_points rviz:=true

RViz is optional (headless robots do not install it): `rviz:=true` needs the `rviz2`
package (`sudo apt install ros-jazzy-rviz2`); without it the node starts alone and a
warning says why. The RViz config is written at launch time from config/segment.rviz with
the topics of this launch's namespace, cloud topic and params file.

`launch` and `launch_ros` are imported here only (a full ROS 2 install has them; the
pip-installed wheels do not, and nothing else in the package needs them).
"""

from __future__ import annotations

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.logging import get_logger
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from clickenhance_ros.launch_arguments import parse_flag, resolve_namespace
from clickenhance_ros.rviz_config import NODE_NAME, node_topics, read_node_parameters, write_rviz_config

PACKAGE = "clickenhance_ros"
FLAG = "true or false (also 1/0, yes/no, on/off, any case)"


def launch_arguments() -> dict[str, DeclareLaunchArgument]:
    """Every argument of this launch file, by name, each with a default and a description."""
    share = FindPackageShare(PACKAGE)
    arguments = [
        DeclareLaunchArgument("namespace", default_value="",
                              description="Namespace of the node; its topics and services move with it."),
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description=f"Use /clock (bag playback, simulation) instead of the wall clock: {FLAG}."),
        DeclareLaunchArgument("params_file", default_value=PathJoinSubstitution([share, "config", "segment.yaml"]),
                              description="YAML file with the node's parameters (under /**/clickenhance)."),
        DeclareLaunchArgument("log_level", default_value="info", choices=["debug", "info", "warn", "error", "fatal"],
                              description="Logging level of the node."),
        DeclareLaunchArgument("cloud_topic", default_value="cloud",
                              description="PointCloud2 topic to segment (remaps the node's 'cloud' input)."),
        DeclareLaunchArgument("rviz", default_value="false",
                              description=f"Also start RViz (clicks, menu, results), {FLAG}; needs the rviz2 "
                                          "package (sudo apt install ros-jazzy-rviz2)."),
    ]
    return {argument.name: argument for argument in arguments}


def launch_nodes(context: LaunchContext) -> dict[str, Node]:
    """The nodes to start for the resolved arguments: the segmenter, and RViz when asked and installed.

    Raises ValueError naming the argument whose value is wrong (launch reports it and stops).
    """
    arguments = {name: LaunchConfiguration(name).perform(context) for name in launch_arguments()}
    namespace = resolve_namespace(arguments["namespace"])
    use_sim_time = parse_flag(arguments["use_sim_time"], "use_sim_time")
    nodes = {"clickenhance": Node(
        package=PACKAGE, executable="segment_node", name=NODE_NAME,
        namespace=arguments["namespace"].strip().rstrip("/"),
        parameters=[arguments["params_file"], {"use_sim_time": use_sim_time}],
        remappings=[("cloud", arguments["cloud_topic"])],
        arguments=["--ros-args", "--log-level", arguments["log_level"]],
        output="screen", emulate_tty=True)}
    if parse_flag(arguments["rviz"], "rviz"):
        if not _package_installed("rviz2"):
            get_logger("segment.launch").warning(
                "rviz:=true but the rviz2 package is not installed (sudo apt install ros-jazzy-rviz2): "
                "starting the node without RViz")
            return nodes
        topics = node_topics(namespace, arguments["cloud_topic"],
                             read_node_parameters(arguments["params_file"], namespace))
        template = PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "segment.rviz"]).perform(context)
        nodes["rviz"] = Node(package="rviz2", executable="rviz2", name="rviz2",
                             arguments=["-d", str(write_rviz_config(template, topics))],
                             parameters=[{"use_sim_time": use_sim_time}], output="log")
    return nodes


def _package_installed(package: str) -> bool:
    """True when the ament index knows `package`."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        get_package_prefix(package)
    except PackageNotFoundError:
        return False
    return True


def generate_launch_description() -> LaunchDescription:
    """Arguments first, then the nodes, built once the arguments are resolved."""
    return LaunchDescription([*launch_arguments().values(),
                              OpaqueFunction(function=lambda context: list(launch_nodes(context).values()))])
