"""A learned edge affinity for a prior-fusion model's outdoor prior: how likely a graph edge joins two objects.

The training-free graph (`voxel_graph.VoxelGraph`) prices every edge by its length and a few fixed rules. On a
sparse scan a trunk and the canopy over it, or a facade and the bush in front of it, meet at edges as short as
the edges along one object, so one click grows across both. A small MLP reads 12 geometric features of each edge
between two off-ground nodes (`edge_features`) and gives the probability that its two nodes belong to different
objects; the model's prior then prices that edge `1 + weight * p` times its cost. It is fitted on generated
streets (`training.edge_affinity_fit`) and travels in the checkpoint (`extra["edge_affinity"]`); the training-free
baseline never uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from clickenhance_model.inference.voxel_graph import SCATTER_VARIATION, VoxelGraph, height_above_lowest

EDGE_FEATURES = 12
HIDDEN = 32
HEIGHT_SCALE = 3.0  # metres; heights above the lowest nearby node enter divided by this


def edge_features(nodes: np.ndarray, edges: np.ndarray, max_edge: float, normals: np.ndarray, variation: np.ndarray,
                  height: np.ndarray) -> np.ndarray:  # fmt: skip
    """Features float32 (E, `EDGE_FEATURES`) of edges (int (E, 2)) between nodes (float64 (V, 3)): the edge's length
    over `max_edge` and its slope; the lower and higher of its nodes' |normal z|, surface variation and height
    (`height`, metres over the lowest nearby node); how parallel their normals are; how far apart their scatter
    grades lie; whether both normals are reliable; how much of the edge points away from the sensor (at the origin).
    `normals` (V, 3) are zero where unreliable, `variation` (V,) in [0, 1] (`voxel_graph.surface_shape`)."""
    a, b = edges[:, 0], edges[:, 1]
    step = nodes[b] - nodes[a]
    length = np.linalg.norm(step, axis=1) + 1e-9
    normal_z = np.abs(normals[:, 2])
    parallel = np.abs((normals[a] * normals[b]).sum(axis=1))
    reliable = (np.abs(normals).sum(axis=1) > 0).astype(np.float64)
    low, high = SCATTER_VARIATION
    scatter = np.clip((variation - low) / (high - low), 0, 1)
    radial = np.abs(np.linalg.norm(nodes[a, :2], axis=1) - np.linalg.norm(nodes[b, :2], axis=1)) / length
    columns = [
        length / max_edge, np.abs(step[:, 2]) / length,
        np.minimum(normal_z[a], normal_z[b]), np.maximum(normal_z[a], normal_z[b]),
        np.minimum(variation[a], variation[b]), np.maximum(variation[a], variation[b]),
        parallel, np.abs(scatter[a] - scatter[b]),
        np.minimum(height[a], height[b]) / HEIGHT_SCALE, np.maximum(height[a], height[b]) / HEIGHT_SCALE,
        reliable[a] * reliable[b], radial,
    ]  # fmt: skip
    return np.stack(columns, axis=1).astype(np.float32)


def off_ground_edges(graph: VoxelGraph) -> np.ndarray:
    """Which of the graph's edges (bool (E,)) join two nodes off the ground: the only ones the affinity prices."""
    return ~graph.ground[graph.edges[:, 0]] & ~graph.ground[graph.edges[:, 1]]


def graph_edge_features(graph: VoxelGraph, nodes: np.ndarray) -> np.ndarray:
    """`edge_features` of a graph's off-ground edges (`off_ground_edges`, in order); `nodes` are its nodes."""
    height = height_above_lowest(nodes, graph.config.ground_cell)
    edges = graph.edges[off_ground_edges(graph)]
    return edge_features(nodes, edges, graph.config.max_edge, graph.normals, graph.variation, height)


class EdgeAffinityNet(nn.Module):
    """The MLP: `EDGE_FEATURES` features of an edge -> the logit that it joins two objects."""

    def __init__(self, hidden: int = HIDDEN):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(EDGE_FEATURES, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                    nn.Linear(hidden, 1))  # fmt: skip

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Logits (E,) of features (E, `EDGE_FEATURES`)."""
        return self.layers(features).squeeze(1)


@dataclass
class EdgeAffinity:
    """A fitted affinity and how much it prices an edge: cost times `1 + weight * p` on the `domains` priors."""

    net: EdgeAffinityNet
    weight: float
    domains: tuple[str, ...] = ("outdoor",)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """P(the edge joins two objects), float32 (E,), of `edge_features` rows."""
        if len(features) == 0:
            return np.zeros(0, dtype=np.float32)
        with torch.inference_mode():
            return torch.sigmoid(self.net(torch.as_tensor(features))).numpy()

    def reweigh(self, graph: VoxelGraph, nodes: np.ndarray) -> None:
        """Price the graph's off-ground edges by their affinity (in place; `nodes` are the graph's nodes)."""
        factor = np.ones(len(graph.edges))
        factor[off_ground_edges(graph)] = 1.0 + self.weight * self.probabilities(graph_edge_features(graph, nodes))
        graph.scale_lengths(factor)

    def to_extra(self) -> dict[str, Any]:
        """Plain data and tensors for a checkpoint's `extra["edge_affinity"]`."""
        state = {name: tensor.detach().cpu().clone() for name, tensor in self.net.state_dict().items()}
        return {"weight": float(self.weight), "domains": list(self.domains), "hidden": self.net.layers[0].out_features,
                "state_dict": state}  # fmt: skip

    @classmethod
    def from_extra(cls, stored: dict[str, Any]) -> EdgeAffinity:
        """The affinity of a checkpoint's `extra["edge_affinity"]`; ValueError (KeyError, RuntimeError) if unusable."""
        weight = float(stored["weight"])
        if not np.isfinite(weight) or weight < 0:
            raise ValueError(f"edge affinity weight must be a finite number >= 0, got {weight}")
        net = EdgeAffinityNet(int(stored["hidden"]))
        net.load_state_dict(stored["state_dict"])
        return cls(net.eval(), weight, tuple(str(domain) for domain in stored["domains"]))
