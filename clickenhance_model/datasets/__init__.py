"""Benchmark dataset readers, found by name in a small registry.

`build_dataset(name, root)` opens a reader; its `scenes()` yields labelled scenes (bad
ones reported and skipped) and `objects(scene, min_points)` lists the objects to segment.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from clickenhance_model.datasets.scene import ObjectFilter, Scene, SceneDataset, SceneObject, select_objects

DATASETS: dict[str, type[SceneDataset]] = {}


def register_dataset(name: str) -> Callable[[type[SceneDataset]], type[SceneDataset]]:
    """Class decorator adding a reader to DATASETS under `name` (also set as its `name`)."""

    def add(cls: type[SceneDataset]) -> type[SceneDataset]:
        if name in DATASETS:
            raise ValueError(f"dataset {name!r} is already registered by {DATASETS[name].__name__}")
        cls.name = name
        DATASETS[name] = cls
        return cls

    return add


def build_dataset(name: str, root: str | Path, **options: Any) -> SceneDataset:
    """Open dataset `name` at `root`; options go to the reader (e.g. label_set for ScanNet)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}")
    return DATASETS[name](root, **options)


# Explicit imports fill the registry (after register_dataset exists).
from clickenhance_model.datasets import kitti360, npy_triplets, s3dis, scannet, semantic_kitti  # noqa: E402

__all__ = [
    "DATASETS", "ObjectFilter", "Scene", "SceneDataset", "SceneObject", "build_dataset",
    "kitti360", "npy_triplets", "register_dataset", "s3dis", "scannet", "select_objects", "semantic_kitti",
]  # fmt: skip
