"""Stopping a MultiThreadedExecutor so that no callback outlives the node it belongs to.

rclpy's `Executor.shutdown` (Jazzy) documents that it waits for running callbacks, but the wait is
skipped: its check reads the shutdown flag it has just set. It then destroys the executor's guard
condition at once, while

- a pool thread may still be inside a callback (a segment request running the model, a publish, a
  subscription copying a cloud): destroying the node next frees the entities under it, a native crash
  at shutdown, rare and timing-dependent;
- callbacks already handed to the pool trigger that guard condition when they run, and raise
  `InvalidHandle` ("exception never retrieved" on stderr at exit);
- a thread still in `spin()` may read the guard condition as it goes (`AttributeError` in that thread).

So the spin loop ends first, then the callbacks it handed out finish, and only then is the executor shut
down: `BackgroundSpin` for a loop in a thread of its own, `stop_executor` after a loop in the main thread.

The main thread's loop (`spin_until_shutdown`) waits in rounds of at most `MAIN_SPIN_WAKE_S` rather than in
`Executor.spin`'s one endless wait: once in a few dozen stops under load, a SIGINT left the node's wait set
asleep (measured with `make demo` in a loop: the node still in `wait_set.wait` 15 s after the signal, then
killed), and Python raises the pending `KeyboardInterrupt` only when the wait returns.
"""

from __future__ import annotations

import threading
import time

from rclpy.executors import Executor, ExternalShutdownException

POLL_S = 0.01  # how often the running callbacks are checked
SPIN_WAKE_S = 0.1  # longest wait of one background spin round, so a stop is seen within it
MAIN_SPIN_WAKE_S = 0.25  # longest wait of one main-thread spin round, so a SIGINT is seen within it


def spin_until_shutdown(executor: Executor, wake_s: float = MAIN_SPIN_WAKE_S) -> None:
    """Spin `executor` in the calling thread until its context shuts down or SIGINT raises KeyboardInterrupt; no
    wait lasts longer than `wake_s`, so a signal whose wake-up the wait set missed still ends the loop within it."""
    while executor.context.ok() and spin_round(executor, wake_s):
        pass


def spin_round(executor: Executor, wake_s: float) -> bool:
    """One `spin_once` of at most `wake_s`; False when the context shut down under it.

    rclpy signals that with ExternalShutdownException, or, when the shutdown lands between the caller's `ok()`
    check and the round's wait set (rclpy's signal handler, or another thread, shuts the context down), with an
    RCLError ("the given context is not valid"). Both are a stop, not a failure. Any error while the context is
    still valid propagates."""
    try:
        executor.spin_once(timeout_sec=wake_s)
    except ExternalShutdownException:
        return False
    except Exception:
        if executor.context.ok():
            raise
        return False
    return True


def stop_executor(executor: Executor, timeout: float = 10.0) -> bool:
    """Wait (up to `timeout` s) until no callback that `executor` handed out is still running, then shut it
    down; True when everything finished in time. Call once its spin loop has returned, before destroying its
    nodes."""
    deadline = time.monotonic() + timeout
    finished = wait_for_callbacks(executor, deadline)
    executor.shutdown(timeout_sec=0)
    return finished


def wait_for_callbacks(executor: Executor, deadline: float) -> bool:
    """Wait until every callback task `executor` handed out is done; False at `deadline` (time.monotonic)."""
    # MultiThreadedExecutor keeps the tasks of the callbacks it handed to its pool until it sees them done
    # (rclpy 7.x: `_futures`, rclpy.task.Task); once the spin loop has returned nothing adds to that list.
    running = [task for task in list(getattr(executor, "_futures", ())) if callable(getattr(task, "done", None))]
    while any(not task.done() for task in running):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
    return True


class BackgroundSpin:
    """Spins `executor` in a daemon thread until `stop`, which ends the loop before shutting the executor down.

    A plain `threading.Thread(target=executor.spin)` can only be ended by `executor.shutdown`, which is the race
    this module's docstring describes; this loop checks a stop flag between rounds instead.
    """

    def __init__(self, executor: Executor, name: str = "rclpy-spin"):
        self.executor = executor
        self._stopping = threading.Event()
        self.thread = threading.Thread(target=self._spin, name=name, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        while not self._stopping.is_set() and self.executor.context.ok() and spin_round(self.executor, SPIN_WAKE_S):
            pass

    def stop(self, timeout: float = 10.0) -> bool:
        """End the loop, wait for the callbacks it started and shut the executor down (up to `timeout` s in all);
        True when everything finished in time. Call before destroying the executor's nodes."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        if self.thread is not threading.current_thread():
            self.thread.join(max(0.0, deadline - time.monotonic()))
            if self.thread.is_alive():
                self.executor.shutdown(timeout_sec=0)  # a round that does not return: stop it the old way
                return False
        return stop_executor(self.executor, max(0.0, deadline - time.monotonic()))
