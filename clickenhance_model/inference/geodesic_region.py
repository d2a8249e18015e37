"""The training-free region of a set of clicks on a cloud, per point: the baseline's answer and the fusion prior.

A `GeodesicRegion` voxelises a cloud at its graph preset's voxel size and builds the voxel
graph once (`voxel_graph.VoxelGraph`); each set of clicks then costs two bounded Dijkstra
runs (`VoxelGraph.click_distances`) and the rule `ClickDistances.region`, read back at every
point. The baseline segmenter is this; a `prior_fusion` network whose own graph is not the
cloud's preset (an indoor cloud, 3 cm voxels, under a network of 10 cm voxels) takes it as its
prior, per point at inference and as each network voxel's share of region points in training.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from clickenhance_model.inference.voxel_graph import PRESETS, GraphConfig, VoxelGraph, maps_graph_config
from clickenhance_model.inference.voxel_grid import voxelize

if TYPE_CHECKING:
    from clickenhance_model.inference.edge_affinity import EdgeAffinity
    from clickenhance_model.model_config import ModelConfig


def prior_preset(domain: str, joined_click: str | None = None) -> GraphConfig:
    """The graph settings of a `prior_fusion` network's prior on `domain` clouds: the domain's preset, with
    `joined_click` (`SegmenterConfig.joined_click`) in place of its own rule when given."""
    preset = PRESETS[domain]
    return preset if joined_click is None else dataclasses.replace(preset, joined_click=joined_click)


def needs_own_graph(config: ModelConfig, preset: GraphConfig) -> bool:
    """Whether a `prior_fusion` network reads its prior (graph settings `preset`, `prior_preset`) off a
    `GeodesicRegion` of its own: the preset is not the graph of the network's maps (another preset, or the
    maps' own `input.geodesic_normal_penalty`), or its voxels are not the network's.
    False for networks without prior fusion."""
    if not config.network.prior_fusion:
        return False
    return preset != maps_graph_config(config) or preset.voxel_size != config.input.voxel_size


class GeodesicRegion:
    """A cloud's voxel graph under one preset (float (N, 3) points, metres), built in the constructor; a model's
    prior may price its edges by a learned `affinity` (the training-free baseline never does)."""

    def __init__(self, xyz: np.ndarray, config: GraphConfig, affinity: EdgeAffinity | None = None):
        self.config = config
        grid = voxelize(xyz, None, config.voxel_size)
        self.node_of_point = grid.point_to_voxel  # [N] graph node (voxel) of each point
        self.graph = VoxelGraph(grid.centroids, config)
        if affinity is not None:
            affinity.reweigh(self.graph, grid.centroids)

    def of_points(self, positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
        """Region (bool (N,)) of clicks given as point indices, positives in click order (the first decides ground)."""
        distances = self.graph.click_distances(self.node_of_point[positive], self.node_of_point[negative])
        return distances.region()[self.node_of_point]

    def of_positions(self, positive_xyz: np.ndarray, negative_xyz: np.ndarray) -> np.ndarray:
        """Region (bool (N,)) of clicks given as positions (float (K, 3)); each takes its nearest graph node
        within `max_edge`, a click farther from every node is no source."""
        positive, negative = (self.graph.nodes_near(xyz, self.config.max_edge) for xyz in (positive_xyz, negative_xyz))
        return self.graph.click_distances(positive, negative).region()[self.node_of_point]
