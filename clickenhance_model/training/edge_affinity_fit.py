"""Fit the learned edge affinity of a prior-fusion model's outdoor prior and attach it to a checkpoint.

    clickenhance-fit-edge-affinity --config any_object_rgbd_colour --checkpoint C.pt --out C_affinity.pt \\
        --rows runs/affinity/rows_a.npz runs/affinity/rows_b.npz --first-frames 0 2 --frames 100 --weight 20

Each rows file holds the off-ground edges of `--frames` generated training streets of the config's mix (every
`len(streets) // frames`-th, from its first frame), labelled 1 where the edge's two voxels belong to different
objects; half of the 64- and 128-ring scans, drawn per frame, are cut to every 4th ring first, as the 16-ring
dev set is. A missing rows file is collected (minutes per file); existing ones are read. The MLP is then fitted
on them with plain (calibrated) binary cross-entropy, one thread, seeded, so the same rows give the same weights,
and written into `--checkpoint`'s extra as `edge_affinity` with the cost weight (`inference.edge_affinity`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from clickenhance_model.checkpoint import load_checkpoint, save_checkpoint
from clickenhance_model.errors import CheckpointError
from clickenhance_model.inference.edge_affinity import (
    EdgeAffinity,
    EdgeAffinityNet,
    graph_edge_features,
    off_ground_edges,
)
from clickenhance_model.inference.voxel_graph import OUTDOOR, VoxelGraph
from clickenhance_model.inference.voxel_grid import voxelize
from clickenhance_model.unet import ClickEnhanceNet

RING_CUT = 4  # the cut the rows emulate on dense sensors (the 16-ring dev set is a 64-ring scan's every 4th ring)
CUT_SHARE = 0.5  # the share of frames cut, drawn per frame
HELD_OUT = 10  # one in this many rows is held out to report the fit


def node_labels(point_to_node: np.ndarray, label: np.ndarray, nodes: int) -> np.ndarray:
    """Each node's label (int64 (V,)): the commonest among its points, the smallest on a tie."""
    pairs, counts = np.unique(np.stack([point_to_node, label], axis=1), axis=0, return_counts=True)
    order = np.lexsort((pairs[:, 1], -counts, pairs[:, 0]))  # per node: most points first, then smallest label
    pairs = pairs[order]
    first = np.ones(len(pairs), dtype=bool)
    first[1:] = pairs[1:, 0] != pairs[:-1, 0]
    best = np.zeros(nodes, dtype=np.int64)
    best[pairs[first, 0]] = pairs[first, 1]
    return best


