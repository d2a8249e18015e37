"""The crop: which voxels of the scan one click's network input holds, and their spconv indices.

Per click, after the scan index (`voxel_grid`, `voxel_graph`) and before the click encoding:
`select_crop` keeps the voxels within a 3D ball of the positive clicks, so a 1M-point scan
costs what its crop costs and no stray point far above or below the clicks enters it;
`spconv_coords` shifts the kept voxel indices to a small spatial shape the U-Net accepts.
"""

from __future__ import annotations

import numpy as np


def select_crop(centroids: np.ndarray, positive_xyz: np.ndarray, radius: float, max_voxels: int) -> np.ndarray:
    """Indices (ascending) of the voxels within `radius` (3D distance) of any positive click.

    The crop is a union of balls, so a point far above or below the clicks (a stray return
    100 m up) never enters it. At most `max_voxels` are kept, the nearest to a positive
    click first; 0 disables either limit. Cost: one vectorised pass over the voxels per positive click.
    """
    nearest = np.full(len(centroids), np.inf)  # [V] squared distance to the nearest positive click
    for click in np.asarray(positive_xyz, dtype=np.float64).reshape(-1, 3):
        offset = centroids - click  # [V, 3]
        np.minimum(nearest, np.einsum("ij,ij->i", offset, offset), out=nearest)
    keep = np.flatnonzero(nearest <= radius * radius) if radius > 0 else np.arange(len(centroids))
    if 0 < max_voxels < len(keep):
        closest = np.argpartition(nearest[keep], max_voxels - 1)[:max_voxels]
        keep = np.sort(keep[closest])
    return keep


def spconv_coords(coords: np.ndarray, levels: int) -> tuple[np.ndarray, list[int]]:
    """Shift voxel indices to start near 0 and pad the spatial shape for `levels` stride-2 levels.

    The shift is a multiple of 2**(levels-1), so the coarse grids stay aligned to the world
    grid whatever the crop, and the padded shape loses no voxel in a stride-2 convolution.
    """
    step = 2 ** (levels - 1)
    offset = (coords.min(axis=0) // step) * step  # [3]
    local = coords - offset  # [V, 3]
    shape = (-(-(local.max(axis=0) + 1) // step)) * step  # ceil to a multiple of step
    return local.astype(np.int32), [int(s) for s in shape]
