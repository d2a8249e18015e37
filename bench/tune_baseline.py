"""Choose the baseline's OUTDOOR preset on generated street scans, never on the real scans we report.

Each variant changes one setting of START, the hand-picked preset before tuning (a
one-at-a-time sweep over the settings that matter: neighbours, longest edge, ground
penalty, reach, negative reach); then the best value of every setting is combined into one
more variant. All are scored by the project's own evaluation CLI; the lowest NoC@85 wins,
ties broken by the higher IoU@5. Generate the tuning scans first, with a seed and sequence
distinct from the training data (seed 0, runs/scenes):

    python -m clickenhance_model.scenes.generate --out /tmp/tune_scans --kind outdoor \\
        --scenes 12 --seed 777 --sequence 0
    python bench/tune_baseline.py --scans /tmp/tune_scans --out /tmp/tune_baseline

Each variant takes about a minute on one CPU core (12 scans, about 140 objects); a rerun
with the same --out reuses finished runs (the CLI continues them).

`--centre preset` sweeps around today's OUTDOOR preset instead (normal penalty, negative reach,
longest edge; the networks' geodesic maps keep their own graph, `voxel_graph.MAPS_PRESETS`),
scored on the street objects of a generated mix (sessions 8 and 9):

    python bench/tune_baseline.py --scans runs/scenes/any_object --sequences 01 --scene-stride 5 \
        --min-points 100 --domain outdoor --centre preset --out /tmp/tune_preset

`--centre indoor` sweeps the INDOOR preset's normal penalty on the rooms (`--domain indoor`).
`--set NAME=VALUE` moves the centre and `--grid NAME=V1,V2` replaces the values tried, e.g. the
session-8 steps before the preset took its negative reach: `--set max_edge=0.5 negative_radius=4
--grid normal_penalty=0,1,3,4,6`, then `--set max_edge=0.5 negative_radius=4 --grid max_radius=6,10
negative_radius=3,6 neighbours=6,12 ground_penalty=20,100 max_edge=0.4,0.7`; and session 9's, before
the preset took its longest edge: `--set max_edge=0.5 --grid max_edge=0.6,0.7,0.8,1,1.2,1.5`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from clickenhance_model.config import save_config
from clickenhance_model.evaluation.metrics import summarize
from clickenhance_model.inference.voxel_graph import INDOOR, OUTDOOR, GraphConfig

START = GraphConfig(  # the hand-picked OUTDOOR preset before tuning: the centre of the sweep
    voxel_size=0.1, neighbours=16, max_edge=0.8, ground_cell=2.0, ground_height=0.25, ground_normal_z=0.8,
    ground_penalty=50.0, max_radius=5.0, ground_max_radius=float("inf"), min_component=10, negative_radius=2.0,
    normal_penalty=0.0,  # the setting came later (session 8)
)

GRIDS: dict[str, dict[str, tuple[float, ...]]] = {  # per centre, values tried for each setting besides its own
    "session3": {
        "neighbours": (8, 24),
        "max_edge": (0.5, 1.2),
        "ground_penalty": (10.0, 200.0),
        "max_radius": (3.0, 8.0),
        "negative_radius": (1.0, 4.0),
    },
    "preset": {  # the networks' geodesic maps have their own frozen graph (voxel_graph.MAPS_PRESETS)
        "normal_penalty": (0.0, 1.0, 3.0),
        "negative_radius": (4.0, 6.0, 12.0),
        "max_edge": (0.7, 1.5),
        "shape_penalty": (3.0, 10.0),
    },
    "indoor": {"normal_penalty": (0.0, 1.0, 2.0, 4.0, 6.0)},
}
CENTRES = {"session3": START, "preset": OUTDOOR, "indoor": INDOOR}
SHIPPED = {"session3": ("OUTDOOR", OUTDOOR), "preset": ("OUTDOOR", OUTDOOR), "indoor": ("INDOOR", INDOOR)}  # each tunes
SUMMARY = re.compile(r"NoC@85=(?P<noc>[\d.]+|nan|inf) .*IoU@5=(?P<iou>[\d.]+|nan)")


def graph_overrides(base: GraphConfig, items: Iterable[str]) -> GraphConfig:
    """`base` with NAME=VALUE items applied, each value cast to its field's type (neighbours is an int).

    A malformed item raises ValueError, an unknown setting AttributeError.
    """
    moved = dict(item.split("=", 1) for item in items)
    return dataclasses.replace(base, **{k: setting_value(base, k, v) for k, v in moved.items()})


def setting_value(base: GraphConfig, name: str, value: float | str) -> float | int | bool | str:
    """`value` as the type of `base`'s setting `name`: numbers (and 0/1 for switches) cast, words kept
    (`joined_click=lifted`). A malformed number raises ValueError, an unknown setting AttributeError."""
    current = getattr(base, name)
    if isinstance(current, str):
        return str(value)
    return type(current)(float(value))


def variants(base: GraphConfig, grid: dict[str, tuple[float | str, ...]]) -> dict[str, GraphConfig]:
    """The centre itself ("start") and one variant per value of `grid`, named setting=value."""
    found = {"start": base}
    for name, values in grid.items():
        for value in values:
            value = setting_value(base, name, value)
            if value != getattr(base, name):
                shown = f"{value:g}" if isinstance(value, float) else str(value)
                found[f"{name}={shown}"] = dataclasses.replace(base, **{name: value})
    return found


def rank(result: tuple[float, float]) -> tuple[float, float]:
    """Sort key of a (NoC@85, IoU@5) result: fewer clicks first, then higher IoU."""
    return result[0], -result[1]


def combined(
    base: GraphConfig, configs: dict[str, GraphConfig], results: dict[str, tuple[float, float]],
    grid: dict[str, tuple[float | str, ...]],
) -> GraphConfig | None:
    """The centre with each setting at its best swept value, or None when fewer than two settings improved."""
    best = {}
    for name in grid:
        tried = [k for k in results if k == "start" or k.startswith(f"{name}=")]
        winner = min(tried, key=lambda k: rank(results[k]))
        if winner != "start":
            best[name] = getattr(configs[winner], name)
    return dataclasses.replace(base, **best) if len(best) >= 2 else None


def score(config: GraphConfig, name: str, args: argparse.Namespace) -> tuple[float, float]:
    """NoC@85 and IoU@5 of one setting: the evaluation CLI's summary, or, with --domain, the summary of
    that domain's objects only (the CLI clicks only the scenes the generator's record gives that domain,
    `--scene-domain`)."""
    config_path = args.out / "configs" / f"{name}.yaml"
    config_path.parent.mkdir(parents=True, exist_ok=True)
    save_config(config, config_path)
    run_dir = args.out / "runs" / name
    command = [sys.executable, "-m", "clickenhance_model.evaluate", "--dataset", "semantickitti",
               "--root", str(args.scans), "--method", "baseline", "--baseline-config", str(config_path),
               "--out", str(run_dir), "--max-clicks", str(args.max_clicks), "--scene-stride", str(args.scene_stride),
               "--min-points", str(args.min_points)]  # fmt: skip
    if args.sequences:
        command += ["--sequences", *args.sequences]
    if args.domain is not None:  # the other domain's scenes are not clicked at all
        command += ["--scene-domain", args.domain]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    lines = done.stdout.strip().splitlines()
    match = SUMMARY.search(lines[-1]) if lines else None
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"evaluation of {name} failed (exit {done.returncode}): {done.stderr[-2000:]}")
    if args.domain is None:
        print(f"{name}: {lines[-1]}", file=sys.stderr, flush=True)
        return float(match["noc"]), float(match["iou"])
    kept = json.loads((run_dir / "results.json").read_text())["objects"]  # unrounded, unlike the summary line
    summary = summarize([o["ious"] for o in kept], [o["class_name"] for o in kept], args.max_clicks)
    print(f"{name}: {len(kept)} {args.domain} objects, NoC@85={summary['NoC@85']:.2f} "
          f"IoU@5={100 * summary['IoU@k'][4]:.1f}", file=sys.stderr, flush=True)  # fmt: skip
    return float(summary["NoC@85"]), float(100 * summary["IoU@k"][4])


def main(argv: list[str] | None = None) -> int:
    """Score every variant, print the table and the chosen setting; 0 on success."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", required=True, type=Path, help="generated scans in SemanticKITTI layout")
    parser.add_argument("--out", required=True, type=Path, help="folder for the variants' configs and runs")
    parser.add_argument("--max-clicks", type=int, default=20, help="click budget per object")
    parser.add_argument("--sequences", nargs="+", help="sequences of --scans to score (default: all)")
    parser.add_argument("--scene-stride", type=int, default=1, help="every k-th scan only")
    parser.add_argument("--min-points", type=int, default=100, help="smallest object scored (points)")
    parser.add_argument("--domain", choices=["outdoor", "indoor"],
                        help="click and score only this domain's scenes of a generated mix (its scenes' record)")
    parser.add_argument("--centre", choices=sorted(CENTRES), default="session3",
                        help="sweep around the session-3 start (default), today's OUTDOOR or INDOOR preset")
    parser.add_argument("--set", nargs="+", default=[], metavar="NAME=VALUE", help="move the centre: these settings")
    parser.add_argument("--grid", nargs="+", default=[], metavar="NAME=V1,V2",
                        help="try these values of these settings instead of the centre's own grid")
    args = parser.parse_args(argv)
    if "real_scans" in str(args.scans.resolve()):
        parser.error("--scans must be generated scans: the real scans are the test set")
    centre, grid = CENTRES[args.centre], GRIDS[args.centre]
    try:
        centre = graph_overrides(centre, args.set)
        if args.grid:
            grid = {k: tuple(values.split(",")) for k, values in (g.split("=", 1) for g in args.grid)}
    except (ValueError, TypeError, AttributeError) as error:  # a malformed item or an unknown setting
        parser.error(f"--set / --grid: {error}")
    unknown = set(grid) - {field.name for field in dataclasses.fields(GraphConfig)}
    if unknown:
        parser.error(f"--grid: no such GraphConfig setting: {', '.join(sorted(unknown))}")
    try:
        configs = variants(centre, grid)
    except ValueError as error:  # a word for a number
        parser.error(f"--grid: {error}")
    results = {name: score(config, name, args) for name, config in configs.items()}
    mix = combined(centre, configs, results, grid)
    if mix is not None:
        configs["combined"] = mix
        results["combined"] = score(mix, "combined", args)
    chosen = min(results, key=lambda name: rank(results[name]))
    print(f"{'variant':<24} {'NoC@85':>7} {'IoU@5':>6}")
    for name, (noc, iou) in results.items():
        print(f"{name:<24} {noc:>7.2f} {iou:>6.1f}{'  <- chosen' if name == chosen else ''}")
    print(f"chosen: {chosen} {dataclasses.asdict(configs[chosen])}")
    name, shipped = SHIPPED[args.centre]
    print(f"shipped {name} preset {'matches' if configs[chosen] == shipped else 'DIFFERS FROM'} the chosen setting")
    return 0


if __name__ == "__main__":
    sys.exit(main())
