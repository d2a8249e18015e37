"""A training-free click segmenter: geodesic region growing on a neighbourhood graph.

The cloud is voxelised and the voxel centroids (nodes) are joined to their k nearest
neighbours closer than `max_edge`: wider gaps separate objects. Small islands of nodes
(sparse returns, points seen through a car's windows) are bridged to their nearest node.
Ground nodes (road, floor) are found as upright surfaces grown from low seeds; for an
object first clicked off the ground, edges touching ground cost `ground_penalty` times
their length, so a car does not flood the road; for an object clicked on the ground,
edges leaving the ground are dropped, so the road does not take the cars. Each node then
takes the label of its geodesically nearest click (bounded multi-source Dijkstra):
positive if a positive click is within `max_radius` and nearer than every negative click
within `negative_radius`. Points take their voxel's label.

The graph is built once per session; a click costs two bounded Dijkstra runs (a few ms on
a 124k-point LiDAR scan). It is the fallback for users without weights and the floor the
learned model must beat.

The OUTDOOR preset (the defaults of `BaselineConfig`) was chosen on generated street scans
only, never on the real scans it is reported on: 12 scans from `clickenhance_model.scenes.generate
--kind outdoor --scenes 12 --seed 777 --sequence 0` (the training data uses seed 0), scored with
the evaluation CLI (20 clicks) over a one-at-a-time sweep of neighbours, max_edge, ground_penalty,
max_radius and negative_radius around the hand-picked start, plus the combination of the best
values; lowest NoC@85 wins (tie: higher IoU@5). Rerun with `bench/tune_baseline.py`. The INDOOR
preset is an untuned guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from clickenhance_model.session import InteractiveSession


@dataclass(frozen=True)
class BaselineConfig:
    """Settings of the baseline segmenter (lengths in metres).

    Attributes:
        voxel_size: edge of the voxels that become graph nodes.
        neighbours: nearest neighbours joined to each node.
        max_edge: longest graph edge; wider gaps split objects.
        ground_cell: cell edge of the grid that estimates the local ground height.
        ground_height: nodes at most this high above the local ground ...
        ground_normal_z: ... whose normal has at least this vertical component are ground.
        ground_penalty: cost factor of edges touching the "other" kind of node.
        max_radius: largest geodesic distance from a positive click for an object clicked
            off the ground.
        ground_max_radius: the same for an object clicked on the ground (roads, floors).
        min_component: graph components with fewer nodes are bridged to their nearest node.
        negative_radius: a negative click wins only nodes within this geodesic distance, so
            one click near the boundary cannot take half of a large object (a floor, a road).
    """

    voxel_size: float = 0.1
    neighbours: int = 8
    max_edge: float = 0.5
    ground_cell: float = 2.0
    ground_height: float = 0.25
    ground_normal_z: float = 0.8
    ground_penalty: float = 50.0
    max_radius: float = 8.0
    ground_max_radius: float = float("inf")
    min_component: int = 10
    negative_radius: float = 4.0

    def __post_init__(self) -> None:
        """Reject settings that make no graph."""
        positive = ("voxel_size", "max_edge", "ground_cell", "ground_penalty", "max_radius", "ground_max_radius")
        for name in (*positive, "negative_radius"):
            if not getattr(self, name) > 0:
                raise ValueError(f"BaselineConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.neighbours < 1:
            raise ValueError(f"BaselineConfig.neighbours must be >= 1, got {self.neighbours}")


OUTDOOR = BaselineConfig()
INDOOR = BaselineConfig(  # untuned guess for RGB-D scans (ScanNet, S3DIS): no indoor data to tune on here
    voxel_size=0.03, max_edge=0.12, ground_cell=1.0, ground_height=0.05, max_radius=2.5, negative_radius=0.5
)
PRESETS = {"outdoor": OUTDOOR, "indoor": INDOOR}


class BaselineSegmenter:
    """Factory of baseline sessions; same entry point as the learned `Segmenter`.

    Args:
        config: graph settings; the outdoor (LiDAR) preset by default.
        snap_distance: largest distance (m) between a click given by position and its point.
    """

    def __init__(self, config: BaselineConfig | None = None, snap_distance: float = 0.5):
        self.config = config or OUTDOOR
        self.snap_distance = float(snap_distance)

    @classmethod
    def for_domain(cls, domain: str, snap_distance: float = 0.5) -> BaselineSegmenter:
        """Segmenter with the preset for "outdoor" (LiDAR) or "indoor" (RGB-D) clouds."""
        if domain not in PRESETS:
            raise ValueError(f"domain must be one of {sorted(PRESETS)}, got {domain!r}")
        return cls(PRESETS[domain], snap_distance)

    def session(self, xyz: np.ndarray, rgb: np.ndarray | None = None) -> BaselineSession:
        """Open a click session over one cloud (builds its graph now; colours are not used)."""
        return BaselineSession(xyz, rgb, config=self.config, snap_distance=self.snap_distance)


class BaselineSession(InteractiveSession):
    """Click session of the baseline; the voxel graph is built once in the constructor."""

    def __init__(
        self,
        xyz: np.ndarray,
        rgb: np.ndarray | None = None,
        config: BaselineConfig | None = None,
        snap_distance: float = 0.5,
    ):
        super().__init__(xyz, rgb, snap_distance=snap_distance)
        self.config = config or OUTDOOR
        self.voxel_of, centroids = voxelize(self.xyz, self.config.voxel_size)  # [M], [V, 3]
        edges, lengths = knn_edges(centroids, self.config.neighbours, self.config.max_edge)
        self.ground = ground_nodes(centroids, edges, self.config)  # [V] bool
        bridges, bridge_lengths = bridge_edges(centroids, edges, self.config.min_component)
        self.edges = np.concatenate([edges, bridges])  # [E, 2]
        self.lengths = np.concatenate([lengths, bridge_lengths])
        self._costs: dict[bool, csr_matrix] = {}

    def graph(self, on_ground: bool) -> csr_matrix:
        """Edge costs for an object clicked on (True) or off (False) the ground, cached.

        Off the ground, edges touching ground nodes cost `ground_penalty` times their length
        (the reach limit keeps the object from spreading on them); on the ground, edges
        touching other nodes are dropped, since the ground's reach is not limited.
        """
        if on_ground not in self._costs:
            other = self.ground if not on_ground else ~self.ground
            crossing = other[self.edges[:, 0]] | other[self.edges[:, 1]]
            cost = np.where(crossing, self.lengths * self.config.ground_penalty, self.lengths) + 1e-9  # 0 = no edge
            keep = ~crossing if on_ground else np.ones(len(cost), dtype=bool)  # the ground has no reach limit
            edges, cost = self.edges[keep], cost[keep]
            n = len(self.ground)
            rows = np.concatenate([edges[:, 0], edges[:, 1]])
            cols = np.concatenate([edges[:, 1], edges[:, 0]])
            self._costs[on_ground] = csr_matrix((np.concatenate([cost, cost]), (rows, cols)), shape=(n, n))
        return self._costs[on_ground]

    def _segment(self, positive: np.ndarray, negative: np.ndarray, current: int) -> np.ndarray:
        """Voxels geodesically nearer to a positive click than to any negative one, within reach."""
        pos_nodes = np.unique(self.voxel_of[positive])
        neg_nodes = np.unique(self.voxel_of[negative])
        on_ground = bool(self.ground[self.voxel_of[positive[0]]])
        graph = self.graph(on_ground)
        reach = self.config.ground_max_radius if on_ground else self.config.max_radius
        to_positive = geodesic_distance(graph, pos_nodes, reach)
        to_negative = geodesic_distance(graph, neg_nodes, min(reach, self.config.negative_radius))
        node_mask = np.isfinite(to_positive) & (to_positive < to_negative)
        return node_mask[self.voxel_of]


def geodesic_distance(graph: csr_matrix, sources: np.ndarray, limit: float) -> np.ndarray:
    """Distance from each node to the nearest source along the graph (inf beyond `limit`)."""
    if len(sources) == 0:
        return np.full(graph.shape[0], np.inf)
    return dijkstra(graph, directed=True, indices=sources, min_only=True, limit=limit)


def voxelize(xyz: np.ndarray, voxel_size: float) -> tuple[np.ndarray, np.ndarray]:
    """Voxel index of each point (int64 (M,)) and the centroid of each voxel (float64 (V, 3))."""
    cells = np.floor(xyz / voxel_size).astype(np.int64)  # [M, 3]
    cells -= cells.min(axis=0)
    extent = cells.max(axis=0) + 1
    keys = (cells[:, 0] * extent[1] + cells[:, 1]) * extent[2] + cells[:, 2]  # one int64 per cell
    _, voxel_of, counts = np.unique(keys, return_inverse=True, return_counts=True)
    voxel_of = voxel_of.reshape(-1)
    centroids = np.stack([np.bincount(voxel_of, xyz[:, d].astype(np.float64)) for d in range(3)], axis=1)
    return voxel_of, centroids / counts[:, None]


def knn_edges(nodes: np.ndarray, k: int, max_edge: float) -> tuple[np.ndarray, np.ndarray]:
    """Undirected edges (E, 2) to each node's k nearest neighbours within `max_edge`, and their lengths."""
    k = min(k, len(nodes) - 1)
    if k < 1:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    distance, neighbour = cKDTree(nodes).query(nodes, k=k + 1, distance_upper_bound=max_edge)
    distance, neighbour = distance[:, 1:], neighbour[:, 1:]  # column 0 is the node itself
    keep = np.isfinite(distance)
    source = np.broadcast_to(np.arange(len(nodes))[:, None], keep.shape)[keep]
    target = neighbour[keep]
    low, high = np.minimum(source, target), np.maximum(source, target)
    _, first = np.unique(low * len(nodes) + high, return_index=True)  # each undirected edge once
    return np.stack([low[first], high[first]], axis=1), distance[keep][first]


