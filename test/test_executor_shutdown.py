"""Stopping the executor waits for the callbacks it is running (clickenhance_ros.executor_shutdown).

Real rclpy: a node whose service callback takes a while is called by a second node, and the executor
is stopped while the callback runs. Destroying the node before that callback returns is the native
crash this guards against, so the stop must not return before it. And a stop must leave no callback
task failing on the executor's destroyed guard condition, nor an exception in the spinning thread.
"""

from __future__ import annotations

import threading
import time

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy (ROS 2 wheels) is not installed")
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from clickenhance_ros.executor_shutdown import BackgroundSpin, spin_until_shutdown, stop_executor  # noqa: E402

CALLBACK_S = 1.5


def test_stop_returns_only_after_the_running_callback_finished() -> None:
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
    spin = BackgroundSpin(executor)
    caller = client.create_client(Trigger, "slow")
    try:
        assert caller.wait_for_service(timeout_sec=10.0)
        caller.call_async(Trigger.Request())
        assert started.wait(10.0), "the service callback never started"
        assert not finished.is_set()
        begun = time.monotonic()
        assert spin.stop(timeout=10.0)
        assert finished.is_set(), "the stop returned while the callback was still running"
        assert not spin.thread.is_alive()
        assert time.monotonic() - begun < CALLBACK_S + 5.0
    finally:
        server.destroy_node()
        client.destroy_node()
        rclpy.shutdown(context=context)


def test_stop_reports_a_callback_that_outlives_the_timeout() -> None:
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
    spin = BackgroundSpin(executor)
    try:
        assert started.wait(10.0)
        timer.cancel()
        assert not spin.stop(timeout=0.5)  # the timer callback still holds its thread
    finally:
        release.set()
        spin.thread.join(10.0)
        node.destroy_node()
        rclpy.shutdown(context=context)


def test_repeated_stops_under_a_busy_timer_leave_no_failed_callback() -> None:
    """A 1 ms timer keeps callbacks queued at every stop. Shutting the executor down first (rclpy's own order)
    made about one stop in seven leave a task that raised InvalidHandle on the destroyed guard condition."""
    thread_errors: list[str] = []
    previous_hook = threading.excepthook
    threading.excepthook = lambda hook: thread_errors.append(repr(hook.exc_value))
    failed: list[str] = []
    try:
        for k in range(40):
            context = rclpy.Context()
            rclpy.init(context=context)
            node = rclpy.create_node(f"busy_timer_{k}", context=context)
            node.create_timer(0.001, lambda: None)
            executor = MultiThreadedExecutor(num_threads=2, context=context)
            executor.add_node(node)
            spin = BackgroundSpin(executor)
            time.sleep(0.01)
            assert spin.stop(timeout=10.0)
            failed += [repr(task.exception()) for task in executor._futures if task.done() and task.exception()]
            node.destroy_node()
            rclpy.shutdown(context=context)
    finally:
        threading.excepthook = previous_hook
    assert not failed, f"{len(failed)} callback tasks failed at a stop: {failed[:3]}"
    assert not thread_errors, thread_errors


def test_stop_executor_after_a_main_thread_spin_waits_then_shuts_down() -> None:
    """The node's own path: `spin` returned in the main thread (here: one round), then `stop_executor`."""
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("main_thread_spin", context=context)
    ran = threading.Event()

    def slow() -> None:
        time.sleep(0.5)
        ran.set()

    timer = node.create_timer(0.01, slow)
    executor = MultiThreadedExecutor(num_threads=2, context=context)
    executor.add_node(node)
    try:
        executor.spin_once(timeout_sec=5.0)  # hands the timer's callback to the pool and returns
        timer.cancel()
        assert stop_executor(executor, timeout=10.0)
        assert ran.is_set(), "stop_executor returned before the handed-out callback finished"
        assert executor._is_shutdown
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)


