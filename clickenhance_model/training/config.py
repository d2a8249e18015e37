"""Training configuration: one frozen dataclass tree, loaded from YAML that rejects unknown keys.

    config = load_train_config("synthetic", epochs=2)   # a shipped config by name, or any YAML path

`model:` in the YAML is either the ModelConfig mapping itself or the path of a ModelConfig
YAML (relative to the training YAML's folder, else to the working directory). Keyword
arguments replace top-level fields after loading.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from clickenhance_model.config import config_from_dict, config_to_dict
from clickenhance_model.model_config import DOMAINS, ModelConfig
from clickenhance_model.training.sampling import OBJECT_WEIGHTINGS


def _config_dir() -> Path:
    """Where the shipped training YAMLs are: `training/` of a source checkout, else the installed copy."""
    package = Path(__file__).resolve().parents[1]
    checkout = package.parent / "training"
    return checkout if checkout.is_dir() else package / "training_configs"


CONFIG_DIR = _config_dir()
SYNTHETIC = "synthetic"  # DataConfig.dataset value of the generated scenes
OPTIMIZERS = ("sgd", "adamw")
SCHEDULERS = ("onecycle", "cosine", "constant")
VAL_METRICS = ("NoC@80", "NoC@85", "NoC@90", "IoU@1", "IoU@5", "IoU@10")  # what validation reports


@dataclass(frozen=True)
class SplitConfig:
    """One split of a dataset: its folder ("" = `DataConfig.root`) and reader options (e.g. sequences)."""

    root: str = ""
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SyntheticPart:
    """One part of a mixed generated dataset: scans of `domain` seen by `sensor`, `share` of each split.

    `sensor` names a preset of `scenes.sensors` (outdoor: hdl64, vlp16, hdl32, os1_128, os2_128,
    livox_mid40; indoor: fused, rgbd); "" keeps the generator's sensor of that domain.
    """

    domain: str = "outdoor"
    sensor: str = ""
    share: float = 1.0

    def __post_init__(self) -> None:
        """Reject an unknown domain or sensor and a non-positive share."""
        from clickenhance_model.scenes.sensors import INDOOR_SENSORS, OUTDOOR_SENSORS

        if self.domain not in DOMAINS:
            raise ValueError(f"data.synthetic.mix: domain must be one of {DOMAINS}, got {self.domain!r}")
        sensors = OUTDOOR_SENSORS if self.domain == "outdoor" else INDOOR_SENSORS
        if self.sensor and self.sensor not in sensors:
            raise ValueError(f"data.synthetic.mix: {self.domain} sensor must be one of {sensors}, got {self.sensor!r}")
        if not self.share > 0:
            raise ValueError(f"data.synthetic.mix: share must be > 0, got {self.share}")


@dataclass(frozen=True)
class SyntheticConfig:
    """Generated scenes (dataset "synthetic"): how many scans per split and the generator's settings.

    Train scans are sequence 00, validation scans sequence 01 of a SemanticKITTI folder at
    `DataConfig.root`; both are drawn from `seed`, so the same settings give the same files.
    `beams`/`azimuth_steps` of 0 keep the generator's sensor (HDL-64E-like, 64 x 2048);
    `angled_parking_prob` null keeps the street generator's share of angled parking rows.
    `generator` overrides GeneratorConfig sections (lidar / outdoor / indoor, e.g. the outdoor
    target_mix and object counts); `mix` non-empty splits every split into parts of other domains
    and sensors by share (frames in part order), and then `domain` is not used.
    """

    domain: str = "outdoor"
    train_scans: int = 200
    val_scans: int = 12
    seed: int = 0
    beams: int = 0
    azimuth_steps: int = 0
    angled_parking_prob: float | None = None
    generator: dict[str, Any] = field(default_factory=dict)
    mix: tuple[SyntheticPart, ...] = ()

    def __post_init__(self) -> None:
        """Reject an unknown domain, empty splits and generator settings the generator does not have."""
        if self.domain not in DOMAINS:
            raise ValueError(f"data.synthetic.domain must be one of {DOMAINS}, got {self.domain!r}")
        if self.train_scans < 1 or self.val_scans < 1:
            raise ValueError("data.synthetic.train_scans and val_scans must be >= 1")
        if self.angled_parking_prob is not None and not 0.0 <= self.angled_parking_prob <= 1.0:
            raise ValueError(f"data.synthetic.angled_parking_prob must be null or in [0, 1], "
                             f"got {self.angled_parking_prob}")
        if self.beams < 0 or self.azimuth_steps < 0:
            raise ValueError("data.synthetic.beams and azimuth_steps must be >= 0 (0 = generator default)")
        if self.generator:
            from clickenhance_model.scenes.generate import GeneratorConfig

            config_from_dict(GeneratorConfig, self.generator, where="data.synthetic.generator")


@dataclass(frozen=True)
class DataConfig:
    """Where the training and validation objects come from.

    Attributes:
        dataset: a name of `clickenhance_model.datasets.DATASETS`, or "synthetic".
        root: dataset folder (synthetic: cache folder, generated when missing); `--data-root` overrides it.
        train / val: per-split folder and reader options.
        min_points: objects with fewer points are neither trained on nor validated.
        object_classes: semantic ids that count as objects; None = the reader's own choice.
        synthetic: generator settings, used when `dataset` is "synthetic".
        object_weighting: how often each training object is drawn (`training.sampling.OBJECT_WEIGHTINGS`):
            "uniform" (every object once per epoch) or "sqrt_points" (in proportion to the square root
            of its point count, so that the few large objects, a van, a hedge, a wall, are seen often enough).
    """

    dataset: str = SYNTHETIC
    root: str = ""
    train: SplitConfig = field(default_factory=SplitConfig)
    val: SplitConfig = field(default_factory=SplitConfig)
    min_points: int = 100
    object_classes: tuple[int, ...] | None = None
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    object_weighting: str = "uniform"

    def __post_init__(self) -> None:
        """Normalise the class list to a tuple; check the point threshold and the object weighting."""
        if self.object_classes is not None:
            object.__setattr__(self, "object_classes", tuple(int(c) for c in self.object_classes))
        if self.min_points < 1:
            raise ValueError(f"data.min_points must be >= 1, got {self.min_points}")
        if self.object_weighting not in OBJECT_WEIGHTINGS:
            raise ValueError(f"data.object_weighting must be one of {OBJECT_WEIGHTINGS}, got {self.object_weighting!r}")


@dataclass(frozen=True)
class OptimizerConfig:
    """Optimizer: SGD with momentum (the paper) or AdamW; `lr` is OneCycle's peak learning rate."""

    name: str = "sgd"
    lr: float = 0.005
    momentum: float = 0.9
    weight_decay: float = 1e-4
    grad_clip: float = 0.0  # max gradient norm; 0 = no clipping

    def __post_init__(self) -> None:
        """Reject unknown optimizers and non-positive rates."""
        if self.name not in OPTIMIZERS:
            raise ValueError(f"optimizer.name must be one of {OPTIMIZERS}, got {self.name!r}")
        if not self.lr > 0 or self.weight_decay < 0 or self.grad_clip < 0:
            raise ValueError("optimizer.lr must be > 0, weight_decay and grad_clip >= 0")


