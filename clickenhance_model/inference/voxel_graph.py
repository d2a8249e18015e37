"""Neighbourhood graph over voxel centroids, with ground nodes and geodesic distances.

Nodes are voxel centroids; each is joined to its k nearest neighbours closer than
`max_edge` (wider gaps separate objects), and small islands of nodes (sparse returns,
points seen through a car's windows) are bridged to their nearest node. Ground nodes
(road, floor) are upright surfaces grown from low seeds. Geodesic distances along the
graph, with edges that touch "the other kind" of node (ground for an object clicked off
the ground) made expensive or dropped, follow an object's surface and stop at gaps.

One graph per scan serves both users: the training-free baseline (`baseline.BaselineSession`)
and the geodesic click maps of the network input (`click_encoding.geodesic_click_maps`).
It is built once per cloud (a session, a training scene); a click then costs two bounded
Dijkstra runs (`limit=`: only the nodes within reach of the clicks are visited), whatever
crop the network sees. The settings are a `GraphConfig` (presets OUTDOOR, INDOOR).

The presets were chosen on generated scans only, never on the real scans they are reported on
(`bench/tune_baseline.py`; lowest NoC@85 over the simulated user's 20 clicks wins). How each setting got its
value (OUTDOOR's shape penalty for upright first clicks since session 50), and the rules that were scored and kept
off (`joined_click`, the other `shape_rule`s), is in docs/baseline_presets.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from clickenhance_model.model_config import JOINED_CLICK_RULES

if TYPE_CHECKING:
    from clickenhance_model.inference.voxel_grid import VoxelGrid
    from clickenhance_model.model_config import ModelConfig


SHAPE_RULES = ("surface_click", "upright_click", "contest")
SCATTER_VARIATION = (0.1, 0.3)  # surface variation from which a node starts to count as scatter, and is all scatter
SURFACE_CLICK = 0.5  # a first click whose node and neighbours are less scattered than this is on a surface
UPRIGHT_CLICK = 0.2  # ... and upright (a trunk, a pole, a wall) where its node's |normal z| is below this


@dataclass(frozen=True)
class GraphConfig:
    """Settings of the voxel graph and of the geodesic reach on it (lengths in metres).

    Used by the baseline segmenter (all fields) and the geodesic click maps (graph fields,
    `max_radius` as the maps' scale).

    Attributes:
        voxel_size: edge of the voxels that become graph nodes.
        neighbours: nearest neighbours joined to each node.
        max_edge: longest graph edge; wider gaps split objects.
        ground_cell: cell edge of the grid that estimates the local ground height.
        ground_height: nodes at most this high above the local ground ...
        ground_normal_z: ... whose normal has at least this vertical component are ground.
        ground_penalty: cost factor of edges touching the "other" kind of node.
        normal_penalty: an edge costs its length times `1 + normal_penalty * (1 - |cos|)`, the
            angle between its nodes' normals (a node without a reliable normal counts as
            turning fully), so growth runs freely along smooth surfaces and slows across creases
            and through clouds without a surface (vegetation, clutter). 0 = length only.
        max_radius: largest geodesic distance from a positive click for an object clicked
            off the ground.
        ground_max_radius: the same for an object clicked on the ground (roads, floors).
        min_component: graph components with fewer nodes are bridged to their nearest node.
        negative_radius: a negative click wins only nodes within this geodesic distance, so
            one click near the boundary cannot take half of a large object (a floor, a road).
        joined_click: what a first positive click on a node that only joined the ground in
            `join_ground` (just above or below it, not grown over the road's surface: a fence's
            foot beside a raised sidewalk, a car's sill) makes: "ground" (the road, as any ground
            node; the networks' frozen maps), "free" (an object whose growth crosses such joined
            nodes at their length), "lifted" (an object that may take the joined nodes it
            stands on: an edge from an off-ground node down to one costs its length, edges along
            them or to the grown ground keep the penalty) or "deferred" (the ground, until a
            negative click lands on the grown ground; then "lifted"). Under every rule a positive
            click on the grown ground farther than `max_edge` from the object grown from the other
            positive clicks makes the object the ground: a floor first clicked where it only joined
            the ground would otherwise never grow (since session 51). One at the object's foot keeps it.
        shape_penalty: an edge's shaped cost is its cost times `1 + shape_penalty * |s_a - s_b|`, where s says
            how scattered the node's neighbourhood is (0 below a surface variation of 0.1, 1 above 0.3, linear
            between, `surface_shape`; for the "contest" rule its mean over the node and its graph neighbours), so a path
            pays where a surface meets foliage or clutter (a fence's plane against the hedge behind it, a trunk
            under its canopy, a wall behind a bush) and runs on inside either. `shape_rule` says where shaped
            costs are used. 0 = off.
        shape_rule: where the shaped costs are used: "surface_click" (all the growth of an object first clicked
            on a surface, where the click's s is under 0.5; an object first clicked in foliage, a bush, a hedge or
            a canopy, grows as without them), "upright_click" (the same, only where the first click's node is also
            upright, |normal z| under `UPRIGHT_CLICK` or no reliable normal: a trunk, a pole, a wall; a hedge's or a
            bush's top grows as without them) or "contest" (every off-ground object, but only in deciding between its
            positive and negative clicks: a node within the plain reach of a positive click joins the object
            when its shaped distance to the positive clicks is shorter than to the negative ones, so the first
            click grows as without the penalty and a negative click takes what lies across a surface's edge
            with foliage or clutter).
    """

    voxel_size: float = 0.1
    neighbours: int = 8
    max_edge: float = 1.0
    ground_cell: float = 2.0
    ground_height: float = 0.25
    ground_normal_z: float = 0.8
    ground_penalty: float = 50.0
    normal_penalty: float = 2.0
    max_radius: float = 8.0
    ground_max_radius: float = float("inf")
    min_component: int = 10
    negative_radius: float = 8.0
    joined_click: str = "ground"
    shape_penalty: float = 0.0
    shape_rule: str = "surface_click"

    def __post_init__(self) -> None:
        """Reject settings that make no graph."""
        positive = ("voxel_size", "max_edge", "ground_cell", "ground_penalty", "max_radius", "ground_max_radius")
        for name in (*positive, "negative_radius"):
            if not getattr(self, name) > 0:
                raise ValueError(f"GraphConfig.{name} must be > 0, got {getattr(self, name)}")
        for name in ("normal_penalty", "shape_penalty"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"GraphConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.neighbours < 1:
            raise ValueError(f"GraphConfig.neighbours must be >= 1, got {self.neighbours}")
        if self.joined_click not in JOINED_CLICK_RULES:
            raise ValueError(f"GraphConfig.joined_click must be one of {JOINED_CLICK_RULES}, got {self.joined_click!r}")
        if self.shape_rule not in SHAPE_RULES:
            raise ValueError(f"GraphConfig.shape_rule must be one of {SHAPE_RULES}, got {self.shape_rule!r}")


OUTDOOR = GraphConfig(shape_penalty=5.0, shape_rule="upright_click")  # docs/baseline_presets.md, session 50
INDOOR = GraphConfig(  # a guess for RGB-D scans (ScanNet, S3DIS), but for normal_penalty (docs/baseline_presets.md)
    voxel_size=0.03, max_edge=0.12, ground_cell=1.0, ground_height=0.05, max_radius=2.5, negative_radius=0.5,
    normal_penalty=3.0,
)
PRESETS = {"outdoor": OUTDOOR, "indoor": INDOOR}

# The graphs of the networks' geodesic click maps, frozen as every network so far was trained on them,
# so the baseline's presets above can move without changing a trained network's input. Each network
# sets its own `normal_penalty` (`InputConfig.geodesic_normal_penalty`, `maps_graph_config`); the
# negative reach changes only the region (the prior), never the maps.
MAPS_PRESETS = {
    "outdoor": GraphConfig(
        voxel_size=0.1, neighbours=8, max_edge=0.5, ground_cell=2.0, ground_height=0.25, ground_normal_z=0.8,
        ground_penalty=50.0, normal_penalty=0.0, max_radius=8.0, min_component=10, negative_radius=8.0,
    ),
    "indoor": GraphConfig(
        voxel_size=0.03, neighbours=8, max_edge=0.12, ground_cell=1.0, ground_height=0.05, ground_normal_z=0.8,
        ground_penalty=50.0, normal_penalty=0.0, max_radius=2.5, min_component=10, negative_radius=0.5,
    ),
}


class VoxelGraph:
    """The graph of one set of nodes (voxel centroids, float64 (V, 3)), built in the constructor."""

    def __init__(self, nodes: np.ndarray, config: GraphConfig):
        self.config = config
        self.tree = cKDTree(nodes)  # one search tree for the edges and for placing clicks on nodes
        edges, lengths = knn_edges(self.tree, config.neighbours, config.max_edge)
        normals, variation = surface_shape(nodes, edges)  # [V, 3] zero where unreliable; [V] in [0, 1]
        self.normals = normals  # [V, 3] each node's surface normal, zero where unreliable
        self.variation = variation  # [V] surface variation: 0 a plane or a line, 1 foliage or clutter
        self.normal_z = np.abs(normals[:, 2])  # [V] 1 on the road, 0 on a wall or a trunk, 0 where unreliable
        self.grown_ground = grown_ground(nodes, edges, normals[:, 2], config)  # [V] bool: seeded and grown
        self.ground = join_ground(nodes, self.grown_ground, config)  # [V] bool: with the nodes just above it
        bridges, bridge_lengths = bridge_edges(nodes, edges, config.min_component)
        self.edges = np.concatenate([edges, bridges])  # [E, 2]
        self.lengths = np.concatenate([lengths, bridge_lengths])  # [E] edge costs before the ground's factor
        if config.normal_penalty > 0:
            cos = np.abs((normals[self.edges[:, 0]] * normals[self.edges[:, 1]]).sum(axis=1))
            self.lengths = self.lengths * (1.0 + config.normal_penalty * (1.0 - cos))
        self.shape_factor: np.ndarray | None = None  # [E] the shape penalty's factor (shape_penalty > 0)
        self.scatter: np.ndarray | None = None  # [V] mean over each node and its neighbours (shape_penalty > 0)
        if config.shape_penalty > 0:
            low, high = SCATTER_VARIATION
            scatter = np.clip((variation - low) / (high - low), 0.0, 1.0)  # [V]: 0 a surface, 1 foliage or clutter
            owner, member = neighbourhoods(self.edges, len(nodes))
            self.scatter = np.bincount(owner, scatter[member], len(nodes)) / np.bincount(owner, minlength=len(nodes))
            # the contest's factor from the neighbourhood means, so that foliage's node-to-node noise costs little
            # inside it (a late negative click took more of a hedge); the surface-click rule scored better per node
            per_edge = self.scatter if config.shape_rule == "contest" else scatter
            change = np.abs(per_edge[self.edges[:, 0]] - per_edge[self.edges[:, 1]])
            self.shape_factor = 1.0 + config.shape_penalty * change
        self._costs: dict[tuple[bool, str, bool], csr_matrix] = {}

    def __len__(self) -> int:
        """Number of nodes."""
        return len(self.ground)

    def scale_lengths(self, factor: np.ndarray) -> None:
        """Multiply every edge's cost by `factor` (float (E,), > 0; a learned prior's edge prices,
        `edge_affinity.EdgeAffinity.reweigh`), dropping the costs built from the old ones."""
        factor = np.asarray(factor, dtype=np.float64)
        if factor.shape != self.lengths.shape or not np.all(np.isfinite(factor) & (factor > 0)):
            raise ValueError(f"edge factors must be {len(self.lengths)} finite numbers > 0")
        self.lengths = self.lengths * factor
        self._costs = {}

    def costs(self, on_ground: bool, joined: str = "ground", shaped: bool = False) -> csr_matrix:
        """Edge costs for an object clicked on (True) or off (False) the ground, cached.

        Off the ground, edges touching ground nodes cost `ground_penalty` times their length
        (a reach limit keeps the object from spreading on them); on the ground, edges
        touching other nodes are dropped, since the ground's reach is not limited.
        `joined` (off the ground only) says what the nodes that only joined the ground are to the object:
        "ground" (as the grown ground), "free" (only the grown ground's edges cost more) or "lifted" (an
        edge between such a node and an off-ground one costs its length, so the object takes the feet
        it stands on; edges along them, or to the grown ground, cost more). `shaped`: with the shape penalty
        (`GraphConfig.shape_penalty`; no change when it is 0).
        """
        key = (on_ground, "ground" if on_ground else joined, shaped and self.shape_factor is not None)
        if key not in self._costs:
            lengths = self.lengths * self.shape_factor if key[2] else self.lengths
            other = ~self.ground if on_ground else (self.ground if key[1] == "ground" else self.grown_ground)
            crossing = other[self.edges[:, 0]] | other[self.edges[:, 1]]
            if key[1] == "lifted":  # and the edges along the joined nodes
                feet = self.joined_only(self.edges)
                crossing |= feet[:, 0] & feet[:, 1]
            cost = np.where(crossing, lengths * self.config.ground_penalty, lengths) + 1e-9  # 0 = no edge
            keep = ~crossing if on_ground else np.ones(len(cost), dtype=bool)  # the ground has no reach limit
            edges, cost = self.edges[keep], cost[keep]
            n = len(self)
            rows = np.concatenate([edges[:, 0], edges[:, 1]])
            cols = np.concatenate([edges[:, 1], edges[:, 0]])
            self._costs[key] = csr_matrix((np.concatenate([cost, cost]), (rows, cols)), shape=(n, n))
        return self._costs[key]

    def joined_only(self, nodes: np.ndarray) -> np.ndarray:
        """Which of `nodes` (int (K,)) only joined the ground (`join_ground`): ground, not grown over its surface."""
        nodes = np.asarray(nodes, dtype=np.int64)
        return self.ground[nodes] & ~self.grown_ground[nodes]

    def ground_rule(self, positive: np.ndarray, negative: np.ndarray = ()) -> str:
        """How the object of these clicks (node ids, positives in click order) grows: "ground" (it is the road or
        floor), "object" (off the ground) or "free" / "lifted" (an object first clicked on a joined node,
        `GraphConfig.joined_click`, which also says when a later positive click on the grown ground makes it the
        ground)."""
        positive = np.asarray(positive, dtype=np.int64)
        if len(positive) == 0 or not self.ground[positive[0]]:
            return "object"
        rule = self.config.joined_click
        if rule == "ground" or not self.joined_only(positive[:1])[0]:
            return "ground"
        if rule == "deferred":
            if not self.grown_ground[np.asarray(negative, dtype=np.int64)].any():  # the road, until refused
                return "ground"
            rule = "lifted"
        on_road = np.unique(positive[self.grown_ground[positive]])
        if len(on_road):  # a positive click on the grown ground away from the object: the road or floor is it
            sources = positive[~self.grown_ground[positive]]  # the first click's node among them
            reached = np.isfinite(self.distance(sources, False, self.config.max_radius, rule))
            near = self.tree.query_ball_point(self.tree.data[on_road], self.config.max_edge)  # the graph's own tree
            if not all(reached[nodes].any() for nodes in near):
                return "ground"
        return rule

    def grows_shaped(self, positive: np.ndarray) -> bool:
        """Whether the growth of the object of these clicks (node ids, in click order) pays the shape penalty: its
        first click is on a surface rather than in foliage or clutter (the mean scatter of the first click's node and
        neighbours, `GraphConfig.shape_penalty`) and, under `shape_rule` "upright_click", on an upright node (a trunk,
        a pole, a wall, not a flat top). Never under "contest", whose shaped costs only decide between clicks."""
        positive = np.asarray(positive, dtype=np.int64)
        rule = self.config.shape_rule
        if rule == "contest" or self.scatter is None or len(positive) == 0:
            return False
        if not self.scatter[positive[0]] < SURFACE_CLICK:
            return False
        return rule != "upright_click" or bool(self.normal_z[positive[0]] < UPRIGHT_CLICK)

    def object_on_ground(self, positive: np.ndarray, negative: np.ndarray = ()) -> bool:
        """Whether the object of these clicks (node ids, positives in click order) is the ground (road, floor)."""
        return self.ground_rule(np.atleast_1d(positive), negative) == "ground"

    def nodes_near(self, positions: np.ndarray, max_gap: float) -> np.ndarray:
        """The node nearest to each position (float (K, 3)), for positions at most `max_gap` from it."""
        gap, nodes = self.tree.query(np.asarray(positions, dtype=np.float64).reshape(-1, 3))  # a few clicks: one thread
        return nodes[gap <= max_gap]

    def ground_gate(self, positive: np.ndarray) -> np.ndarray:
        """Nodes an object may hold (bool (V,)): all but the ground ones while no positive click is on the ground.

        `positive` are the positive clicks' nodes. A positive click on a ground node (the road
        itself is the object, or a car's lowest points were taken for road) lifts the gate,
        and so does a click list with no node: the prior gives way to the user.
        """
        positive = np.asarray(positive, dtype=np.int64)
        if len(positive) == 0 or self.ground[positive].any():
            return np.ones(len(self), dtype=bool)
        return ~self.ground

    def distance(self, sources: np.ndarray, on_ground: bool, limit: float, joined: str = "ground",
                 shaped: bool = False) -> np.ndarray:  # fmt: skip
        """Geodesic distance (float64 (V,)) from each node to the nearest source node; inf beyond `limit`."""
        return geodesic_distance(self.costs(on_ground, joined, shaped), np.unique(sources), limit)

    def click_distances(self, positive: np.ndarray, negative: np.ndarray) -> ClickDistances:
        """Geodesic distances of every node to the positive and to the negative click nodes (two Dijkstra runs).

        The first positive click decides whether the object is the ground. Positive distances
        are exact up to the object's reach (`max_radius`, or `ground_max_radius` on the
        ground), negative ones up to the larger of `max_radius` and the negative reach; both
        are inf beyond. `positive` is in click order (node ids, repeats allowed). One call
        serves the click maps and the region rule (`ClickDistances.region`).

        Every click counts: on the ground's costs a node off the ground has no edge, so a click
        there (a fence whose low part was taken for ground and clicked first) would hold only its
        own node. Such clicks grow as an object instead (off-ground costs, `max_radius`); that is
        two more Dijkstra runs, only while clicks of both kinds are present.
        """
        config = self.config
        positive = np.asarray(positive, dtype=np.int64)
        negative = np.asarray(negative, dtype=np.int64)
        rule = self.ground_rule(positive, negative)
        on_ground = rule == "ground"
        joined = rule if rule in ("free", "lifted") else "ground"
        reach = config.ground_max_radius if on_ground else config.max_radius
        negative_reach = min(reach, config.negative_radius)
        negative_limit = max(config.max_radius, negative_reach)
        contest = not on_ground and len(negative) > 0 and config.shape_rule == "contest" and config.shape_penalty > 0
        shaped = not on_ground and self.grows_shaped(positive)
        to_positive = self.distance(positive, on_ground, reach, joined, shaped)
        to_negative = self.distance(negative, on_ground, negative_limit, joined, shaped)
        contested = None
        if contest:  # shaped lengths are at most (1 + penalty) times the plain ones: every node in reach is reached
            stretch = 1.0 + config.shape_penalty
            contested = (self.distance(positive, False, stretch * reach, joined, shaped=True),
                         self.distance(negative, False, stretch * negative_limit, joined, shaped=True))
        if on_ground:
            raised = positive[~self.ground[positive]]
            if len(raised):
                to_positive = np.minimum(to_positive, self.distance(raised, False, config.max_radius))
            raised = negative[~self.ground[negative]]
            if len(raised):
                to_negative = np.minimum(to_negative, self.distance(raised, False, negative_limit))
        return ClickDistances(to_positive, to_negative, negative_reach, contested)


@dataclass(frozen=True)
class ClickDistances:
    """Geodesic distances (float64 (V,), metres, inf beyond reach) of the graph's nodes to the clicks."""

    to_positive: np.ndarray
    to_negative: np.ndarray
    negative_reach: float  # a negative click claims nodes only this far along the graph
    contested: tuple[np.ndarray, np.ndarray] | None = None  # shaped distances to positives and negatives, or None

    def region(self) -> np.ndarray:
        """The training-free rule (bool (V,)): nodes within reach of a positive click and nearer to it than
        to every negative click within the negative reach (nearer along the shaped costs where the shape
        penalty's "contest" rule applies, `GraphConfig.shape_rule`)."""
        to_negative = np.where(self.to_negative <= self.negative_reach, self.to_negative, np.inf)
        if self.contested is None:
            return np.isfinite(self.to_positive) & (self.to_positive < to_negative)
        shaped_positive, shaped_negative = self.contested
        claimed = np.where(np.isfinite(to_negative), shaped_negative, np.inf)  # within the plain negative reach
        return np.isfinite(self.to_positive) & (shaped_positive < claimed)


