"""Voxelisation of a point cloud for the learned model: one grid per cloud (session, training scene).

Voxel index floor(xyz / voxel_size); each voxel holds its centroid, mean colour and point count,
and every point its voxel (the inverse map that turns a voxel mask back into a point mask).
Voxels are sorted by their packed index, so the result does not depend on the point order.
Torch-free, so the cloud -> grid -> graph steps import no network code. The one voxelisation
of the package: the learned model and the training-free baseline both use it.

A point on a grid line belongs to the voxel above the line (`voxel_indices`), whether its
float32 coordinate was rounded a little below or above the line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clickenhance_model.errors import CloudError


@dataclass(frozen=True)
class VoxelGrid:
    """A voxelised cloud; voxels are sorted by their packed index, so the result is deterministic."""

    voxel_size: float
    coords: np.ndarray  # [V, 3] int64 voxel index, floor(xyz / voxel_size) (see `voxel_indices`)
    centroids: np.ndarray  # [V, 3] float64 mean position of the voxel's points
    colors: np.ndarray  # [V, 3] float32 mean rgb of the voxel's points (zeros without rgb)
    counts: np.ndarray  # [V] int64 points per voxel
    point_to_voxel: np.ndarray  # [N] int64 voxel of each input point

    def __len__(self) -> int:
        """Number of voxels."""
        return len(self.coords)


def _unique_voxels(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique rows of an int64 (N, 3) array and the inverse map, via one packed int64 key when it fits."""
    low = coords.min(axis=0)
    span = coords.max(axis=0) - low + 1  # [3]
    if float(span[0]) * float(span[1]) * float(span[2]) < 2.0**62:
        shifted = coords - low  # [N, 3]
        keys = (shifted[:, 0] * span[1] + shifted[:, 1]) * span[2] + shifted[:, 2]  # [N]
        unique_keys, inverse = np.unique(keys, return_inverse=True)
        unique = np.stack(
            [unique_keys // (span[1] * span[2]), (unique_keys // span[2]) % span[1], unique_keys % span[2]], axis=1
        )
        return unique + low, inverse.reshape(-1)
    unique, inverse = np.unique(coords, axis=0, return_inverse=True)
    return unique, inverse.reshape(-1)


GRID_LINE_TOLERANCE = 2.0**-22  # relative: twice the rounding error of a float32 coordinate


def voxel_indices(xyz: np.ndarray, voxel_size: float) -> np.ndarray:
    """Voxel index floor(xyz / voxel_size) of each coordinate, int64 (N, 3); a point on a grid line goes above it.

    Points arrive as float32, so a coordinate meant to lie on a grid line (k * voxel_size) is
    stored up to 2^-24 (relative) below or above it, and a plain floor would put it in voxel
    k - 1 or k at the whim of its rounding. A quotient within `GRID_LINE_TOLERANCE` (relative)
    of an integer is taken as that integer, so such a point always lands in voxel k; any other
    point moves by less than 0.25 um per metre of distance from the origin.
    """
    quotient = np.asarray(xyz, dtype=np.float64) / voxel_size  # [N, 3]
    line = np.rint(quotient)
    on_line = np.abs(quotient - line) <= np.abs(line) * GRID_LINE_TOLERANCE
    return np.floor(np.where(on_line, line, quotient)).astype(np.int64)


def voxelize(xyz: np.ndarray, rgb: np.ndarray | None, voxel_size: float) -> VoxelGrid:
    """Voxelise finite points (metres) at `voxel_size`; colours are averaged per voxel (zeros if rgb is None)."""
    xyz = np.asarray(xyz, dtype=np.float64)
    if len(xyz) == 0:
        raise CloudError("cannot voxelise an empty cloud")
    coords, inverse = _unique_voxels(voxel_indices(xyz, voxel_size))
    counts = np.bincount(inverse, minlength=len(coords))  # [V]
    centroids = np.stack([np.bincount(inverse, xyz[:, d], len(coords)) for d in range(3)], axis=1) / counts[:, None]
    if rgb is None:
        colors = np.zeros((len(coords), 3), dtype=np.float32)
    else:
        rgb = np.asarray(rgb, dtype=np.float64)
        colors = np.stack([np.bincount(inverse, rgb[:, d], len(coords)) for d in range(3)], axis=1) / counts[:, None]
    return VoxelGrid(voxel_size, coords, centroids, colors.astype(np.float32), counts, inverse)
