"""What one ablation study runs: seeds, training settings, variants, evaluation sets and where outputs go.

Two training settings, each a training YAML shipped in `training/`:
  indoor   generated indoor rooms only (the paper's train-indoor / test-outdoor setting, Fig. 8);
  outdoor  generated street LiDAR scans (the all-synthetic setting of the shipped default).
Evaluation sets: the generated indoor validation rooms (in-domain for "indoor" only), the
generated outdoor validation scans and the real SemanticKITTI scans (both settings).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from clickenhance_model.ablation.variants import VARIANTS
from clickenhance_model.training.config import TrainConfig, load_train_config

SETTINGS = ("indoor", "outdoor")
SETTING_TITLES = {"indoor": "trained on generated indoor rooms", "outdoor": "trained on generated street scans"}
EVAL_SETS = ("indoor_val", "outdoor_val", "real")
SET_TITLES = {
    "indoor_val": "generated indoor rooms (validation scans)",
    "outdoor_val": "generated street scans (validation scans)",
    "real": "real SemanticKITTI scans",
}
SETTING_EVAL_SETS = {"indoor": ("indoor_val", "outdoor_val", "real"), "outdoor": ("outdoor_val", "real")}
IN_DOMAIN = {"indoor": "indoor_val", "outdoor": "outdoor_val"}
GENERATED_SETS = {"indoor_val": "indoor", "outdoor_val": "outdoor"}  # eval set -> setting whose scenes hold it
DEFAULT_REAL_ROOT = Path("../shared/real_scans/semantickitti")


@dataclass(frozen=True)
class StudyConfig:
    """Settings of one study run (the CLI's options).

    Attributes:
        out: run folder: generated scenes, one training folder per (setting, variant, seed), evaluations.
        seeds: training seeds (initial weights, sample order, simulated clicks); the same for every variant.
        settings / variants: which of SETTINGS and VARIANTS to run.
        indoor_config / outdoor_config: training YAML (path or shipped name) of each setting.
        real_root: the real SemanticKITTI scans; None or a missing folder skips that evaluation set.
        report: the Markdown report; its plots go to the folder of the same name without the suffix.
        max_clicks / min_points: evaluation protocol (click budget, smallest object).
        generated_objects: objects drawn (once, the same for every run) from each generated evaluation
            set; 0 = every object. real_objects: the same for the real scans.
        device / threads: torch device ("auto" = CUDA when present) and CPU threads (0 = torch's default).
    """

    out: Path = Path("runs/ablation")
    seeds: tuple[int, ...] = (0, 1)
    settings: tuple[str, ...] = SETTINGS
    variants: tuple[str, ...] = tuple(VARIANTS)
    indoor_config: str = "ablation_indoor"
    outdoor_config: str = "ablation_outdoor"
    real_root: Path | None = DEFAULT_REAL_ROOT
    report: Path = Path("docs/ablation.md")
    max_clicks: int = 20
    min_points: int = 100
    generated_objects: int = 30
    real_objects: int = 0
    device: str = "auto"
    threads: int = 1
    show_progress: bool = True
    command: str = field(default="python -m clickenhance_model.ablation", compare=False)

    def __post_init__(self) -> None:
        """Reject unknown settings/variants, empty or repeated seeds and out-of-range counts."""
        unknown = [s for s in self.settings if s not in SETTINGS] + [v for v in self.variants if v not in VARIANTS]
        if unknown:
            raise ValueError(f"unknown setting/variant {', '.join(unknown)}; settings: {', '.join(SETTINGS)}, "
                             f"variants: {', '.join(VARIANTS)}")  # fmt: skip
        if not self.settings or not self.variants or not self.seeds:
            raise ValueError("a study needs at least one setting, one variant and one seed")
        if len(set(self.seeds)) != len(self.seeds) or min(self.seeds) < 0:
            raise ValueError(f"seeds must be distinct and >= 0, got {list(self.seeds)}")
        if self.max_clicks < 1 or self.min_points < 1:
            raise ValueError("max_clicks and min_points must be >= 1")
        if self.generated_objects < 0 or self.real_objects < 0:
            raise ValueError("generated_objects and real_objects must be >= 0 (0 = every object)")
        if self.report.suffix != ".md":
            raise ValueError(f"the report must be a .md file, got {self.report}")

    @property
    def plot_dir(self) -> Path:
        """Folder of the report's PNGs (docs/ablation.md -> docs/ablation/)."""
        return self.report.with_suffix("")

    def train_config(self, setting: str) -> TrainConfig:
        """The setting's training YAML, with its generated scenes under OUT/scenes/<setting>."""
        name = self.indoor_config if setting == "indoor" else self.outdoor_config
        config = load_train_config(name)
        if config.data.dataset != "synthetic" or config.data.synthetic.domain != setting:
            raise ValueError(f"{name}: the {setting} setting needs generated {setting} scenes "
                             f"(data.dataset synthetic, data.synthetic.domain {setting})")  # fmt: skip
        root = str(self.out / "scenes" / setting)
        return dataclasses.replace(config, data=dataclasses.replace(config.data, root=root))

    def eval_sets(self, setting: str) -> tuple[str, ...]:
        """Evaluation sets of one setting's runs (the real scans only when their folder exists)."""
        return tuple(s for s in SETTING_EVAL_SETS[setting] if s != "real" or self.has_real_scans)

    @property
    def has_real_scans(self) -> bool:
        """Whether the real scans folder is given and exists."""
        return self.real_root is not None and Path(self.real_root).is_dir()
