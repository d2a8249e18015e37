"""Click encodings: how positive/negative clicks become per-point input channels.

Three encodings, all computed on the points the network sees (the voxel centroids of
the crop), all float32 with values in [0, 1]:

- `dense_click_maps` (the paper, eq. 1-3): for each point the Euclidean distance to the
  nearest positive click and to the nearest negative click, each map min-max normalised
  over the network's input region: d' = (d - min d) / (max d - min d). A map with no
  click yet is all ones ("infinitely far" after normalisation). A map whose distances are
  all equal (e.g. a one-point region) is all zeros.
- `current_click_map`: the same normalised distance, to the latest click only; the input
  of the Click-Specific Encoder.
- Both take an optional metric `scale` instead (an option of this project, `input.dense_map_scale`):
  distance / scale clipped to 1. Min-max over the crop makes a map's values depend on how far
  the crop reaches (8-20 m on one street, 4-9 m in a room; a sparser sensor or a cut-out region
  changes it), so a network reads the same metres differently in another cloud; a fixed scale
  does not.
- `sparse_click_maps` (InterObject3D-style, the ablation of Fig. 8): 1 for points inside
  an axis-aligned cube of edge `cube_size` centred on a click, else 0.

`encode_clicks` picks the variant named by the config's `encoding` option.

`geodesic_click_features` (an option of this project, `input.geodesic_maps`, not in the paper)
adds the distance to the nearest positive / negative click measured along the voxel graph
of the whole scan (`voxel_graph.VoxelGraph`, the baseline's graph, built once per cloud),
read at the crop's voxels: it grows along a car's surface and jumps neither gaps nor the
road, which Euclidean maps cannot express.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from clickenhance_model.inference.voxel_graph import VoxelGraph

EMPTY_MAP_VALUE = 1.0  # value of a normalised distance map that has no click
_FLAT_EPS = 1e-9  # distances spanning less than this count as all equal


def _as_clicks(clicks: np.ndarray | None) -> np.ndarray:
    """Click positions as a float64 (C, 3) array; None or empty gives (0, 3)."""
    if clicks is None:
        return np.zeros((0, 3))
    return np.asarray(clicks, dtype=np.float64).reshape(-1, 3)


def nearest_click_distance(points: np.ndarray, clicks: np.ndarray | None, p: float = 2.0) -> np.ndarray:
    """Distance of every point to its nearest click (Minkowski p-norm); +inf when there is no click."""
    clicks = _as_clicks(clicks)
    if len(clicks) == 0:
        return np.full(len(points), np.inf)
    if len(clicks) <= 8:  # a few clicks: vectorised brute force beats building a tree
        best = np.full(len(points), np.inf)
        for click in clicks:
            diff = np.abs(points - click)  # [V, 3]
            dist = diff.max(axis=1) if np.isinf(p) else np.sqrt((diff * diff).sum(axis=1))
            np.minimum(best, dist, out=best)
        return best
    distance, _ = cKDTree(clicks).query(points, p=p)
    return np.asarray(distance)


def minmax_normalise(distance: np.ndarray) -> np.ndarray:
    """Min-max normalise distances to [0, 1] over the given points (paper eq. 3).

    All-infinite input (no click) gives all ones; equal finite distances give all zeros.
    """
    if len(distance) == 0:
        return np.zeros(0, dtype=np.float32)
    if not np.isfinite(distance).any():
        return np.full(len(distance), EMPTY_MAP_VALUE, dtype=np.float32)
    low, high = float(distance.min()), float(distance.max())
    if high - low < _FLAT_EPS:
        return np.zeros(len(distance), dtype=np.float32)
    return ((distance - low) / (high - low)).astype(np.float32)


def normalise_distance(distance: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Distances as map values in [0, 1], float32: min-max over the points (None, the paper) or distance / `scale`
    metres clipped to 1 (no click, all infinite: all ones either way)."""
    if scale is None:
        return minmax_normalise(distance)
    return np.minimum(np.asarray(distance) / scale, EMPTY_MAP_VALUE).astype(np.float32)


