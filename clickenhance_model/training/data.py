"""Training data: open a split, index its objects once, and load one object as voxels + target.

The object index (every object of a split passing the filter) needs each scene read once;
it is cached as JSON in the run folder and rebuilt when the split or the filter changes.
A loaded `TrainObject` is the scene voxelised at the model's voxel size and the object's
voxel mask (a voxel is object when most of its points are), the same rule as
`inference.network_input.prepare_sample`, so training sees what inference sees; with geodesic click
maps it also holds the scene's voxel graph, built here (in the DataLoader's workers) once
per sample, so the click rounds of the main process only run Dijkstra, encoding and the network.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from clickenhance_model.datasets import build_dataset
from clickenhance_model.datasets.scene import ObjectFilter, SceneDataset, SceneObject, select_objects
from clickenhance_model.inference.geodesic_region import GeodesicRegion, needs_own_graph
from clickenhance_model.inference.voxel_graph import PRESETS, GraphConfig, VoxelGraph
from clickenhance_model.inference.voxel_grid import VoxelGrid, voxelize
from clickenhance_model.model_config import ModelConfig
from clickenhance_model.training.augmentation import augment_scene
from clickenhance_model.training.config import SYNTHETIC, AugmentConfig, DataConfig
from clickenhance_model.training.synthetic import SPLIT_SEQUENCES, ensure_generated, split_domains

PATH_OPTIONS = ("scene_list",)  # reader options naming files, taken relative to the split's folder


@dataclass
class TrainObject:
    """One object of one scene, ready for click simulation: the voxelised scene and the object's voxels."""

    scene: str
    instance_id: int
    grid: VoxelGrid
    target: np.ndarray  # [V] bool, voxel belongs to the object
    graph: VoxelGraph | None = None  # the scene's voxel graph (geodesic click maps), None when not built
    prior: GeodesicRegion | None = None  # a fusion network's prior when the scene's preset is not its graph


def open_split(config: DataConfig, split: str, show_progress: bool = True, alone: bool = False) -> SceneDataset:
    """The reader of split "train" or "val" (generating synthetic scenes first when they are missing: both splits',
    or with `alone` only this split's, such as the validation scans a ship gate reads)."""
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    if config.dataset == SYNTHETIC:
        if not config.root:
            raise ValueError("data.root must name the folder for the generated scenes (or pass --data-root)")
        splits = (split,) if alone else tuple(SPLIT_SEQUENCES)
        ensure_generated(Path(config.root), config.synthetic, show_progress, splits=splits)
        options = dict(getattr(config, split).options or {})  # reader options, e.g. rgb: false (geometry only)
        if "sequences" in options:
            raise ValueError(f"data.{split}.options.sequences: generated splits are fixed (train 00, val 01)")
        return build_dataset("semantickitti", config.root, sequences=(SPLIT_SEQUENCES[split],), **options)
    split_config = getattr(config, split)
    root = _split_root(config.root, split_config.root)
    if root is None:
        raise ValueError(f"no folder for the {split} split of {config.dataset}: set data.root or pass --data-root")
    options = {}
    for key, value in (split_config.options or {}).items():
        if key in PATH_OPTIONS and not Path(value).is_absolute():
            value = str(root / value)
        options[key] = tuple(value) if isinstance(value, list) else value
    return build_dataset(config.dataset, root, **options)


def _split_root(data_root: str, split_root: str) -> Path | None:
    """A split's folder: `split_root` (relative to `data_root` unless absolute), else `data_root`; None if neither."""
    if split_root and (Path(split_root).is_absolute() or not data_root):
        return Path(split_root)
    if data_root:
        return Path(data_root) / split_root if split_root else Path(data_root)
    return None


def object_filter(dataset: SceneDataset, config: DataConfig) -> ObjectFilter:
    """The filter of the config (min points, classes), falling back to the reader's object classes."""
    classes = dataset.object_classes if config.object_classes is None else frozenset(config.object_classes)
    return ObjectFilter(min_points=config.min_points, classes=classes)


def _index_key(dataset: SceneDataset, config: DataConfig) -> dict:
    """What the cached index depends on: reader, its settings (object set, ground objects, ...), its scenes,
    and the filter."""
    chosen = object_filter(dataset, config)
    classes = None if chosen.classes is None else sorted(chosen.classes)
    settings = {k: v for k, v in sorted(vars(dataset).items()) if isinstance(v, bool | int | float | str)}
    return {"dataset": dataset.name, "reader": settings, "scenes": dataset.scene_names(),
            "min_points": chosen.min_points, "classes": classes}  # fmt: skip


