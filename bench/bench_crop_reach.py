"""How much a network's first-click mask depends on how far its crop reaches, not on the object.

The paper's dense click maps are min-max normalised over the crop, so the same metres read
differently in a cloud whose crop reaches 4 m (a cut-out indoor region) than in one whose crop
reaches 20 m (a sparse LiDAR scan). This script clicks once on each object of a cloud (the
object's point nearest its centroid) and reports the IoU, then repeats the clicks with a small
box of points added `--far` metres from each click. The box changes nothing near the object; it
only stretches the normalisation (when the crop takes it in). A network whose IoU moves with the
box reads the crop's reach instead of the object. `input.dense_map_scale: radius` (distance /
crop radius) is the remedy this measures. The network answers every click here: a fusion
model's `ground_prior` is off (it would hand a clicked floor to the prior); its other inference
options are the weights' own.

    python bench/bench_crop_reach.py --root ../shared/real_scans/scannet --domain indoor \\
        --checkpoint runs/any_object_ground/best.pt
    python bench/bench_crop_reach.py --root ../shared/real_scans/scannet --domain indoor \\
        --checkpoint runs/any_object_metric/best.pt --far 6 10

Reads npy-triplet folders (`clickenhance_model.datasets.npy_triplets`: xyz, rgb, instance).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from clickenhance_model.datasets import build_dataset
from clickenhance_model.segmenter import Segmenter

BOX_POINTS = 500
BOX_HALF_EDGE = 0.3  # metres


def centre_point(xyz: np.ndarray, on_object: np.ndarray) -> int:
    """Index of the object's point nearest its centroid: where a user clicks first."""
    members = np.flatnonzero(on_object)
    return int(members[np.argmin(np.linalg.norm(xyz[members] - xyz[members].mean(axis=0), axis=1))])


def with_far_box(xyz: np.ndarray, rgb: np.ndarray | None, click: int, far: float,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:  # fmt: skip
    """The cloud plus a grey box of points centred `far` metres from the click along +x, 0.5 m up."""
    box = rng.uniform(-BOX_HALF_EDGE, BOX_HALF_EDGE, (BOX_POINTS, 3)) + xyz[click] + [far, 0.0, 0.5]
    cloud = np.concatenate([xyz, box.astype(xyz.dtype)])
    colours = None if rgb is None else np.concatenate([rgb, np.full((BOX_POINTS, 3), 0.5, dtype=rgb.dtype)])
    return cloud, colours


def first_click_iou(segmenter: Segmenter, xyz: np.ndarray, rgb: np.ndarray | None, click: int,
                    on_object: np.ndarray) -> float:  # fmt: skip
    """IoU of the mask after one positive click, over the object's cloud (added points left out)."""
    mask = segmenter.session(xyz, rgb).add_click(click, positive=True)[: len(on_object)]
    return float((mask & on_object).sum() / max((mask | on_object).sum(), 1))


def main() -> None:
    """Print one row per object: points, IoU as is and with each far box, and the mean row."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="folder of npy triplets")
    parser.add_argument("--checkpoint", type=Path, default=None, help="model (default: the shipped one)")
    parser.add_argument("--domain", choices=["outdoor", "indoor"], default="indoor")
    parser.add_argument("--far", type=float, nargs="+", default=[6.0, 10.0], help="box distances, metres")
    parser.add_argument("--min-points", type=int, default=100, help="skip smaller objects")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    segmenter = Segmenter.load(args.checkpoint, device="cpu", domain=args.domain, ground_prior=False)  # the network
    print(f"model: {args.checkpoint or 'shipped default'}; dense maps: {segmenter.config.input.dense_map_scale}")
    dataset = build_dataset("npy", args.root)
    rng = np.random.default_rng(0)
    header = ["scene", "object", "points", "IoU@1"] + [f"box {far:g} m" for far in args.far]
    print(" | ".join(header))
    rows = []
    for name in dataset.scene_names():
        scene = dataset.load_scene(name)
        for instance in np.unique(scene.instance[scene.instance > 0]):
            on_object = scene.instance == instance
            if on_object.sum() < args.min_points:
                continue
            click = centre_point(scene.xyz, on_object)
            ious = [first_click_iou(segmenter, scene.xyz, scene.rgb, click, on_object)]
            for far in args.far:
                xyz, rgb = with_far_box(scene.xyz, scene.rgb, click, far, rng)
                ious.append(first_click_iou(segmenter, xyz, rgb, click, on_object))
            rows.append(ious)
            print(" | ".join([name, str(instance), str(int(on_object.sum()))] + [f"{100 * v:.1f}" for v in ious]))
    if rows:
        mean = np.mean(rows, axis=0)
        spread = np.max(np.abs(np.asarray(rows)[:, 1:] - np.asarray(rows)[:, :1]), axis=1)
        print(" | ".join(["mean", "", ""] + [f"{100 * v:.1f}" for v in mean]))
        print(f"largest IoU change from a far box, per object (points): {', '.join(f'{100 * v:.1f}' for v in spread)}")


if __name__ == "__main__":
    main()
