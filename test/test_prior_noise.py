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
from clickenhance_model.training.prior_noise import corrupt_prior, graph_fault

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


FUSION = ModelConfig(input=InputConfig(geodesic_maps="outdoor"), network=NetworkConfig(prior_fusion=True))


def clicked_car() -> tuple[TrainObject, ClickState, ModelConfig]:
    """The car of `car_on_a_road` as a training object (5 cm voxels) with one positive click on it, and a fusion
    network's config."""
    xyz, car, _ = car_on_a_road()
    grid = voxelize(xyz, None, 0.05)
    target = np.bincount(grid.point_to_voxel, weights=car, minlength=len(grid)) > 0
    state = ClickState()
    state.add(int(np.flatnonzero(target)[0]), positive=True)
    return TrainObject("street", 1, grid, target), state, FUSION


def test_encoded_sample_carries_the_faulted_prior_and_labels_of_the_object() -> None:
    """Through the training encoder: the labels are the object's, the prior differs from the geodesic region."""
    item, state, model = clicked_car()
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


GRAPH_CUT = PriorNoiseConfig(prob=1.0, cut_share=1.0, shape="graph")
GRAPH_FLOOD = PriorNoiseConfig(prob=1.0, cut_share=0.0, shape="graph")


def test_a_graph_fault_is_the_region_of_the_clicks_plus_one_phantom_beside_the_object() -> None:
    """On a line: a phantom negative at voxel p takes what lies nearer to p than to the positive click at 0;
    a phantom positive beside the object takes what lies nearer to it than to the negative click at 39."""
    centroids, target, prior = line_of_voxels()
    asked: list[tuple[int, bool]] = []

    def voronoi_with(voxel: int, positive: bool) -> np.ndarray:
        asked.append((voxel, positive))
        x = centroids[:, 0]
        to_positive = np.minimum(x, np.abs(x - x[voxel]) if positive else np.inf)
        to_negative = np.minimum(np.abs(x - x[39]), np.inf if positive else np.abs(x - x[voxel]))
        return (to_positive < to_negative).astype(np.float32)

    for seed in range(10):
        asked.clear()
        rng = np.random.default_rng(seed)
        out, shown = graph_fault(prior, centroids, target, np.array([0]), voronoi_with, GRAPH_CUT, rng)
        assert shown is None
        voxel, positive = asked[-1]
        assert not positive and target[voxel] and voxel != 0  # a negative phantom on the object, not on a click
        np.testing.assert_array_equal(out, np.minimum(voronoi_with(voxel, False), prior))
        assert np.any(target & (out < prior)) and np.all(out <= prior)  # a cut of the object, nothing added
        assert out[0] == 1.0
        out, shown = graph_fault(prior, centroids, target, np.array([0]), voronoi_with, GRAPH_FLOOD, rng)
        assert shown is None
        voxel, positive = asked[-1]
        assert not target[voxel] and centroids[voxel, 0] <= 1.9 + 1.0 + 1e-9  # beside the object (flood_reach)
        assert positive and np.all(out >= prior) and np.any(~target & (out > prior))  # a flood of the background


def test_a_visible_cut_is_a_negative_click_beside_the_object_that_cuts_it() -> None:
    """On the line: the negative click goes on a background voxel within reach, and the prior is the region with it."""
    centroids, target, prior = line_of_voxels()

    def voronoi_with(voxel: int, positive: bool) -> np.ndarray:
        x = centroids[:, 0]
        return (x < np.minimum(np.abs(x - x[voxel]), np.abs(x - x[39]))).astype(np.float32)

    config = dataclasses.replace(GRAPH_CUT, visible_cuts=1.0)
    for seed in range(10):
        rng = np.random.default_rng(seed)
        out, shown = graph_fault(prior, centroids, target, np.array([0]), voronoi_with, config, rng)
        assert shown is not None and not target[shown] and centroids[shown, 0] <= 1.9 + 1.0 + 1e-9
        np.testing.assert_array_equal(out, voronoi_with(shown, False))
        assert np.any(target & (out == 0))


