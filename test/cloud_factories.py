"""Small hand-built clouds shared by tests: surfaces of boxes as a LiDAR would see them."""

from __future__ import annotations

import numpy as np


def box_surface(low: tuple[float, float, float], high: tuple[float, float, float], step: float) -> np.ndarray:
    """Points on the top and the four sides of an axis-aligned box, `step` metres apart."""
    (x0, y0, z0), (x1, y1, z1) = low, high
    xs, ys, zs = np.arange(x0, x1 + 1e-6, step), np.arange(y0, y1 + 1e-6, step), np.arange(z0, z1 + 1e-6, step)
    faces = [np.stack(np.meshgrid(xs, ys, [z1]), -1).reshape(-1, 3)]
    faces += [np.stack(np.meshgrid(xs, [y], zs), -1).reshape(-1, 3) for y in (y0, y1)]
    faces += [np.stack(np.meshgrid([x], ys, zs), -1).reshape(-1, 3) for x in (x0, x1)]
    return np.concatenate(faces)
