"""S3DIS reader: `Area_N/<room>/Annotations/<class>_<k>.txt`, one file per object.

Each annotation file holds one object's points, one per line: `x y z r g b` (metres,
colours 0-255). A room is the union of its annotation files; `Scene.instance` numbers
the files 1, 2, ... in sorted order and `Scene.semantic` is the class index below,
taken from the file name (`chair_3.txt` -> chair). "stairs", which a few rooms use, is
counted as clutter, as is usual for the 13-class benchmark.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clickenhance_model.datasets import register_dataset
from clickenhance_model.datasets.scene import Scene, SceneDataset
from clickenhance_model.errors import DatasetError

CLASSES = ("ceiling", "floor", "wall", "beam", "column", "window", "door", "table", "chair", "sofa", "bookcase",
           "board", "clutter")  # fmt: skip
CLASS_IDS = {name: k for k, name in enumerate(CLASSES)} | {"stairs": CLASSES.index("clutter")}


def read_annotation(path: Path) -> np.ndarray:
    """Points of one annotation file as float64 (M, 6): x y z r g b."""
    try:
        values = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except (ValueError, OSError) as error:
        raise DatasetError(f"{path}: not rows of 6 numbers 'x y z r g b' ({error})") from error
    if values.size == 0:
        raise DatasetError(f"{path}: annotation file holds no point")
    if values.shape[1] != 6:
        raise DatasetError(f"{path}: rows have {values.shape[1]} values, expected 6 (x y z r g b)")
    return values


def annotation_class(path: Path) -> int:
    """Class index from an annotation file name such as `chair_3.txt`."""
    name = path.stem.rsplit("_", 1)[0]
    if name not in CLASS_IDS:
        raise DatasetError(f"{path}: unknown S3DIS class {name!r}; known: {', '.join(CLASSES)}")
    return CLASS_IDS[name]


@register_dataset("s3dis")
class S3disDataset(SceneDataset):
    """S3DIS rooms; every annotated object of the 13 classes is evaluated.

    Args:
        root: folder holding `Area_1` ... `Area_6`.
        areas: which areas to read (e.g. (5,) for the usual test area); None = all.
    """

    domain = "indoor"
    class_names = dict(enumerate(CLASSES))
    object_classes = None

    def __init__(self, root: str | Path, areas: tuple[int, ...] | None = None):
        super().__init__(root)
        area_folders = sorted(p for p in self.root.glob("Area_*") if p.is_dir())
        if areas is not None:
            wanted = {f"Area_{int(a)}" for a in areas}
            missing = wanted - {p.name for p in area_folders}
            if missing:
                raise DatasetError(f"{self.root}: missing area folder(s) {', '.join(sorted(missing))}")
            area_folders = [p for p in area_folders if p.name in wanted]
        rooms = [room for area in area_folders for room in sorted(area.iterdir()) if room.is_dir()]
        self._rooms = {f"{room.parent.name}/{room.name}": room for room in rooms}
        if not self._rooms:
            raise DatasetError(f"{self.root}: no S3DIS room folder (Area_N/<room>) found")

    def scene_names(self) -> list[str]:
        """Room names such as "Area_5/office_1"."""
        return list(self._rooms)

    def load_scene(self, name: str) -> Scene:
        """Read every annotation file of one room."""
        if name not in self._rooms:
            raise DatasetError(f"{self.root}: no scene named {name!r}")
        folder = self._rooms[name] / "Annotations"
        files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
        if not files:
            raise DatasetError(f"{folder}: missing annotation files (<class>_<k>.txt)")
        parts, instance, semantic = [], [], []
        for k, path in enumerate(files, start=1):
            points = read_annotation(path)
            parts.append(points)
            instance.append(np.full(len(points), k, dtype=np.int64))
            semantic.append(np.full(len(points), annotation_class(path), dtype=np.int64))
        values = np.concatenate(parts)
        keep = np.isfinite(values).all(axis=1)
        xyz, rgb = values[keep, :3], np.clip(values[keep, 3:] / 255.0, 0.0, 1.0)
        return Scene(name, xyz, rgb, np.concatenate(instance)[keep], np.concatenate(semantic)[keep])
