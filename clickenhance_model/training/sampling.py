"""Which object each training sample is: a seeded order over the objects of the training split.

Every epoch's draw comes from (seed, epoch) alone, so a resumed run sees exactly the samples the
interrupted one would have seen. Uniform weighting visits the objects in a fresh order per epoch;
"sqrt_points" draws them with replacement in proportion to the square root of their point count:
half the objects of a generated street have under 150 points, and a network trained on a uniform
draw learns that what lies a few metres from the click is background, which cuts vans, hedges and
walls (docs/default_model.md, session 18).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from clickenhance_model.datasets.scene import SceneObject

OBJECT_WEIGHTINGS = ("uniform", "sqrt_points")


def epoch_rng(seed: int, epoch: int, purpose: int = 0) -> np.random.Generator:
    """Random generator of one epoch (and one purpose), independent of everything run before it."""
    return np.random.default_rng([int(seed), int(epoch), int(purpose)])


def sample_objects(
    objects: Sequence[SceneObject], count: int, rng: np.random.Generator, weighting: str = "uniform"
) -> list[SceneObject]:
    """`count` training samples, each one (scene, object) pair.

    "uniform": the objects in a random order, repeated (re-shuffled) when count exceeds them, so an
    object appears at most once more than any other. "sqrt_points": independent draws, object i with
    chance proportional to sqrt(num_points_i).
    """
    if not objects:
        raise ValueError("no training object to sample from (check data.min_points and data.object_classes)")
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if weighting not in OBJECT_WEIGHTINGS:
        raise ValueError(f"unknown object weighting {weighting!r}; choose one of {OBJECT_WEIGHTINGS}")
    if weighting == "sqrt_points":
        weights = np.sqrt(np.array([max(obj.num_points, 1) for obj in objects], dtype=np.float64))
        return [objects[i] for i in rng.choice(len(objects), size=count, replace=True, p=weights / weights.sum())]
    picks: list[SceneObject] = []
    while len(picks) < count:
        order = rng.permutation(len(objects))
        picks.extend(objects[i] for i in order[: count - len(picks)])
    return picks


def group_by_scene(samples: Sequence[SceneObject]) -> dict[str, list[SceneObject]]:
    """Samples grouped by scene name, in first-appearance order (to load each scene once)."""
    groups: dict[str, list[SceneObject]] = {}
    for sample in samples:
        groups.setdefault(sample.scene, []).append(sample)
    return groups