def index_objects(dataset: SceneDataset, config: DataConfig, cache: Path | None = None) -> list[SceneObject]:
    """Every object of the split passing the filter, read from `cache` (JSON) when it matches."""
    key = _index_key(dataset, config)
    if cache is not None and cache.is_file():
        stored = json.loads(cache.read_text())
        if stored.get("key") == key:
            return [SceneObject(**row) for row in stored["objects"]]
    chosen = object_filter(dataset, config)
    objects: list[SceneObject] = []
    for scene in tqdm(dataset.scenes(), total=len(key["scenes"]), desc=f"indexing {dataset.root.name}", leave=False):
        objects.extend(select_objects(scene, chosen, dataset.class_names))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"key": key, "objects": [asdict(o) for o in objects]}))
    return objects


def scene_domains(dataset: SceneDataset, config: DataConfig, split: str) -> dict[str, str]:
    """Domain ("outdoor" | "indoor") of every scene of a split: the generator's plan for generated data
    (a mix puts streets and rooms in one split), else the reader's."""
    names = set(dataset.scene_names())
    if config.dataset != SYNTHETIC:
        return dict.fromkeys(sorted(names), dataset.domain)
    return {name: domain for name, domain in split_domains(config.synthetic, split).items() if name in names}


def own_prior_presets(domains: dict[str, str], model: ModelConfig) -> dict[str, str]:
    """Scene -> graph preset, for the scenes whose geodesic prior a `prior_fusion` network cannot read off its
    own graph (another preset or voxel size: indoor scenes under outdoor maps); empty for other networks."""
    return {scene: domain for scene, domain in domains.items() if needs_own_graph(model, PRESETS[domain])}


def load_train_object(dataset: SceneDataset, item: SceneObject, voxel_size: float,
                      augment: AugmentConfig | None = None, rng: np.random.Generator | None = None,
                      graph_config: GraphConfig | None = None, prior_preset: str = "") -> TrainObject:  # fmt: skip
    """Read the object's scene (augmented when `augment` is on), voxelise it and mark the object's voxels.

    `graph_config` (the graph of the model's geodesic maps, `voxel_graph.maps_graph_config`) also
    builds the scene's voxel graph; None builds none. `prior_preset` (see `own_prior_presets`) builds
    the prior's own graph on the scene's points, as `segmenter.ModelSession` does at inference.
    """
    scene = dataset.load_scene(item.scene)
    if augment is not None:  # augment_scene returns the scene itself when nothing is switched on
        scene = augment_scene(scene, item.instance_id, augment, rng if rng is not None else np.random.default_rng())
    grid = voxelize(scene.xyz, scene.rgb, voxel_size)
    on_object = (scene.instance == item.instance_id).astype(np.float64)  # [N]
    share = np.bincount(grid.point_to_voxel, weights=on_object, minlength=len(grid)) / grid.counts  # [V]
    target = share >= 0.5
    if not target.any():  # an object thinner than a voxel everywhere: keep the voxels it touches
        target = share > 0
    graph = None if graph_config is None else VoxelGraph(grid.centroids, graph_config)
    prior = GeodesicRegion(scene.xyz, PRESETS[prior_preset]) if prior_preset else None
    return TrainObject(item.scene, item.instance_id, grid, target, graph, prior)


class ObjectSamples(torch.utils.data.Dataset):
    """The samples of one epoch as a torch Dataset, so a DataLoader can read scenes in worker processes.

    `samples` are (ordinal, object) pairs; the augmentation of a sample is drawn from
    (seed, epoch, ordinal), so it does not depend on where a resumed epoch starts or on workers.
    """

    def __init__(self, dataset: SceneDataset, samples: list[tuple[int, SceneObject]], voxel_size: float,
                 augment: AugmentConfig | None = None, seed: tuple[int, int] = (0, 0),
                 graph_config: GraphConfig | None = None, prior_presets: dict[str, str] | None = None):  # fmt: skip
        self.dataset = dataset
        self.graph_config = graph_config
        self.prior_presets = prior_presets or {}  # scene -> preset of its own prior graph (`own_prior_presets`)
        self.samples = samples
        self.voxel_size = voxel_size
        self.augment = augment
        self.seed = seed

    def __len__(self) -> int:
        """Number of samples."""
        return len(self.samples)

    def __getitem__(self, position: int) -> TrainObject:
        """Load sample `position`."""
        ordinal, item = self.samples[position]
        rng = np.random.default_rng([*self.seed, ordinal, 2])
        return load_train_object(self.dataset, item, self.voxel_size, self.augment, rng, self.graph_config,
                                 self.prior_presets.get(item.scene, ""))  # fmt: skip