class _ShutdownBeforeTheWait(MultiThreadedExecutor):
    """A real executor whose context is shut down at the start of each round, after the loop's `ok()` check and
    before the round's wait set: where a SIGINT's shutdown landed when `make demo`'s node exited with code 1."""

    def spin_once(self, timeout_sec: float | None = None) -> None:
        self.context.shutdown()
        super().spin_once(timeout_sec)


def _racy_executor(name: str) -> tuple[rclpy.Context, rclpy.node.Node, _ShutdownBeforeTheWait]:
    """A fresh context, a node `name` in it and a `_ShutdownBeforeTheWait` executor spinning that node."""
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node(name, context=context)
    executor = _ShutdownBeforeTheWait(num_threads=2, context=context)
    executor.add_node(node)
    return context, node, executor


def test_a_shutdown_between_the_check_and_the_wait_ends_the_main_spin_loop() -> None:
    """A round whose context shut down after the loop checked it makes rclpy raise RCLError ("the given context is
    not valid"); `spin_until_shutdown` returns instead of letting the node exit with an error. An error in a
    round whose context is still valid is not swallowed."""
    context, node, executor = _racy_executor("racy_stop")
    try:
        spin_until_shutdown(executor, wake_s=0.05)
        assert not context.ok()
    finally:
        executor.shutdown(timeout_sec=0)
        node.destroy_node()

    class _Failing(MultiThreadedExecutor):
        def spin_once(self, timeout_sec: float | None = None) -> None:
            raise RuntimeError("a callback's own error")

    context = rclpy.Context()
    rclpy.init(context=context)
    failing = _Failing(num_threads=2, context=context)
    try:
        with pytest.raises(RuntimeError, match="own error"):
            spin_until_shutdown(failing, wake_s=0.05)
    finally:
        failing.shutdown(timeout_sec=0)
        rclpy.shutdown(context=context)


def test_a_background_spin_ends_quietly_when_the_context_shuts_down_under_a_round() -> None:
    """The same interleaving in `BackgroundSpin`'s thread: the loop ends, and no exception reaches the thread's
    hook (before, the RCLError ended the thread with a traceback on stderr)."""
    errors: list[BaseException | None] = []
    previous = threading.excepthook
    threading.excepthook = lambda args: errors.append(args.exc_value)
    _, node, executor = _racy_executor("racy_background")
    try:
        spin = BackgroundSpin(executor)
        spin.thread.join(5.0)
        assert not spin.thread.is_alive() and errors == []
        assert spin.stop(timeout=5.0)
    finally:
        threading.excepthook = previous
        node.destroy_node()


_SPIN_SCRIPT = """
import signal, sys
import rclpy
from rclpy.executors import MultiThreadedExecutor
from clickenhance_ros.executor_shutdown import spin_until_shutdown

rclpy.init()
node = rclpy.create_node("sleepy")
executor = MultiThreadedExecutor(num_threads=2)
executor.add_node(node)
signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's handler alone: no guard condition is woken
print("spinning", flush=True)
try:
    spin_until_shutdown(executor) if sys.argv[1] == "rounds" else executor.spin()
except KeyboardInterrupt:
    print("stopped", flush=True)
"""


@pytest.mark.parametrize("loop", ["rounds", "endless"])
def test_a_sigint_that_wakes_no_wait_set_still_stops_the_main_spin_loop(loop: str) -> None:
    """A node process spinning with nothing to do gets a SIGINT that wakes none of its wait sets (Python's own
    handler, which only marks the signal pending). `spin_until_shutdown` waits in short rounds and stops within
    a second; `Executor.spin`'s one endless wait sleeps on, which is how a node came to be killed at a stop."""
    import signal
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", _SPIN_SCRIPT, loop], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "spinning"
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=3.0)
        except subprocess.TimeoutExpired:
            assert loop == "endless", "spin_until_shutdown did not stop within 3 s of SIGINT"
            return
        assert loop == "rounds", "the endless wait stopped: this test no longer shows the missed wake-up"
        assert process.stdout.read().strip() == "stopped" and process.returncode == 0
    finally:
        process.kill()
        process.wait()