def maps_graph_config(config: ModelConfig) -> GraphConfig | None:
    """Settings of the graph of a network's geodesic click maps (its frozen `MAPS_PRESETS` entry with the
    network's own `input.geodesic_normal_penalty`); None when the input has no such maps."""
    preset = config.input.geodesic_maps
    if preset == "off":
        return None
    return dataclasses.replace(MAPS_PRESETS[preset], normal_penalty=config.input.geodesic_normal_penalty)


def scan_graph(grid: VoxelGrid, config: ModelConfig) -> VoxelGraph | None:
    """The voxel graph of a whole voxelised cloud for the geodesic click maps; None when the input has none.

    Built once per cloud (session, training scene): every click reads its maps from it.
    """
    settings = maps_graph_config(config)
    return None if settings is None else VoxelGraph(grid.centroids, settings)


def geodesic_distance(graph: csr_matrix, sources: np.ndarray, limit: float) -> np.ndarray:
    """Distance from each node to the nearest source along the graph (inf beyond `limit`)."""
    if len(sources) == 0:
        return np.full(graph.shape[0], np.inf)
    return dijkstra(graph, directed=True, indices=sources, min_only=True, limit=limit)


def knn_edges(tree: cKDTree, k: int, max_edge: float) -> tuple[np.ndarray, np.ndarray]:
    """Undirected edges (E, 2) from each node of `tree` to its k nearest neighbours within `max_edge`, and lengths."""
    nodes = tree.data
    k = min(k, len(nodes) - 1)
    if k < 1:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    distance, neighbour = tree.query(nodes, k=k + 1, distance_upper_bound=max_edge, workers=-1)
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
    distance, nearest = cKDTree(nodes[large]).query(nodes[small], workers=-1)
    pairs = np.stack([np.flatnonzero(small), large[nearest]], axis=1)
    return pairs, distance


