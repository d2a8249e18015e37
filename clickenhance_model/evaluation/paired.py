"""Paired comparison of two evaluation runs on the same objects: model minus baseline, object by object.

A difference of means (NoC@85 5.26 against 5.20) says nothing about how sure it is. Both runs click on the
same objects with the same simulated user, so the per-object differences are paired: their mean has a
standard error, and resampling the objects (a bootstrap, seeded) gives a 95% interval. Where the interval
holds zero the two runs are level within what this many objects can tell, and a verdict that takes the
sign of the mean is a coin toss; `objects_to_decide` says how many objects would make a difference of this
size clear of its noise.

    python -m clickenhance_model.evaluation.paired RUN_DIR BASELINE_DIR [--by domain|class|kind] [--domain outdoor]

prints one row per part (every object; each domain of a generated mix; each class; or each kind of object the
real dev sets judge: things, stuff and the other classes, a mix's rooms apart), over a mix's streets or rooms
only with --domain.

`--nearly-right 0.9` keeps only the objects whose IoU after the first click of the second run (the baseline)
is at least 0.9. On the real dev scans most first clicks are nearly right (a mean IoU@1 of 86% on the 16-ring
cut), on the generated ones most are not (53%), so a refiner fitted on generated click states can win the
generated validation and still spoil real first clicks; this subset of the generated objects shows it.

`--second-clicks 2 5` keeps only the objects the second run (the baseline) brought to 85% IoU in 2 to 5 clicks.
A real 16-ring cut needs 1.92 clicks per object on the baseline: its clicks are won or lost on objects of that
kind. On a generated one, over a quarter of the objects need 6 or more, and a refiner can win the cut's mean there
while losing the objects that match the real ones (session 36, docs/default_model.md).

`--kinds things stuff` keeps only the objects of those kinds (`--by kind`'s parts), the two kinds the real
16-ring and stuff sets hold: a generated street's buildings and vegetation, which no real set judges, then stop
deciding the comparison. `--metric First@85` is the share of objects the first click alone brings to 85% IoU
(per object 1 or 0, shown in points): on a 16-ring cut, a sparse thing left under it costs its second click.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clickenhance_model.datasets.semantic_kitti import object_kind
from clickenhance_model.evaluation.metrics import click_responsiveness, number_of_clicks, pad_ious

KINDS = ("things", "stuff", "other", "indoor")  # the parts of `--by kind`
RESAMPLES = 2000  # bootstrap resamples of the objects: the interval's ends move by ~0.01 click between seeds
INTERVAL = 0.95


@dataclass(frozen=True)
class PairedDifference:
    """One metric's per-object difference, first run minus second, over the objects both runs evaluated."""

    metric: str  # "NoC@85" (clicks, lower is better) or "IoU@10" (fraction, higher is better)
    objects: int
    mean: float
    standard_error: float
    low: float  # the 95% bootstrap interval of the mean
    high: float
    better: int  # objects where the first run did better than the second ...
    worse: int  # ... and worse; the rest tie

    @property
    def lower_is_better(self) -> bool:
        return self.metric.startswith("NoC")

    @property
    def level(self) -> bool:
        """Whether the interval holds zero: the runs differ by no more than their noise on these objects."""
        return self.low <= 0.0 <= self.high

    def sentence(self, named: bool = True) -> str:
        """E.g. "NoC@85 +0.05 ± 0.23 (95%: -0.40 to +0.51; 17 better, 17 worse; level)"; `named=False` leaves
        out the metric's name (a table column that carries it)."""
        scale, unit = (1.0, "") if self.lower_is_better else (100.0, " pt")
        verdict = "level" if self.level else ("better" if (self.mean < 0) == self.lower_is_better else "worse")
        name = f"{self.metric} " if named else ""
        error = f"{scale * self.standard_error:.2f}" if math.isfinite(self.standard_error) else "– (one object)"
        return (f"{name}{scale * self.mean:+.2f}{unit} ± {error} "
                f"(95%: {scale * self.low:+.2f} to {scale * self.high:+.2f}; {self.better} better, "
                f"{self.worse} worse; {verdict})")  # fmt: skip


