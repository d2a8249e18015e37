"""Shared test set-up: an isolated ROS domain per run, small thread pools, data paths, and
ROS tests that fail instead of skipping where ROS is expected (skip_policy.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from skip_policy import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401 - hooks

# Each test run gets its own DDS domain so two runs on one machine never talk to each other.
os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_SCANS = REPO_ROOT.parent / "shared" / "real_scans" / "semantickitti"


@pytest.fixture(scope="session", autouse=True)
def _small_thread_pools() -> None:
    """Keep torch to the machine's cores so parallel processes in a test do not thrash."""
    import torch

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def one_thread():
    """Run single-threaded: tiny sparse ops spend most of their time in OpenMP barriers when the
    shared CPU is busy (0.25 s per training step on one thread, seconds on two under load)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def real_scans_dir() -> Path:
    """The shared real SemanticKITTI scans; tests using it are skipped where it is absent."""
    if not REAL_SCANS.is_dir():
        pytest.skip(f"real scans not present at {REAL_SCANS} (only on development machines)")
    return REAL_SCANS


@pytest.fixture
def ros_node() -> Iterator[Any]:
    """A plain rclpy node in its own context (for a worker's transform lookups); rclpy is imported here."""
    rclpy = pytest.importorskip("rclpy")
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("worker_test", context=context)
    yield node
    node.destroy_node()
    rclpy.shutdown(context=context)