def grown_ground(nodes: np.ndarray, edges: np.ndarray, normals_z: np.ndarray, config: GraphConfig) -> np.ndarray:
    """The ground's surface: upright nodes grown from low seeds.

    `normals_z` is the vertical component of each node's normal (`surface_shape`).
    Seeds are upright nodes at most `ground_height` above the lowest node of the
    surrounding 3 x 3 grid cells. Ground grows along edges between upright nodes whose
    height differs little (no curb faces, no car bumpers).
    """
    upright = np.abs(normals_z) >= config.ground_normal_z
    seeds = upright & (height_above_lowest(nodes, config.ground_cell) <= config.ground_height)
    step = np.abs(nodes[edges[:, 0], 2] - nodes[edges[:, 1], 2])
    flat = upright[edges[:, 0]] & upright[edges[:, 1]] & (step <= config.ground_height / 2)
    n = len(nodes)
    adjacency = csr_matrix((np.ones(int(flat.sum())), (edges[flat, 0], edges[flat, 1])), shape=(n, n))
    _, component = connected_components(adjacency, directed=False)
    return np.isin(component, np.unique(component[seeds]))


def join_ground(nodes: np.ndarray, grown: np.ndarray, config: GraphConfig) -> np.ndarray:
    """`grown` ground plus the nodes at most `ground_height / 2` above the grown node nearest in plan (within
    `ground_cell`): kerb edges, gravel, an object's lowest points."""
    ground = grown.copy()
    if ground.any() and not ground.all():
        distance, below = cKDTree(nodes[ground, :2]).query(nodes[~ground, :2], workers=-1)
        rise = nodes[~ground, 2] - nodes[ground][below, 2]
        ground[np.flatnonzero(~ground)[(rise <= config.ground_height / 2) & (distance <= config.ground_cell)]] = True
    return ground