def metric_values(objects: Sequence[dict], metric: str, max_clicks: int) -> np.ndarray:
    """Per object (results.json "objects" entries, with "ious"): NoC@τ in clicks, IoU@k as a fraction, or
    First@τ, 1 where the first click alone reaches τ% IoU and 0 where it does not."""
    name, _, value = metric.partition("@")
    if name == "NoC":
        threshold = int(value) / 100.0
        return np.array([number_of_clicks(pad_ious(o["ious"], max_clicks), threshold, max_clicks) for o in objects],
                        dtype=float)  # fmt: skip
    if name == "IoU":
        k = int(value)
        if not 1 <= k <= max_clicks:
            raise ValueError(f"{metric}: k must lie in 1..{max_clicks}")
        return np.array([pad_ious(o["ious"], max_clicks)[k - 1] for o in objects], dtype=float)
    if name == "First":
        threshold = int(value) / 100.0
        return np.array([pad_ious(o["ious"], max_clicks)[0] >= threshold for o in objects], dtype=float)
    raise ValueError(f"unknown metric {metric!r} (NoC@80/85/90, IoU@k or First@τ)")


def matched_pairs(first: Sequence[dict], second: Sequence[dict]) -> list[tuple[dict, dict]]:
    """(object of `first`, its match in `second`) by (scene, instance_id), in `first`'s order; objects only one
    run has are left out."""
    index = {(o["scene"], o["instance_id"]): o for o in second}
    return [(o, index[key]) for o in first if (key := (o["scene"], o["instance_id"])) in index]