def dense_click_maps(
    points: np.ndarray, positive_xyz: np.ndarray | None, negative_xyz: np.ndarray | None, scale: float | None = None
) -> np.ndarray:
    """Normalised distance to the nearest positive and to the nearest negative click, float32 (V, 2).

    `scale`: see `normalise_distance`.
    """
    points = np.asarray(points, dtype=np.float64)
    positive = normalise_distance(nearest_click_distance(points, positive_xyz), scale)  # [V]
    negative = normalise_distance(nearest_click_distance(points, negative_xyz), scale)  # [V]
    return np.stack([positive, negative], axis=1)


def current_click_map(points: np.ndarray, current_xyz: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Normalised distance to the latest click only, float32 (V, 1): the CSE's click input."""
    points = np.asarray(points, dtype=np.float64)
    return normalise_distance(nearest_click_distance(points, current_xyz), scale)[:, None]


def sparse_click_maps(
    points: np.ndarray, positive_xyz: np.ndarray | None, negative_xyz: np.ndarray | None, cube_size: float
) -> np.ndarray:
    """1 where a point lies in the cube of edge `cube_size` around a positive / negative click, float32 (V, 2)."""
    points = np.asarray(points, dtype=np.float64)
    half = 0.5 * cube_size
    maps = [nearest_click_distance(points, clicks, p=np.inf) <= half for clicks in (positive_xyz, negative_xyz)]
    return np.stack(maps, axis=1).astype(np.float32)


def encode_clicks(
    points: np.ndarray,
    positive_xyz: np.ndarray,
    negative_xyz: np.ndarray | None,
    current_xyz: np.ndarray,
    encoding: str = "dense",
    cube_size: float = 0.3,
    scale: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Click channels of the main branch (V, 2) and of the CSE (V, 1) in the chosen encoding.

    `encoding` is "dense" (distance maps; `scale`: see `normalise_distance`) or "sparse" (cubes of
    edge `cube_size` metres).
    """
    if encoding == "dense":
        return (dense_click_maps(points, positive_xyz, negative_xyz, scale),
                current_click_map(points, current_xyz, scale))  # fmt: skip
    if encoding == "sparse":
        current = sparse_click_maps(points, current_xyz, None, cube_size)[:, :1]
        return sparse_click_maps(points, positive_xyz, negative_xyz, cube_size), current
    raise ValueError(f"unknown click encoding {encoding!r}; expected 'dense' or 'sparse'")


def geodesic_click_features(
    graph: VoxelGraph, positive_xyz: np.ndarray, negative_xyz: np.ndarray | None, nodes: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Geodesic click maps, float32 (V, 2) in [0, 1], and the geodesic region, bool (V,), along `graph`.

    `graph` is the scan's graph (built once per cloud); both are read at its `nodes` (the
    crop's voxel ids; None: every node).

    Maps: the distance to the nearest positive / negative click divided by the graph
    settings' `max_radius` (so a value means the same metres in every crop) and clipped to
    1; nodes the clicks cannot reach, and every node when there is no click of a kind, get 1.

    Region: the training-free baseline's answer on these clicks (`VoxelGraph.click_distances`
    and `ClickDistances.region`): the prior a network with `network.prior_fusion` corrects.

    A click farther than `max_edge` from every node is no graph source: its nearest node
    would be a wrong one. Off-ground objects pay the ground penalty, so a car's map does not
    spread over the road. Each Dijkstra run stops at its reach, so a click costs what its reach holds.
    """
    config = graph.config
    positive = graph.nodes_near(_as_clicks(positive_xyz), config.max_edge)  # click order: the first decides ground
    negative = graph.nodes_near(_as_clicks(negative_xyz), config.max_edge)
    distances = graph.click_distances(positive, negative)
    maps = np.stack([distances.to_positive, distances.to_negative], axis=1)  # [V, 2], inf: unreached
    region = distances.region()  # [V]
    if nodes is not None:
        maps, region = maps[nodes], region[nodes]
    return np.minimum(maps / config.max_radius, 1.0).astype(np.float32), region
