"""The simulated user of InterObject3D / AGILE3D, which ClickEnhance evaluates and trains with.

Given the current prediction and the ground truth of one object, the user looks at the
false negatives (object points predicted background) and the false positives. In each
non-empty error set every point gets its Euclidean distance to the nearest point outside
that set; the user clicks the point with the largest distance over both sets (a tie goes
to the false negatives, and within a set to the lowest index). The click is positive when
that point belongs to the object.

With a temperature T in [0, 1] (ClickEnhance eq. 5) the click is instead sampled among
all error points with P(i) proportional to exp(-d_i (1 - T)), d_i the distance in metres
from point i to the point the deterministic rule picks: T = 0 clicks near that point,
T = 1 anywhere in the errors. The polarity again comes from the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class SimulatedClick:
    """A click of the simulated user: point index, polarity and the error depth there.

    `depth` is the deterministic rule's distance (metres) from its chosen point to the
    nearest point outside that point's error set.
    """

    index: int
    positive: bool
    depth: float


def distance_to_outside(xyz: np.ndarray, region: np.ndarray) -> np.ndarray:
    """For each point of `region` (bool (N,)), its distance to the nearest point outside it.

    Exact, and cheap when the region is small: only outside points within a margin of
    the region's bounding box enter the KD-tree, and the margin grows only for points
    whose nearest outside point may lie beyond it. Returns float64 (region.sum(),);
    all inf when every point is in the region.
    """
    inside = xyz[region].astype(np.float64)
    result = np.full(len(inside), np.inf)
    outside = ~region
    if len(inside) == 0 or not outside.any():
        return result
    low, high = inside.min(axis=0), inside.max(axis=0)
    scene_size = float(np.ptp(xyz, axis=0).max())
    margin = max(float((high - low).max()) / 4, 1e-3 * scene_size, 1e-9)
    pending = np.ones(len(inside), dtype=bool)
    total_outside = int(outside.sum())
    while pending.any():
        near = outside & np.all((xyz >= low - margin) & (xyz <= high + margin), axis=1)
        complete = int(near.sum()) == total_outside  # every outside point is in the tree: no bound needed
        if near.any():
            bound = np.inf if complete else margin
            distance, _ = cKDTree(xyz[near]).query(inside[pending], distance_upper_bound=bound)
            found = np.isfinite(distance)
            result[np.flatnonzero(pending)[found]] = distance[found]
            pending[np.flatnonzero(pending)[found]] = False
        if complete:
            break
        margin *= 4.0
    return result


def next_click(
    xyz: np.ndarray,
    prediction: np.ndarray,
    ground_truth: np.ndarray,
    temperature: float | None = None,
    rng: np.random.Generator | None = None,
) -> SimulatedClick | None:
    """The simulated user's next click on one object; None when the prediction is exact.

    Args:
        xyz: (N, 3) positions of the full-resolution points.
        prediction: bool (N,) current mask (all False before the first click).
        ground_truth: bool (N,) the object's points.
        temperature: None for the deterministic user, or T in [0, 1] for eq. 5 sampling.
        rng: random generator for the sampling (required when temperature is set).
    """
    prediction = np.asarray(prediction, dtype=bool)
    ground_truth = np.asarray(ground_truth, dtype=bool)
    if prediction.shape != ground_truth.shape or prediction.shape != (len(xyz),):
        raise ValueError(f"prediction {prediction.shape} and ground truth {ground_truth.shape} must be ({len(xyz)},)")
    best: tuple[float, int] | None = None
    for region in (ground_truth & ~prediction, prediction & ~ground_truth):  # false negatives first: they win ties
        if not region.any():
            continue
        depth = distance_to_outside(xyz, region)
        k = int(np.argmax(depth))
        if best is None or depth[k] > best[0]:
            best = (float(depth[k]), int(np.flatnonzero(region)[k]))
    if best is None:
        return None
    depth, index = best
    if temperature is not None:
        index = sample_click(xyz, ground_truth != prediction, index, temperature, rng)
    return SimulatedClick(index, bool(ground_truth[index]), depth)


def sample_click(
    xyz: np.ndarray, errors: np.ndarray, reference: int, temperature: float, rng: np.random.Generator | None
) -> int:
    """Sample an error point with P(i) ~ exp(-|x_i - x_ref| (1 - T)) (ClickEnhance eq. 5)."""
    if not 0.0 <= temperature <= 1.0:
        raise ValueError(f"temperature must be in [0, 1], got {temperature}")
    if rng is None:
        raise ValueError("a random generator is needed to sample clicks with a temperature")
    candidates = np.flatnonzero(errors)
    distance = np.linalg.norm(xyz[candidates].astype(np.float64) - xyz[reference], axis=1)
    logits = -distance * (1.0 - temperature)
    weights = np.exp(logits - logits.max())
    return int(candidates[rng.choice(len(candidates), p=weights / weights.sum())])