def scan_edge_rows(xyz: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The off-ground edges of one labelled scan's outdoor graph: features float32 (E, 12) and targets float32 (E,)
    (1: its two voxels' commonest labels, semantic and instance, differ)."""
    grid = voxelize(xyz, None, OUTDOOR.voxel_size)
    graph = VoxelGraph(grid.centroids, OUTDOOR)
    best = node_labels(grid.point_to_voxel, label, len(graph))
    edges = graph.edges[off_ground_edges(graph)]
    target = (best[edges[:, 0]] != best[edges[:, 1]]).astype(np.float32)
    return graph_edge_features(graph, grid.centroids), target


def collect_rows(config_name: str, first: int, count: int, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Rows of `count` generated training streets of a config's mix, from frame `first` on (see the module)."""
    from clickenhance_model.datasets.laser_rings import sensor_ring_cut
    from clickenhance_model.scenes.generate import generate_scan
    from clickenhance_model.training.config import load_train_config
    from clickenhance_model.training.synthetic import frame_plan

    synthetic = load_train_config(config_name).data.synthetic
    plan = frame_plan(synthetic, synthetic.train_scans)
    streets = [frame for frame, (domain, _) in enumerate(plan) if domain == "outdoor"]
    if not streets:
        raise ValueError(f"{config_name}: its mix has no streets to fit an edge affinity on")
    frames = streets[first :: max(1, len(streets) // count)][:count]
    draw = np.random.default_rng(first)
    features, targets = [], []
    for frame in tqdm(frames, desc="edge rows", unit="scan", disable=not progress):
        scan = generate_scan("outdoor", synthetic.seed, frame, plan[frame][1])
        xyz = scan.xyz.astype(np.float64)
        label = scan.semantic.astype(np.int64) | (scan.instance.astype(np.int64) << 16)
        if draw.random() < CUT_SHARE and (cut := sensor_ring_cut(xyz, RING_CUT)) is not None:
            xyz, label = xyz[cut], label[cut]
        x, y = scan_edge_rows(xyz, label)
        features.append(x)
        targets.append(y)
    return np.concatenate(features), np.concatenate(targets)


def fit_affinity(features: np.ndarray, targets: np.ndarray, epochs: int = 6, batch: int = 8192, lr: float = 3e-3,
                 seed: int = 0, progress: bool = True) -> tuple[EdgeAffinityNet, dict[str, float]]:  # fmt: skip
    """The MLP fitted on rows (plain BCE, Adam, the rows in one seeded order) and its held-out report: mean p on
    edges that join two objects and on edges within one, from one row in `HELD_OUT` kept out of the fit."""
    if len(targets) < HELD_OUT or not 0 < float(targets.mean()) < 1:
        raise ValueError("edge rows must hold edges of both kinds, at least ten")
    x, y = torch.as_tensor(features), torch.as_tensor(targets)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    held, train = order[: len(x) // HELD_OUT], order[len(x) // HELD_OUT :]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same rows give the same weights on any machine's CPU
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = EdgeAffinityNet()
        loss = torch.nn.BCEWithLogitsLoss()
        optimiser = torch.optim.Adam(net.parameters(), lr=lr)
        for _ in tqdm(range(epochs), desc="fit", unit="epoch", disable=not progress):
            for start in range(0, len(train), batch):
                rows = train[start : start + batch]
                optimiser.zero_grad()
                loss(net(x[rows]), y[rows]).backward()
                optimiser.step()
        with torch.no_grad():
            p = torch.sigmoid(net(x[held]))
    finally:
        torch.set_num_threads(threads)
    apart = y[held] > 0.5
    report = {"held_out_edges": int(len(held)), "apart_share": float(apart.float().mean()),
              "mean_p_apart": float(p[apart].mean()), "mean_p_together": float(p[~apart].mean())}  # fmt: skip
    return net.eval(), report


def build_parser() -> argparse.ArgumentParser:
    """Options of the fit."""
    parser = argparse.ArgumentParser(prog="clickenhance-fit-edge-affinity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="any_object_rgbd_colour",
                        help="training config whose generated streets the rows come from")  # fmt: skip
    parser.add_argument("--checkpoint", type=Path, help="the prior-fusion model to attach it to")
    parser.add_argument("--out", type=Path, help="checkpoint to write (the model with its affinity)")
    parser.add_argument("--rows", type=Path, nargs="+", required=True,
                        help="rows files (.npz), read where they exist and collected where not")  # fmt: skip
    parser.add_argument("--first-frames", type=int, nargs="+", default=None,
                        help="each rows file's first street (default 0, 1, 2, ...)")  # fmt: skip
    parser.add_argument("--frames", type=int, default=100, help="streets per rows file")
    parser.add_argument("--weight", type=float, default=20.0,
                        help="an off-ground edge costs 1 + weight * p times its length (p: the affinity)")  # fmt: skip
    parser.add_argument("--rows-only", action="store_true",
                        help="collect the missing rows files and stop (one process per file collects them at once)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Collect the missing rows, fit, attach; 0 on success, 2 with a one-line error otherwise."""
    args = build_parser().parse_args(argv)
    firsts = args.first_frames if args.first_frames is not None else list(range(len(args.rows)))
    try:
        if len(firsts) != len(args.rows):
            raise ValueError("--first-frames needs one frame per --rows file")
        if args.frames < 1 or not np.isfinite(args.weight) or args.weight < 0:
            raise ValueError("--frames must be >= 1 and --weight a finite number >= 0")
        if not args.rows_only and (args.checkpoint is None or args.out is None):
            raise ValueError("--checkpoint and --out are needed, except with --rows-only")
        for path, first in zip(args.rows, firsts, strict=True):
            if not path.is_file():
                x, y = collect_rows(args.config, first, args.frames, progress=not args.no_progress)
                path.parent.mkdir(parents=True, exist_ok=True)
                np.savez_compressed(path, x=x, y=y)
        if args.rows_only:
            return 0
        state_dict, config, extra = load_checkpoint(args.checkpoint)
        features, targets = [], []
        for path in args.rows:
            with np.load(path) as rows:
                features.append(rows["x"])
                targets.append(rows["y"])
        net, report = fit_affinity(np.concatenate(features), np.concatenate(targets), progress=not args.no_progress)
    except (OSError, ValueError, KeyError, CheckpointError) as error:
        print(f"clickenhance-fit-edge-affinity: {error}", file=sys.stderr)
        return 2
    model = ClickEnhanceNet(config)
    model.load_state_dict(state_dict)
    extra = dict(extra)
    extra["edge_affinity"] = EdgeAffinity(net, args.weight).to_extra()
    extra["edge_affinity_fit"] = {"config": args.config, "rows": [str(path) for path in args.rows],
                                  "first_frames": list(firsts), "frames": args.frames, **report}  # fmt: skip
    save_checkpoint(args.out, model, config, extra)
    print(f"held out: mean p {report['mean_p_apart']:.3f} on edges between objects, "
          f"{report['mean_p_together']:.4f} within one; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
