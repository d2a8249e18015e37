"""Iterative click simulation for training: clicks come from the simulated user on the model's own errors.

Per sample: initial clicks (the simulated user's first click, or a random object voxel and
a few random negatives nearby), then a random number of rounds in [0, max_rounds]; each
round runs the current model WITHOUT gradients on the current clicks and adds the
simulated user's next click on its errors (`evaluation.simulated_user.next_click`, the
same user the evaluation uses). The result is the network input of the final clicks,
with labels, for one gradient step. Clicks are voxels of the scene's grid (their centroids
are the click positions), so every round costs one crop encoding and one forward pass; the
scene's voxel graph (geodesic click maps) comes built from the data workers (`TrainObject.graph`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from clickenhance_model.evaluation.simulated_user import next_click
from clickenhance_model.inference.click_encoding import geodesic_click_features
from clickenhance_model.inference.crop import select_crop
from clickenhance_model.inference.network_input import collate, encode_crop
from clickenhance_model.inference.voxel_graph import VoxelGraph, scan_graph
from clickenhance_model.model_config import ModelConfig
from clickenhance_model.training.config import ClickConfig, PriorNoiseConfig
from clickenhance_model.training.data import TrainObject
from clickenhance_model.training.distributed import amp_context
from clickenhance_model.training.prior_noise import corrupt_prior, graph_fault, near_background
from clickenhance_model.training.stray_returns import lone_object_voxel


@dataclass
class ClickState:
    """The clicks of one sample so far, as voxel ids of its grid, in click order."""

    positive: list[int] = field(default_factory=list)
    negative: list[int] = field(default_factory=list)
    current: int = -1  # the latest click

    def add(self, voxel: int, positive: bool) -> None:
        """Append one click."""
        (self.positive if positive else self.negative).append(int(voxel))
        self.current = int(voxel)

    def with_negative(self, voxel: int) -> ClickState:
        """A copy with one more negative click, the latest (this state is left as it is)."""
        return ClickState(list(self.positive), self.negative + [int(voxel)], int(voxel))


def _random_negatives(item: TrainObject, count: int, radius: float, rng: np.random.Generator) -> list[int]:
    """Up to `count` random background voxels within `radius` metres of the object."""
    if count == 0:
        return []
    candidates = near_background(item.grid.centroids, item.target, radius)
    if len(candidates) == 0:
        return []
    return [int(v) for v in rng.choice(candidates, size=min(count, len(candidates)), replace=False)]


def initial_clicks(item: TrainObject, config: ClickConfig, rng: np.random.Generator) -> ClickState:
    """First clicks of a sample: the simulated user's first click, or (with random_initial_prob) random ones."""
    state = ClickState()
    if rng.random() < config.random_initial_prob:
        state.add(int(rng.choice(np.flatnonzero(item.target))), positive=True)
        count = int(rng.integers(0, config.max_initial_negatives + 1))
        for voxel in _random_negatives(item, count, config.negative_radius, rng):
            state.negative.append(voxel)  # the positive click stays the current one
        return state
    empty = np.zeros(len(item.target), dtype=bool)
    click = next_click(item.grid.centroids, empty, item.target, config.temperature, rng)
    state.add(click.index, positive=True)  # the target is never empty, so there is always a first click
    return state


def scene_graph(item: TrainObject, model_config: ModelConfig) -> VoxelGraph | None:
    """The item's scene graph for the geodesic maps: the one the data worker built, else built now."""
    return item.graph if item.graph is not None else scan_graph(item.grid, model_config)


