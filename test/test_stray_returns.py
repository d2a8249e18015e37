"""Stray-return clicks in training: a lone object voxel becomes background in one sample and takes a negative click."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from test_prior_noise import clicked_car

from clickenhance_model.segmenter import Segmenter
from clickenhance_model.training.click_simulation import encode_sample, simulate_clicks, stray_click_sample
from clickenhance_model.training.config import ClickConfig, load_train_config
from clickenhance_model.training.stray_returns import LONE_NEIGHBOURS, LONE_RADIUS, lone_object_voxel


def test_a_lone_voxel_is_surrounded_by_the_object_and_never_a_positive_click() -> None:
    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(np.arange(6), np.arange(6), [0], indexing="ij"), axis=-1).reshape(-1, 3) * 0.1
    target = np.ones(len(grid), dtype=bool)
    target[:6] = False  # one row is background
    counts = np.full(len(grid), 5)
    counts[[14, 20]] = 1  # two sparse object voxels
    drawn = {lone_object_voxel(grid, counts, target, [14], rng) for _ in range(40)}
    assert drawn == {20}  # the sparse one that is not clicked
    counts[20] = 5  # none sparse: any surrounded object voxel, never a background or clicked one
    for _ in range(40):
        voxel = lone_object_voxel(grid, counts, target, [14], rng)
        near = np.linalg.norm(grid[target] - grid[voxel], axis=1) <= LONE_RADIUS
        assert target[voxel] and voxel != 14 and near.sum() - 1 >= LONE_NEIGHBOURS
    assert lone_object_voxel(grid, counts, np.zeros(len(grid), dtype=bool), [], rng) is None


def test_the_stray_sample_has_the_negative_click_and_relabels_that_voxel_alone() -> None:
    item, state, model = clicked_car()
    clean = encode_sample(item, state, model)
    sample = stray_click_sample(item, state, model, np.random.default_rng(1))
    assert sample is not None
    crop = sample["crop"].numpy()
    labels, truth = sample["labels"].numpy(), item.target[crop]
    relabelled = np.flatnonzero(labels != truth)
    assert len(relabelled) == 1 and truth[relabelled[0]] and labels[relabelled[0]] == 0
    stray = int(crop[relabelled[0]])
    assert stray not in state.positive
    assert int(sample["current"]) == relabelled[0] and int(clean["current"]) != int(sample["current"])  # the latest
    assert sample["prior"].numpy()[relabelled[0]] == 0  # the prior takes the click, as at inference
    assert state.negative == []  # the sample's own clicks are left as they were


def test_simulate_clicks_draws_stray_samples_only_when_asked() -> None:
    item, _, model = clicked_car()
    network = Segmenter.from_config(model, seed=0).model
    for prob, relabelled in ((0.0, False), (1.0, True)):
        config = ClickConfig(max_rounds=1, random_initial_prob=0.0, stray_click_prob=prob)
        samples, _ = simulate_clicks(network, [item], config, model, np.random.default_rng(0), torch.device("cpu"))
        truth = item.target[samples[0]["crop"].numpy()]
        assert bool(np.any(samples[0]["labels"].numpy() != truth)) == relabelled


def test_config_checks_the_stray_click_chance() -> None:
    with pytest.raises(ValueError, match="stray_click_prob"):
        ClickConfig(stray_click_prob=1.5)
    assert load_train_config("any_object_euclid_stray_clicks").clicks.stray_click_prob == 0.25


def test_the_stray_lies_in_the_crop_so_its_label_and_click_reach_the_network() -> None:
    item, state, model = clicked_car()
    small = dataclasses.replace(model, input=dataclasses.replace(model.input, crop_radius=0.5))
    far = np.linalg.norm(item.grid.centroids[item.target] - item.grid.centroids[state.positive[0]], axis=1) > 0.5
    assert far.any()  # the car reaches past the crop
    for seed in range(10):
        sample = stray_click_sample(item, state, small, np.random.default_rng(seed))
        crop = sample["crop"].numpy()
        relabelled = np.flatnonzero(sample["labels"].numpy() != item.target[crop])
        assert len(relabelled) == 1 and int(sample["current"]) == relabelled[0]
