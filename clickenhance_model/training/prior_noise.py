"""Training-time faults in a fusion network's geodesic prior, so the network learns to overrule it.

A `prior_fusion` network corrects the training-free geodesic region. On generated scans that
region is nearly always right, so the cheapest fused answer is the prior's and the network
learns to echo it. On real scans the region fails in two typical ways: it floods a neighbour
(a low fence taken for ground takes the road; a bush touching a car joins it), and a negative
click beside an object cuts a large piece out of it (geodesically nearer to the negative than
to the sparse positives). `corrupt_prior` puts one of these faults into the prior of a share
of the training samples; the labels stay the object's, so only the network's own evidence
(geometry, colour, click maps) can undo it.

A fault is a Euclidean ball over the crop voxels: a cut clears the prior in a ball around a
random object voxel (radius a random share of the object's reach from there), a flood sets it
in a ball around a random background voxel close to the object (radius in metres). Clicked
voxels keep their click's label, as the geodesic region always gives them.
"""

from __future__ import annotations

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
        background = np.flatnonzero(~target)
        if len(background) == 0:
            return prior
        gap, _ = cKDTree(centroids[target]).query(centroids[background], distance_upper_bound=config.flood_reach)
        near = background[np.isfinite(gap)]
        if len(near) == 0:
            return prior
        centre = centroids[rng.choice(near)]
        radius = rng.uniform(*config.flood_radius)
        out[np.linalg.norm(centroids - centre, axis=1) <= radius] = 1.0
    out[positive] = 1.0
    out[negative] = 0.0
    return out