def encode_sample(
    item: TrainObject, state: ClickState, model_config: ModelConfig,
    prior_noise: PriorNoiseConfig | None = None, rng: np.random.Generator | None = None,
) -> dict:  # fmt: skip
    """Network input of a sample with its current clicks, with per-voxel labels of the crop.

    The scene graph of the geodesic maps is built at most once per item (kept in `item.graph`).
    A `prior_fusion` network's prior comes with the maps, or from `item.prior` where the scene
    has its own prior graph (then each voxel's prior is its share of region points: the fused
    voxel logit is the mean of its points' logits, as inference fuses them per point).
    With `prior_noise` (and `rng`), that prior may get a training fault (`prior_noise.corrupt_prior`, or
    `prior_noise.graph_fault`; a visible cut adds its negative click to the sample's clicks as the latest).
    """
    item.graph = scene_graph(item, model_config)
    centroids = item.grid.centroids
    sample = encode_crop(item.grid, centroids[state.positive], centroids[state.negative], centroids[state.current],
                         model_config, item.graph)  # fmt: skip
    crop = sample["crop"].numpy()
    sample["labels"] = torch.from_numpy(item.target[crop].astype(np.int64))  # [V]
    if item.prior is not None:  # the scene's own prior graph: each crop voxel's share of region points
        sample["prior"] = torch.from_numpy(_crop_prior(item, crop, state.positive, state.negative))
    if prior_noise is not None and prior_noise.prob > 0 and rng is not None and "prior" in sample:
        prior = sample["prior"].numpy()
        in_crop = np.full(len(item.target), -1, dtype=np.int64)
        in_crop[crop] = np.arange(len(crop))
        positive, negative = in_crop[state.positive], in_crop[state.negative]  # -1: outside the crop
        positive, negative = positive[positive >= 0], negative[negative >= 0]
        if prior_noise.shape == "graph":

            def region_with(voxel: int, positive: bool) -> np.ndarray:
                phantom = [int(crop[voxel])]  # last, so the first positive click still decides ground
                positives, negatives = state.positive + phantom * positive, state.negative + phantom * (not positive)
                return _crop_prior(item, crop, positives, negatives)

            target = item.target[crop]
            prior, shown = graph_fault(prior, centroids[crop], target, positive, region_with, prior_noise, rng)
            if shown is not None:  # a visible cut: the network sees the negative click, as its latest
                seen = state.with_negative(int(crop[shown]))
                return _with_prior(encode_sample(item, seen, model_config), prior)
        else:
            prior = corrupt_prior(prior, centroids[crop], item.target[crop], positive, negative, prior_noise, rng)
        sample = _with_prior(sample, prior)
    return sample


def stray_click_sample(item: TrainObject, state: ClickState, model_config: ModelConfig,
                       rng: np.random.Generator) -> dict | None:  # fmt: skip
    """The sample with one more negative click, the latest, on a lone object voxel taken as a stray return
    (`stray_returns`): labelled background in this sample alone, the rest of the object still object.
    The voxel is drawn inside the crop (which the positive clicks alone decide), so the network sees its
    click and its label. None when the object has no such voxel there."""
    centroids, cfg = item.grid.centroids, model_config.input
    in_crop = np.zeros(len(item.target), dtype=bool)
    in_crop[select_crop(centroids, centroids[state.positive], cfg.crop_radius, cfg.max_voxels)] = True
    voxel = lone_object_voxel(centroids, item.grid.counts, item.target & in_crop, state.positive, rng)
    if voxel is None:
        return None
    sample = encode_sample(item, state.with_negative(voxel), model_config)
    sample["labels"][torch.from_numpy(sample["crop"].numpy() == voxel)] = 0
    return sample


def _with_prior(sample: dict, prior: np.ndarray) -> dict:
    """The sample with `prior` (float [V]) as its fusion prior."""
    sample["prior"] = torch.from_numpy(np.ascontiguousarray(prior, dtype=np.float32))
    return sample


