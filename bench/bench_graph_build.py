"""Build time of a scan's voxel graph, and the share its surface normals take, closed form against LAPACK.

Every cloud the node segments, every training sample and every evaluated scan builds one
`VoxelGraph` (the baseline's region and the network's geodesic maps). Its surface normals need
the smallest principal axis of each node's neighbourhood; `voxel_graph.smallest_axes` solves those
3x3 problems in closed form. This bench times, in one process on the same matrices, that solver
against `np.linalg.eigh` (what it replaced), and the whole graph build, on the real SemanticKITTI
scans and the indoor region under ../shared/real_scans (or `--scans`/`--indoor`):

    python bench/bench_graph_build.py
    python bench/bench_graph_build.py --repeat 9

It prints, per cloud, both solvers' medians and their ratio, the graph build's median and the share
of it the closed form saves, and how far the two solvers' normals differ (1 - |cos|). On the outdoor
clouds it also times what a model with a learned edge affinity adds to its prior's build
(`EdgeAffinity.reweigh`: the edge features and the MLP over every off-ground edge), as a share of the build.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from clickenhance_model.datasets.npy_triplets import NpyTripletDataset
from clickenhance_model.datasets.semantic_kitti import SemanticKittiDataset
from clickenhance_model.inference.edge_affinity import EdgeAffinity, EdgeAffinityNet
from clickenhance_model.inference.voxel_graph import (
    INDOOR,
    OUTDOOR,
    GraphConfig,
    VoxelGraph,
    knn_edges,
    neighbourhood_covariances,
    smallest_axes,
)
from clickenhance_model.inference.voxel_grid import voxelize

REAL_SCANS = Path(__file__).resolve().parents[2] / "shared" / "real_scans"


def median_seconds(work: Callable[[], object], repeat: int) -> float:
    """Median wall time of `repeat` runs of `work`."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return float(np.median(times))


def bench_cloud(name: str, xyz: np.ndarray, config: GraphConfig, repeat: int) -> None:
    """Time both solvers and the graph build on one cloud; print one line."""
    nodes = voxelize(xyz, np.zeros_like(xyz), config.voxel_size).centroids
    graph = VoxelGraph(nodes, config)  # its search tree gives the same edges the build makes
    edges, _ = knn_edges(graph.tree, config.neighbours, config.max_edge)
    covariance, counts = neighbourhood_covariances(nodes, edges)
    closed = median_seconds(lambda: smallest_axes(covariance), repeat)
    lapack = median_seconds(lambda: np.linalg.eigh(covariance), repeat)
    build = median_seconds(lambda: VoxelGraph(nodes, config), repeat)
    reliable = counts >= 3
    deviation = 1.0 - np.abs((smallest_axes(covariance)[1] * np.linalg.eigh(covariance)[1][:, :, 0]).sum(axis=1))
    line = (f"{name}: {len(nodes)} nodes | normals' solver: eigh {lapack * 1e3:.1f} ms, closed form "
            f"{closed * 1e3:.1f} ms (ratio {lapack / closed:.1f}) | graph build {build * 1e3:.0f} ms, of which the "
            f"closed form saves {(lapack - closed) / (build + lapack - closed):.0%} | normals differ by "
            f"1-|cos| <= {deviation[reliable].max():.1e}")  # fmt: skip
    if config == OUTDOOR:  # the prices a model's learned affinity adds (timing only: the MLP's weights are untrained)
        affinity = EdgeAffinity(EdgeAffinityNet().eval(), 20.0)
        pricing = median_seconds(lambda: affinity.reweigh(graph, nodes), repeat)
        line += f" | learned edge prices {pricing * 1e3:.0f} ms ({pricing / build:.2f} x the build)"
    print(line)


def main() -> None:
    """Parse options and bench every cloud found."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scans", type=Path, default=REAL_SCANS / "semantickitti", help="SemanticKITTI-layout scans")
    parser.add_argument("--indoor", type=Path, default=REAL_SCANS / "scannet", help="xyz/rgb/instance npy triplets")
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (the median is printed)")
    args = parser.parse_args()
    found = False
    if args.scans.is_dir():
        dataset = SemanticKittiDataset(args.scans)
        for scene in dataset.scene_names():
            bench_cloud(f"{scene} (outdoor preset)", dataset.load_scene(scene).xyz, OUTDOOR, args.repeat)
            found = True
    if args.indoor.is_dir():
        dataset = NpyTripletDataset(args.indoor)
        for scene in dataset.scene_names():
            bench_cloud(f"{scene} (indoor preset)", dataset.load_scene(scene).xyz, INDOOR, args.repeat)
            found = True
    if not found:
        raise SystemExit(f"no scans under {args.scans} or {args.indoor}")


if __name__ == "__main__":
    main()
