"""ScanNet v2 reader: `<scene>_vh_clean_2.ply` + `.segs.json` + `.aggregation.json`.

Layout: `root/scans/sceneXXXX_XX/` (or `root/sceneXXXX_XX/`) holding
  - `sceneXXXX_XX_vh_clean_2.ply`: mesh vertices x y z (float), red green blue alpha (uchar);
  - `sceneXXXX_XX_vh_clean_2.0.010000.segs.json`: {"segIndices": [segment id per vertex]};
  - `sceneXXXX_XX.aggregation.json` (or `_vh_clean.aggregation.json`):
    {"segGroups": [{"objectId": k, "segments": [...], "label": "office chair"}, ...]}.
Raw labels map to NYU40 ids through `scannetv2-labels.combined.tsv` (columns
`raw_category`, `nyu40id`), looked for in `root` and its parent; without it a raw label
counts only when it is itself an NYU40 class name (a warning says so).

`Scene.semantic` is the NYU40 id (0 = unlabelled), `Scene.instance` is objectId + 1.
Label sets: "scannet40" (NYU40 ids 1-40), "scannet20" (the 20 benchmark classes, the
"seen" classes), "unseen" (the ScanNet40 classes outside ScanNet20).
"""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import numpy as np

from clickenhance_model.datasets import register_dataset
from clickenhance_model.datasets.ply import read_ply
from clickenhance_model.datasets.scene import Scene, SceneDataset, check_file
from clickenhance_model.errors import DatasetError

NYU40_NAMES = {
    1: "wall", 2: "floor", 3: "cabinet", 4: "bed", 5: "chair", 6: "sofa", 7: "table", 8: "door", 9: "window",
    10: "bookshelf", 11: "picture", 12: "counter", 13: "blinds", 14: "desk", 15: "shelves", 16: "curtain",
    17: "dresser", 18: "pillow", 19: "mirror", 20: "floor mat", 21: "clothes", 22: "ceiling", 23: "books",
    24: "refrigerator", 25: "television", 26: "paper", 27: "towel", 28: "shower curtain", 29: "box",
    30: "whiteboard", 31: "person", 32: "night stand", 33: "toilet", 34: "sink", 35: "lamp", 36: "bathtub",
    37: "bag", 38: "otherstructure", 39: "otherfurniture", 40: "otherprop",
}  # fmt: skip
SCANNET20 = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 24, 28, 33, 34, 36, 39})
SCANNET40 = frozenset(NYU40_NAMES)
LABEL_SETS = {"scannet20": SCANNET20, "scannet40": SCANNET40, "unseen": SCANNET40 - SCANNET20}
LABEL_MAP_FILE = "scannetv2-labels.combined.tsv"


def read_label_map(path: Path) -> dict[str, int]:
    """Raw category -> NYU40 id from ScanNet's `scannetv2-labels.combined.tsv`."""
    check_file(path, "ScanNet label map (.tsv)")
    with path.open(newline="") as stream:
        rows = list(csv.DictReader(stream, delimiter="\t"))
    if not rows or "raw_category" not in rows[0] or "nyu40id" not in rows[0]:
        raise DatasetError(f"{path}: expected tab-separated columns 'raw_category' and 'nyu40id'")
    mapping = {}
    for row in rows:
        if row["nyu40id"] and row["nyu40id"].strip().isdigit():
            mapping[row["raw_category"]] = int(row["nyu40id"])
    return mapping


def read_json(path: Path, what: str) -> dict:
    """Parse a JSON file, raising DatasetError naming it when absent or malformed."""
    check_file(path, what)
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: invalid JSON ({error})") from error


def scene_labels(
    segments: np.ndarray, groups: list[dict], label_map: dict[str, int], where: Path
) -> tuple[np.ndarray, np.ndarray]:
    """Per-vertex (instance, semantic): objectId + 1 and NYU40 id of each vertex's segment group."""
    instance = np.zeros(len(segments), dtype=np.int64)
    semantic = np.zeros(len(segments), dtype=np.int64)
    for group in groups:
        try:
            object_id, group_segments, label = int(group["objectId"]), group["segments"], str(group["label"])
        except (KeyError, TypeError, ValueError) as error:
            raise DatasetError(f"{where}: malformed segGroups entry ({error!r})") from error
        members = np.isin(segments, np.asarray(group_segments, dtype=np.int64))
        instance[members] = object_id + 1
        semantic[members] = label_map.get(label, 0)
    return instance, semantic