@dataclass(frozen=True)
class SchedulerConfig:
    """Learning-rate schedule over all training steps; OneCycleLR is the paper's default.

    onecycle: warm up for `pct_start` of the steps from lr/div_factor to lr, then anneal to
    lr/(div_factor*final_div_factor). cosine: from lr down to 0. constant: lr throughout.
    """

    name: str = "onecycle"
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4

    def __post_init__(self) -> None:
        """Reject unknown schedules and out-of-range fractions."""
        if self.name not in SCHEDULERS:
            raise ValueError(f"scheduler.name must be one of {SCHEDULERS}, got {self.name!r}")
        if not 0.0 < self.pct_start < 1.0 or self.div_factor <= 0 or self.final_div_factor <= 0:
            raise ValueError("scheduler.pct_start must be in (0, 1) and the div factors > 0")


@dataclass(frozen=True)
class ClickConfig:
    """Iterative click simulation per training sample (no gradients), before the gradient step.

    Attributes:
        max_rounds: each sample gets a uniform number of rounds in [0, max_rounds]; a round
            runs the current model and adds the simulated user's click on its errors.
        random_initial_prob: chance that a sample starts from a random object voxel (plus up
            to `max_initial_negatives` random negatives near the object) instead of the
            simulated user's first click (the object's most interior point).
        max_initial_negatives: most random negative clicks of a random start.
        negative_radius: random negatives lie within this distance (metres) of the object.
        temperature: None = the deterministic simulated user; T in [0, 1] = eq. 5 sampling.
        stray_click_prob: chance that a sample's final clicks end with a negative click on a
            stray return: a lone object voxel labelled background in that sample alone, as real
            labels have them (training/stray_returns.py). 0 = never.
    """

    max_rounds: int = 10
    random_initial_prob: float = 0.3
    max_initial_negatives: int = 2
    negative_radius: float = 2.0
    temperature: float | None = None
    stray_click_prob: float = 0.0

    def __post_init__(self) -> None:
        """Check ranges."""
        if not 0.0 <= self.stray_click_prob <= 1.0:
            raise ValueError(f"clicks.stray_click_prob must be in [0, 1], got {self.stray_click_prob}")
        if self.max_rounds < 0 or self.max_initial_negatives < 0 or not self.negative_radius > 0:
            raise ValueError("clicks.max_rounds and max_initial_negatives must be >= 0, negative_radius > 0")
        if not 0.0 <= self.random_initial_prob <= 1.0:
            raise ValueError(f"clicks.random_initial_prob must be in [0, 1], got {self.random_initial_prob}")
        if self.temperature is not None and not 0.0 <= self.temperature <= 1.0:
            raise ValueError(f"clicks.temperature must be null or in [0, 1], got {self.temperature}")


