"""The first step of the data flow: a caller's cloud checked and reduced to the points a segmenter may use.

`validate_cloud` checks shape, dtype and colours (CloudError naming the problem);
`usable_points` then drops non-finite points and points beyond `max_range` of the origin
(a stray return at 1e17 m would blow up the voxel grid), keeping the map back to the
caller's indices. Used by the click sessions (`session.InteractiveSession`) and by
`network_input.prepare_sample`, so neither depends on the other for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clickenhance_model.errors import CloudError


def validate_cloud(xyz: np.ndarray, rgb: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Check shapes and dtypes of a cloud; return float32 xyz and rgb (or None).

    Raises CloudError naming the problem: empty cloud, wrong shape, non-numeric data.
    """
    xyz = np.asarray(xyz)
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        raise CloudError(f"xyz must have shape (N, 3), got {xyz.shape}")
    if xyz.shape[0] == 0:
        raise CloudError("the cloud is empty (0 points)")
    if not np.issubdtype(xyz.dtype, np.number) or np.issubdtype(xyz.dtype, np.complexfloating):
        raise CloudError(f"xyz must be a real numeric array, got dtype {xyz.dtype}")
    xyz = np.ascontiguousarray(xyz, dtype=np.float32)
    if rgb is not None:
        rgb = np.asarray(rgb)
        if rgb.shape != xyz.shape:
            raise CloudError(f"rgb must have the shape of xyz {xyz.shape}, got {rgb.shape}")
        if not np.issubdtype(rgb.dtype, np.number):
            raise CloudError(f"rgb must be numeric, got dtype {rgb.dtype}")
        rgb = np.ascontiguousarray(rgb, dtype=np.float32)
    return xyz, rgb


@dataclass(frozen=True)
class UsableCloud:
    """The points of a validated cloud that a segmenter sees, and where they came from."""

    num_points: int  # N, points in the caller's cloud
    valid_indices: np.ndarray  # [M] int64 caller index of each kept point, ascending
    xyz: np.ndarray  # [M, 3] float32 finite points within range
    rgb: np.ndarray | None  # [M, 3] float32 colours clipped to [0, 1], or None


def usable_points(xyz: np.ndarray, rgb: np.ndarray | None, max_range: float) -> UsableCloud:
    """Validate a cloud and keep its finite points within `max_range` metres of the origin.

    A point with a non-finite colour is dropped too. Raises CloudError when no point is left.
    """
    xyz, rgb = validate_cloud(xyz, rgb)
    keep = np.isfinite(xyz).all(axis=1)
    if rgb is not None:
        keep &= np.isfinite(rgb).all(axis=1)
    if not keep.any():
        raise CloudError(f"the cloud has no finite point (all {len(xyz)} contain NaN/Inf)")
    keep &= (xyz.astype(np.float64) ** 2).sum(axis=1) <= float(max_range) ** 2  # float64: no overflow
    if not keep.any():
        raise CloudError(f"the cloud has no point within {max_range} m of the origin")
    colours = None if rgb is None else np.clip(rgb[keep], 0.0, 1.0)
    return UsableCloud(len(xyz), np.flatnonzero(keep), xyz[keep], colours)
