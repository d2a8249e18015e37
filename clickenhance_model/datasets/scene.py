"""What every dataset reader produces: labelled scenes and the objects evaluated in them.

A `Scene` is one point cloud with per-point labels. `instance` holds one id per object,
unique within the scene (0 = no object); readers document how they build it from their
format. `SceneDataset` is the reader interface: list scene names, load one scene, say
which semantic classes count as objects and what they are called.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from clickenhance_model.errors import DatasetError


@dataclass
class Scene:
    """One labelled point cloud.

    Attributes:
        name: unique name within its dataset (e.g. "08/000123" or "Area_5/office_1").
        xyz: float32 (N, 3) positions in metres, z up, all finite.
        rgb: float32 (N, 3) colours in [0, 1], or None for LiDAR without colour.
        instance: int64 (N,) object id per point, 0 = not part of any object.
        semantic: int64 (N,) class id per point, in the dataset's own id space.
    """

    name: str
    xyz: np.ndarray
    rgb: np.ndarray | None
    instance: np.ndarray
    semantic: np.ndarray

    def __post_init__(self) -> None:
        """Normalise dtypes and check that all arrays describe the same N points."""
        self.xyz = np.ascontiguousarray(self.xyz, dtype=np.float32)
        if self.xyz.ndim != 2 or self.xyz.shape[1] != 3 or len(self.xyz) == 0:
            raise DatasetError(f"scene {self.name}: xyz must be a non-empty (N, 3) array, got {self.xyz.shape}")
        if not np.isfinite(self.xyz).all():
            raise DatasetError(f"scene {self.name}: xyz holds non-finite values")
        n = len(self.xyz)
        if self.rgb is not None:
            self.rgb = np.ascontiguousarray(self.rgb, dtype=np.float32)
            if self.rgb.shape != (n, 3):
                raise DatasetError(f"scene {self.name}: rgb has shape {self.rgb.shape}, expected ({n}, 3)")
        self.instance = np.ascontiguousarray(self.instance, dtype=np.int64)
        self.semantic = np.ascontiguousarray(self.semantic, dtype=np.int64)
        for field in ("instance", "semantic"):
            shape = getattr(self, field).shape
            if shape != (n,):
                raise DatasetError(f"scene {self.name}: {field} has shape {shape}, expected ({n},)")

    @property
    def num_points(self) -> int:
        """Number of points N."""
        return len(self.xyz)

    def object_mask(self, instance_id: int) -> np.ndarray:
        """Ground-truth mask (bool (N,)) of one object."""
        return self.instance == instance_id


@dataclass(frozen=True)
class SceneObject:
    """One object to segment: where it is, what it is and how big it is."""

    scene: str
    instance_id: int
    semantic_id: int
    class_name: str
    num_points: int


@dataclass(frozen=True)
class ObjectFilter:
    """Which objects a benchmark evaluates.

    Attributes:
        min_points: objects with fewer points are skipped (100 in the benchmarks).
        classes: semantic ids that count as objects; None = every instance.
    """

    min_points: int = 100
    classes: frozenset[int] | None = None


def select_objects(scene: Scene, object_filter: ObjectFilter, class_names: Mapping[int, str]) -> list[SceneObject]:
    """The objects of `scene` passing the filter, ordered by instance id.

    An object's class is the most frequent semantic id among its points.
    """
    ids, inverse, counts = np.unique(scene.instance, return_inverse=True, return_counts=True)
    objects = []
    for k, instance_id in enumerate(ids):
        if instance_id <= 0 or counts[k] < object_filter.min_points:
            continue
        classes, class_counts = np.unique(scene.semantic[inverse == k], return_counts=True)
        semantic_id = int(classes[np.argmax(class_counts)])
        if object_filter.classes is not None and semantic_id not in object_filter.classes:
            continue
        name = class_names.get(semantic_id, f"class_{semantic_id}")
        objects.append(SceneObject(scene.name, int(instance_id), semantic_id, name, int(counts[k])))
    return objects


class SceneDataset(ABC):
    """A folder of scenes in one benchmark format.

    Subclasses set `name`, `domain` ("outdoor" LiDAR or "indoor" RGB-D), `class_names`
    and `object_classes`, and implement `scene_names` and `load_scene`. Constructors
    check that the root exists and raise DatasetError naming it otherwise.
    """

    name: ClassVar[str] = ""
    domain: ClassVar[str] = "outdoor"
    class_names: Mapping[int, str] = {}
    object_classes: frozenset[int] | None = None

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"{self.name} root {self.root} is not a folder")
        self.skipped: list[tuple[str, str]] = []  # (scene, reason) of scenes that failed to load

    @abstractmethod
    def scene_names(self) -> list[str]:
        """Names of the scenes, in evaluation order."""

    @abstractmethod
    def load_scene(self, name: str) -> Scene:
        """Read one scene; raises DatasetError naming the bad file."""

    def object_filter(self, min_points: int = 100) -> ObjectFilter:
        """The benchmark's object filter with the given minimum size."""
        return ObjectFilter(min_points=min_points, classes=self.object_classes)

    def objects(self, scene: Scene, min_points: int = 100) -> list[SceneObject]:
        """Objects of a loaded scene that this benchmark evaluates."""
        return select_objects(scene, self.object_filter(min_points), self.class_names)

    def scenes(self, on_error: Callable[[str, DatasetError], None] | None = None) -> Iterator[Scene]:
        """Load scenes in order; a scene that fails is reported (stderr or `on_error`) and skipped."""
        for scene_name in self.scene_names():
            try:
                scene = self.load_scene(scene_name)
            except DatasetError as error:
                self.skipped.append((scene_name, str(error)))
                if on_error is None:
                    print(f"skipping scene {scene_name}: {error}", file=sys.stderr)
                else:
                    on_error(scene_name, error)
                continue
            yield scene


def check_file(path: Path, what: str) -> Path:
    """Return `path` if it is a file, else raise DatasetError naming it and what it should hold."""
    if not path.is_file():
        raise DatasetError(f"{path}: missing {what}")
    return path
