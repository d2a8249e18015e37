"""SemanticKITTI reader: `.bin` scans (float32 x, y, z, remission), `.label` files and optional colours.

Layouts accepted under `root` (the first that matches wins):
  - the dataset root: `sequences/NN/velodyne/*.bin` with `sequences/NN/labels/*.label`;
  - one sequence folder: `velodyne/*.bin` with `labels/*.label`;
  - a flat folder of pairs: `X.bin` next to `X.label`;
  - a folder whose sub-folders each hold one of the two layouts above
    (e.g. `real_scans/semantickitti/seq00_frames/`).

A label is a uint32: semantic id in the low 16 bits, instance id in the high 16 bits.
An object is a (semantic, instance) pair with instance > 0; `Scene.instance` holds the
whole label value for such points (unique per pair) and 0 elsewhere.

Colour (not part of SemanticKITTI; written by `scenes.writer` for generated indoor scans):
with the `velodyne/` layouts, `rgb/FFFFFF.bin` beside `velodyne/` holds one uint8 (r, g, b)
row per point; when it exists it becomes `Scene.rgb` in [0, 1] (unless `rgb=False`).

Object sets (`objects`): "things" are the labelled instances; "stuff" are connected
components (see `stuff_objects`) of the unlabelled points of STUFF_CLASSES: 51 fence,
71 trunk, 80 pole, 81 traffic-sign, 99 other-object, and the person and two-wheeler
classes 11 bicycle, 15 motorcycle, 30 person, 31 bicyclist, 32 motorcyclist and their
moving twins 253-255, whose points sometimes carry no instance id; "all" is both.
`keep_rings=K` keeps every K-th laser ring (see `laser_rings`) to emulate a sparser sensor.
`ground_objects=True` (for training) adds the main connected pieces of the ground surface
(GROUND_GROUPS: road, parking, sidewalk, other-ground, lane markings and terrain together, the
surface a click on the ground reaches) as objects, whatever the object set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clickenhance_model.datasets import register_dataset
from clickenhance_model.datasets.laser_rings import check_keep_rings, keep_every_kth_ring
from clickenhance_model.datasets.scene import Scene, SceneDataset, check_file
from clickenhance_model.datasets.stuff_objects import (
    DEFAULT_GAP,
    check_object_options,
    with_ground_objects,
    with_stuff_objects,
)
from clickenhance_model.errors import DatasetError

CLASS_NAMES = {
    0: "unlabeled", 1: "outlier", 10: "car", 11: "bicycle", 13: "bus", 15: "motorcycle", 16: "on-rails",
    18: "truck", 20: "other-vehicle", 30: "person", 31: "bicyclist", 32: "motorcyclist", 40: "road",
    44: "parking", 48: "sidewalk", 49: "other-ground", 50: "building", 51: "fence", 52: "other-structure",
    60: "lane-marking", 70: "vegetation", 71: "trunk", 72: "terrain", 80: "pole", 81: "traffic-sign",
    99: "other-object", 252: "moving-car", 253: "moving-bicyclist", 254: "moving-person",
    255: "moving-motorcyclist", 256: "moving-on-rails", 257: "moving-bus", 258: "moving-truck",
    259: "moving-other-vehicle",
}  # fmt: skip
STUFF_CLASSES = frozenset({11, 15, 30, 31, 32, 51, 71, 80, 81, 99, 253, 254, 255})
THING_CLASSES = frozenset({10, 11, 13, 15, 16, 18, 20, 30, 31, 32, *range(252, 260)})  # labelled instances
OBJECT_KINDS = ("things", "stuff", "other")


def object_kind(semantic_id: int) -> str:
    """The kind of real dev set a SemanticKITTI class is judged in: "things" (vehicles and people, the labelled
    instances), "stuff" (fences, trunks, poles, signs, other objects: components of STUFF_CLASSES) or "other"
    (buildings, vegetation, ground: classes no real dev set holds, though a generated street does)."""
    if semantic_id in THING_CLASSES:
        return "things"
    return "stuff" if semantic_id in STUFF_CLASSES else "other"
GROUND_GROUPS = ((40, 44, 48, 49, 60, 72),)  # one surface: road, parking, sidewalk, other-ground, markings, terrain


def read_scan(path: Path) -> np.ndarray:
    """Points of a `.bin` scan as float32 (N, 4): x, y, z, remission."""
    check_file(path, "SemanticKITTI scan (.bin)")
    size = path.stat().st_size
    if size == 0 or size % 16:
        raise DatasetError(f"{path}: size {size} bytes is not a positive multiple of 16 (float32 x, y, z, remission)")
    return np.fromfile(path, dtype="<f4").reshape(-1, 4)


def read_labels(path: Path, num_points: int) -> np.ndarray:
    """Labels of a `.label` file as uint32 (N,), checked against the scan's point count."""
    check_file(path, "SemanticKITTI label file (.label)")
    size = path.stat().st_size
    if size % 4 or size // 4 != num_points:
        raise DatasetError(f"{path}: holds {size} bytes = {size / 4:g} labels, but its scan has {num_points} points")
    return np.fromfile(path, dtype="<u4")


def read_colors(path: Path, num_points: int) -> np.ndarray:
    """Colours of an `rgb/*.bin` file (uint8 r, g, b rows) as float32 (N, 3) in [0, 1], checked against the scan."""
    check_file(path, "colour file (rgb/*.bin, uint8 r, g, b)")
    size = path.stat().st_size
    if size != 3 * num_points:
        raise DatasetError(f"{path}: holds {size} bytes = {size / 3:g} colours (uint8 r, g, b), "
                           f"but its scan has {num_points} points")  # fmt: skip
    return np.fromfile(path, dtype=np.uint8).reshape(-1, 3).astype(np.float32) / 255.0