def bridge_edges(nodes: np.ndarray, edges: np.ndarray, min_component: int) -> tuple[np.ndarray, np.ndarray]:
    """Edges from each node of a component smaller than `min_component` to the nearest node outside it.

    Sparse returns (a car's far side, points seen through its windows) form small islands;
    the simulated user often clicks them. Bridging keeps them attached to their object.
    """
    n = len(nodes)
    adjacency = csr_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, component = connected_components(adjacency, directed=False)
    size = np.bincount(component)
    small = size[component] < min_component
    large = np.flatnonzero(~small)
    if not small.any() or len(large) == 0:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    distance, nearest = cKDTree(nodes[large]).query(nodes[small])
    pairs = np.stack([np.flatnonzero(small), large[nearest]], axis=1)
    return pairs, distance


def ground_nodes(nodes: np.ndarray, edges: np.ndarray, config: BaselineConfig) -> np.ndarray:
    """Ground (road, floor) nodes: upright surfaces grown from low seeds, plus nodes just above them.

    Seeds are upright nodes at most `ground_height` above the lowest node of the
    surrounding 3 x 3 grid cells. Ground grows along edges between upright nodes whose
    height differs little (no curb faces, no car bumpers); finally nodes at most
    `ground_height / 2` above the ground node below them join it.
    """
    upright = np.abs(normals_z(nodes, edges)) >= config.ground_normal_z
    seeds = upright & (height_above_lowest(nodes, config.ground_cell) <= config.ground_height)
    step = np.abs(nodes[edges[:, 0], 2] - nodes[edges[:, 1], 2])
    flat = upright[edges[:, 0]] & upright[edges[:, 1]] & (step <= config.ground_height / 2)
    n = len(nodes)
    adjacency = csr_matrix((np.ones(int(flat.sum())), (edges[flat, 0], edges[flat, 1])), shape=(n, n))
    _, component = connected_components(adjacency, directed=False)
    ground = np.isin(component, np.unique(component[seeds]))
    if ground.any() and not ground.all():
        distance, below = cKDTree(nodes[ground, :2]).query(nodes[~ground, :2])
        rise = nodes[~ground, 2] - nodes[ground][below, 2]
        ground[np.flatnonzero(~ground)[(rise <= config.ground_height / 2) & (distance <= config.ground_cell)]] = True
    return ground


