"""The four variants of the ablation, as switches on one training config (same data, budget and seeds).

    sparse    sparse cube click encoding, no CSE, no click loss (the paper's sparse baseline, Fig. 8)
    base      dense distance maps, no CSE, no click loss (the paper's "Base")
    base_cse  Base + Click-Specific Encoder
    full      Base + CSE + click loss (ClickEnhance)

Everything else (network widths, voxels, crop, optimizer, schedule, clicks, steps) comes from
the setting's YAML and is the same for every variant.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from clickenhance_model.training.config import TrainConfig


@dataclass(frozen=True)
class Variant:
    """One ablation variant: its name, a title for tables and plots, and the three model switches."""

    name: str
    title: str
    encoding: str
    use_cse: bool
    click_loss: bool

    def apply(self, config: TrainConfig, seed: int) -> TrainConfig:
        """`config` with this variant's switches and the run's seed (weights, sample order, clicks)."""
        model = config.model
        model = dataclasses.replace(
            model,
            input=dataclasses.replace(model.input, encoding=self.encoding),
            network=dataclasses.replace(model.network, use_cse=self.use_cse),
            loss=dataclasses.replace(model.loss, click_loss=self.click_loss),
        )
        return dataclasses.replace(config, model=model, seed=int(seed))


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("sparse", "Sparse cubes", "sparse", use_cse=False, click_loss=False),
        Variant("base", "Base (dense maps)", "dense", use_cse=False, click_loss=False),
        Variant("base_cse", "Base + CSE", "dense", use_cse=True, click_loss=False),
        Variant("full", "Full (Base + CSE + click loss)", "dense", use_cse=True, click_loss=True),
    )
}


def get_variants(names: tuple[str, ...] | list[str]) -> list[Variant]:
    """The named variants in the study's order; ValueError naming an unknown one."""
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    return [v for v in VARIANTS.values() if v.name in names]