def test_a_phantom_that_makes_no_fault_is_drawn_again_then_given_up() -> None:
    centroids, target, prior = line_of_voxels()
    calls = []

    def unchanged(voxel: int, positive: bool) -> np.ndarray:
        calls.append(voxel)
        return prior.copy()

    config = dataclasses.replace(GRAPH_CUT, graph_tries=4)
    rng = np.random.default_rng(0)
    out, shown = graph_fault(prior, centroids, target, np.array([0]), unchanged, config, rng)
    assert out is prior and shown is None
    assert len(calls) == 4 and len(set(calls)) == 4  # four different phantoms, then no fault
    with pytest.raises(ValueError, match="shape"):
        PriorNoiseConfig(shape="cube")
    with pytest.raises(ValueError, match="graph_tries"):
        PriorNoiseConfig(graph_tries=0)
    with pytest.raises(ValueError, match="visible_cuts"):
        PriorNoiseConfig(visible_cuts=1.5)


@pytest.mark.parametrize("config", [GRAPH_CUT, GRAPH_FLOOD], ids=["cut", "flood"])
def test_encoded_sample_carries_a_graph_fault_from_the_real_geodesic_region(config: PriorNoiseConfig) -> None:
    """Through the training encoder on a car beside a road: the faulted prior is the baseline's region of the
    clicks plus one phantom click, in one direction only, and the click maps and labels do not move."""
    item, state, model = clicked_car()
    clean = encode_sample(item, state, model)
    faults = 0
    for seed in range(4):
        sample = encode_sample(item, state, model, config, np.random.default_rng(seed))
        torch.testing.assert_close(sample["labels"], clean["labels"])
        torch.testing.assert_close(sample["features"], clean["features"])
        labels = sample["labels"].numpy().astype(bool)
        prior, before = sample["prior"].numpy(), clean["prior"].numpy()
        if config.cut_share == 1.0:
            assert np.all(prior <= before)
            faults += int(np.any(labels & (prior < before)))
        else:
            assert np.all(prior >= before)
            faults += int(np.any(~labels & (prior > before)))
        assert set(np.unique(prior)) <= {0.0, 1.0}  # a region, not a blur
        first = int(np.flatnonzero(sample["crop"].numpy() == state.positive[0])[0])
        assert prior[first] == 1.0
    assert faults >= 2  # most draws find a phantom that makes the fault


def test_a_visible_cut_shows_the_network_the_negative_click_that_cuts_the_object() -> None:
    """The object is the front half of a box; its back half is background touching it. A visible cut is a negative
    click on the back half: the click maps show it (as the latest click), the prior is the baseline's true region
    with it, which loses part of the object, and the labels stay the object's."""
    from clickenhance_model.inference.click_encoding import geodesic_click_features

    xyz, car, _ = car_on_a_road()
    grid = voxelize(xyz, None, 0.05)
    front = np.bincount(grid.point_to_voxel, weights=car & (xyz[:, 0] > 0), minlength=len(grid)) > 0
    model = FUSION
    item = TrainObject("street", 1, grid, front)
    state = ClickState()
    state.add(int(np.argmin(np.linalg.norm(grid.centroids - [1.8, 0.0, 1.5], axis=1))), positive=True)
    clean = encode_sample(item, state, model)
    config = dataclasses.replace(GRAPH_CUT, visible_cuts=1.0, flood_reach=0.5, graph_tries=6)
    shown = 0
    for seed in range(4):
        sample = encode_sample(item, state, model, config, np.random.default_rng(seed))
        torch.testing.assert_close(sample["labels"], clean["labels"])
        crop = sample["crop"].numpy()
        labels = sample["labels"].numpy().astype(bool)
        if torch.equal(sample["features"], clean["features"]):
            continue  # no click beside the object cut it: an invisible cut instead
        shown += 1
        current = crop[int(sample["current"])]
        gap = np.linalg.norm(grid.centroids[front] - grid.centroids[current], axis=1).min()
        assert not front[current] and gap <= 0.5  # a background voxel beside the object
        _, region = geodesic_click_features(item.graph, grid.centroids[state.positive], grid.centroids[[current]],
                                            nodes=crop)  # fmt: skip
        np.testing.assert_array_equal(sample["prior"].numpy(), region.astype(np.float32))  # the baseline's answer
        assert np.any(labels & (sample["prior"].numpy() == 0))  # which cuts the object
    assert shown >= 2