def height_above_lowest(nodes: np.ndarray, cell: float) -> np.ndarray:
    """Height of each node above the lowest node of its 3 x 3 block of grid cells."""
    cells = np.floor(nodes[:, :2] / cell).astype(np.int64)  # [V, 2]
    keys, cell_of = np.unique(cells, axis=0, return_inverse=True)
    cell_of = cell_of.reshape(-1)
    lowest = np.full(len(keys), np.inf)
    np.minimum.at(lowest, cell_of, nodes[:, 2])
    index = {tuple(key): k for k, key in enumerate(keys.tolist())}
    local = lowest.copy()
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            shifted = np.array([index.get((x + dx, y + dy), -1) for x, y in keys.tolist()])
            found = shifted >= 0
            local[found] = np.minimum(local[found], lowest[shifted[found]])
    return nodes[:, 2] - local[cell_of]


def normals_z(nodes: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Vertical component of each node's normal: smallest principal axis of it and its graph neighbours.

    Nodes with fewer than two neighbours get 0 (no reliable normal).
    """
    n = len(nodes)
    owner = np.concatenate([edges[:, 0], edges[:, 1], np.arange(n)])  # each node's neighbourhood includes itself
    member = np.concatenate([edges[:, 1], edges[:, 0], np.arange(n)])
    counts = np.bincount(owner, minlength=n).astype(np.float64)
    mean = np.stack([np.bincount(owner, nodes[member, d], minlength=n) for d in range(3)], axis=1) / counts[:, None]
    offset = nodes[member] - mean[owner]  # [2E + V, 3]
    covariance = np.empty((n, 3, 3))
    for a in range(3):
        for b in range(a, 3):
            covariance[:, a, b] = covariance[:, b, a] = np.bincount(owner, offset[:, a] * offset[:, b], minlength=n)
    _, vectors = np.linalg.eigh(covariance)
    return np.where(counts >= 3, vectors[:, 2, 0], 0.0)  # z of the eigenvector of the smallest eigenvalue
