"""Median per-click latency of `ModelSession.add_click` on LiDAR clouds of growing size.

Clouds come from the real SemanticKITTI scans in ../shared/real_scans when present
(10k/30k/120k: random subsets of one scan; 500k: the three scans stacked plus jittered
copies), else from a synthetic spinning-LiDAR scan. On each cloud the script clicks the
objects like a user would (a positive click near the object's centre, then alternating
negative clicks beside it and positive clicks on it) and times every `add_click`, and
separately the session's start (voxels and the scan's voxel graph, once per cloud). It
prints the median positive and negative click and their ratio in the same run.

    python bench/bench_click_latency.py                       # the shipped default model
    python bench/bench_click_latency.py --checkpoint model.pt --sizes 120000 500000

Latency does not depend on the weights (same operations), so without shipped weights an
untrained network of the default config measures the same speed. When the model's input
has geodesic click maps, the same clicks are also timed without them (same network
otherwise, untrained) and the ratio of the two medians is printed; so are the same clicks with
`--compare-views` test-time views per crop (default 4), against the weights' own number of views, and,
for weights with a point refiner, the same clicks with the refiner off.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from clickenhance_model.model_config import ModelConfig
from clickenhance_model.segmenter import DEFAULT_CHECKPOINT, Segmenter

REAL_SCANS = Path(__file__).resolve().parents[2] / "shared" / "real_scans" / "semantickitti" / "seq00_frames"


def load_real_scans(folder: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(xyz (N, 3), object id (N,)) per .bin/.label pair; id = semantic << 16 | instance, 0 for stuff."""
    scans = []
    for bin_path in sorted(folder.glob("*.bin")):
        xyz = np.fromfile(bin_path, dtype=np.float32).reshape(-1, 4)[:, :3]
        label = np.fromfile(bin_path.with_suffix(".label"), dtype=np.uint32).astype(np.int64)
        instance, semantic = label >> 16, label & 0xFFFF
        scans.append((xyz, np.where(instance > 0, (semantic << 16) | instance, 0)))
    return scans


