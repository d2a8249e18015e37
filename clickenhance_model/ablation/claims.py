"""The paper's claims the ablation tests, and the rule that decides from the numbers whether each holds.

A claim says variant A beats variant B on one figure. It is tested on each evaluation it applies
to, with the seeds paired (same seed = same sample order and clicks): it is REPRODUCED there when
A's mean is better by at least MIN_DIFFERENCE and A is better under every seed; it is OPPOSITE
when B's mean is better by at least MIN_DIFFERENCE; otherwise there is NO CLEAR DIFFERENCE
(within the noise of this miniature). Figures are fractions (IoU) or clicks (NoC).

`table[setting][eval_set][variant][seed]` holds the figures of one evaluation (see report.figures).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

MIN_DIFFERENCE = {"IoU": 0.01, "NoC": 0.25}  # smallest mean difference that counts: 1 IoU point, 1/4 click
REPRODUCED, OPPOSITE, UNCLEAR = "reproduced", "opposite", "no clear difference"

Table = Mapping[str, Mapping[str, Mapping[str, Mapping[int, Mapping[str, float | None]]]]]


@dataclass(frozen=True)
class Claim:
    """A claim of the paper: `better` beats `worse` on `metric`, tested on these settings and evaluation sets."""

    key: str
    statement: str
    better: str
    worse: str
    metric: str  # a key of report.figures: "mIoU", "IoU@1", "IoU@final", "NoC@85", ...
    settings: tuple[str, ...]
    eval_sets: tuple[str, ...] | None = None  # None: every set the setting was evaluated on


CLAIMS = (
    Claim("dense_vs_sparse", "Dense click maps generalise across domains better than sparse cubes (paper Fig. 8): "
          "trained on indoor rooms only, Base beats Sparse on outdoor scans (mean IoU over all clicks)",
          "base", "sparse", "mIoU", ("indoor",), ("outdoor_val", "real")),
    Claim("cse_first_clicks", "The Click-Specific Encoder improves the first clicks: Base + CSE beats Base on IoU@1",
          "base_cse", "base", "IoU@1", ("indoor", "outdoor")),
    Claim("click_loss_final", "The click loss raises the final IoU: Full beats Base + CSE on the IoU after the last "
          "click", "full", "base_cse", "IoU@final", ("indoor", "outdoor")),
)  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """The outcome of one claim on one (setting, evaluation set), with the per-seed figures it rests on."""

    claim: Claim
    setting: str
    eval_set: str
    seeds: tuple[int, ...]
    better_values: tuple[float, ...]
    worse_values: tuple[float, ...]
    outcome: str

    @property
    def difference(self) -> float:
        """Mean of better - worse (positive = the claim's direction for IoU, negative for NoC)."""
        return float(np.mean(np.subtract(self.better_values, self.worse_values)))


def higher_is_better(metric: str) -> bool:
    """IoU figures rise with quality, NoC figures fall."""
    return not metric.startswith("NoC")


def compare(better: Sequence[float], worse: Sequence[float], metric: str) -> str:
    """REPRODUCED, OPPOSITE or UNCLEAR for per-seed figures of the claimed-better and claimed-worse variant."""
    if len(better) != len(worse) or not better:
        raise ValueError(f"need the same non-zero number of seeds for both variants, got {len(better)}, {len(worse)}")
    sign = 1.0 if higher_is_better(metric) else -1.0
    gains = sign * (np.asarray(better, dtype=float) - np.asarray(worse, dtype=float))  # > 0: the claim's way
    threshold = MIN_DIFFERENCE["NoC" if metric.startswith("NoC") else "IoU"]
    if gains.mean() >= threshold and (gains > 0).all():
        return REPRODUCED
    if gains.mean() <= -threshold:
        return OPPOSITE
    return UNCLEAR


def judge(claim: Claim, table: Table) -> list[Verdict]:
    """The claim's verdict on every evaluation it applies to that has both variants under common seeds."""
    verdicts = []
    for setting in claim.settings:
        for eval_set, by_variant in table.get(setting, {}).items():
            if claim.eval_sets is not None and eval_set not in claim.eval_sets:
                continue
            better, worse = by_variant.get(claim.better, {}), by_variant.get(claim.worse, {})
            seeds = tuple(s for s in sorted(set(better) & set(worse))
                          if better[s].get(claim.metric) is not None and worse[s].get(claim.metric) is not None)
            if not seeds:
                continue
            b = tuple(float(better[s][claim.metric]) for s in seeds)
            w = tuple(float(worse[s][claim.metric]) for s in seeds)
            verdicts.append(Verdict(claim, setting, eval_set, seeds, b, w, compare(b, w, claim.metric)))
    return verdicts


def overall(verdicts: Sequence[Verdict]) -> str:
    """REPRODUCED when every evaluation reproduces the claim, PARTLY when some do, NOT when none; NOT TESTED."""
    if not verdicts:
        return "NOT TESTED"
    hits = sum(v.outcome == REPRODUCED for v in verdicts)
    if hits == len(verdicts):
        return "REPRODUCED"
    return "PARTLY REPRODUCED" if hits else "NOT REPRODUCED"


@dataclass(frozen=True)
class Ranking:
    """Variants of one evaluation ordered best first by the mean of `metric`, and whether the first is clear."""

    setting: str
    eval_set: str
    metric: str
    order: tuple[tuple[str, float], ...]  # (variant, mean over seeds), best first
    clear: bool  # the winner beats the runner-up under the same rule as a claim (REPRODUCED)


def rank(table: Table, setting: str, eval_set: str, metric: str = "mIoU") -> Ranking | None:
    """Rank the variants of one evaluation by their mean `metric` over seeds; None when not evaluated."""
    by_variant = table.get(setting, {}).get(eval_set, {})
    means = {v: float(np.mean([f[metric] for f in seeds.values()])) for v, seeds in by_variant.items() if seeds}
    if not means:
        return None
    order = tuple(sorted(means.items(), key=lambda item: item[1], reverse=higher_is_better(metric)))
    clear = True
    if len(order) > 1:
        first, second = by_variant[order[0][0]], by_variant[order[1][0]]
        seeds = sorted(set(first) & set(second))
        clear = bool(seeds) and compare([first[s][metric] for s in seeds], [second[s][metric] for s in seeds],
                                        metric) == REPRODUCED  # fmt: skip
    return Ranking(setting, eval_set, metric, order, clear)