FAULT_SHAPES = ("ball", "graph")


@dataclass(frozen=True)
class PriorNoiseConfig:
    """Faults put into a `prior_fusion` network's geodesic prior in training (training/prior_noise.py).

    Each encoded sample (every click round) gets, with chance `prob`, one fault: a cut (share
    `cut_share`) clears the prior in a ball around a random object voxel whose radius is a
    uniform share `cut_radius` of the object's reach from it; a flood sets it in a ball of
    `flood_radius` metres around a random background voxel within `flood_reach` metres of the
    object. Off (prob 0) by default; validation and evaluation never see it.

    `shape: graph` draws the faults from the baseline itself instead of balls: the prior is the
    geodesic region of the sample's clicks plus one phantom click, a negative one on a random
    object voxel (a cut) or a positive one on a random background voxel within `flood_reach`
    metres of the object (a flood), so its borders run where the graph puts them, as on real
    scans; `cut_radius` and `flood_radius` are then unused. A phantom that makes no fault is
    drawn again, up to `graph_tries` times. A share `visible_cuts` of the graph cuts is made by
    a negative click beside the object that the network is shown (its click maps and the prior
    both have it), as the simulated user could have placed it: on real scans a negative click
    just off a small object is where the baseline, and the networks, cut the object.
    """

    prob: float = 0.0
    cut_share: float = 0.5
    cut_radius: tuple[float, float] = (0.3, 0.8)
    flood_reach: float = 1.0
    flood_radius: tuple[float, float] = (0.5, 3.0)
    shape: str = "ball"
    graph_tries: int = 3
    visible_cuts: float = 0.0

    def __post_init__(self) -> None:
        """Check ranges."""
        if not all(0.0 <= share <= 1.0 for share in (self.prob, self.cut_share, self.visible_cuts)):
            raise ValueError("prior_noise.prob, cut_share and visible_cuts must be in [0, 1]")
        if len(self.cut_radius) != 2 or not 0.0 < self.cut_radius[0] <= self.cut_radius[1] <= 1.0:
            raise ValueError(f"prior_noise.cut_radius must be [low, high] in (0, 1], got {list(self.cut_radius)}")
        if len(self.flood_radius) != 2 or not 0.0 < self.flood_radius[0] <= self.flood_radius[1]:
            raise ValueError(f"prior_noise.flood_radius must be [low, high] with 0 < low <= high, "
                             f"got {list(self.flood_radius)}")
        if not self.flood_reach > 0:
            raise ValueError(f"prior_noise.flood_reach must be > 0, got {self.flood_reach}")
        if self.shape not in FAULT_SHAPES:
            raise ValueError(f"prior_noise.shape must be one of {FAULT_SHAPES}, got {self.shape!r}")
        if self.graph_tries < 1:
            raise ValueError(f"prior_noise.graph_tries must be >= 1, got {self.graph_tries}")


