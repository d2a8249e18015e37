"""Which object each training sample is: a seeded order over the objects of the training split.

Every epoch visits the objects in a fresh order drawn from (seed, epoch) alone, so a
resumed run sees exactly the samples the interrupted one would have seen.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from clickenhance_model.datasets.scene import SceneObject


def epoch_rng(seed: int, epoch: int, purpose: int = 0) -> np.random.Generator:
    """Random generator of one epoch (and one purpose), independent of everything run before it."""
    return np.random.default_rng([int(seed), int(epoch), int(purpose)])


def sample_objects(objects: Sequence[SceneObject], count: int, rng: np.random.Generator) -> list[SceneObject]:
    """`count` training samples: the objects in a random order, repeated (re-shuffled) when count exceeds them.

    Each sample is one (scene, object) pair; an object appears at most once more than any other.
    """
    if not objects:
        raise ValueError("no training object to sample from (check data.min_points and data.object_classes)")
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
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
