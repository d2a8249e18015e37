"""Which scan point a click in the 3D view means: the point nearest to the click's ray.

The browser sends a click as a ray (camera origin and direction in world coordinates).
A point is a candidate when it lies in front of the camera and within `tolerance` radians
of the ray, measured from the camera (so the tolerance is a fixed size on the screen, one
or a few pixels, whatever the point's depth). The surface the user sees is the front-most
candidate: points more than `surface_depth` metres behind it are hidden by it and left out.
The chosen point is the remaining candidate with the smallest angle to the ray (equal angles:
the one nearer the camera).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

PICK_PIXELS = 6.0  # default tolerance: this many screen pixels around the cursor
SURFACE_DEPTH = 0.5  # metres behind the front-most candidate that still count as the visible surface


def pixel_tolerance(vertical_fov: float, image_height: int, pixels: float = PICK_PIXELS) -> float:
    """Angle in radians that `pixels` screen pixels span for a camera of `vertical_fov` radians."""
    if not 0.0 < vertical_fov < math.pi:
        raise ValueError(f"vertical_fov must be in (0, pi) radians, got {vertical_fov}")
    if image_height <= 0:
        raise ValueError(f"image_height must be positive, got {image_height}")
    return float(pixels) * vertical_fov / float(image_height)


def pick_point(xyz: np.ndarray, origin: Sequence[float], direction: Sequence[float],
               tolerance: float, surface_depth: float = SURFACE_DEPTH) -> int | None:
    """Index of the point of `xyz` (N, 3) nearest to the ray within `tolerance` radians, or None.

    Points behind the camera, non-finite points, points farther than `tolerance` from the
    ray (as seen from `origin`) and points hidden behind the front-most candidate (see the
    module doc) are never picked.
    """
    o = np.asarray(origin, dtype=np.float64).reshape(-1)
    d = np.asarray(direction, dtype=np.float64).reshape(-1)
    if o.shape != (3,) or d.shape != (3,) or not (np.isfinite(o).all() and np.isfinite(d).all()):
        raise ValueError(f"a ray needs a finite 3D origin and direction, got {origin!r}, {direction!r}")
    length = float(np.linalg.norm(d))
    if length == 0.0:
        raise ValueError("the ray direction is the zero vector")
    if tolerance <= 0.0:
        raise ValueError(f"tolerance must be positive radians, got {tolerance}")
    d /= length
    relative = np.asarray(xyz, dtype=np.float64) - o  # [N, 3]
    depth = relative @ d  # [N] distance along the ray
    offset = np.linalg.norm(relative - depth[:, None] * d, axis=1)  # [N] distance from the ray
    with np.errstate(invalid="ignore", divide="ignore"):
        angle = np.arctan2(offset, depth)  # [N] angle seen from the camera, pi/2+ behind it
    candidate = np.isfinite(angle) & (depth > 0.0) & (angle <= tolerance)
    if not candidate.any():
        return None
    candidate &= depth <= depth[candidate].min() + surface_depth  # the visible surface only
    indices = np.flatnonzero(candidate)
    order = np.lexsort((depth[indices], angle[indices]))  # smallest angle, then nearest
    return int(indices[order[0]])
