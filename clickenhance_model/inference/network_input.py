"""From a voxelised cloud and its clicks to the network input: crop, features, batches.

Input conventions: xyz in metres, z up, finite and within the session's range (the session
drops non-finite and absurd points before this module sees them); rgb optional in [0, 1],
zeros when absent.

The path, shared by the inference session and the trainer:
1. Once per cloud, the scan index: `voxel_grid.voxelize` (voxel index floor(xyz / voxel_size),
   centroids and mean colours, the point -> voxel inverse map) and `voxel_graph.scan_graph`
   (the voxel graph of the whole scan: kNN edges, normals, ground, bridges) when the input
   has geodesic click maps.
2. `encode_crop` (once per click): `crop.select_crop` keeps the voxels within `crop_radius`
   (a 3D ball) of the positive clicks (at most `max_voxels`, nearest first); the features of
   each kept voxel: main branch `[x, y, z, r, g, b, d_pos, d_neg]` (xyz relative to the
   first positive click, divided by `coord_scale`) plus `[g_pos, g_neg]` (geodesic click
   maps, two bounded Dijkstra runs on the scan graph) when `input.geodesic_maps` is on (and
   `geodesic_channels`: else the graph gives a fusion network its prior only), CSE
   branch `[x, y, z, d_current]`.
3. `collate` several samples into one batch (spconv batch index in column 0).

`prepare_sample` runs steps 1-2 for one training sample; `ModelSession` caches step 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from clickenhance_model.errors import ClickError, CloudError
from clickenhance_model.inference.click_encoding import encode_clicks, geodesic_click_features
from clickenhance_model.inference.cloud import validate_cloud
from clickenhance_model.inference.crop import select_crop, spconv_coords
from clickenhance_model.inference.voxel_graph import VoxelGraph, scan_graph
from clickenhance_model.inference.voxel_grid import VoxelGrid, voxelize
from clickenhance_model.model_config import ModelConfig

CSE_FEATURES = 4  # xyz (3) + current-click map (1)


def _check_clicks(
    positive_xyz: np.ndarray, negative_xyz: np.ndarray | None, current_xyz: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positive (P, 3), negative (Q, 3) and current (3,) click positions as float64; P >= 1, all finite.

    A missing `current_xyz` means the latest positive click.
    """
    try:
        positive = np.asarray(positive_xyz, dtype=np.float64).reshape(-1, 3)
        negative = np.zeros((0, 3)) if negative_xyz is None else np.asarray(negative_xyz, dtype=np.float64)
        negative = negative.reshape(-1, 3)
        current = positive[-1:] if current_xyz is None else np.asarray(current_xyz, dtype=np.float64).reshape(-1, 3)
    except (TypeError, ValueError) as error:
        raise ClickError(f"click positions must be (K, 3) arrays of numbers: {error}") from error
    if len(positive) == 0:
        raise ClickError("at least one positive click is needed to segment an object")
    if len(current) != 1:
        raise ClickError(f"current_xyz must be one (x, y, z) position, got {len(current)}")
    if not (np.isfinite(positive).all() and np.isfinite(negative).all() and np.isfinite(current).all()):
        raise ClickError("click positions must be finite")
    return positive, negative, current[0]


def encode_crop(
    grid: VoxelGrid,
    positive_xyz: np.ndarray,
    negative_xyz: np.ndarray | None,
    current_xyz: np.ndarray | None,
    config: ModelConfig,
    graph: VoxelGraph | None = None,
) -> dict:
    """Crop a voxelised cloud around the clicks and build the network input of one sample.

    Returns a dict of CPU tensors: "features" float32 [V, 8] ([V, 10] with geodesic maps),
    "cse_features" float32 [V, 4], "coords" int32 [V, 3], "crop" int64 [V] (voxel ids in
    `grid`), "anchor" (crop voxel of the latest positive click), "current" (crop voxel of
    the latest click), "spatial_shape" (list of 3 ints) and, for networks with `prior_fusion`,
    "prior" float32 [V] (1 where the training-free geodesic region holds the voxel) and
    "scan_prior" (that region over every voxel of `grid`, a bool array that `collate` leaves out).
    `current_xyz` None means the latest positive click.
    `graph` is `scan_graph(grid, config)`, built once per grid by the caller; None builds it here (one-off samples).
    """
    positive, negative, current = _check_clicks(positive_xyz, negative_xyz, current_xyz)
    cfg = config.input
    crop = select_crop(grid.centroids, positive, cfg.crop_radius, cfg.max_voxels)  # [V]
    if len(crop) == 0:
        raise ClickError(f"no point within the crop radius ({cfg.crop_radius} m) of the positive clicks")
    points = grid.centroids[crop]  # [V, 3]
    maps, current_map = encode_clicks(points, positive, negative, current, cfg.encoding, cfg.sparse_cube_size,
                                      cfg.dense_map_metres)  # fmt: skip
    xyz = ((points - positive[0]) / cfg.coord_scale).astype(np.float32)  # [V, 3]
    features = [xyz, grid.colors[crop], maps]
    region = None
    if cfg.geodesic_maps != "off":
        graph = scan_graph(grid, config) if graph is None else graph
        geodesic_maps, region = geodesic_click_features(graph, positive, negative)  # every voxel of the scan
        if cfg.geodesic_channels:  # else the graph serves the fusion prior only
            features.append(geodesic_maps[crop])
    features = np.concatenate(features, axis=1)  # [V, 8 or 10]
    cse_features = np.concatenate([xyz, current_map], axis=1)  # [V, 4]
    coords, shape = spconv_coords(grid.coords[crop], config.network.levels)

    def nearest(position: np.ndarray) -> int:
        return int(np.argmin(((points - position) ** 2).sum(axis=1)))

    sample = {
        "features": torch.from_numpy(features),
        "cse_features": torch.from_numpy(cse_features),
        "coords": torch.from_numpy(coords),
        "crop": torch.from_numpy(crop.astype(np.int64)),
        "anchor": nearest(positive[-1]),
        "current": nearest(current),
        "spatial_shape": shape,
    }
    if config.network.prior_fusion:
        sample["prior"] = torch.from_numpy(region[crop].astype(np.float32))  # [V] the geodesic region, 0/1
        sample["scan_prior"] = region  # [grid voxels] bool, the same region past the crop (not batched)
    return sample


