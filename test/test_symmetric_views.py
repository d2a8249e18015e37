"""Test-time views (`SegmenterConfig.views`): the quarter turns and mirrors of a crop's voxel lattice about z.

A view moves each voxel's integer x/y index and turns the xyz features with it, nothing else.
Averaged over the four quarter turns, the network's answer no longer depends on which way the
cloud faces: the logits of a cloud and of the same cloud turned by 90 degrees agree voxel for
voxel, where a single view's do not. Over all eight views the same holds for a mirror image.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_prior_fusion import street

from clickenhance_model.inference.network_input import encode_crop
from clickenhance_model.inference.symmetric_views import VIEWS, view_sample, view_samples
from clickenhance_model.inference.voxel_grid import voxelize
from clickenhance_model.model_config import MAX_VIEWS, InputConfig, ModelConfig, NetworkConfig, SegmenterConfig
from clickenhance_model.segmenter import Segmenter

# Euclidean click maps only: a kNN graph on a regular lattice breaks distance ties by point order, which a turn
# changes, so geodesic maps would differ for reasons that have nothing to do with the views.
PLAIN = ModelConfig(
    input=InputConfig(voxel_size=0.1, crop_radius=20.0, max_voxels=20000, geodesic_maps="off"),
    network=NetworkConfig(channels=(8, 16, 32), cse_channels=(4, 8, 16), embedding_dim=8),
)


def turn(points: np.ndarray, swap: bool, negate_x: bool, negate_y: bool) -> np.ndarray:
    """Points turned or mirrored about the z axis through the origin, as `VIEWS` turns a lattice."""
    out = points.copy()
    if swap:
        out[:, [0, 1]] = out[:, [1, 0]]
    if negate_x:
        out[:, 0] = -out[:, 0]
    if negate_y:
        out[:, 1] = -out[:, 1]
    return out


def voxel_logits(segmenter: Segmenter, points: np.ndarray, click: np.ndarray) -> dict[tuple, float]:
    """Object logit of each crop voxel, keyed by its centroid rounded to the millimetre."""
    grid = voxelize(points, None, PLAIN.input.voxel_size)
    sample = encode_crop(grid, click[None], np.empty((0, 3)), click, PLAIN)
    logits = segmenter.object_logit(sample)
    centroids = np.round(grid.centroids[sample["crop"].numpy()] * 1000).astype(np.int64)
    return {tuple(c): float(v) for c, v in zip(centroids, logits, strict=True)}


def largest_difference(segmenter: Segmenter, view: tuple[bool, bool, bool]) -> float:
    """Largest change of a voxel's logit when the street is seen through `view` (voxels matched by position)."""
    points, on_car, _ = street()
    click = points[on_car][len(points[on_car]) // 2].astype(np.float64)
    before = voxel_logits(segmenter, points, click)
    after = voxel_logits(segmenter, turn(points, *view), turn(click[None], *view)[0])
    turned_keys = {tuple(np.round(turn(np.asarray([key], dtype=np.float64), *view)[0]).astype(np.int64)): key
                   for key in before}  # fmt: skip
    assert set(turned_keys) == set(after)  # the same voxels, turned
    return max(abs(after[k] - before[turned_keys[k]]) for k in after)


@pytest.fixture(scope="module")
def network() -> Segmenter:
    """A tiny untrained network with batch-norm statistics that are not the identity (so the test is not flat)."""
    segmenter = Segmenter.from_config(PLAIN, seed=3)
    with torch.no_grad():
        for module in segmenter.model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return segmenter


def test_four_quarter_turns_make_the_answer_independent_of_the_heading(network: Segmenter) -> None:
    quarter = VIEWS[1]
    one_view = largest_difference(network.with_options(views=1), quarter)
    four_views = largest_difference(network.with_options(views=4), quarter)
    assert one_view > 1e-3  # a single view depends on the heading
    assert four_views < 1e-4 * max(1.0, one_view) + 1e-5


def test_eight_views_make_it_independent_of_a_mirror_too(network: Segmenter) -> None:
    mirror = VIEWS[4]
    assert largest_difference(network.with_options(views=4), mirror) > 1e-3  # turns alone do not cover mirrors
    assert largest_difference(network.with_options(views=8), mirror) < 1e-4


def test_the_first_view_is_the_crop_itself_and_views_are_bounded(network: Segmenter) -> None:
    points, on_car, _ = street()
    grid = voxelize(points, None, 0.1)
    click = points[on_car][0].astype(np.float64)
    sample = encode_crop(grid, click[None], None, None, PLAIN)
    assert view_samples(sample, 1) == [sample] and len(VIEWS) == MAX_VIEWS  # every allowed count has its views
    for bad in (0, 9):
        with pytest.raises(ValueError, match="views"):
            view_samples(sample, bad)
        with pytest.raises(ValueError, match="views"):
            SegmenterConfig(views=bad)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12), st.integers(0, 5)), min_size=1, max_size=40,
                unique=True), st.integers(1, 3))  # fmt: skip
def test_views_move_voxels_within_the_lattice_and_compose_like_turns(cells: list, levels: int) -> None:
    step = 2 ** (levels - 1)
    coords = np.asarray(cells, dtype=np.int32)
    shape = [int(-(-(c + 1) // step) * step) for c in coords.max(axis=0)]
    xyz = np.random.default_rng(0).normal(size=(len(coords), 3)).astype(np.float32)
    ones, zeros = np.ones((len(coords), 2), np.float32), np.zeros((len(coords), 1), np.float32)
    sample = {"coords": torch.from_numpy(coords), "spatial_shape": shape,
              "features": torch.from_numpy(np.concatenate([xyz, ones], axis=1)),
              "cse_features": torch.from_numpy(np.concatenate([xyz, zeros], axis=1))}  # fmt: skip
    for view in VIEWS:
        seen = view_sample(sample, *view)
        moved = seen["coords"].numpy()
        assert np.all(moved >= 0) and np.all(moved < np.asarray(seen["spatial_shape"]))
        assert len(np.unique(moved, axis=0)) == len(coords)  # a bijection of the voxels
        for level in range(levels):  # voxels that share a cell of a coarser level still share one: same network
            before = np.unique(coords >> level, axis=0, return_inverse=True)[1].ravel()
            after = np.unique(moved >> level, axis=0, return_inverse=True)[1].ravel()
            pairs = np.unique(np.stack([before, after], axis=1), axis=0)
            assert len(pairs) == before.max() + 1 == after.max() + 1
        assert torch.equal(seen["features"][:, 3:], sample["features"][:, 3:])  # only xyz turns
    again = sample
    for _ in range(4):
        again = view_sample(again, *VIEWS[1])  # four quarter turns
    assert torch.equal(again["coords"], sample["coords"]) and again["spatial_shape"] == shape
    assert torch.allclose(again["features"], sample["features"])
    twice = view_sample(view_sample(sample, *VIEWS[4]), *VIEWS[4])  # the same mirror twice
    assert torch.equal(twice["coords"], sample["coords"])
