"""Checks of a caller's point cloud before any segmenter sees it (shape, dtype, colours).

Used by the click sessions (`session.InteractiveSession`) and by `preprocessing.prepare_sample`,
so the pipeline does not depend on the API layer for it.
"""

from __future__ import annotations

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
