"""Session start and per-click latency of the training-free baseline, today's preset against variants.

On the real SemanticKITTI scans in ../shared/real_scans (full scans, about 120k points each) the
simulated user of the evaluation clicks every labelled vehicle and person up to `--clicks` times. Each
preset (today's, then each `--variant`) runs the same clicks in the same process, so the printed
ratios compare like with like:

    python bench/bench_baseline_latency.py                              # today's OUTDOOR preset alone
    python bench/bench_baseline_latency.py --variant max_edge=0.5       # against the session-8 edge

A variant names GraphConfig fields to change, comma-separated (`max_edge=0.5,normal_penalty=0`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from tune_baseline import graph_overrides  # bench/ is this script's folder

from clickenhance_model.baseline import BaselineSegmenter
from clickenhance_model.datasets import build_dataset
from clickenhance_model.evaluation.simulated_user import next_click
from clickenhance_model.inference.voxel_graph import OUTDOOR, GraphConfig

REAL_SCANS = Path(__file__).resolve().parents[2] / "shared" / "real_scans" / "semantickitti"


def time_preset(config: GraphConfig, scenes: list, clicks: int) -> dict[str, float]:
    """Median session start and per-click time (ms) of `config` over every vehicle and person of `scenes`."""
    segmenter = BaselineSegmenter(config)
    starts, per_click = [], []
    for scene in scenes:
        began = time.perf_counter()
        session = segmenter.session(scene.xyz)
        session.add_click(0)  # the graph is built above; the first click also builds the points' search tree
        session.reset()
        starts.append(time.perf_counter() - began)
        for instance in np.unique(scene.instance[(scene.instance > 0) & (scene.semantic < 40)]):  # vehicles, people
            target = scene.instance == instance
            if target.sum() < 100:
                continue
            session.reset()
            mask = np.zeros(len(target), dtype=bool)
            for _ in range(clicks):
                click = next_click(scene.xyz, mask, target)
                if click is None:
                    break
                began = time.perf_counter()
                mask = session.add_click(click.index, click.positive)
                per_click.append(time.perf_counter() - began)
    return {"start": 1000 * float(np.median(starts)), "click": 1000 * float(np.median(per_click)),
            "clicks": len(per_click)}  # fmt: skip


def main() -> None:
    """Print one row per preset and its ratios to today's."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=REAL_SCANS, help="SemanticKITTI-layout scans")
    parser.add_argument("--variant", action="append", default=[], help="GraphConfig changes, e.g. max_edge=0.5")
    parser.add_argument("--clicks", type=int, default=5, help="clicks per object")
    args = parser.parse_args()
    dataset = build_dataset("semantickitti", args.root)
    scenes = [dataset.load_scene(name) for name in dataset.scene_names()]
    print(f"{len(scenes)} scans, {np.mean([len(s.xyz) for s in scenes]):.0f} points on average; one process")
    today = time_preset(OUTDOOR, scenes, args.clicks)
    print(f"OUTDOOR (today): session start {today['start']:.0f} ms, click {today['click']:.1f} ms "
          f"(median of {today['clicks']} clicks)")  # fmt: skip
    for text in args.variant:
        try:
            variant = graph_overrides(OUTDOOR, text.split(","))
        except (ValueError, AttributeError) as error:
            parser.error(f"--variant {text!r}: {error}")
        figures = time_preset(variant, scenes, args.clicks)
        print(f"{text}: session start {figures['start']:.0f} ms, click {figures['click']:.1f} ms; today / variant: "
              f"start {today['start'] / figures['start']:.2f}, click {today['click'] / figures['click']:.2f}")


if __name__ == "__main__":
    main()
