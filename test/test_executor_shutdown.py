"""Stopping the executor waits for the callbacks it is running (clickenhance_ros.executor_shutdown).

Real rclpy: a node whose service callback takes a while is called by a second node, and the executor
is stopped while the callback runs. Destroying the node before that callback returns is the native
crash this guards against, so `stop_executor` must not return before it.
"""

from __future__ import annotations

import threading
import time

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy (ROS 2 wheels) is not installed")
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from clickenhance_ros.executor_shutdown import stop_executor  # noqa: E402

CALLBACK_S = 1.5


def test_stop_executor_returns_only_after_the_running_callback_finished() -> None:
    context = rclpy.Context()
    rclpy.init(context=context)
    server = rclpy.create_node("slow_server", context=context)
    client = rclpy.create_node("slow_client", context=context)
    started, finished = threading.Event(), threading.Event()

    def slow(request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        started.set()
        time.sleep(CALLBACK_S)
        finished.set()
        response.success = True
        return response

    server.create_service(Trigger, "slow", slow)
    executor = MultiThreadedExecutor(num_threads=2, context=context)
    executor.add_node(server)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    caller = client.create_client(Trigger, "slow")
    try:
        assert caller.wait_for_service(timeout_sec=10.0)
        caller.call_async(Trigger.Request())
        assert started.wait(10.0), "the service callback never started"
        assert not finished.is_set()
        begun = time.monotonic()
        assert stop_executor(executor, spin, timeout=10.0)
        assert finished.is_set(), "stop_executor returned while the callback was still running"
        assert not spin.is_alive()
        assert time.monotonic() - begun < CALLBACK_S + 5.0
    finally:
        server.destroy_node()
        client.destroy_node()
        rclpy.shutdown(context=context)


def test_stop_executor_reports_a_callback_that_outlives_the_timeout() -> None:
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("stuck_timer", context=context)
    release, started = threading.Event(), threading.Event()

    def stuck() -> None:
        started.set()
        release.wait(30.0)

    timer = node.create_timer(0.05, stuck)
    executor = MultiThreadedExecutor(num_threads=2, context=context)
    executor.add_node(node)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    try:
        assert started.wait(10.0)
        timer.cancel()
        assert not stop_executor(executor, spin, timeout=0.5)  # the timer callback still holds its thread
    finally:
        release.set()
        spin.join(10.0)
        node.destroy_node()
        rclpy.shutdown(context=context)
