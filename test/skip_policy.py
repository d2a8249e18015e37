"""Skips that must fail: a ROS test skipped where ROS should work is a broken environment, not a pass.

Hooks for conftest.py. Where ROS is expected (rclpy is installed, or `CI` is set, or
`CLICKENHANCE_STRICT_ROS_SKIPS=1`), a test marked `ros` that skips, and a test module whose
collection skips (the module-level `importorskip("rclpy")` of the node tests), are reported as
failures, unless the reason is one of `ALLOWED_REASONS`: packages a pip-wheel ROS cannot have
(launch_ros, interactive_markers), hardware that may be absent (CUDA) and the real
development scans, which a user's clone does not have.
`CLICKENHANCE_STRICT_ROS_SKIPS=0` turns it off.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Generator

import pytest

ALLOWED_REASONS = (
    "launch_ros is not installed",
    "the interactive_markers library is not installed",
    "needs a CUDA device",
    "real scans not present",  # the licensed dev scans: only beside a development checkout (../shared)
    "real indoor region not present",
    "tf2_ros installed",  # the test of the path without tf2_ros, on a full ROS install
)
STRICT_VARIABLE = "CLICKENHANCE_STRICT_ROS_SKIPS"
_FALSE = ("", "0", "false", "no", "off")


def ros_expected() -> bool:
    """True where a skipped ROS test means a broken environment (see the module doc)."""
    explicit = os.environ.get(STRICT_VARIABLE)
    if explicit is not None:
        return explicit.strip().lower() not in _FALSE
    if os.environ.get("CI", "").strip().lower() not in _FALSE:
        return True
    return importlib.util.find_spec("rclpy") is not None


def _skip_reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    """The message of a skip report (longrepr is (file, line, message) for skips)."""
    longrepr = report.longrepr
    return longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)


def _fail_skip(report: pytest.CollectReport | pytest.TestReport, what: str) -> None:
    """Turn a skip report into a failure whose message says why, unless its reason is allowed."""
    reason = _skip_reason(report)
    if any(allowed in reason for allowed in ALLOWED_REASONS):
        return
    report.outcome = "failed"
    report.longrepr = (f"{what} was skipped where ROS is expected ({STRICT_VARIABLE}, CI or rclpy installed): "
                       f"{reason}\nA broken ROS environment must not pass as skips; set {STRICT_VARIABLE}=0 "
                       f"to allow it on purpose.")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Generator[None, None, None]:
    """A skipped test marked `ros` fails where ROS is expected."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and item.get_closest_marker("ros") and ros_expected():
        _fail_skip(report, f"ROS test {item.nodeid}")


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, None, None]:
    """A test module skipped while it is imported (importorskip of ROS packages) fails where ROS is expected."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and isinstance(collector, pytest.Module) and ros_expected():
        _fail_skip(report, f"test module {collector.nodeid}")