def synthetic_scan(rng: np.random.Generator, objects: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """A flat-ground spinning-LiDAR-like scan (64 beams x 2048 azimuths) with box objects."""
    elevation = np.radians(np.linspace(-24.9, 2.0, 64))[:, None]  # [64, 1]
    azimuth = np.linspace(-np.pi, np.pi, 2048, endpoint=False)[None, :]  # [1, 2048]
    rng_ground = 1.73 / np.tan(-np.minimum(elevation, -1e-3))  # ground range per beam
    keep = (rng_ground < 80).repeat(2048, axis=1)
    r = np.broadcast_to(rng_ground, keep.shape)[keep]
    az = np.broadcast_to(azimuth, keep.shape)[keep]
    ground = np.stack([r * np.cos(az), r * np.sin(az), np.full_like(r, -1.73)], axis=1)
    clouds, ids = [ground], [np.zeros(len(ground), dtype=np.int64)]
    for k in range(objects):
        centre = rng.uniform(-30, 30, size=2)
        distance = max(np.linalg.norm(centre), 3.0)
        n = int(60000 / distance)  # density falls with range
        box = rng.uniform([-2, -1, 0], [2, 1, 1.5], size=(n, 3)) + [*centre, -1.73]
        clouds.append(box)
        ids.append(np.full(n, k + 1, dtype=np.int64))
    return np.concatenate(clouds).astype(np.float32), np.concatenate(ids)


def make_cloud(
    scans: list[tuple[np.ndarray, np.ndarray]], size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A cloud of exactly `size` points: a subset of the first scan, or all scans plus jittered copies (2 cm)."""
    xyz, ids = scans[0]
    if size > len(xyz):
        parts = list(scans)
        while sum(len(p[0]) for p in parts) < size:
            base_xyz, base_ids = scans[len(parts) % len(scans)]
            parts.append((base_xyz + rng.normal(0, 0.02, base_xyz.shape).astype(np.float32), base_ids))
        xyz, ids = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    pick = rng.choice(len(xyz), size=size, replace=False)
    return xyz[pick], ids[pick]


def click_sequence(
    xyz: np.ndarray, ids: np.ndarray, object_id: int, clicks: int, rng: np.random.Generator
) -> list[tuple[int, bool]]:
    """User-like clicks on one object: positive near its centre, then negative beside it / positive on it."""
    inside = np.flatnonzero(ids == object_id)
    centre = xyz[inside].mean(axis=0)
    sequence = [(int(inside[np.argmin(((xyz[inside] - centre) ** 2).sum(axis=1))]), True)]
    near = np.flatnonzero((((xyz[:, :2] - centre[:2]) ** 2).sum(axis=1) < 9.0) & (ids != object_id))
    for k in range(1, clicks):
        if k % 2 and len(near):
            sequence.append((int(rng.choice(near)), False))
        else:
            sequence.append((int(rng.choice(inside)), True))
    return sequence


def pick_objects(ids: np.ndarray, min_points: int, limit: int) -> np.ndarray:
    """Ids of up to `limit` objects with at least `min_points` points (in id order)."""
    objects, counts = np.unique(ids[ids > 0], return_counts=True)
    return objects[counts >= min_points][:limit]


@dataclasses.dataclass
class CloudTimes:
    """Wall times (ms) on one cloud: each click with its polarity and crop size, and each session start."""

    clicks: list[float] = dataclasses.field(default_factory=list)
    positive: list[bool] = dataclasses.field(default_factory=list)
    voxels: list[int] = dataclasses.field(default_factory=list)
    sessions: list[float] = dataclasses.field(default_factory=list)

    def median(self, positive: bool | None = None) -> float:
        """Median click time, of all clicks or of one polarity."""
        times = np.asarray(self.clicks)
        return float(np.median(times if positive is None else times[np.asarray(self.positive) == positive]))


def time_cloud(
    seg: Segmenter,
    xyz: np.ndarray,
    ids: np.ndarray,
    objects: np.ndarray,
    args: argparse.Namespace,
    rng: np.random.Generator,
) -> CloudTimes:
    """Per-click add_click wall times (ms), polarities and crop sizes over the given objects of one cloud."""
    objects = [o for o in objects if (ids == o).sum() >= 5]  # a 10k subset keeps few points of far objects
    seg.session(xyz).add_click(int(np.flatnonzero(ids == objects[0])[0]))  # warm-up, not timed
    result = CloudTimes()
    for object_id in objects:
        start = time.perf_counter()
        session = seg.session(xyz)
        result.sessions.append((time.perf_counter() - start) * 1e3)
        for index, positive in click_sequence(xyz, ids, int(object_id), args.clicks, rng):
            start = time.perf_counter()
            session.add_click(index, positive=positive)
            result.clicks.append((time.perf_counter() - start) * 1e3)
            result.positive.append(positive)
            result.voxels.append(session.last_crop_voxels)
    return result


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 120_000, 500_000])
    parser.add_argument("--scans", type=Path, default=REAL_SCANS, help="folder of SemanticKITTI .bin/.label")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="default: the shipped model, else an untrained network of the default config")
    parser.add_argument("--config", type=Path, default=None, help="model config YAML (without --checkpoint)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: cores)")
    parser.add_argument("--objects", type=int, default=8, help="objects clicked per cloud")
    parser.add_argument("--clicks", type=int, default=5, help="clicks per object")
    parser.add_argument(
        "--min-points", type=int, default=100, help="smallest object clicked (points in the first scan)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare-paper-input", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the same clicks without geodesic maps (untrained network)")
    parser.add_argument("--compare-views", type=int, nargs="*", default=[4], metavar="V",
                        help="also time the same clicks with V test-time views per crop (SegmenterConfig.views)")
    return parser.parse_args()


def main() -> None:
    """Build the clouds, time the clicks, print one line per size and the 500k/120k ratio."""
    args = parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    if args.checkpoint is None and args.config is None and DEFAULT_CHECKPOINT.is_file():
        args.checkpoint = DEFAULT_CHECKPOINT
    if args.checkpoint is not None:
        seg = Segmenter.load(args.checkpoint, device=args.device)
    else:
        config = ModelConfig.from_yaml(args.config) if args.config else ModelConfig()
        seg = Segmenter.from_config(config, device=args.device)
    real = args.scans.is_dir()
    scans = load_real_scans(args.scans) if real else [synthetic_scan(rng)]
    print(
        f"data: {'real scans ' + str(args.scans) if real else 'synthetic scan'}; device {seg.device}, "
        f"torch threads {torch.get_num_threads()}; weights: {args.checkpoint or 'untrained default config'}"
    )
    objects = pick_objects(scans[0][1], args.min_points, args.objects)
    medians = {}
    for size in tqdm(args.sizes, desc="cloud sizes"):
        xyz, ids = make_cloud(scans, size, rng)
        times = time_cloud(seg, xyz, ids, objects, args, rng)
        medians[size] = times.median()
        positive, negative = times.median(True), times.median(False)
        tqdm.write(
            f"{size:>8d} points: median {medians[size]:6.1f} ms/click, p90 {np.percentile(times.clicks, 90):6.1f} ms, "
            f"{len(times.clicks)} clicks, median crop {int(np.median(times.voxels))} voxels; positive "
            f"{positive:.1f} ms, negative {negative:.1f} ms, ratio {positive / negative:.2f}; "
            f"session start {np.median(times.sessions):.0f} ms"
        )
    if 120_000 in medians and 500_000 in medians:
        print(f"ratio latency(500k)/latency(120k) = {medians[500_000] / medians[120_000]:.2f}")
    if seg.config.input.feeds_geodesic_maps and args.compare_paper_input:
        size = 120_000 if 120_000 in medians else args.sizes[0]
        fusion = seg.config.network.prior_fusion  # its graph stays: it gives the prior
        paper_input = dataclasses.replace(seg.config.input, **({"geodesic_channels": False} if fusion
                                                                else {"geodesic_maps": "off"}))  # fmt: skip
        plain = Segmenter.from_config(dataclasses.replace(seg.config, input=paper_input), device=args.device)
        xyz, ids = make_cloud(scans, size, np.random.default_rng(args.seed))
        with_maps = time_cloud(seg, xyz, ids, objects, args, np.random.default_rng(args.seed)).median()
        without = time_cloud(plain, xyz, ids, objects, args, np.random.default_rng(args.seed)).median()
        print(f"{size} points, same clicks: median {with_maps:.1f} ms/click with geodesic maps, {without:.1f} ms "
              f"without; ratio {with_maps / without:.2f}")
    size = 120_000 if 120_000 in medians else args.sizes[0]
    refiner = seg.config.network.point_refiner
    if args.compare_views or refiner:  # the weights as loaded, on the cloud of the comparisons below
        xyz, ids = make_cloud(scans, size, np.random.default_rng(args.seed))
        own = time_cloud(seg, xyz, ids, objects, args, np.random.default_rng(args.seed)).median()
    for views in args.compare_views:
        turned = time_cloud(seg.with_options(views=views), xyz, ids, objects, args,
                            np.random.default_rng(args.seed)).median()  # fmt: skip
        print(f"{size} points, same clicks: median {turned:.1f} ms/click with {views} views per crop, {own:.1f} ms "
              f"with the weights' own {seg.options.views}; ratio {turned / own:.2f}")
    if refiner:  # the same network with its point refiner off
        network = dataclasses.replace(seg.config.network, point_refiner=False)
        unrefined = Segmenter(seg.model, dataclasses.replace(seg.config, network=network), seg.device, seg.options)
        plain = time_cloud(unrefined, xyz, ids, objects, args, np.random.default_rng(args.seed)).median()
        print(f"{size} points, same clicks: median {own:.1f} ms/click with the point refiner, {plain:.1f} ms "
              f"without; ratio {own / plain:.2f}")

if __name__ == "__main__":
    main()