def paired_difference(first: Sequence[dict], second: Sequence[dict], metric: str, max_clicks: int,
                      seed: int = 0, resamples: int = RESAMPLES) -> PairedDifference:
    """`metric` of `first` minus `second`, matched by (scene, instance_id); objects only one run has are left out.

    Raises ValueError when the runs share no object.
    """
    pairs = matched_pairs(first, second)
    if not pairs:
        raise ValueError("the two runs share no object")
    diff = (metric_values([a for a, _ in pairs], metric, max_clicks)
            - metric_values([b for _, b in pairs], metric, max_clicks))  # fmt: skip
    n = len(diff)
    standard_error = float(diff.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
    tail = 100.0 * (1.0 - INTERVAL) / 2.0
    low, high = (float(v) for v in np.percentile(means, [tail, 100.0 - tail]))
    sign = -1.0 if metric.startswith("NoC") else 1.0  # "better" is fewer clicks, or a higher IoU
    return PairedDifference(metric=metric, objects=n, mean=float(diff.mean()), standard_error=standard_error,
                            low=low, high=high, better=int(np.count_nonzero(sign * diff > 0)),
                            worse=int(np.count_nonzero(sign * diff < 0)))  # fmt: skip


@dataclass(frozen=True)
class StuckComparison:
    """Objects stuck (`metrics.click_responsiveness`) in two runs on the same objects, and in one run only.

    Objects stuck in both say nothing about which run responds better, so two counts differ exactly by the
    objects stuck in one run only (the discordant ones). With a handful of those, a difference of one or two is
    what chance gives; `p_value` says how likely the first run's share of them is if neither run were worse.
    """

    first: int
    second: int
    first_only: int
    second_only: int

    @property
    def p_value(self) -> float:
        """Exact one-sided sign test: the chance of at least `first_only` of the discordant objects falling to
        the first run when each falls either way with probability 1/2 (1.0 without discordant objects)."""
        n = self.first_only + self.second_only
        return sum(math.comb(n, k) for k in range(self.first_only, n + 1)) / 2.0**n if n else 1.0

    def sentence(self, first: str = "the first run", second: str = "the second") -> str:
        """E.g. "stuck 5 vs 4 (3 only in the first run, 2 only in the second; sign test p = 0.50)"; `first` and
        `second` name the runs."""
        return (f"stuck {self.first} vs {self.second} ({self.first_only} only in {first}, {self.second_only} "
                f"only in {second}; sign test p = {self.p_value:.2f})")


def stuck_comparison(first: Sequence[dict], second: Sequence[dict], max_clicks: int) -> StuckComparison:
    """The stuck objects of `first` and `second`, matched by (scene, instance_id) (`matched_pairs`), each judged
    from its IoUs over `max_clicks` clicks; ValueError when the budget is too small to judge (5 clicks or fewer)."""
    flags = []
    for a, b in matched_pairs(first, second):
        judged = [click_responsiveness(o["ious"], max_clicks) for o in (a, b)]
        if judged[0] is None or judged[1] is None:
            raise ValueError(f"stuck objects need a budget of more than 5 clicks (got {max_clicks})")
        flags.append((bool(judged[0]["stuck"]), bool(judged[1]["stuck"])))
    return StuckComparison(first=sum(a for a, _ in flags), second=sum(b for _, b in flags),
                           first_only=sum(a and not b for a, b in flags),
                           second_only=sum(b and not a for a, b in flags))  # fmt: skip


def objects_to_decide(difference: PairedDifference) -> int | None:
    """Objects for this mean difference to lie two standard errors from zero, at this spread; None for a zero
    mean or a single object (no spread to scale)."""
    if difference.mean == 0.0 or difference.objects < 2 or not math.isfinite(difference.standard_error):
        return None
    spread = difference.standard_error * math.sqrt(difference.objects)
    return math.ceil((2.0 * spread / abs(difference.mean)) ** 2)


def load_objects(run_dir: Path) -> tuple[list[dict], dict]:
    """An evaluation folder's per-object results and its run record (results.json of `clickenhance-eval`)."""
    path = run_dir / "results.json"
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable evaluation result ({error})") from error
    if not isinstance(results, dict) or "objects" not in results:
        raise ValueError(f"{path}: no per-object results (an evaluation folder of clickenhance-eval?)")
    return results["objects"], results.get("run", {})


def recorded_domains(run: dict) -> dict[str, str]:
    """Scene -> domain of a run over generated scans (its root's record); empty for any other run."""
    from clickenhance_model.training.synthetic import manifest_domains

    return manifest_domains(Path(run["root"])) if run.get("root") else {}


def scene_domains(run: dict) -> dict[str, str]:
    """Scene -> domain of a run over a generated mix (its root's record); ValueError for any other run."""
    domains = recorded_domains(run)
    if not domains:
        raise ValueError("a domain needs a generated mix (the run's root has no domain record)")
    return domains


def part_of(by: str, run: dict) -> Callable[[dict], str]:
    """Object -> the name of its part: "all", its class, or its domain (from a generated mix's record)."""
    if by == "class":
        return lambda o: str(o.get("class_name", "?"))
    if by == "domain":
        domains = scene_domains(run)
        return lambda o: domains.get(o["scene"], "?")
    if by == "kind":  # SemanticKITTI ids; a generated mix's rooms (NYU40 ids) are one part of their own
        domains = recorded_domains(run)
        return lambda o: ("indoor" if domains.get(o["scene"]) == "indoor"
                          else object_kind(int(o.get("semantic_id", 0))))  # fmt: skip
    return lambda o: "all"


def nearly_right(first: Sequence[dict], second: Sequence[dict], at_least: float) -> list[dict]:
    """The objects of `first` whose match in `second` (`matched_pairs`) has an IoU of at least `at_least` after
    its first click."""
    return [a for a, b in matched_pairs(first, second) if b["ious"] and float(b["ious"][0]) >= at_least]


def second_clicks_between(first: Sequence[dict], second: Sequence[dict], low: int, high: int,
                          max_clicks: int) -> list[dict]:  # fmt: skip
    """The objects of `first` whose match in `second` (`matched_pairs`) reached 85% IoU after `low` to `high`
    clicks (NoC@85 as the summary counts it: the budget where it never did)."""
    pairs = matched_pairs(first, second)
    clicks = metric_values([b for _, b in pairs], "NoC@85", max_clicks)
    return [a for (a, _), count in zip(pairs, clicks, strict=True) if low <= count <= high]


def comparison_rows(first: Sequence[dict], second: Sequence[dict], part: Callable[[dict], str],
                    metrics: Sequence[str], max_clicks: int) -> list[str]:
    """A markdown table: per part (and "all"), the objects and each metric's paired difference."""
    names = ["all"] + sorted({part(o) for o in first} - {"all"})
    lines = ["| Part | Objects | " + " | ".join(f"{m}: first - second" for m in metrics) + " |",
             "|---|---|" + "---|" * len(metrics)]  # fmt: skip
    for name in names:
        members = [o for o in first if name == "all" or part(o) == name]
        try:
            cells = [paired_difference(members, second, m, max_clicks) for m in metrics]
        except ValueError:
            continue
        lines.append(f"| {name} | {cells[0].objects} | " + " | ".join(c.sentence(named=False) for c in cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Compare two evaluation folders object by object; exit 2 on unreadable or unmatched runs."""
    parser = argparse.ArgumentParser(prog="python -m clickenhance_model.evaluation.paired", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("first", type=Path, help="evaluation folder of the run to judge (e.g. the model)")
    parser.add_argument("second", type=Path, help="evaluation folder of the run it is compared with (the baseline)")
    parser.add_argument("--by", choices=["all", "domain", "class", "kind"], default="all",
                        help="rows per domain of a generated mix, per class, or per kind the real dev sets judge "
                             "(things, stuff, other classes), besides all objects")  # fmt: skip
    parser.add_argument("--domain", choices=["outdoor", "indoor"], default=None,
                        help="a generated mix: compare only its streets or only its rooms")
    parser.add_argument("--nearly-right", type=float, default=None, metavar="IOU",
                        help="only objects whose IoU after the second run's first click is at least IOU (0-1): "
                             "the first clicks that are nearly right, as most are on real scans")  # fmt: skip
    parser.add_argument("--second-clicks", type=int, nargs=2, default=None, metavar=("LOW", "HIGH"),
                        help="only objects the second run brought to 85%% IoU in LOW to HIGH clicks (e.g. 2 5: the "
                             "objects a real 16-ring cut's clicks are won or lost on)")  # fmt: skip
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=None,
                        help="only objects of these kinds (--by kind's parts; e.g. things stuff, the kinds of the "
                             "real 16-ring set)")  # fmt: skip
    parser.add_argument("--metric", action="append", default=None,
                        help="NoC@80/85/90, IoU@k or First@τ (the first click reaches τ%% IoU); repeat for several "
                             "(default NoC@85 and IoU@10)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        (first, run), (second, other) = load_objects(args.first), load_objects(args.second)
        max_clicks = int(run.get("max_clicks") or 0)
        if max_clicks < 1 or max_clicks != int(other.get("max_clicks") or 0):
            raise ValueError("the runs need the same click budget (run.max_clicks)")
        metrics = args.metric or ["NoC@85", f"IoU@{min(10, max_clicks)}"]
        for metric in metrics:
            metric_values([], metric, max_clicks)  # a bad name fails here, before any table
        if args.domain is not None:
            domains = scene_domains(run)
            first = [o for o in first if domains.get(o["scene"]) == args.domain]
        if args.kinds is not None:
            kind = part_of("kind", run)
            first = [o for o in first if kind(o) in args.kinds]
        if args.nearly_right is not None:
            if not 0.0 <= args.nearly_right <= 1.0:
                raise ValueError(f"--nearly-right is an IoU in 0..1, got {args.nearly_right}")
            first = nearly_right(first, second, args.nearly_right)
        if args.second_clicks is not None:
            low, high = args.second_clicks
            if not 1 <= low <= high <= max_clicks:
                raise ValueError(f"--second-clicks needs 1 <= LOW <= HIGH <= {max_clicks}, got {low} {high}")
            first = second_clicks_between(first, second, low, high, max_clicks)
        lines = comparison_rows(first, second, part_of(args.by, run), metrics, max_clicks)
    except ValueError as error:
        print(f"paired: {error}", file=sys.stderr)
        return 2
    if len(lines) == 2:
        print("paired: the two runs share no object", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