def height_above_lowest(nodes: np.ndarray, cell: float) -> np.ndarray:
    """Height of each node above the lowest node of its 3 x 3 block of grid cells."""
    return nodes[:, 2] - lowest_nearby(nodes, cell, reach=1)


def lowest_nearby(points: np.ndarray, cell: float, reach: int = 1, query_xy: np.ndarray | None = None) -> np.ndarray:
    """Lowest z of `points` in the (2 reach + 1) x (2 reach + 1) grid cells of edge `cell` around each query (x, y)
    (None: around each of the points themselves); inf where those cells hold no point.

    Cells are numbered row by row in one integer code, with `reach` spare cells on every side, so
    a cell's neighbours are found by binary search in the sorted codes (no Python loop over
    points); each distinct query cell is looked up once.
    """
    cells = np.floor(points[:, :2] / cell).astype(np.int64)  # [V, 2]
    queries = cells if query_xy is None else np.floor(np.asarray(query_xy)[:, :2] / cell).astype(np.int64)
    both = cells if query_xy is None else np.concatenate([cells, queries])
    low = both.min(axis=0) - reach
    rows = int(both[:, 1].max() - low[1]) + reach + 1

    def code(xy: np.ndarray) -> np.ndarray:
        return (xy[:, 0] - low[0]) * rows + (xy[:, 1] - low[1])

    codes, cell_of = np.unique(code(cells), return_inverse=True)  # codes ascending
    lowest = np.full(len(codes), np.inf)
    np.minimum.at(lowest, cell_of, points[:, 2])
    asked, query_of = (codes, cell_of) if query_xy is None else np.unique(code(queries), return_inverse=True)
    keys = np.stack([asked // rows + low[0], asked % rows + low[1]], axis=1)  # [C, 2] distinct query cells
    local = np.full(len(asked), np.inf)
    for dx in range(-reach, reach + 1):
        for dy in range(-reach, reach + 1):
            wanted = code(keys + np.array([dx, dy]))
            at = np.minimum(np.searchsorted(codes, wanted), len(codes) - 1)
            found = codes[at] == wanted
            local[found] = np.minimum(local[found], lowest[at[found]])
    return local[query_of.reshape(-1)]


def surface_shape(nodes: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each node's unit normal (float64 (V, 3), sign arbitrary: the smallest principal axis of it and its graph
    neighbours) and surface variation (float64 (V,): 3 x smallest eigenvalue / trace of their scatter, 0 on a
    plane or a line, 1 in an isotropic scatter). Nodes with fewer than two neighbours get the zero normal and
    variation 1 (no reliable surface).
    """
    covariance, counts = neighbourhood_covariances(nodes, edges)
    lowest, axes = smallest_axes(covariance)
    trace = np.trace(covariance, axis1=1, axis2=2)
    variation = np.clip(3.0 * lowest / np.where(trace > 0, trace, 1.0), 0.0, 1.0)
    reliable = counts >= 3
    return np.where(reliable[:, None], axes, 0.0), np.where(reliable & (trace > 0), variation, 1.0)


def neighbourhood_covariances(nodes: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scatter matrix (float64 (V, 3, 3), unnormalised) of each node with its graph neighbours, and how many
    nodes each holds (float64 (V,), the node itself included)."""
    n = len(nodes)
    owner, member = neighbourhoods(edges, n)
    counts = np.bincount(owner, minlength=n).astype(np.float64)
    mean = np.stack([np.bincount(owner, nodes[member, d], minlength=n) for d in range(3)], axis=1) / counts[:, None]
    offset = nodes[member] - mean[owner]  # [2E + V, 3]
    covariance = np.empty((n, 3, 3))
    for a in range(3):
        for b in range(a, 3):
            covariance[:, a, b] = covariance[:, b, a] = np.bincount(owner, offset[:, a] * offset[:, b], minlength=n)
    return covariance, counts


def neighbourhoods(edges: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each node's neighbourhood as (owner, member) pairs (int (2E + n,) each): both ends of every undirected
    edge, and every node with itself, for per-node sums by `np.bincount(owner, values[member])`."""
    own = np.arange(n)
    return np.concatenate([edges[:, 0], edges[:, 1], own]), np.concatenate([edges[:, 1], edges[:, 0], own])


def smallest_axes(covariance: np.ndarray, min_gap: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Smallest eigenvalue (float64 (N,)) and its unit eigenvector (float64 (N, 3), sign arbitrary) of each
    symmetric 3x3 matrix.

    Closed form, about 7 times faster than `np.linalg.eigh` on a scan's nodes (the normals were a fifth of
    a graph's build): the eigenvalues from the trigonometric solution of the characteristic cubic, the
    vector as the longest cross product of two rows of (A - lowest I). Where the two lowest eigenvalues
    are closer than `min_gap` times the largest (a line of nodes, a lone pair: no one smallest axis, and
    the cross products vanish) the matrix goes to `eigh`, so those nodes get eigh's answer.
    """
    a00, a11, a22 = covariance[:, 0, 0], covariance[:, 1, 1], covariance[:, 2, 2]
    a01, a02, a12 = covariance[:, 0, 1], covariance[:, 0, 2], covariance[:, 1, 2]
    mean = (a00 + a11 + a22) / 3.0
    d0, d1, d2 = a00 - mean, a11 - mean, a22 - mean
    spread = np.sqrt((d0 * d0 + d1 * d1 + d2 * d2 + 2.0 * (a01 * a01 + a02 * a02 + a12 * a12)) / 6.0)
    scale = np.where(spread > 0, spread, 1.0)
    half_det = (d0 * (d1 * d2 - a12 * a12) - a01 * (a01 * d2 - a12 * a02) + a02 * (a01 * a12 - d1 * a02)) / (
        2.0 * scale**3
    )
    angle = np.arccos(np.clip(half_det, -1.0, 1.0)) / 3.0
    lowest = mean + 2.0 * spread * np.cos(angle + 2.0 * np.pi / 3.0)
    highest = mean + 2.0 * spread * np.cos(angle)
    middle = 3.0 * mean - lowest - highest
    b0, b1, b2 = a00 - lowest, a11 - lowest, a22 - lowest  # rows (b0 a01 a02), (a01 b1 a12), (a02 a12 b2)
    crosses = (
        np.stack([a01 * a12 - a02 * b1, a02 * a01 - b0 * a12, b0 * b1 - a01 * a01]),  # row 0 x row 1
        np.stack([a01 * b2 - a02 * a12, a02 * a02 - b0 * b2, b0 * a12 - a01 * a02]),  # row 0 x row 2
        np.stack([b1 * b2 - a12 * a12, a12 * a02 - a01 * b2, a01 * a12 - b1 * a02]),  # row 1 x row 2
    )
    vector, length2 = crosses[0], (crosses[0] ** 2).sum(0)
    for cross in crosses[1:]:
        cross_length2 = (cross**2).sum(0)
        longer = cross_length2 > length2
        vector, length2 = np.where(longer, cross, vector), np.where(longer, cross_length2, length2)
    clear = (middle - lowest > min_gap * highest) & (length2 > 0)
    axes = (vector / np.sqrt(np.where(clear, length2, 1.0))).T
    unclear = np.flatnonzero(~clear)
    if len(unclear):
        values, vectors = np.linalg.eigh(covariance[unclear])
        axes[unclear], lowest[unclear] = vectors[:, :, 0], values[:, 0]
    return lowest, np.ascontiguousarray(axes)
