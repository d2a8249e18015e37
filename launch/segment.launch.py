"""Launch the clickenhance node, and RViz when asked.

    ros2 launch clickenhance_ros segment.launch.py cloud_topic:=/velodyne_points rviz:=true

`launch` and `launch_ros` are imported here only (a full ROS 2 install has them; the
pip-installed wheels do not, and nothing else in the package needs them).
"""

from __future__ import annotations

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PACKAGE = "clickenhance_ros"
BOOLEAN = ["true", "false"]


def launch_arguments() -> dict[str, DeclareLaunchArgument]:
    """Every argument of this launch file, by name, each with a default and a description."""
    share = FindPackageShare(PACKAGE)
    arguments = [
        DeclareLaunchArgument("namespace", default_value="",
                              description="Namespace of the node; its topics and services move with it."),
        DeclareLaunchArgument("use_sim_time", default_value="false", choices=BOOLEAN,
                              description="Use /clock (bag playback, simulation) instead of the wall clock."),
        DeclareLaunchArgument("params_file", default_value=PathJoinSubstitution([share, "config", "segment.yaml"]),
                              description="YAML file with the node's parameters (under /**/clickenhance)."),
        DeclareLaunchArgument("log_level", default_value="info", choices=["debug", "info", "warn", "error", "fatal"],
                              description="Logging level of the node."),
        DeclareLaunchArgument("cloud_topic", default_value="cloud",
                              description="PointCloud2 topic to segment (remaps the node's 'cloud' input)."),
        DeclareLaunchArgument("rviz", default_value="false", choices=BOOLEAN,
                              description="Also start RViz with config/segment.rviz (clicks, menu, results)."),
    ]
    return {argument.name: argument for argument in arguments}


def launch_nodes() -> dict[str, Node]:
    """The nodes this launch file starts, by name."""
    share = FindPackageShare(PACKAGE)
    use_sim_time = ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool)
    segment = Node(
        package=PACKAGE, executable="segment_node", name="clickenhance",
        namespace=LaunchConfiguration("namespace"),
        parameters=[LaunchConfiguration("params_file"), {"use_sim_time": use_sim_time}],
        remappings=[("cloud", LaunchConfiguration("cloud_topic"))],
        arguments=["--ros-args", "--log-level", LaunchConfiguration("log_level")],
        output="screen", emulate_tty=True)
    rviz = Node(
        package="rviz2", executable="rviz2", name="rviz2",
        arguments=["-d", PathJoinSubstitution([share, "config", "segment.rviz"])],
        parameters=[{"use_sim_time": use_sim_time}],
        condition=IfCondition(LaunchConfiguration("rviz")), output="log")
    return {"clickenhance": segment, "rviz": rviz}


def generate_launch_description() -> LaunchDescription:
    """Arguments first, then the nodes."""
    return LaunchDescription([*launch_arguments().values(), *launch_nodes().values()])