def _crop_prior(item: TrainObject, crop: np.ndarray, positive: list[int], negative: list[int]) -> np.ndarray:
    """The fusion prior (float32 [V] in [0, 1]) of the crop voxels for clicks given as voxel ids of the item's grid.

    From the scene's own prior graph (`item.prior`: each voxel's share of region points, as inference fuses
    per point) where it has one, else from the geodesic region of the maps graph (`item.graph`).
    """
    centroids = item.grid.centroids
    if item.prior is not None:
        region = item.prior.of_positions(centroids[positive], centroids[negative])  # [N] per point
        share = np.bincount(item.grid.point_to_voxel, weights=region, minlength=len(item.grid)) / item.grid.counts
        return share[crop].astype(np.float32)
    _, region = geodesic_click_features(item.graph, centroids[positive], centroids[negative], nodes=crop)
    return region.astype(np.float32)


@torch.no_grad()
def predict_crops(model: torch.nn.Module, samples: Sequence[dict], device: torch.device, amp: bool) -> list[np.ndarray]:
    """Object masks (bool over each sample's crop voxels) of a batch, in one forward pass without gradients."""
    batch = collate(samples, device)
    with amp_context(device, amp):
        logits, _ = model(batch, embeddings=False)  # [V, 2]
    foreground = (logits[:, 1] > logits[:, 0]).cpu().numpy()  # [V]
    bounds = np.cumsum([0] + [len(s["crop"]) for s in samples])
    return [foreground[bounds[k] : bounds[k + 1]] for k in range(len(samples))]


def _next_state(item: TrainObject, state: ClickState, sample: dict, crop_mask: np.ndarray,
                config: ClickConfig, rng: np.random.Generator) -> bool:  # fmt: skip
    """Add the simulated user's click on the prediction's errors; False when the prediction is exact."""
    prediction = np.zeros(len(item.target), dtype=bool)  # voxels outside the crop are background
    prediction[sample["crop"].numpy()] = crop_mask
    prediction[state.positive] = True  # clicked voxels carry their click's label, as in the evaluation
    prediction[state.negative] = False
    click = next_click(item.grid.centroids, prediction, item.target, config.temperature, rng)
    if click is None:
        return False
    state.add(click.index, click.positive)
    return True


def simulate_clicks(
    model: torch.nn.Module, items: Sequence[TrainObject], config: ClickConfig, model_config: ModelConfig,
    rng: np.random.Generator, device: torch.device, amp: bool = False, prior_noise: PriorNoiseConfig | None = None,
) -> tuple[list[dict], list[int]]:  # fmt: skip
    """Clicks for a batch of objects from the model's own errors; returns the final labelled samples and rounds.

    Each sample runs a random number of rounds in [0, config.max_rounds] (fewer when its
    prediction becomes exact); samples still clicking share one forward pass per round.
    The model is put in eval mode for the rounds and given back in the mode it had. With
    `prior_noise`, a fusion network's prior may carry a fault in any round (`prior_noise.corrupt_prior`).
    With `config.stray_click_prob`, a final sample instead gets a negative click on a stray return
    (`stray_click_sample`).
    """
    states = [initial_clicks(item, config, rng) for item in items]
    planned = rng.integers(0, config.max_rounds + 1, size=len(items))
    done = np.zeros(len(items), dtype=np.int64)
    was_training = model.training
    model.eval()
    try:
        for round_number in range(int(planned.max(initial=0))):
            active = [k for k in range(len(items)) if planned[k] > round_number and done[k] == round_number]
            if not active:
                break
            samples = [encode_sample(items[k], states[k], model_config, prior_noise, rng) for k in active]
            for k, sample, crop_mask in zip(active, samples, predict_crops(model, samples, device, amp), strict=True):
                if _next_state(items[k], states[k], sample, crop_mask, config, rng):
                    done[k] += 1
    finally:
        model.train(was_training)
    final = []
    for item, state in zip(items, states, strict=True):
        stray_drawn = config.stray_click_prob > 0 and rng.random() < config.stray_click_prob
        stray = stray_click_sample(item, state, model_config, rng) if stray_drawn else None
        final.append(stray if stray is not None else encode_sample(item, state, model_config, prior_noise, rng))
    return final, done.tolist()
