"""What each negative click of a baseline evaluation took, and whether a guard could tell a collapse from a fix.

A negative click takes every node geodesically nearer to it than to the positive clicks. Where the
mask had leaked into a neighbour, that removes the leak (a fix); where the simulated user clicked a
lone wrong point inside a nearly finished mask (label bleed at a car's sill, a hedge's twig in front
of a fence), it removes a large part of the object (a collapse here: IoU from >= 0.9 down by more than 0.1;
the evaluation's own collapse count, `metrics.click_collapses`, takes drops of over 0.2 from any IoU).
This replays every negative click of a baseline run (`clickenhance-eval --method baseline`, its
`run.json` and `objects.jsonl`) on the same graph, and splits the nodes it took into object points
(harm) and others (benefit).

Then it scores guards that would keep such a click's claim to the nodes within 0.5 m of it when
features of the click, known at inference, pass thresholds (each alone, and the low, enclosed click):
- enclosure: the share of the taken part's boundary edges that lead to the mask that stays (a hole
  punched in the object is enclosed; a removed leak hangs on a narrow cut);
- depth: the geodesic distance (off-ground costs) from the click to the nearest node outside the mask before it;
- height: the click's height above the lowest node of the 3 x 3 ground cells around it (bled labels lie
  at an object's foot).
A guard is worth trying only where it saves more object points than the wrong points it leaves.

    PYTHONPATH=. python bench/negative_click_effects.py --run /tmp/ff_today --domain outdoor

where /tmp/ff_today is a baseline run over the fence-feet streets (docs/default_model.md, session 25).
The replay reads the run's own graph settings; it ignores the click rules (at most a click's few
neighbouring points differ). About 40 s for the 584 fence-feet street objects.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from clickenhance_model.datasets import build_dataset
from clickenhance_model.evaluation.protocol import ObjectResult
from clickenhance_model.inference.geodesic_region import GeodesicRegion
from clickenhance_model.inference.voxel_graph import GraphConfig, VoxelGraph, height_above_lowest
from clickenhance_model.training.synthetic import manifest_domains

LOCAL_CLAIM = 0.5  # metres: what a guarded click still takes around itself
NEARLY_DONE, DROP = 0.9, 0.1  # a collapse: a click from IoU >= NEARLY_DONE that loses more than DROP
GAIN = 0.05  # a fix: a click that wins more than this
DISTANCE_LIMIT = 20.0  # metres along the graph: how far the replay measures from a click
FEATURES = ("enclosure", "depth", "height")
GUARDS: dict[str, Callable[[dict], bool]] = {  # when a guard keeps a click's claim to LOCAL_CLAIM
    **{f"enclosure > {t:g}": (lambda r, t=t: r["enclosure"] > t) for t in (0.5, 0.7, 0.9)},
    **{f"depth > {t:g}": (lambda r, t=t: r["depth"] > t) for t in (1.0, 3.0, 6.0)},
    **{f"height < {t:g}": (lambda r, t=t: r["height"] < t) for t in (0.25, 0.5, 1.0)},
    **{f"height < 1 and enclosure > {t:g}": (lambda r, t=t: r["height"] < 1.0 and r["enclosure"] > t)
       for t in (0.5, 0.7)},
}


def replay_object(region: GeodesicRegion, height: np.ndarray, obj: ObjectResult,
                  object_points: np.ndarray) -> list[dict]:  # fmt: skip
    """One row per negative click of `obj`: IoU before and after, object points and others it took (all, and
    within `LOCAL_CLAIM` of the click), and the click's features."""
    graph: VoxelGraph = region.graph
    node = region.node_of_point
    points = np.bincount(node, minlength=len(graph))  # points per node
    on_object = np.bincount(node[object_points], minlength=len(graph))
    a, b = graph.edges[:, 0], graph.edges[:, 1]
    rows = []
    for i, (index, positive) in enumerate(obj.clicks):
        if positive or i == 0:
            continue
        earlier = obj.clicks[:i]
        pos = np.array([node[c] for c, p in earlier if p], dtype=np.int64)
        neg = np.array([node[c] for c, p in earlier if not p], dtype=np.int64)
        clicked = node[index]
        before = graph.click_distances(pos, neg).region()
        after = graph.click_distances(pos, np.append(neg, clicked)).region()
        taken = before & ~after
        from_click = graph.distance(np.array([clicked]), False, DISTANCE_LIMIT)
        local = taken & (from_click <= LOCAL_CLAIM)
        to_kept = int(((taken[a] & after[b]) | (taken[b] & after[a])).sum())
        to_outside = int(((taken[a] & ~before[b]) | (taken[b] & ~before[a])).sum())
        outside = ~before & np.isfinite(from_click)
        rows.append({
            "before": obj.ious[i - 1], "after": obj.ious[i],
            "harm": int(on_object[taken].sum()), "benefit": int((points - on_object)[taken].sum()),
            "local_harm": int(on_object[local].sum()), "local_benefit": int((points - on_object)[local].sum()),
            "enclosure": to_kept / max(1, to_kept + to_outside),
            "depth": float(from_click[outside].min()) if outside.any() else np.inf,
            "height": float(height[clicked]),
        })
    return rows


