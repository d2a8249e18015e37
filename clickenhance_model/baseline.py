"""A training-free click segmenter: geodesic region growing on a neighbourhood graph.

The cloud is voxelised and the voxel centroids (nodes) are joined to their k nearest
neighbours closer than `max_edge`: wider gaps separate objects. Small islands of nodes
(sparse returns, points seen through a car's windows) are bridged to their nearest node.
Ground nodes (road, floor) are found as upright surfaces grown from low seeds; for an
object first clicked off the ground, edges touching ground cost `ground_penalty` times
their length, so a car does not flood the road; for an object clicked on the ground,
edges leaving the ground are dropped, so the road does not take the cars (a later positive
or negative click off the ground, there an island, grows with the off-ground costs: every
click counts). Each node then
takes the label of its geodesically nearest click (bounded multi-source Dijkstra):
positive if a positive click is within `max_radius` and nearer than every negative click
within `negative_radius`. Points take their voxel's label.

The graph is built once per session; a click costs two bounded Dijkstra runs (a few ms on
a 124k-point LiDAR scan). It is the fallback for users without weights and the floor the
learned model must beat.

The settings are the graph's (`inference.voxel_graph.GraphConfig`, presets OUTDOOR and INDOOR),
which the learned model's geodesic click maps share; the voxels are the model's
(`inference.voxel_grid.voxelize`).
"""

from __future__ import annotations

import numpy as np

from clickenhance_model.inference.geodesic_region import GeodesicRegion
from clickenhance_model.inference.session import InteractiveSession
from clickenhance_model.inference.voxel_graph import OUTDOOR, PRESETS, GraphConfig, VoxelGraph


class BaselineSegmenter:
    """Factory of baseline sessions; same entry point as the learned `Segmenter`.

    Args:
        config: graph settings; the outdoor (LiDAR) preset by default.
        snap_distance: largest distance (m) between a click given by position and its point.
    """

    def __init__(self, config: GraphConfig | None = None, snap_distance: float = 0.5):
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
        config: GraphConfig | None = None,
        snap_distance: float = 0.5,
    ):
        super().__init__(xyz, rgb, snap_distance=snap_distance)
        self.config = config or OUTDOOR
        self.geodesic = GeodesicRegion(self.xyz, self.config)  # voxels and graph, once per session

    @property
    def voxel_graph(self) -> VoxelGraph:
        """The session's voxel graph (nodes: the preset's voxels of the cloud)."""
        return self.geodesic.graph

    def region(self, positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
        """Points (bool (M,)) whose voxel is geodesically nearer to a positive click than to any negative one,
        within reach; clicks are point indices, positives in click order (the first decides ground)."""
        return self.geodesic.of_points(positive, negative)

    def _segment(self, positive: np.ndarray, negative: np.ndarray, current: int) -> np.ndarray:
        """The geodesic region of the clicks (`region`)."""
        return self.region(positive, negative)
