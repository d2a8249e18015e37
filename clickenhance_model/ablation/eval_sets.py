"""The study's evaluation sets: which scans, and which objects of them, every run is evaluated on.

Generated sets are the validation scans (sequence 01) of a setting's generated scene folder,
never trained on; "real" is the real SemanticKITTI folder. Every set is read geometry only
(no colour), like the training data. When a set has more objects than the cap, a fixed draw
(seed 0, independent of the training seeds) is taken once and stored in
OUT/eval_sets/<name>.json, so every variant and seed is evaluated on the same objects.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from clickenhance_model.ablation.config import GENERATED_SETS, StudyConfig
from clickenhance_model.datasets import SceneDataset, SceneObject, build_dataset
from clickenhance_model.training.synthetic import SPLIT_SEQUENCES, ensure_generated
from clickenhance_model.training.validation import choose_val_objects

SELECTION_SEED = 0  # which objects a capped set keeps: the same for every study


@dataclass
class EvalSet:
    """One evaluation set: its reader (geometry only) and the fixed objects to click on."""

    name: str
    root: Path
    sequences: tuple[str, ...] | None
    dataset: SceneDataset
    objects: list[SceneObject]

    def keys(self) -> list[tuple[str, int]]:
        """(scene, instance id) of every object, in evaluation order."""
        return [(o.scene, o.instance_id) for o in self.objects]


def _location(name: str, study: StudyConfig, show_progress: bool) -> tuple[Path, tuple[str, ...] | None, int]:
    """Folder, sequences and object cap of a set, generating the scenes of a generated set when missing."""
    if name in GENERATED_SETS:
        setting = GENERATED_SETS[name]
        config = study.train_config(setting)
        root = Path(config.data.root)
        ensure_generated(root, config.data.synthetic, show_progress)
        return root, (SPLIT_SEQUENCES["val"],), study.generated_objects
    if name == "real":
        if not study.has_real_scans:
            raise FileNotFoundError(f"real scans folder {study.real_root} not found")
        return Path(study.real_root), None, study.real_objects
    raise ValueError(f"unknown evaluation set {name!r}")


def prepare_eval_set(name: str, study: StudyConfig, show_progress: bool = True) -> EvalSet:
    """Open set `name` and its fixed objects (from OUT/eval_sets/<name>.json when that matches the settings)."""
    root, sequences, cap = _location(name, study, show_progress)
    options = {"rgb": False} if sequences is None else {"rgb": False, "sequences": sequences}
    dataset = build_dataset("semantickitti", root, **options)
    key = {"root": str(root.resolve()), "sequences": None if sequences is None else list(sequences),
           "scenes": dataset.scene_names(), "min_points": study.min_points, "cap": cap,
           "selection_seed": SELECTION_SEED}  # fmt: skip
    path = study.out / "eval_sets" / f"{name}.json"
    if path.is_file():
        stored = json.loads(path.read_text())
        if stored.get("key") == key:
            return EvalSet(name, root, sequences, dataset, [SceneObject(**o) for o in stored["objects"]])
    found: list[SceneObject] = []
    for scene_name in tqdm(key["scenes"], desc=f"objects of {name}", unit="scan", leave=False,
                           disable=not show_progress):  # fmt: skip
        found += dataset.objects(dataset.load_scene(scene_name), study.min_points)
    chosen = choose_val_objects(found, cap, SELECTION_SEED) if cap else found
    if not chosen:
        raise ValueError(f"evaluation set {name} ({root}) has no object with at least {study.min_points} points")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"key": key, "available": len(found), "objects": [asdict(o) for o in chosen]}) + "\n")
    return EvalSet(name, root, sequences, dataset, chosen)


def available_objects(study: StudyConfig, name: str) -> int | None:
    """How many objects set `name` had before the cap (from its stored selection); None when not prepared."""
    path = study.out / "eval_sets" / f"{name}.json"
    return json.loads(path.read_text()).get("available") if path.is_file() else None