def prepare_sample(
    xyz: np.ndarray,
    rgb: np.ndarray | None,
    positive_xyz: np.ndarray,
    negative_xyz: np.ndarray | None,
    current_xyz: np.ndarray | None,
    config: ModelConfig,
    labels: np.ndarray | None = None,
) -> dict:
    """One training/evaluation sample from a finite cloud and click positions (metres).

    Voxelises, crops and encodes exactly as the inference session does. Besides the keys
    of `encode_crop` it holds "point_voxel" int64 [N] (crop voxel of each input point, -1
    outside the crop: those points are background) and, when `labels` (bool/int (N,),
    nonzero = object) is given, "labels" int64 [V]: 1 where most of a voxel's points are object.
    """
    xyz, rgb = validate_cloud(xyz, rgb)
    if not np.isfinite(xyz).all() or (rgb is not None and not np.isfinite(rgb).all()):
        raise CloudError("prepare_sample needs finite points; drop NaN/Inf points first")
    grid = voxelize(xyz, rgb, config.input.voxel_size)
    sample = encode_crop(grid, positive_xyz, negative_xyz, current_xyz, config)
    crop = sample["crop"].numpy()
    lookup = np.full(len(grid), -1, dtype=np.int64)  # grid voxel -> crop voxel
    lookup[crop] = np.arange(len(crop))
    sample["point_voxel"] = torch.from_numpy(lookup[grid.point_to_voxel])
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if labels.shape != (len(xyz),):
            raise CloudError(f"labels must have shape ({len(xyz)},), got {labels.shape}")
        inside = np.bincount(grid.point_to_voxel, weights=(labels != 0).astype(np.float64), minlength=len(grid))
        voxel_labels = (inside[crop] / grid.counts[crop] >= 0.5).astype(np.int64)  # [V]
        sample["labels"] = torch.from_numpy(voxel_labels)
    return sample


def collate(samples: Sequence[dict], device: str | torch.device = "cpu") -> dict:
    """Stack samples into one batch for `ClickEnhanceNet.forward`.

    Returns "features" [V, 8], "cse_features" [V, 4], "indices" int32 [V, 4] (batch index,
    x, y, z), "batch_index" int64 [V], "spatial_shape", "batch_size", "anchor" / "current"
    int64 [B] (voxel rows in the batch), and "prior" float32 [V] / "labels" int64 [V] when
    every sample has them.
    """
    if not samples:
        raise ValueError("collate needs at least one sample")
    offsets = np.cumsum([0] + [len(s["coords"]) for s in samples])
    indices = [
        torch.cat([torch.full((len(s["coords"]), 1), b, dtype=torch.int32), s["coords"]], dim=1)
        for b, s in enumerate(samples)
    ]
    batch = {
        "features": torch.cat([s["features"] for s in samples]).to(device),  # [V, 8]
        "cse_features": torch.cat([s["cse_features"] for s in samples]).to(device),  # [V, 4]
        "indices": torch.cat(indices).to(device),  # [V, 4]
        "batch_index": torch.cat([torch.full((len(s["coords"]),), b) for b, s in enumerate(samples)]).to(device),
        "spatial_shape": [max(s["spatial_shape"][d] for s in samples) for d in range(3)],
        "batch_size": len(samples),
        "anchor": torch.tensor([s["anchor"] + o for s, o in zip(samples, offsets, strict=False)]).to(device),
        "current": torch.tensor([s["current"] + o for s, o in zip(samples, offsets, strict=False)]).to(device),
    }
    if all("prior" in s for s in samples):
        batch["prior"] = torch.cat([s["prior"] for s in samples]).to(device)  # [V]
    if all("labels" in s for s in samples):
        batch["labels"] = torch.cat([s["labels"] for s in samples]).to(device)  # [V]
    return batch
