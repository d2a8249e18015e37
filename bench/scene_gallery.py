"""Look at and measure the generated training data of a training config: pictures, speed, target classes.

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python bench/scene_gallery.py --config any_object --per-part 3 \
        --out runs/gallery

For every part of the config's mix (domain, sensor) it generates `--per-part` scans of the training
seed in this one process (one core), writes a bird's-eye and a side view of the first, coloured by class,
and prints the seconds per scan, the points per scan and the targets: objects (instances) with at least
`data.min_points` points, counted by class, as the trainer's object index counts them.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import numpy as np

from clickenhance_model.scenes import classes
from clickenhance_model.scenes.generate import generate_scan
from clickenhance_model.scenes.lidar import LidarScan
from clickenhance_model.scenes.render import render_bird_eye
from clickenhance_model.training.config import SyntheticPart, load_train_config
from clickenhance_model.training.synthetic import generator_config, part_generator


def targets(scan: LidarScan, min_points: int) -> list[int]:
    """Semantic id of every object of the scan with at least `min_points` points."""
    keys = scan.semantic.astype(np.int64) | (scan.instance.astype(np.int64) << 16)
    ids, counts = np.unique(keys[scan.instance > 0], return_counts=True)
    return [int(k & 0xFFFF) for k, n in zip(ids, counts, strict=True) if n >= min_points]


def draw(scan: LidarScan, part: SyntheticPart, path: Path) -> None:
    """Bird's-eye and side views of one scan coloured by class, and a bird's-eye view of its targets."""
    label_set = "semantickitti" if part.domain == "outdoor" else "nyu40"
    xyz = scan.xyz
    if part.domain == "outdoor":
        top, side = dict(extent=30.0), dict(extent=15.0, center=(0.0, 3.0))
        band = np.abs(xyz[:, 1]) < 10.0  # side view of the street within 10 m of the sensor's lane
    else:
        middle = tuple(float(c) for c in (xyz[:, :2].min(0) + xyz[:, :2].max(0)) / 2)
        top = dict(extent=5.0, center=middle, point_size=1.0)
        side = dict(extent=5.0, center=(middle[0], 1.5), point_size=1.0)
        band = xyz[:, 1] > middle[1]  # side view of the far half of the room, looking at its back wall
    title = f"{part.domain} {part.sensor}: {len(xyz)} points"
    common = dict(label_set=label_set, dpi=110)
    low = xyz[:, 2] < 2.0 if part.domain == "indoor" else np.ones(len(xyz), dtype=bool)  # no ceiling from above
    render_bird_eye(xyz[low], scan.semantic[low], f"{path}_top.png", title=title, **common, **top)
    render_bird_eye(xyz[band], scan.semantic[band], f"{path}_side.png", title=title, view="side", **common, **side)
    key = scan.semantic.astype(np.int64) * 7919 + scan.instance.astype(np.int64) * 104729
    rgb = np.where((scan.instance > 0)[:, None], key[:, None] // np.array([1, 7, 49]) % 200 + 55, 70).astype(np.uint8)
    render_bird_eye(xyz[low], scan.semantic[low], f"{path}_targets.png", title=title + ", targets in colour",
                    rgb=rgb[low], **common, **top)  # fmt: skip


def main() -> None:
    """Generate, draw and count per part; print a table and the class histogram of the targets."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="any_object", help="training config with data.synthetic.mix")
    parser.add_argument("--per-part", type=int, default=3, help="scans generated per part")
    parser.add_argument("--out", type=Path, default=Path("runs/gallery"), help="folder for the PNGs")
    args = parser.parse_args()
    data = load_train_config(args.config).data
    synthetic = data.synthetic
    parts = synthetic.mix or (SyntheticPart(domain=synthetic.domain),)
    base = generator_config(synthetic)
    histogram: dict[str, Counter] = {"outdoor": Counter(), "indoor": Counter()}
    total_time, total_scans = 0.0, 0
    print(f"{'part':22s} {'s/scan':>7s} {'points':>8s} {'targets':>8s}")
    for k, part in enumerate(parts):
        settings = part_generator(base, part)
        took, points, found = 0.0, 0, 0
        for frame in range(args.per_part):
            began = time.perf_counter()
            scan = generate_scan(part.domain, synthetic.seed, 100_000 * k + frame, settings)
            took += time.perf_counter() - began
            points += len(scan)
            ids = targets(scan, data.min_points)
            found += len(ids)
            histogram[part.domain].update(ids)
            if frame == 0:
                draw(scan, part, args.out / f"{k}_{part.domain}_{part.sensor or 'default'}")
        total_time, total_scans = total_time + took, total_scans + args.per_part
        print(f"{part.domain + ' ' + part.sensor:22s} {took / args.per_part:7.2f} {points / args.per_part:8.0f} "
              f"{found / args.per_part:8.1f}")  # fmt: skip
    print(f"all parts: {total_scans / total_time:.3f} scans/s on one core (generation only)")
    for domain, names in (("outdoor", classes.SEMANTIC_KITTI_NAMES), ("indoor", classes.NYU40_NAMES)):
        count = sum(histogram[domain].values())
        if count:
            shares = ", ".join(
                f"{names.get(c, c)} {n} ({100 * n / count:.0f}%)" for c, n in histogram[domain].most_common()
            )
            print(f"{domain} targets ({count}): {shares}")


if __name__ == "__main__":
    main()
