"""package.xml and CMakeLists.txt: declared ROS dependencies are the ones the code imports, and
`colcon test` runs this suite."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CODE = [*sorted((REPO / "clickenhance_ros").glob("*.py")), *sorted((REPO / "clickenhance_model").rglob("*.py")),
        REPO / "launch" / "segment.launch.py", REPO / "scripts" / "segment_node"]
# Run-time dependencies that no Python file imports by name: message generation and runtime,
# and the interfaces our .msg/.srv files use.
NOT_IMPORTED = {"rosidl_default_runtime", "builtin_interfaces"}
SYSTEM_PYTHON = {"python3-numpy": "numpy", "python3-scipy": "scipy", "python3-yaml": "yaml",
                 "python3-tqdm": "tqdm", "python3-matplotlib": "matplotlib"}


def depends(kind: str) -> list[str]:
    """The package.xml entries of one kind (exec_depend, test_depend, ...)."""
    return [element.text for element in ElementTree.parse(REPO / "package.xml").getroot().iter(kind)]


def imported_modules() -> set[str]:
    """Top-level names of every module imported by the package's code (lazy imports included)."""
    pattern = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_]\w*)", re.MULTILINE)
    return {name for path in CODE for name in pattern.findall(path.read_text())}


def test_every_exec_depend_is_imported() -> None:
    imported = imported_modules()
    unused = [name for name in depends("exec_depend")
              if name not in NOT_IMPORTED and SYSTEM_PYTHON.get(name, name) not in imported]
    assert unused == []


def test_every_imported_ros_package_is_declared() -> None:
    ros_packages = {"rclpy", "rcl_interfaces", "std_msgs", "std_srvs", "geometry_msgs", "sensor_msgs",
                    "visualization_msgs", "tf2_ros", "interactive_markers", "launch", "launch_ros",
                    "ament_index_python", "sensor_msgs_py", "tf2_geometry_msgs", "builtin_interfaces"}
    missing = (imported_modules() & ros_packages) - set(depends("exec_depend"))
    assert missing == set()


def test_rviz_is_optional_for_headless_robots() -> None:
    assert "rviz2" not in depends("exec_depend") + depends("depend")
    launch_file = (REPO / "launch" / "segment.launch.py").read_text()
    assert 'DeclareLaunchArgument("rviz", default_value="false"' in launch_file
    assert "apt install ros-jazzy-rviz2" in launch_file


def test_colcon_test_runs_the_pytest_suite() -> None:
    cmake = (REPO / "CMakeLists.txt").read_text()
    block = cmake[cmake.index("if(BUILD_TESTING)"):cmake.index("endif()", cmake.index("if(BUILD_TESTING)"))]
    assert "find_package(ament_cmake_pytest REQUIRED)" in block
    assert re.search(r"ament_add_pytest_test\(\w+ test\b", block)
    assert "ament_cmake_pytest" in depends("test_depend") and "python3-hypothesis" in depends("test_depend")
