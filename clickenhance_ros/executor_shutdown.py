"""Stopping a MultiThreadedExecutor so that no callback outlives the node it belongs to.

rclpy's `Executor.shutdown` (Jazzy) documents that it waits for running callbacks, but the wait is
skipped: its check reads the shutdown flag it has just set. `spin()` then returns while a pool thread
may still be inside a callback (a segment request running the model, a publish, a subscription copying
a cloud), and destroying the node next frees the entities under it: a native crash at shutdown, rare
and timing-dependent. `stop_executor` waits for the spinning thread and for the callbacks it handed out.
"""

from __future__ import annotations

import threading
import time

from rclpy.executors import Executor

POLL_S = 0.01  # how often the running callbacks are checked


def stop_executor(executor: Executor, spin_thread: threading.Thread | None = None, timeout: float = 10.0) -> bool:
    """Shut `executor` down and wait (up to `timeout` s in all) until `spin_thread` has returned and no
    callback it started is still running; True when everything finished in time. Call before destroying
    the executor's nodes."""
    deadline = time.monotonic() + timeout
    executor.shutdown(timeout_sec=timeout)
    if spin_thread is not None and spin_thread is not threading.current_thread():
        spin_thread.join(max(0.0, deadline - time.monotonic()))
        if spin_thread.is_alive():
            return False
    # MultiThreadedExecutor keeps the tasks of the callbacks it handed to its pool until it sees them done
    # (rclpy 7.x: `_futures`, rclpy.task.Task); after the spin loop has returned nothing adds to that list.
    running = [task for task in list(getattr(executor, "_futures", ())) if callable(getattr(task, "done", None))]
    while any(not task.done() for task in running):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
    return True
