"""Many positive points on one object (a 2D detector's mask projected into 3D): IoU with and without click rules.

For every labelled object of a real SemanticKITTI scan with at least --points points, the
script sends --points randomly chosen points of the object as positive clicks in ONE
request (`add_clicks`) and prints the IoU of the mask, the points it holds outside the
object, and the time the request took beyond the segmenter's inference (the click rules,
plus the session's KD-tree on its first use); once with `click_rules=None` (the segmenter
alone) and once with the default `ClickRules`.

    PYTHONPATH=. python bench/bench_dense_clicks.py                      # shipped model and baseline
    PYTHONPATH=. python bench/bench_dense_clicks.py --scan ../shared/real_scans/semantickitti/seq00_frames/000001.bin
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from clickenhance_model.baseline import BaselineSegmenter
from clickenhance_model.datasets.semantic_kitti import read_labels, read_scan, scene_from_scan
from clickenhance_model.evaluation.metrics import iou
from clickenhance_model.inference.click_rules import ClickRules

SCAN = Path(__file__).resolve().parents[2] / "shared" / "real_scans" / "semantickitti" / "seq00_frames" / "000000.bin"


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scan", type=Path, default=SCAN, help="SemanticKITTI .bin with its .label beside it")
    parser.add_argument("--points", type=int, default=1000, help="positive points sent in one request")
    parser.add_argument("--seed", type=int, default=0, help="seed of the chosen points")
    parser.add_argument("--methods", nargs="+", default=["model", "baseline"], choices=("model", "baseline"))
    parser.add_argument("--checkpoint", type=Path, help="model checkpoint (default: the shipped model)")
    return parser


def segmenters(args: argparse.Namespace) -> dict:
    """The segmenters to measure, by name."""
    found = {}
    for method in args.methods:
        if method == "model":
            from clickenhance_model.segmenter import Segmenter

            found["model"] = Segmenter.load(args.checkpoint, device="cpu")
        else:
            found["baseline"] = BaselineSegmenter.for_domain("outdoor")
    return found


def dense_request(session, truth: np.ndarray, clicks: np.ndarray, rules: ClickRules | None) -> tuple[float, int, float]:
    """IoU, points outside the object and rule time (ms) after one request of positive clicks."""
    session.click_rules = rules
    session.reset()
    start = time.perf_counter()
    mask = session.add_clicks([(int(i), True) for i in clicks])
    total_ms = (time.perf_counter() - start) * 1e3
    return iou(mask, truth), int(np.count_nonzero(mask & ~truth)), total_ms - session.last_inference_ms


def main() -> None:
    """Print one row per object, method and rule setting."""
    args = build_parser().parse_args()
    points = read_scan(args.scan)
    scene = scene_from_scan(args.scan.stem, points, read_labels(args.scan.with_suffix(".label"), len(points)))
    ids, counts = np.unique(scene.instance[scene.instance > 0], return_counts=True)
    rng = np.random.default_rng(args.seed)
    print(f"{args.scan}: {args.points} positive points in one request, objects of at least that many points")
    print("method    object        points  rules  IoU    outside  rules_ms")
    for name, segmenter in segmenters(args).items():
        session = segmenter.session(scene.xyz)
        for instance_id in ids[counts >= args.points]:
            truth = scene.instance == instance_id
            clicks = rng.choice(np.flatnonzero(truth), args.points, replace=False)
            for label, rules in (("off", None), ("on", ClickRules())):
                value, outside, rule_ms = dense_request(session, truth, clicks, rules)
                print(f"{name:9s} {instance_id:>12d}  {truth.sum():6d}  {label:5s}  {value:.3f}  {outside:7d}  "
                      f"{rule_ms:8.1f}")


if __name__ == "__main__":
    main()
