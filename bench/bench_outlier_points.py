"""Do stray points change the mask? The shipped model on a real scan, with and without outliers.

For each object of the first real SemanticKITTI dev scan (>= 100 points) the same user-like
clicks (`bench_click_latency.click_sequence`) run on the clean scan and on the scan with
outlier points placed before it (a point 100 m above the sensor, one at z = 1e17, one at
x = 1e6: each case alone and all three). Printed per case: the smallest and median IoU between
the mask with and without the outliers (bar: >= 0.98, nothing raised) and the median IoU with
the object's true points.

    python bench/bench_outlier_points.py [--checkpoint model.pt] [--clicks 3]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from bench_click_latency import REAL_SCANS, click_sequence, load_real_scans, pick_objects

from clickenhance_model.segmenter import Segmenter

OUTLIERS = {
    "100 m above the sensor": [[0.0, 0.0, 100.0]],
    "z = 1e17": [[0.0, 0.0, 1e17]],
    "x = 1e6": [[1e6, 0.0, 0.0]],
    "all three": [[0.0, 0.0, 100.0], [0.0, 0.0, 1e17], [1e6, 0.0, 0.0]],
}


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks (1 when both are empty)."""
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def final_masks(seg: Segmenter, xyz: np.ndarray, ids: np.ndarray, objects: np.ndarray, clicks: int,
                outliers: np.ndarray | None) -> list[np.ndarray]:  # fmt: skip
    """The mask after the last click on each object, over the scan's own points (outliers placed first)."""
    shift = 0 if outliers is None else len(outliers)
    cloud = xyz if outliers is None else np.concatenate([outliers.astype(np.float32), xyz])
    masks = []
    for object_id in objects:
        session = seg.session(cloud)
        sequence = click_sequence(xyz, ids, int(object_id), clicks, np.random.default_rng(int(object_id)))
        for index, positive in sequence:
            mask = session.add_click(index + shift, positive=positive)
        masks.append(mask[shift:])
    return masks


def main() -> None:
    """Click every object with and without each outlier case and print the IoUs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scans", type=Path, default=REAL_SCANS, help="folder of SemanticKITTI .bin/.label")
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("--clicks", type=int, default=3, help="clicks per object")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seg = Segmenter.load(args.checkpoint, device="cpu")
    xyz, ids = load_real_scans(args.scans)[0]
    objects = pick_objects(ids, 100, 100)
    clean = final_masks(seg, xyz, ids, objects, args.clicks, None)
    truth = [ids == o for o in objects]
    print(f"{len(xyz)} points, {len(objects)} objects, {args.clicks} clicks each; clean: median IoU with the "
          f"object {np.median([iou(m, t) for m, t in zip(clean, truth, strict=True)]):.3f}")
    for name, points in OUTLIERS.items():
        try:
            masks = final_masks(seg, xyz, ids, objects, args.clicks, np.array(points))
        except Exception as error:  # the figure to report is that it raised
            print(f"{name:>24}: raised {type(error).__name__}: {str(error)[:100]}")
            continue
        same = [iou(a, b) for a, b in zip(masks, clean, strict=True)]
        to_truth = [iou(m, t) for m, t in zip(masks, truth, strict=True)]
        print(f"{name:>24}: IoU with the clean mask min {min(same):.3f}, median {np.median(same):.3f}; "
              f"median IoU with the object {np.median(to_truth):.3f}")


if __name__ == "__main__":
    main()
