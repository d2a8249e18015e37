"""The LRU of click sessions that lets a stateless caller resend a cloud without rebuilding its scan structures."""

from __future__ import annotations

import numpy as np
import pytest

from clickenhance_model.baseline import BaselineSegmenter
from clickenhance_model.errors import CloudError
from clickenhance_model.inference.session_cache import SessionCache


def cloud(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-3, 3, (400, 3)).astype(np.float32)


def test_cache_returns_the_same_session_per_key_and_drops_the_least_recently_used() -> None:
    segmenter, cache = BaselineSegmenter(), SessionCache(max_entries=2)
    first, cached = cache.session("a", lambda: segmenter.session(cloud(0)))
    assert not cached and cache.session("a", lambda: pytest.fail("opened twice"))[0] is first
    cache.session("b", lambda: segmenter.session(cloud(1)))
    cache.session("a", lambda: pytest.fail("opened twice"))  # "a" is now the most recent
    cache.session("c", lambda: segmenter.session(cloud(2)))  # evicts "b"
    assert len(cache) == 2 and (cache.hits, cache.misses) == (2, 3)
    again, cached = cache.session("b", lambda: segmenter.session(cloud(1)))
    assert not cached and len(cache) == 2


def test_a_failing_open_caches_nothing() -> None:
    cache = SessionCache()
    with pytest.raises(CloudError):
        cache.session("bad", lambda: BaselineSegmenter().session(np.zeros((0, 3))))
    assert len(cache) == 0
    with pytest.raises(ValueError, match="max_entries"):
        SessionCache(0)


def test_a_reset_cached_session_answers_like_a_fresh_one() -> None:
    segmenter, cache, xyz = BaselineSegmenter(), SessionCache(), cloud(3)
    session, _ = cache.session("k", lambda: segmenter.session(xyz))
    session.add_clicks([(0, True), (5, False)])
    session, cached = cache.session("k", lambda: pytest.fail("opened twice"))
    session.reset()
    np.testing.assert_array_equal(session.add_click(9), segmenter.session(xyz).add_click(9))
    assert cached and len(session.clicks) == 1
