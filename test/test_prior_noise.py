"""Training faults in a fusion network's prior: one cut or flood per faulted sample, clicks keep their labels."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_click_encoding import car_on_a_road

from clickenhance_model.inference.voxel_grid import voxelize
from clickenhance_model.model_config import InputConfig, ModelConfig, NetworkConfig
from clickenhance_model.training.click_simulation import ClickState, encode_sample
from clickenhance_model.training.config import PriorNoiseConfig, load_train_config
from clickenhance_model.training.data import TrainObject
from clickenhance_model.training.prior_noise import corrupt_prior

CUT = PriorNoiseConfig(prob=1.0, cut_share=1.0)
FLOOD = PriorNoiseConfig(prob=1.0, cut_share=0.0)


def line_of_voxels() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """40 voxels 0.1 m apart on the x axis: the object is x < 2 m, the prior holds it exactly."""
    centroids = np.zeros((40, 3))
    centroids[:, 0] = np.arange(40) * 0.1
    target = centroids[:, 0] < 1.95
    return centroids, target, target.astype(np.float32)


def test_off_leaves_the_prior_and_the_random_stream_alone() -> None:
    centroids, target, prior = line_of_voxels()
    rng = np.random.default_rng(3)
    out = corrupt_prior(prior, centroids, target, np.array([0]), np.array([30]), PriorNoiseConfig(), rng)
    assert out is prior
    assert rng.random() == np.random.default_rng(3).random()  # nothing drawn: runs without faults replay as before


def test_a_cut_clears_a_ball_of_the_object_and_keeps_the_clicks() -> None:
    centroids, target, prior = line_of_voxels()
    for seed in range(10):
        out = corrupt_prior(prior, centroids, target, np.array([0]), np.array([30]), CUT, np.random.default_rng(seed))
        cleared = np.flatnonzero((prior == 1) & (out == 0))
        assert len(cleared) > 0 and np.all(out <= prior)  # a cut only removes
        assert out[0] == 1 and out[30] == 0  # the clicked voxels keep their labels
        span = centroids[cleared, 0]
        assert np.allclose(np.diff(span), 0.1)  # one ball: a contiguous run of the line
        assert span.max() - span.min() <= 0.8 * 2 * 1.9 + 1e-9  # at most 0.8 of the object's reach, both sides


def test_a_flood_fills_a_ball_next_to_the_object() -> None:
    centroids, target, prior = line_of_voxels()
    for seed in range(10):
        out = corrupt_prior(prior, centroids, target, np.array([0]), np.array([39]), FLOOD, np.random.default_rng(seed))
        added = np.flatnonzero((prior == 0) & (out == 1))
        assert len(added) > 0 and np.all(out >= prior)  # a flood only adds
        assert out[39] == 0  # the negative click keeps its label
        assert centroids[added, 0].min() <= 1.9 + 1.0 + 1e-9  # its centre lies within 1 m of the object
        assert centroids[added, 0].max() <= 1.9 + 1.0 + 3.0 + 1e-9  # seed within 1 m, radius at most 3 m


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), points=st.integers(2, 200), cut_share=st.sampled_from([0.0, 0.5, 1.0]))
def test_any_fault_is_one_direction_in_range_and_keeps_every_click(seed: int, points: int, cut_share: float) -> None:
    rng = np.random.default_rng(seed)
    centroids = rng.uniform(-5, 5, size=(points, 3))
    target = rng.random(points) < 0.4
    prior = np.clip(target + rng.normal(0, 0.3, points), 0, 1).astype(np.float32)
    clicks = rng.permutation(points)[: rng.integers(0, min(points, 6) + 1)]
    positive, negative = clicks[: len(clicks) // 2], clicks[len(clicks) // 2 :]
    config = PriorNoiseConfig(prob=0.7, cut_share=cut_share)
    out = corrupt_prior(prior, centroids, target, positive, negative, config, rng)
    assert out.shape == prior.shape and np.all((out >= 0) & (out <= 1))
    assert np.all(out[positive] == 1) or out is prior
    assert np.all(out[negative] == 0) or out is prior
    moved = np.flatnonzero(out != prior)
    clicked = np.isin(moved, clicks)
    others = out[moved[~clicked]]
    assert np.all(others == 0) or np.all(others == 1)  # one fault: a cut clears, a flood fills


def test_config_rejects_out_of_range_faults() -> None:
    with pytest.raises(ValueError, match="prob"):
        PriorNoiseConfig(prob=1.5)
    with pytest.raises(ValueError, match="cut_radius"):
        PriorNoiseConfig(cut_radius=(0.5, 1.5))
    with pytest.raises(ValueError, match="flood_radius"):
        PriorNoiseConfig(flood_radius=(0.0, 1.0))
    assert load_train_config("any_object_prior_noise").prior_noise.prob == 0.5


def test_encoded_sample_carries_the_faulted_prior_and_labels_of_the_object() -> None:
    """Through the training encoder: the labels are the object's, the prior differs from the geodesic region."""
    xyz, car, _ = car_on_a_road()
    grid = voxelize(xyz, None, 0.05)
    target = np.bincount(grid.point_to_voxel, weights=car, minlength=len(grid)) > 0
    model = ModelConfig(input=InputConfig(geodesic_maps="outdoor"), network=NetworkConfig(prior_fusion=True))
    item = TrainObject("street", 1, grid, target)
    state = ClickState()
    state.add(int(np.flatnonzero(target)[0]), positive=True)
    clean = encode_sample(item, state, model)
    faulted = [encode_sample(item, state, model, CUT, np.random.default_rng(seed)) for seed in range(3)]
    for sample in faulted:
        torch.testing.assert_close(sample["labels"], clean["labels"])
        torch.testing.assert_close(sample["features"], clean["features"])  # the click maps do not move
        assert torch.all(sample["prior"] <= clean["prior"]) and torch.any(sample["prior"] < clean["prior"])
        first = int(np.flatnonzero(sample["crop"].numpy() == state.positive[0])[0])
        assert sample["prior"][first] == 1.0
    off = encode_sample(item, state, model, dataclasses.replace(CUT, prob=0.0), np.random.default_rng(0))
    torch.testing.assert_close(off["prior"], clean["prior"])