def replay_run(run_dir: Path, domain: str | None, limit: int | None) -> list[dict]:
    """Every negative click of the baseline run in `run_dir` (objects of `domain` scenes only, when given)."""
    run = json.loads((run_dir / "run.json").read_text())
    if run.get("method") != "baseline":
        raise SystemExit(f"{run_dir} is not a baseline run (method {run.get('method')!r})")
    root = Path(run["root"])
    dataset = build_dataset(run["dataset"], root, **run.get("dataset_options", {}))
    domains = manifest_domains(root) if run["dataset"] == "semantickitti" else {}
    configs = run["baseline_config"]  # one config, or one per domain for a generated mix
    by_scene: dict[str, list[ObjectResult]] = defaultdict(list)
    kept = 0
    for line in (run_dir / "objects.jsonl").read_text().splitlines():
        entry = json.loads(line)
        if "object" not in entry:
            continue
        obj = ObjectResult.from_dict(entry["object"])
        scene_domain = domains.get(obj.scene, dataset.domain)
        if (domain is None or scene_domain == domain) and (limit is None or kept < limit):
            by_scene[obj.scene].append(obj)
            kept += 1
    rows = []
    for name, objects in by_scene.items():
        scene = dataset.load_scene(name)
        config = GraphConfig(**(configs if "voxel_size" in configs else configs[domains.get(name, dataset.domain)]))
        region = GeodesicRegion(scene.xyz.astype(np.float64), config)
        height = height_above_lowest(region.graph.tree.data, config.ground_cell)
        for obj in objects:
            rows += replay_object(region, height, obj, scene.object_mask(obj.instance_id))
    return rows


def beyond_claim(rows: list[dict], fires: Callable[[dict], bool], kind: str) -> int:
    """Points of `kind` ("harm": object points, "benefit": others) that the clicks a guard fires on took beyond
    `LOCAL_CLAIM`: what the guard would save (harm) or leave in the mask (benefit)."""
    return sum(r[kind] - r[f"local_{kind}"] for r in rows if fires(r))


def report(rows: list[dict]) -> str:
    """The counts, and per guard the object points it would save against the wrong points it would leave."""
    collapses = [r for r in rows if r["before"] >= NEARLY_DONE and r["after"] < r["before"] - DROP]
    fixes = [r for r in rows if r["after"] > r["before"] + GAIN]
    lines = [f"negative clicks {len(rows)}: collapses {len(collapses)}, fixes (IoU up by > {GAIN:g}) {len(fixes)}"]
    for name, group in (("all", rows), ("collapses", collapses), ("fixes", fixes)):
        lines.append(f"  {name}: object points taken {sum(r['harm'] for r in group)}, "
                     f"wrong points taken {sum(r['benefit'] for r in group)}")  # fmt: skip
    lines.append("")
    lines.append("| guard (claim kept to 0.5 m when) | fires | object points saved | wrong points left | "
                 "of which in collapses: saved | in fixes: left |")  # fmt: skip
    lines.append("|---|---|---|---|---|---|")
    for name, fires in GUARDS.items():
        lines.append(f"| {name} | {sum(map(fires, rows))} | {beyond_claim(rows, fires, 'harm')} | "
                     f"{beyond_claim(rows, fires, 'benefit')} | {beyond_claim(collapses, fires, 'harm')} | "
                     f"{beyond_claim(fixes, fires, 'benefit')} |")  # fmt: skip
    for feature in FEATURES:
        quantiles = {name: np.quantile([r[feature] for r in group], [0.25, 0.5, 0.75]) if group else []
                     for name, group in (("collapses", collapses), ("fixes", fixes))}  # fmt: skip
        lines.append(f"{feature} quartiles: " + "; ".join(
            f"{name} {' / '.join(f'{q:.2f}' for q in values) or 'none'}" for name, values in quantiles.items()))
    return "\n".join(lines)


def main() -> None:
    """Replay a baseline run's negative clicks and print the guard table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="a baseline run's --out folder")
    parser.add_argument("--domain", choices=("outdoor", "indoor"), default=None,
                        help="only objects of this domain's scenes (a generated mix)")  # fmt: skip
    parser.add_argument("--limit-objects", type=int, default=None)
    args = parser.parse_args()
    print(report(replay_run(args.run, args.domain, args.limit_objects)))


if __name__ == "__main__":
    main()
