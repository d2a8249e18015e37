"""Where a refined model's collapses come from: the geodesic prior's move, or the refiner changing its answer.

A prior-fusion model with a point refiner answers each click state afresh: the prior's region of all the clicks,
corrected point by point in the refiner's band. A click after which the object's IoU falls by over 20 points (a
collapse, `evaluation.metrics.click_collapses`) then has three possible sources for each point it got wrong:
- **moved**: the latest click moved the point into or out of the prior (the geodesic region's own doing);
- **held**: the prior held the point before and after the click, and the refiner's answer there changed (it
  had taken a prior point out and now leaves it in, or the other way round);
- **outside**: the prior held the point neither before nor after, and the refiner's answer there changed.

This replays every collapse of a model evaluation (`clickenhance-eval --method model`, its `run.json` and
`objects.jsonl`) with the run's checkpoint and options, and counts the object points the click lost and the
background points it gained by source. A collapse made of "held" background points is the refiner forgetting, at
the next click, a removal it made before (such as the flood of a positive click it rejected while the flood was
the latest click's move).

    PYTHONPATH=. python bench/refiner_collapse_sources.py --run runs/s37/val_gr3_indoor --negative-only

About 2 s per collapse on one core. Runs whose model reads its prior off the network's own graph (no per-point
prior of the domain preset) are refused.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np

from clickenhance_model.datasets import build_dataset
from clickenhance_model.evaluation.metrics import click_collapses
from clickenhance_model.evaluation.protocol import ObjectResult
from clickenhance_model.model_config import CHOSEN_ON_VALIDATION
from clickenhance_model.segmenter import ModelSession, Segmenter
from clickenhance_model.training.point_refiner_fit import shown_answers
from clickenhance_model.training.synthetic import manifest_domains

OPTIONS = CHOSEN_ON_VALIDATION  # the run.json fields that are the segmenter's inference options (click rules too)


class CollapseSources(NamedTuple):
    """The points one click got wrong, by source: object points lost and background points gained, each split into
    moved (the prior's move), held (in the prior before and after) and outside (in the prior neither time)."""

    lost_moved: int
    lost_held: int
    lost_outside: int
    gained_moved: int
    gained_held: int
    gained_outside: int


def collapse_sources(session: ModelSession, truth: np.ndarray, clicks: list[tuple[int, bool]],
                     at: int) -> CollapseSources:  # fmt: skip
    """Replay `clicks[:at]` on a reset `session` (click by click for a refiner with memory, whose answer depends on
    the answers before; else in one batch), then click `clicks[at]`, and split the points the click got wrong
    (against `truth`, bool over the caller's points) by whether the prior moved them."""
    if session.prior is None:
        raise ValueError("the model reads its prior off the network's own graph: no per-point prior to split by")
    shown = shown_answers(session, clicks, [at], session.segmenter.config.network.point_refiner_memory)
    before = shown.get(at, np.zeros(session.num_points, dtype=bool))
    after = session.add_click(*clicks[at])
    valid = session.valid_indices  # caller index of each point the session kept
    kept = np.full(session.num_points, -1, dtype=np.int64)
    kept[valid] = np.arange(len(valid))
    priors = []
    for state in (clicks[:at], clicks[: at + 1]):
        positive = np.array([kept[i] for i, p in state if p], dtype=np.int64)
        negative = np.array([kept[i] for i, p in state if not p], dtype=np.int64)
        region = np.zeros(session.num_points, dtype=bool)
        if len(positive):
            region[valid] = session.prior.of_points(positive, negative)
        priors.append(region)
    moved = priors[0] != priors[1]
    held = priors[0] & priors[1]
    outside = ~priors[0] & ~priors[1]
    lost, gained = truth & before & ~after, ~truth & ~before & after
    parts = (moved, held, outside)
    return CollapseSources(*(int((change & part).sum()) for change in (lost, gained) for part in parts))


def replay_run(run_dir: Path, negative_only: bool, limit: int | None,
               device: str = "cpu") -> list[tuple[ObjectResult, dict, CollapseSources]]:  # fmt: skip
    """Every collapse of the run in `run_dir` (up to `limit`), with its sources; the model runs on `device`."""
    run = json.loads((run_dir / "run.json").read_text())
    if run.get("method") != "model":
        raise ValueError(f"{run_dir}: a model run is needed (method {run.get('method')!r})")
    dataset = build_dataset(run["dataset"], run["root"], **run.get("dataset_options", {}))
    domains = manifest_domains(run["root"]) if run["dataset"] == "semantickitti" else {}
    options = {name: run[name] for name in OPTIONS if run.get(name) is not None}
    loaded = Segmenter.load(run["checkpoint"], device=device)
    rows = [ObjectResult.from_dict(json.loads(line)["object"])
            for line in (run_dir / "objects.jsonl").read_text().splitlines() if '"object"' in line]  # fmt: skip
    out = []
    by_scene: dict[str, list[tuple[ObjectResult, dict]]] = {}
    for row in rows:
        for collapse in click_collapses(row.ious, row.clicks):
            if not (negative_only and collapse["positive"]):
                by_scene.setdefault(row.scene, []).append((row, collapse))
    for scene_name, events in by_scene.items():
        if limit is not None and len(out) >= limit:
            break
        scene = dataset.load_scene(scene_name)
        domain = domains.get(scene_name, dataset.domain)
        session = loaded.with_options(domain=domain, **options).session(scene.xyz, scene.rgb)
        for row, collapse in events[: None if limit is None else limit - len(out)]:
            clicks = [(int(index), bool(positive)) for index, positive in row.clicks]
            sources = collapse_sources(session, scene.object_mask(row.instance_id), clicks, collapse["click"] - 1)
            out.append((row, collapse, sources))
    return out


def report(events: list[tuple[ObjectResult, dict, CollapseSources]]) -> str:
    """One line per collapse and the totals per click sign."""
    lines = ["class points click sign IoU-drop | lost moved/held/outside | gained moved/held/outside"]
    totals: dict[str, Counter] = {"negative": Counter(), "positive": Counter()}
    for row, collapse, sources in events:
        sign = "positive" if collapse["positive"] else "negative"
        totals[sign].update(sources._asdict())
        totals[sign]["collapses"] += 1
        lines.append(f"{row.class_name} {row.num_points} {collapse['click']} {sign} {collapse['drop']:.2f} | "
                     f"{sources.lost_moved}/{sources.lost_held}/{sources.lost_outside} | "
                     f"{sources.gained_moved}/{sources.gained_held}/{sources.gained_outside}")  # fmt: skip
    for sign, total in totals.items():
        if total["collapses"]:
            lines.append(f"after {sign} clicks ({total['collapses']} collapses): lost {total['lost_moved']} moved / "
                         f"{total['lost_held']} held / {total['lost_outside']} outside; gained {total['gained_moved']} "
                         f"moved / {total['gained_held']} held / {total['gained_outside']} outside")  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    """Replay a run's collapses and print their sources; 2 on bad input."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="a model run's --out folder")
    parser.add_argument("--negative-only", action="store_true", help="only the collapses after negative clicks")
    parser.add_argument("--limit", type=int, default=None, help="at most this many collapses")
    parser.add_argument("--device", default="cpu", help="torch device of the model (cpu, cuda, ...)")
    args = parser.parse_args()
    try:
        events = replay_run(args.run, args.negative_only, args.limit, args.device)
    except (ValueError, FileNotFoundError) as error:
        print(f"refiner_collapse_sources: {error}", file=sys.stderr)
        return 2
    print(report(events))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
