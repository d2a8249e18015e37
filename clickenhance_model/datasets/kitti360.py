"""KITTI-360 reader: the accumulated `data_3d_semantics` point cloud windows (PLY).

Each window `data_3d_semantics/<split>/<sequence>/static/<start>_<end>.ply` is a PLY
file with vertex fields x y z (float), red green blue (uchar), semantic, instance (int),
visible (uchar) and confidence (float); the release writes them binary little-endian.
Every `*.ply` under `root` is read, except those below a folder named `dynamic` (the
moving-object windows, which repeat points of the static ones).

Instance encoding: in the official release the `instance` field is a global id,
`semantic * 1000 + local id`, where local id 0 means "no instance" (stuff points carry
`semantic * 1000`). We use the global id itself as `Scene.instance` when its local part
is non-zero, else 0. Files whose instance values are plain local ids (`instance // 1000`
differs from `semantic` somewhere) are read the same way after encoding them as
`semantic * 1000 + instance`.

Windows are in world coordinates (hundreds of metres from the origin); positions are
shifted by the window's bounding-box centre before becoming float32, so no precision is
lost. Objects: the classes AGILE3D evaluates (ids below). With `objects="stuff"` (or
"all") the unlabelled points of STUFF_CLASSES (13 fence, 14 guard rail, 17 pole,
18 polegroup, 19 traffic light, 20 traffic sign, 37 smallpole, 38 lamp, 39 trash bin,
41 box, 44 unknown object) become connected-component objects (see `stuff_objects`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clickenhance_model.datasets import register_dataset
from clickenhance_model.datasets.ply import read_ply
from clickenhance_model.datasets.scene import Scene, SceneDataset, check_file
from clickenhance_model.datasets.stuff_objects import DEFAULT_GAP, check_object_options, with_stuff_objects
from clickenhance_model.errors import DatasetError

INSTANCE_BASE = 1000  # global id = semantic * 1000 + local instance id
CLASS_NAMES = {
    0: "unlabeled", 1: "ego vehicle", 2: "rectification border", 3: "out of roi", 4: "static", 5: "dynamic",
    6: "ground", 7: "road", 8: "sidewalk", 9: "parking", 10: "rail track", 11: "building", 12: "wall",
    13: "fence", 14: "guard rail", 15: "bridge", 16: "tunnel", 17: "pole", 18: "polegroup",
    19: "traffic light", 20: "traffic sign", 21: "vegetation", 22: "terrain", 23: "sky", 24: "person",
    25: "rider", 26: "car", 27: "truck", 28: "bus", 29: "caravan", 30: "trailer", 31: "train",
    32: "motorcycle", 33: "bicycle", 34: "garage", 35: "gate", 36: "stop", 37: "smallpole", 38: "lamp",
    39: "trash bin", 40: "vending machine", 41: "box", 42: "unknown construction", 43: "unknown vehicle",
    44: "unknown object",
}  # fmt: skip
OBJECT_CLASSES = frozenset({17, 19, 20, 24, 26, 27, 29, 30, *range(32, 42)})
STUFF_CLASSES = frozenset({13, 14, 17, 18, 19, 20, 37, 38, 39, 41, 44})
REQUIRED_FIELDS = ("x", "y", "z", "semantic", "instance")


def decode_instances(semantic: np.ndarray, instance: np.ndarray) -> np.ndarray:
    """Per-point object id (global id with a non-zero local part) or 0, as int64."""
    semantic = semantic.astype(np.int64)
    instance = instance.astype(np.int64)
    labelled = instance > 0
    if labelled.any() and (instance[labelled] // INSTANCE_BASE != semantic[labelled]).any():
        instance = np.where(labelled, semantic * INSTANCE_BASE + instance, 0)  # plain local ids
    return np.where(instance % INSTANCE_BASE > 0, instance, 0)


def scene_from_window(name: str, vertex: dict[str, np.ndarray], path: Path) -> Scene:
    """Scene of one window's vertex element (fields checked, xyz centred)."""
    missing = [f for f in REQUIRED_FIELDS if f not in vertex]
    if missing:
        raise DatasetError(f"{path}: PLY vertex element lacks field(s) {', '.join(missing)}")
    xyz = np.stack([vertex["x"], vertex["y"], vertex["z"]], axis=1).astype(np.float64)
    finite = np.isfinite(xyz).all(axis=1)
    if not finite.any():
        raise DatasetError(f"{path}: no finite point")
    xyz = xyz[finite]
    centre = (xyz.min(axis=0) + xyz.max(axis=0)) / 2
    rgb = None
    if all(c in vertex for c in ("red", "green", "blue")):
        rgb = np.stack([vertex["red"], vertex["green"], vertex["blue"]], axis=1)[finite] / 255.0
    semantic = vertex["semantic"][finite].astype(np.int64)
    instance = decode_instances(semantic, vertex["instance"][finite])
    return Scene(name, (xyz - centre).astype(np.float32), rgb, instance, semantic)


@register_dataset("kitti360")
class Kitti360Dataset(SceneDataset):
    """KITTI-360 accumulated windows; objects are instances of OBJECT_CLASSES and/or stuff components.

    Args:
        root: folder searched recursively for window `.ply` files.
        objects: "things" (instances of OBJECT_CLASSES), "stuff" (components of STUFF_CLASSES) or "all".
        stuff_gap: metres between points of one stuff component.
    """

    domain = "outdoor"
    class_names = CLASS_NAMES
    object_classes = OBJECT_CLASSES

    def __init__(self, root: str | Path, objects: str = "things", stuff_gap: float = DEFAULT_GAP):
        super().__init__(root)
        self.objects_set, self.stuff_gap = objects, float(stuff_gap)
        check_object_options(objects, self.stuff_gap)
        if objects != "things":
            self.object_classes = None if objects == "stuff" else OBJECT_CLASSES | STUFF_CLASSES
        self._windows = {
            p.relative_to(self.root).with_suffix("").as_posix(): p
            for p in sorted(self.root.rglob("*.ply"))
            if "dynamic" not in p.relative_to(self.root).parts
        }
        if not self._windows:
            raise DatasetError(f"{self.root}: no KITTI-360 window (.ply) found")

    def scene_names(self) -> list[str]:
        """Window paths relative to the root, without `.ply`."""
        return sorted(self._windows)

    def load_scene(self, name: str) -> Scene:
        """Read one window."""
        if name not in self._windows:
            raise DatasetError(f"{self.root}: no scene named {name!r}")
        path = check_file(self._windows[name], "KITTI-360 window (.ply)")
        elements = read_ply(path)
        if "vertex" not in elements:
            raise DatasetError(f"{path}: PLY file has no vertex element")
        scene = scene_from_window(name, elements["vertex"], path)
        return with_stuff_objects(scene, STUFF_CLASSES, self.objects_set, self.stuff_gap)
