"""Stray returns: lone points inside an object that real labels give to something else, and the clicks they draw.

On real LiDAR scans a few points among an object's points carry another label: a return from
the road seen under a car, a mixed pixel at a car's edge labelled parking, vegetation wrapped
round a trunk. When the mask is nearly right, the simulated user's deepest error is such a
point, and it clicks it as a negative. The training-free region then hands the negative click
everything geodesically nearer to it than to the positive clicks (on the real dev scans a
1737-point car fell from 97% to 3% IoU on one such click, and most of the real drops of more
than 20 IoU points follow one). Generated labels have no stray returns, so a network never
learns that such a click removes the point and little else.

`stray_click_sample` makes one: a lone object voxel (few points, object voxels all round it)
becomes background for that sample and gets a negative click, the latest one; the fusion
prior takes the click as it would at inference, and the labels keep the rest of the object.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

LONE_RADIUS = 0.25  # metres: the object voxels that must surround a stray one lie this near
LONE_NEIGHBOURS = 4  # ... at least this many of them
LONE_POINTS = 2  # a stray voxel holds at most this many points (the real ones hold one or two)


def lone_object_voxel(
    centroids: np.ndarray, counts: np.ndarray, target: np.ndarray, exclude: list[int], rng: np.random.Generator
) -> int | None:
    """A random object voxel that could hold a stray return (None if the object has none).

    It holds at most `LONE_POINTS` points, at least `LONE_NEIGHBOURS` other object voxels lie
    within `LONE_RADIUS` of it, and it is not in `exclude` (the positive clicks). Any surrounded
    object voxel serves when none is that sparse.

    Args:
        centroids: float [V, 3] voxel centroids of the scene.
        counts: int [V] points per voxel.
        target: bool [V] the object's voxels that may be drawn and count as its neighbours.
        exclude: voxel ids never drawn.
        rng: the sample's random stream.
    """
    voxels = np.setdiff1d(np.flatnonzero(target), np.asarray(exclude, dtype=np.int64))
    if len(voxels) == 0:
        return None
    tree = cKDTree(centroids[target])
    neighbours = tree.query_ball_point(centroids[voxels], LONE_RADIUS, return_length=True) - 1  # not itself
    surrounded = voxels[neighbours >= LONE_NEIGHBOURS]
    sparse = surrounded[counts[surrounded] <= LONE_POINTS]
    pool = sparse if len(sparse) else surrounded
    return int(rng.choice(pool)) if len(pool) else None
