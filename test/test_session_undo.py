"""Undo after batched clicks: the mask is what the remaining clicks give, for every segmenter."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_segmenter import SMALL, synthetic_scene

from clickenhance_model import Segmenter
from clickenhance_model.baseline import BaselineSegmenter


@pytest.fixture(scope="module", params=["baseline", "tiny_model"])
def segmenter(request: pytest.FixtureRequest):
    """The training-free baseline and a tiny untrained network (undo must not depend on the method)."""
    if request.param == "baseline":
        return BaselineSegmenter()
    config = dataclasses.replace(SMALL, input=dataclasses.replace(SMALL.input, geodesic_maps="off"))
    return Segmenter.from_config(config, device="cpu", seed=0)


def test_undo_inside_a_batch_gives_the_mask_of_the_remaining_clicks(segmenter) -> None:
    xyz, target = synthetic_scene()
    car, other = np.flatnonzero(target), np.flatnonzero(~target)
    clicks = [(int(car[0]), True), (int(other[5]), False), (int(car[200]), True), (int(other[900]), False)]
    batched = segmenter.session(xyz)
    batched.add_clicks(clicks)
    for kept in (3, 2, 1):
        one_by_one = segmenter.session(xyz)
        expected = one_by_one.add_clicks(clicks[:kept])  # one inference on exactly the remaining clicks
        np.testing.assert_array_equal(batched.undo(), expected)
        np.testing.assert_array_equal(batched.mask, expected)
        assert [(c.index, c.positive) for c in batched.clicks] == clicks[:kept]
    assert not batched.undo().any() and batched.clicks == ()


def test_undo_after_one_click_batches_runs_no_inference(segmenter) -> None:
    """Masks computed click by click are kept: undo restores them without running the segmenter."""
    xyz, target = synthetic_scene()
    car, other = np.flatnonzero(target), np.flatnonzero(~target)
    session = segmenter.session(xyz)
    first = session.add_click(int(car[0]))
    session.add_click(int(other[5]), positive=False)
    session.last_inference_ms = -1.0  # set by every inference: stays -1 only if none runs
    np.testing.assert_array_equal(session.undo(), first)
    assert session.last_inference_ms == -1.0


def test_the_mask_after_each_click_is_the_one_shown_then(segmenter) -> None:
    """`mask_after(k)` is the mask the session returned after its k-th click; a click inside a batch showed none."""
    xyz, target = synthetic_scene()
    car, other = np.flatnonzero(target), np.flatnonzero(~target)
    session = segmenter.session(xyz)
    shown = [session.add_click(int(car[0])), session.add_click(int(other[5]), positive=False)]
    session.add_clicks([(int(car[200]), True), (int(other[900]), False)])
    for k, mask in enumerate(shown, start=1):
        np.testing.assert_array_equal(session.mask_after(k), mask)
    assert session.mask_after(0) is None and session.mask_after(3) is None  # none before a click, none in a batch
    np.testing.assert_array_equal(session.mask_after(4), session.mask)
    assert session.mask_after(5) is None
