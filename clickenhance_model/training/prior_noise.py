"""Training-time faults in a fusion network's geodesic prior, so the network learns to overrule it.

A `prior_fusion` network corrects the training-free geodesic region. On generated scans that
region is nearly always right, so the cheapest fused answer is the prior's and the network
learns to echo it. On real scans the region fails in two typical ways: it floods a neighbour
(a low fence taken for ground takes the road; a bush touching a car joins it), and a negative
click beside an object cuts a large piece out of it (geodesically nearer to the negative than
to the sparse positives). `corrupt_prior` puts one of these faults into the prior of a share
of the training samples; the labels stay the object's, so only the network's own evidence
(geometry, colour, click maps) can undo it.

A `ball` fault (`corrupt_prior`) is a Euclidean ball over the crop voxels: a cut clears the
prior in a ball around a random object voxel (radius a random share of the object's reach from
there), a flood sets it in a ball around a random background voxel close to the object (radius
in metres). Clicked voxels keep their click's label, as the geodesic region always gives them.

A ball's round border is a shape the real faults never have, and a network may learn to spot
the shape instead of weighing the object's evidence. A `graph` fault (`graph_fault`) is the
baseline's own mistake: the geodesic region of the clicks plus one phantom click, a negative one
on the object (the region loses what lies geodesically nearer to it than to the positive
clicks: the cut a real negative click beside the object makes where the graph joins them) or a
positive one on the background beside the object (the region gains the neighbour it sits on: a
flood). Its borders are the graph's. (A phantom negative on the road beside a car cuts nothing:
the ground penalty keeps it off the car. That is why the generated scans rarely show a cut.)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.spatial import cKDTree

from clickenhance_model.training.config import PriorNoiseConfig


def corrupt_prior(
    prior: np.ndarray,
    centroids: np.ndarray,
    target: np.ndarray,
    positive: np.ndarray,
    negative: np.ndarray,
    config: PriorNoiseConfig,
    rng: np.random.Generator,
) -> np.ndarray:
    """The crop's prior (float [V] in [0, 1]) with one cut or flood fault, or unchanged (chance 1 - `config.prob`).

    Args:
        prior: the geodesic prior of the crop voxels.
        centroids: float [V, 3] positions of the crop voxels.
        target: bool [V], the object's voxels.
        positive: crop-voxel indices of the positive clicks (they keep 1).
        negative: crop-voxel indices of the negative clicks (they keep 0).
        config: how often and how large.
        rng: the sample's random stream (not drawn from when `config.prob` is 0).
    """
    if config.prob <= 0.0 or rng.random() >= config.prob or not target.any():
        return prior
    out = prior.copy()
    if rng.random() < config.cut_share:
        centre = centroids[rng.choice(np.flatnonzero(target))]
        reach = float(np.linalg.norm(centroids[target] - centre, axis=1).max())
        radius = rng.uniform(*config.cut_radius) * reach
        out[np.linalg.norm(centroids - centre, axis=1) <= radius] = 0.0
    else:
        near = near_background(centroids, target, config.flood_reach)
        if len(near) == 0:
            return prior
        centre = centroids[rng.choice(near)]
        radius = rng.uniform(*config.flood_radius)
        out[np.linalg.norm(centroids - centre, axis=1) <= radius] = 1.0
    out[positive] = 1.0
    out[negative] = 0.0
    return out


def near_background(centroids: np.ndarray, target: np.ndarray, reach: float) -> np.ndarray:
    """Indices of the background voxels within `reach` metres of the object (int [K], ascending).

    Only the background in the object's box grown by `reach` is measured, so a whole scene costs what its
    neighbourhood of the object holds.
    """
    if not target.any():
        return np.flatnonzero(target)
    low, high = centroids[target].min(axis=0) - reach, centroids[target].max(axis=0) + reach
    near_box = np.flatnonzero(~target & np.all((centroids >= low) & (centroids <= high), axis=1))
    if len(near_box) == 0:
        return near_box
    gap, _ = cKDTree(centroids[target]).query(centroids[near_box], distance_upper_bound=reach)
    return near_box[np.isfinite(gap)]


def graph_fault(
    prior: np.ndarray,
    centroids: np.ndarray,
    target: np.ndarray,
    positive: np.ndarray,
    region_with: Callable[[int, bool], np.ndarray],
    config: PriorNoiseConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, int | None]:
    """The crop's prior with one graph-shaped cut or flood (or unchanged: chance 1 - `config.prob`, or no phantom
    that makes a fault), and the crop voxel of a visible cut's negative click (else None).

    A cut's phantom is a negative click on an object voxel the prior holds; a visible cut's (share
    `config.visible_cuts` of the cuts) is a negative click on a background voxel within `config.flood_reach`
    metres of the object that the network is shown, as the simulated user could have placed it, and the prior is
    then the baseline's true region with it (no phantom left). A flood's phantom is a positive click on such a
    background voxel.

    Args:
        prior: the geodesic prior of the crop voxels (float [V] in [0, 1]).
        centroids: float [V, 3] positions of the crop voxels.
        target: bool [V], the object's voxels.
        positive: crop-voxel indices of the positive clicks (never a cut's phantom).
        region_with: (crop voxel, positive) -> the prior of the sample's clicks plus that phantom click, float [V];
            the sample's own clicks keep their labels there, as the geodesic region always gives them.
        config: how often, how near, how many draws.
        rng: the sample's random stream (not drawn from when `config.prob` is 0).
    """
    if config.prob <= 0.0 or rng.random() >= config.prob or not target.any():
        return prior, None
    cut = rng.random() < config.cut_share
    visible = cut and config.visible_cuts > 0 and rng.random() < config.visible_cuts
    near = near_background(centroids, target, config.flood_reach) if visible or not cut else None
    if visible:
        for voxel in _draws(near, config.graph_tries, rng):
            out = region_with(voxel, False)
            if np.any(target & (out < prior)):
                return out, voxel
    candidates = np.setdiff1d(np.flatnonzero(target & (prior > 0)), positive) if cut else near
    for voxel in _draws(candidates, config.graph_tries, rng):
        out = region_with(voxel, not cut)
        faulty = (target & (out < prior)) if cut else (~target & (out > prior))
        if faulty.any():
            return np.clip(np.minimum(out, prior) if cut else np.maximum(out, prior), 0.0, 1.0), None
    return prior, None


def _draws(candidates: np.ndarray, tries: int, rng: np.random.Generator) -> list[int]:
    """Up to `tries` different candidates in random order."""
    if len(candidates) == 0:
        return []
    return [int(v) for v in rng.choice(candidates, size=min(tries, len(candidates)), replace=False)]