@register_dataset("scannet")
class ScanNetDataset(SceneDataset):
    """ScanNet v2 scans; objects are instances whose NYU40 class is in `label_set`.

    Args:
        root: folder holding `scans/` or the scene folders themselves.
        label_set: "scannet40", "scannet20" or "unseen" (see module docstring).
        scene_list: optional text file of scene names (one per line, e.g. scannetv2_val.txt).
    """

    domain = "indoor"
    class_names = NYU40_NAMES

    def __init__(self, root: str | Path, label_set: str = "scannet40", scene_list: str | Path | None = None):
        super().__init__(root)
        if label_set not in LABEL_SETS:
            raise ValueError(f"label_set must be one of {sorted(LABEL_SETS)}, got {label_set!r}")
        self.label_set = label_set
        self.object_classes = LABEL_SETS[label_set]
        scans = self.root / "scans" if (self.root / "scans").is_dir() else self.root
        self._folders = {p.name: p for p in sorted(scans.iterdir()) if p.is_dir() and p.name.startswith("scene")}
        if scene_list is not None:
            wanted = [w for w in check_file(Path(scene_list), "scene list").read_text().split() if w]
            unknown = [w for w in wanted if w not in self._folders]
            if unknown:
                raise DatasetError(f"{scene_list}: scene(s) not under {scans}: {', '.join(unknown[:5])}")
            self._folders = {w: self._folders[w] for w in wanted}
        if not self._folders:
            raise DatasetError(f"{scans}: no ScanNet scene folder (sceneXXXX_XX) found")
        self.label_map = self._load_label_map()

    def _load_label_map(self) -> dict[str, int]:
        """The raw-label map from the .tsv if present, else NYU40 names mapped to themselves."""
        for folder in (self.root, self.root.parent):
            if (folder / LABEL_MAP_FILE).is_file():
                return read_label_map(folder / LABEL_MAP_FILE)
        warnings.warn(
            f"{LABEL_MAP_FILE} not found in {self.root} or its parent: only raw labels that are NYU40 "
            "class names get a class",
            stacklevel=2,
        )
        return {name: nyu_id for nyu_id, name in NYU40_NAMES.items()}

    def scene_names(self) -> list[str]:
        """Scene ids such as "scene0011_00"."""
        return list(self._folders)

    def load_scene(self, name: str) -> Scene:
        """Read one scan's mesh vertices, segments and object aggregation."""
        if name not in self._folders:
            raise DatasetError(f"{self.root}: no scene named {name!r}")
        folder = self._folders[name]
        vertex = read_ply(check_file(folder / f"{name}_vh_clean_2.ply", "ScanNet mesh")).get("vertex", {})
        if not all(f in vertex for f in ("x", "y", "z", "red", "green", "blue")):
            raise DatasetError(f"{folder / f'{name}_vh_clean_2.ply'}: vertex element lacks x y z red green blue")
        segs_files = sorted(folder.glob(f"{name}_vh_clean_2*.segs.json"))
        segs_path = segs_files[0] if segs_files else folder / f"{name}_vh_clean_2.0.010000.segs.json"
        segments = np.asarray(read_json(segs_path, "ScanNet segments").get("segIndices", []), dtype=np.int64)
        n = len(vertex["x"])
        if len(segments) != n:
            raise DatasetError(f"{segs_path}: {len(segments)} segment indices for a mesh of {n} vertices")
        aggregation_path = folder / f"{name}.aggregation.json"
        if not aggregation_path.is_file():
            aggregation_path = folder / f"{name}_vh_clean.aggregation.json"
        groups = read_json(aggregation_path, "ScanNet aggregation").get("segGroups")
        if not isinstance(groups, list):
            raise DatasetError(f"{aggregation_path}: no 'segGroups' list")
        instance, semantic = scene_labels(segments, groups, self.label_map, aggregation_path)
        xyz = np.stack([vertex["x"], vertex["y"], vertex["z"]], axis=1)
        rgb = np.stack([vertex["red"], vertex["green"], vertex["blue"]], axis=1) / 255.0
        keep = np.isfinite(xyz).all(axis=1)
        return Scene(name, xyz[keep], rgb[keep], instance[keep], semantic[keep])
