"""FairLock: waiting threads are served in arrival order, so a busy thread cannot starve another."""

from __future__ import annotations

import threading
import time

import pytest

from clickenhance_ros.fair_lock import FairLock


def test_a_thread_that_asks_again_at_once_waits_behind_one_already_waiting() -> None:
    """The follow thread re-acquires right after each inference; a click waiting meanwhile goes first."""
    lock, order = FairLock(), []
    lock.acquire()
    waiter = threading.Thread(target=lambda: (lock.acquire(), order.append("click"), lock.release()))
    waiter.start()
    deadline = time.monotonic() + 5.0
    while lock._next_ticket < 2 and time.monotonic() < deadline:  # the click is in line
        time.sleep(0.001)
    lock.release()
    with lock:  # the busy thread asks again at once
        order.append("follow")
    waiter.join(5.0)
    assert order == ["click", "follow"]


def test_many_threads_are_served_in_arrival_order() -> None:
    lock, order = FairLock(), []
    lock.acquire()
    threads = []
    for number in range(5):
        thread = threading.Thread(target=lambda n=number: (lock.acquire(), order.append(n), lock.release()))
        thread.start()
        threads.append(thread)
        while lock._next_ticket < number + 2:
            time.sleep(0.001)
    assert lock.locked()
    lock.release()
    for thread in threads:
        thread.join(5.0)
    assert order == list(range(5)) and not lock.locked()


def test_releasing_an_unheld_lock_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="unheld"):
        FairLock().release()
