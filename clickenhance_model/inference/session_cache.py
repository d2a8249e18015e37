"""A small LRU of click sessions, one per cloud, for stateless callers that resend the same cloud.

A stateless request (the node's `~/segment` service, a pipeline) carries a cloud and all its
clicks. Opening a session validates the cloud, voxelises it and builds its voxel graph (most
of a first request's cost on a 120k-point scan); a later request on the same cloud only needs
the clicks. The cache keeps the sessions of the last few clouds, keyed by the caller's notion
of identity (e.g. a content hash of the message); the caller resets a session before its clicks.
Memory is bounded by the number of entries (a 120k-point session holds some tens of MB).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from clickenhance_model.inference.session import InteractiveSession


class SessionCache:
    """The sessions of the `max_entries` most recently used clouds; the least recently used goes first.

    Thread-safe for lookups; the caller serialises the use of a returned session (its clicks
    are state: `reset()` it, then add the request's clicks, under one lock). `hits` and
    `misses` count lookups, for tests and benchmarks.
    """

    def __init__(self, max_entries: int = 2):
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self.max_entries = int(max_entries)
        self._sessions: OrderedDict[Hashable, InteractiveSession] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        """Number of cached sessions."""
        return len(self._sessions)

    def session(
        self, key: Hashable, open_session: Callable[[], InteractiveSession]
    ) -> tuple[InteractiveSession, bool]:
        """The cached session of cloud `key` (with its last clicks), or a new one from `open_session()`; True if cached.

        A failing `open_session` caches nothing and its error propagates.
        """
        with self._lock:
            cached = self._sessions.get(key)
            if cached is not None:
                self._sessions.move_to_end(key)
                self.hits += 1
        if cached is not None:
            return cached, True
        session = open_session()  # outside the lock: a slow cloud does not block lookups of others
        with self._lock:
            self.misses += 1
            self._sessions[key] = session
            self._sessions.move_to_end(key)
            while len(self._sessions) > self.max_entries:
                self._sessions.popitem(last=False)
        return session, False

    def clear(self) -> None:
        """Forget every session."""
        with self._lock:
            self._sessions.clear()