@dataclass(frozen=True)
class ValConfig:
    """Validation after every `every_epochs` epochs with the evaluation protocol (simulated user).

    `objects` validation objects (the same ones every time, drawn from `seed`) get up to
    `max_clicks` clicks; `best_metric` (lower is better for NoC, higher for IoU) picks best.pt.
    """

    objects: int = 50
    max_clicks: int = 10
    every_epochs: int = 1
    best_metric: str = "NoC@85"

    def __post_init__(self) -> None:
        """Check counts and the metric name."""
        if self.objects < 0 or self.max_clicks < 1 or self.every_epochs < 1:
            raise ValueError("val.objects must be >= 0 (0 = no validation), max_clicks and every_epochs >= 1")
        if self.best_metric not in VAL_METRICS:
            raise ValueError(f"val.best_metric must be one of {VAL_METRICS}, got {self.best_metric!r}")


@dataclass(frozen=True)
class AugmentConfig:
    """Random changes to each training scene before voxelisation (training/augmentation.py); all off by default.

    rotate: random yaw about the sensor's z axis. flip_prob: chance of mirroring y.
    scale: (low, high) of a uniform scale factor. jitter: std of Gaussian position noise, metres.
    dropout_prob: chance that a sample loses a random share of its points, keeping a share drawn
    uniformly from keep_ratio (a sparser sensor, a farther object).
    ring_cut_prob: chance that a sample keeps only every k-th laser ring, k drawn from ring_cuts, as the
    evaluation's `--keep-rings` and the refiner fit's `--ring-cuts` thin a scan: only a spinning LiDAR's scan that
    keeps at least 16 rings (`laser_rings.sensor_ring_cut`; rooms and 16- or 32-ring scans stay whole), and never
    below the sampled object's `MIN_KEPT_OBJECT_POINTS`. Unlike dropout it leaves each kept ring whole, with the
    uneven gaps of a thinned real sensor.
    """

    rotate: bool = False
    flip_prob: float = 0.0
    scale: tuple[float, float] = (1.0, 1.0)
    jitter: float = 0.0
    dropout_prob: float = 0.0
    keep_ratio: tuple[float, float] = (1.0, 1.0)
    ring_cut_prob: float = 0.0
    ring_cuts: tuple[int, ...] = (4,)

    def __post_init__(self) -> None:
        """Check ranges."""
        if not (0.0 <= self.flip_prob <= 1.0 and 0.0 <= self.dropout_prob <= 1.0):
            raise ValueError("augment.flip_prob and dropout_prob must be in [0, 1]")
        if len(self.scale) != 2 or not 0.0 < self.scale[0] <= self.scale[1]:
            raise ValueError(f"augment.scale must be [low, high] with 0 < low <= high, got {list(self.scale)}")
        if len(self.keep_ratio) != 2 or not 0.0 < self.keep_ratio[0] <= self.keep_ratio[1] <= 1.0:
            raise ValueError(f"augment.keep_ratio must be [low, high] in (0, 1], got {list(self.keep_ratio)}")
        if self.jitter < 0:
            raise ValueError(f"augment.jitter must be >= 0, got {self.jitter}")
        if not 0.0 <= self.ring_cut_prob <= 1.0:
            raise ValueError(f"augment.ring_cut_prob must be in [0, 1], got {self.ring_cut_prob}")
        if not self.ring_cuts or any(isinstance(k, bool) or not isinstance(k, int) or k < 2 for k in self.ring_cuts):
            raise ValueError(f"augment.ring_cuts must be integers >= 2, got {list(self.ring_cuts)}")

    @property
    def enabled(self) -> bool:
        """Whether any augmentation is switched on."""
        return (self.rotate or self.flip_prob > 0 or self.scale != (1.0, 1.0) or self.jitter > 0
                or self.dropout_prob > 0 or self.ring_cut_prob > 0)  # fmt: skip


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs besides the output folder and the device.

    `samples_per_epoch` 0 means one pass over every training object; `max_steps` > 0 stops
    the run after that many optimizer steps in total (the LR schedule still spans every
    epoch, so a stopped run continues on the same schedule when resumed). `init_from` names
    a checkpoint whose weights start a new run (fine-tuning; its network must match `model`);
    a run that resumes its own last.pt ignores it.
    """

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    clicks: ClickConfig = field(default_factory=ClickConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    prior_noise: PriorNoiseConfig = field(default_factory=PriorNoiseConfig)
    val: ValConfig = field(default_factory=ValConfig)
    epochs: int = 60
    samples_per_epoch: int = 0
    batch_size: int = 4
    max_steps: int = 0
    amp: bool = True
    seed: int = 0
    num_workers: int = 0
    checkpoint_every_steps: int = 200
    log_every_steps: int = 10
    init_from: str = ""

    def __post_init__(self) -> None:
        """Check counts."""
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be >= 1")
        if min(self.samples_per_epoch, self.max_steps, self.num_workers) < 0:
            raise ValueError("samples_per_epoch, max_steps and num_workers must be >= 0")
        if self.checkpoint_every_steps < 0 or self.log_every_steps < 1:
            raise ValueError("checkpoint_every_steps must be >= 0 (0 = per epoch only), log_every_steps >= 1")

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form, as saved beside the checkpoints and inside them."""
        return config_to_dict(self)


