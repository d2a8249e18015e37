"""Labelled clouds as NumPy files: `NAME.xyz.npy`, optional `NAME.rgb.npy`, `NAME.instance.npy`.

The simplest way to evaluate on one's own labelled clouds (and the format of the real
indoor dev region `real_scans/scannet/`). Every `*.xyz.npy` under `root` (searched
recursively) is a scene named by its path relative to `root` without `.xyz.npy`:
  - `NAME.xyz.npy`: float (N, 3) positions in metres, z up;
  - `NAME.instance.npy`: integer (N,) object id per point, 0 (or negative) = no object;
  - `NAME.rgb.npy` (optional): (N, 3) colours, uint8 0-255 or float in [0, 1];
  - `NAME.semantic.npy` (optional): integer (N,) class id per point, named `class_<id>`
    in the tables; without it every object is of class "object".
Every instance id > 0 is an object. Points with a non-finite position are dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clickenhance_model.datasets import register_dataset
from clickenhance_model.datasets.scene import Scene, SceneDataset, check_file
from clickenhance_model.errors import DatasetError

SUFFIX = ".xyz.npy"
DOMAINS = ("auto", "indoor", "outdoor")
OBJECT_CLASS = 0  # semantic id of every point when no .semantic.npy is given


def load_array(path: Path, what: str, num_points: int | None, columns: int | None) -> np.ndarray:
    """One numeric .npy file of `num_points` rows (None: any) and `columns` columns (None: a 1-D array)."""
    check_file(path, what)
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise DatasetError(f"{path}: not a readable .npy array ({error})") from error
    rows_ok = array.ndim >= 1 and (num_points is None or array.shape[0] == num_points)
    columns_ok = array.ndim == 1 if columns is None else array.ndim == 2 and array.shape[1] == columns
    if not (rows_ok and columns_ok and np.issubdtype(array.dtype, np.number)):
        expected = (num_points or "N",) + (() if columns is None else (columns,))
        raise DatasetError(f"{path}: {what} must be a numeric array of shape {expected}, got {array.dtype} "
                           f"{array.shape}")  # fmt: skip
    return array


def read_colors(path: Path, num_points: int) -> np.ndarray:
    """Colours as float32 (N, 3) in [0, 1], from uint8 or from floats already in [0, 1]."""
    rgb = load_array(path, "colours (N, 3)", num_points, 3)
    if rgb.dtype == np.uint8:
        return rgb.astype(np.float32) / 255.0
    rgb = rgb.astype(np.float32)
    if not np.isfinite(rgb).all() or rgb.min(initial=0.0) < 0 or rgb.max(initial=0.0) > 1:
        raise DatasetError(f"{path}: float colours must be finite and in [0, 1] (or store uint8 0-255)")
    return rgb


@register_dataset("npy")
class NpyTripletDataset(SceneDataset):
    """Clouds stored as `.xyz.npy` / `.rgb.npy` / `.instance.npy` files; every instance > 0 is an object.

    Args:
        root: folder searched recursively for `*.xyz.npy`.
        domain: "indoor" (RGB-D) or "outdoor" (LiDAR) picks the baseline's preset; "auto"
            takes indoor when the first scene has colours, else outdoor.
    """

    class_names = {OBJECT_CLASS: "object"}  # other ids are named class_<id>
    object_classes = None

    def __init__(self, root: str | Path, domain: str = "auto"):
        super().__init__(root)
        if domain not in DOMAINS:
            raise ValueError(f"domain must be one of {', '.join(DOMAINS)}, got {domain!r}")
        self._scenes = {str(p.relative_to(self.root))[: -len(SUFFIX)]: p for p in sorted(self.root.rglob("*" + SUFFIX))}
        if not self._scenes:
            raise DatasetError(f"{self.root}: no labelled cloud (*{SUFFIX}) found")
        if domain == "auto":
            first = next(iter(self._scenes.values()))
            domain = "indoor" if first.with_name(first.name[: -len(SUFFIX)] + ".rgb.npy").is_file() else "outdoor"
        self.domain = domain

    def scene_names(self) -> list[str]:
        """Paths of the `.xyz.npy` files relative to the root, without the suffix, sorted."""
        return sorted(self._scenes)

    def load_scene(self, name: str) -> Scene:
        """Read one cloud and its labels (colours and semantics when present)."""
        if name not in self._scenes:
            raise DatasetError(f"{self.root}: no scene named {name!r}")
        path = self._scenes[name]
        stem = path.with_name(path.name[: -len(SUFFIX)])
        xyz = load_array(path, "positions (N, 3)", None, 3).astype(np.float64)
        n = len(xyz)
        instance = load_array(Path(f"{stem}.instance.npy"), "instance ids (N,)", n, None)
        if not np.issubdtype(instance.dtype, np.integer):
            raise DatasetError(f"{stem}.instance.npy: instance ids must be integers, got {instance.dtype}")
        rgb_path, semantic_path = Path(f"{stem}.rgb.npy"), Path(f"{stem}.semantic.npy")
        rgb = read_colors(rgb_path, n) if rgb_path.is_file() else None
        semantic = (load_array(semantic_path, "class ids (N,)", n, None).astype(np.int64) if semantic_path.is_file()
                    else np.full(n, OBJECT_CLASS, dtype=np.int64))  # fmt: skip
        finite = np.isfinite(xyz).all(axis=1)
        if not finite.any():
            raise DatasetError(f"{path}: no finite point")
        instance = np.where(instance > 0, instance, 0).astype(np.int64)
        return Scene(name, xyz[finite], None if rgb is None else rgb[finite], instance[finite], semantic[finite])
