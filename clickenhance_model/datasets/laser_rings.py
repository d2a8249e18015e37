"""Laser rings of a spinning LiDAR scan, found from the point order; sparser sensors emulated from them.

SemanticKITTI (and KITTI) store the points of a scan ring by ring, each ring one full
sweep of the azimuth that starts where the scan starts (straight ahead in KITTI, so the
+-pi wrap falls in the middle of each ring). The azimuth is unwrapped along the point
order: a jump of about -2 pi (for a sweep of rising azimuth) is a wrap, and points that
jitter across the wrap and back (a +2 pi jump after a -2 pi one) cancel out. The ring of
a point is the number of whole turns from the first point's azimuth (less half a step, for
jitter) to its own (checked on the real scans: 64 rings, each at one elevation all around).
Keeping every K-th ring turns the 64-beam HDL-64E into a 64/K-beam sensor with the same field of view, on real returns.
"""

from __future__ import annotations

import numpy as np


def ring_index(xyz: np.ndarray) -> np.ndarray:
    """Ring number (0, 1, ...) of each point of a ring-by-ring scan, from its azimuth wraps; int64 (N,)."""
    xyz = np.asarray(xyz, dtype=np.float64)
    if xyz.ndim != 2 or xyz.shape[1] < 2:
        raise ValueError(f"points must have shape (N, >=2), got {xyz.shape}")
    if len(xyz) < 2:
        return np.zeros(len(xyz), dtype=np.int64)
    azimuth = np.arctan2(xyz[:, 1], xyz[:, 0])
    step = np.diff(azimuth)
    step = np.where(np.isfinite(step), step, 0.0)
    direction = 1.0 if np.median(step) >= 0 else -1.0  # sweep of rising or falling azimuth
    wraps = -np.round(direction * step / (2 * np.pi))  # +1 where the sweep wraps from +pi to -pi
    turned = direction * azimuth + 2 * np.pi * np.concatenate([[0.0], np.cumsum(wraps)])  # unwrapped, rising
    turned = np.where(np.isfinite(turned), turned, turned[0] if np.isfinite(turned[0]) else 0.0)
    half_step = 0.5 * float(np.median(np.abs(step)))  # a ring's first point may jitter a little before the start
    ring = np.floor((turned - turned[0] + half_step) / (2 * np.pi)).astype(np.int64)
    return ring - ring.min()


MIN_CUT_RINGS = 16  # a ring cut sparser than a 16-ring sensor is no sensor the project serves


def check_keep_rings(k: int) -> None:
    """Raise ValueError unless `k` is an integer >= 1."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"keep_rings must be an integer >= 1, got {k!r}")


def keep_every_kth_ring(xyz: np.ndarray, k: int) -> np.ndarray:
    """Bool (N,) mask of the points on rings 0, k, 2k, ... (all points for k = 1)."""
    check_keep_rings(k)
    if k == 1:
        return np.ones(len(xyz), dtype=bool)
    return ring_index(xyz) % k == 0


def sensor_ring_cut(xyz: np.ndarray, k: int) -> np.ndarray | None:
    """Bool (N,) mask of every k-th ring of a spinning LiDAR's scan, or None where that cut would leave fewer than
    `MIN_CUT_RINGS` rings (a 16- or 32-ring sensor's scan, or a cloud without rings: an RGB-D view, a rosette)."""
    check_keep_rings(k)
    if len(xyz) < 2:
        return None
    ring = ring_index(xyz)
    if -(-(int(ring.max()) + 1) // k) < MIN_CUT_RINGS:
        return None
    return ring % k == 0
