"""A first-come, first-served lock, so that two threads sharing the segmenter take turns.

`threading.Lock` is not fair: a thread that releases it and asks again at once usually
gets it back, so the follow thread (one inference per cloud, back to back) could keep the
interactive annotation worker waiting for many clouds. With tickets, a waiting thread is
served after at most the inference that is running.
"""

from __future__ import annotations

import threading
from types import TracebackType


class FairLock:
    """A non-reentrant lock that grants itself in the order it was asked for (a ticket lock)."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._next_ticket = 0
        self._serving = 0

    def acquire(self) -> bool:
        """Wait for this caller's turn, then hold the lock."""
        with self._condition:
            ticket = self._next_ticket
            self._next_ticket += 1
            while ticket != self._serving:
                self._condition.wait()
        return True

    def release(self) -> None:
        """Hand the lock to the next caller in line (RuntimeError when it is not held)."""
        with self._condition:
            if self._serving == self._next_ticket:
                raise RuntimeError("release of an unheld FairLock")
            self._serving += 1
            self._condition.notify_all()

    def locked(self) -> bool:
        """True while some thread holds the lock."""
        with self._condition:
            return self._serving != self._next_ticket

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.release()