def scene_from_scan(name: str, points: np.ndarray, labels: np.ndarray, rgb: np.ndarray | None = None) -> Scene:
    """Scene of one scan: drop non-finite points, split labels into semantic and instance."""
    finite = np.isfinite(points[:, :3]).all(axis=1)
    points, labels = points[finite], labels[finite]
    rgb = None if rgb is None else rgb[finite]
    semantic = (labels & 0xFFFF).astype(np.int64)
    instance = np.where(labels >> 16 > 0, labels.astype(np.int64), 0)
    return Scene(name, points[:, :3], rgb, instance, semantic)


@register_dataset("semantickitti")
class SemanticKittiDataset(SceneDataset):
    """SemanticKITTI scans with labels; every (semantic, instance > 0) pair is an object.

    Args:
        root: one of the layouts in the module docstring.
        sequences: with the dataset-root layout, which sequences to read ("08" for the
            validation split); None = every sequence that has a labels folder.
        rgb: read the colours of scans that have an `rgb/` file (False: geometry only, rgb None).
        objects: "things" (labelled instances), "stuff" (components of STUFF_CLASSES) or "all".
        stuff_gap: metres between points of one stuff component.
        keep_rings: keep every K-th laser ring of each scan (1 = all points).
        ground_objects: also make each main connected piece of the ground surface an object (training
            data for a model that must segment the ground it is clicked on). The classes are
            SemanticKITTI's: only unlabelled points (instance 0) of those ids become objects.
    """

    domain = "outdoor"
    class_names = CLASS_NAMES
    object_classes = None

    def __init__(self, root: str | Path, sequences: tuple[str, ...] | None = None, rgb: bool = True,
                 objects: str = "things", stuff_gap: float = DEFAULT_GAP, keep_rings: int = 1,
                 ground_objects: bool = False):  # fmt: skip
        super().__init__(root)
        self.objects_set, self.stuff_gap, self.keep_rings = objects, float(stuff_gap), keep_rings
        self.ground_objects = bool(ground_objects)
        check_keep_rings(keep_rings)
        check_object_options(objects, self.stuff_gap)
        self.sequences = None if sequences is None else tuple(f"{int(s):02d}" for s in sequences)
        self.rgb = bool(rgb)
        self._scans = self._find_scans()
        if not self._scans:
            raise DatasetError(f"{self.root}: no SemanticKITTI scans (.bin) found in any known layout")

    def _find_scans(self) -> dict[str, tuple[Path, Path]]:
        """Map scene name -> (scan, label) paths for the first layout that matches."""
        sequences = self.root / "sequences"
        if sequences.is_dir():
            scans: dict[str, tuple[Path, Path]] = {}
            for folder in sorted(p for p in sequences.iterdir() if p.is_dir()):
                if self.sequences is not None and folder.name not in self.sequences:
                    continue
                if self.sequences is None and not (folder / "labels").is_dir():
                    continue  # test sequences have no labels
                scans.update(_scans_in(folder, prefix=f"{folder.name}/"))
            if self.sequences is not None:
                missing = set(self.sequences) - {name.split("/")[0] for name in scans}
                if missing:
                    raise DatasetError(f"{sequences}: no scans for sequence(s) {', '.join(sorted(missing))}")
            return scans
        scans = _scans_in(self.root, prefix="")
        if scans:
            return scans
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            scans.update(_scans_in(folder, prefix=f"{folder.name}/"))
        return scans

    def scene_names(self) -> list[str]:
        """Scene names such as "08/000000" or "seq00_frames/000000", sorted."""
        return sorted(self._scans)

    def load_scene(self, name: str) -> Scene:
        """Read one scan, its labels and (when present and wanted) its colours."""
        if name not in self._scans:
            raise DatasetError(f"{self.root}: no scene named {name!r}")
        scan_path, label_path = self._scans[name]
        points = read_scan(scan_path)
        labels = read_labels(label_path, len(points))
        rgb_path = color_path(scan_path)
        rgb = read_colors(rgb_path, len(points)) if self.rgb and rgb_path is not None and rgb_path.exists() else None
        if self.keep_rings > 1:  # rings come from the stored point order, so select before anything else
            kept = keep_every_kth_ring(points[:, :3], self.keep_rings)
            points, labels, rgb = points[kept], labels[kept], None if rgb is None else rgb[kept]
        scene = with_stuff_objects(scene_from_scan(name, points, labels, rgb), STUFF_CLASSES, self.objects_set,
                                   self.stuff_gap)  # fmt: skip
        return with_ground_objects(scene, GROUND_GROUPS) if self.ground_objects else scene


def color_path(scan_path: Path) -> Path | None:
    """Where the colours of a scan in a `velodyne/` folder would be (`../rgb/NAME.bin`); None for flat folders."""
    if scan_path.parent.name != "velodyne":
        return None
    return scan_path.parent.parent / "rgb" / scan_path.name


def _scans_in(folder: Path, prefix: str) -> dict[str, tuple[Path, Path]]:
    """Scans of a sequence folder (velodyne/ + labels/) or a flat folder of .bin/.label pairs."""
    if (folder / "velodyne").is_dir():
        scan_folder, label_folder = folder / "velodyne", folder / "labels"
    else:
        scan_folder = label_folder = folder
    return {prefix + p.stem: (p, label_folder / f"{p.stem}.label") for p in sorted(scan_folder.glob("*.bin"))}