def trained_domains(config: TrainConfig) -> tuple[str, ...]:
    """The cloud domains ("outdoor", "indoor") a run trains on: its generator's (a mix's parts), else its reader's.

    A reader whose domain is not fixed (npy triplets without a `domain` option) counts as both.
    """
    data = config.data
    if data.dataset == SYNTHETIC:
        parts = data.synthetic.mix or (SyntheticPart(domain=data.synthetic.domain),)
        return tuple(domain for domain in DOMAINS if any(part.domain == domain for part in parts))
    from clickenhance_model.datasets import DATASETS

    domain = data.train.options.get("domain", getattr(DATASETS[data.dataset], "domain", "auto"))
    return (domain,) if domain in DOMAINS else DOMAINS


def find_config_file(name: str | Path) -> Path:
    """A training YAML by path, or a shipped one by name (`synthetic`, `scannet40.yaml`, `training/kitti360.yaml`)."""
    path = Path(name)
    if path.is_file():
        return path
    shipped = CONFIG_DIR / (path.name if path.suffix == ".yaml" else f"{path.name}.yaml")
    if path.parent in (Path("."), Path("training")) and shipped.is_file():
        return shipped
    known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
    raise FileNotFoundError(f"training config {name} not found (shipped configs: {known})")


def _resolve_model(value: Any, base: Path) -> Any:
    """The `model:` entry as a mapping: loaded from a YAML file when it is a path."""
    if not isinstance(value, str):
        return value
    candidates = [base / value, Path(value), Path(__file__).resolve().parents[2] / value]
    for candidate in candidates:
        if candidate.is_file():
            return yaml.safe_load(candidate.read_text()) or {}
    raise FileNotFoundError(f"model config {value!r} not found (looked in {base} and the working directory)")


def _config_data(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The YAML mapping of a training config, with the config named by its `base:` key (if any) beneath it:
    mappings merge key by key, anything else (lists, numbers) is replaced."""
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    base = data.pop("base", None)
    if base is None:
        return data
    base_path = find_config_file(base)
    if base_path.resolve() in chain or len(chain) > 8:
        raise ValueError(f"{path}: base {base!r} makes a cycle of training configs")
    return _merged(_config_data(base_path, (*chain, path.resolve())), data)


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`base` with `override` on top, nested mappings merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        both = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merged(merged[key], value) if both else value
    return merged


def load_train_config(path: str | Path, **overrides: Any) -> TrainConfig:
    """Load a TrainConfig from YAML (unknown keys are an error), then replace top-level fields by `overrides`.

    A `base: NAME` key starts from another training config (a shipped name or a path) and changes
    only what this file sets (`_config_data`).
    """
    path = find_config_file(path)
    data = _config_data(path)
    if "model" in data:
        data["model"] = _resolve_model(data["model"], path.parent)
    config = config_from_dict(TrainConfig, data, where=str(path))
    return dataclasses.replace(config, **overrides) if overrides else config


def train_config_from_dict(data: dict[str, Any]) -> TrainConfig:
    """Inverse of `TrainConfig.to_dict` (for the copy stored in checkpoints)."""
    return config_from_dict(TrainConfig, data, where="train_config")
