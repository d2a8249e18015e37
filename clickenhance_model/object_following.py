"""Follow one segmented object from cloud to cloud of a live stream, without ROS.

The object of the previous cloud (its points, and the negative clicks that shaped it) is
carried into the new cloud, and the segmenter segments it there from carried clicks:

1. Optionally, a rigid `transform` (previous cloud's frame -> new cloud's frame, e.g. from
   odometry) moves the previous points and negative clicks first.
2. A motion gate bounds where the object can be: `min_gate + max_speed * dt` metres from where
   it was (dt: seconds since the last cloud it was found in), at most `max_gate`, so a long
   occlusion never lets it jump to a look-alike object far away. A translation-only ICP (median
   of nearest-neighbour offsets, within the gate) estimates how far it moved.
3. Positive clicks: the new point nearest to the moved centroid, and points halfway out to a
   few far-apart surface points, all on new points that lie on the moved object's surface.
   Negative clicks: the previous ones, moved the same way, where the new cloud still has a
   point there that is off the object.
4. Confidence: the geometric mean of the point-count ratio, the extent ratio and the share of
   the new mask lying on the moved object. Below `min_confidence` (or with no surface point
   in the gate) the object is lost: nothing is returned as the object and the reference stays
   the last good one, so the gate widens with time and the next clouds keep trying.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["FollowConfig", "FollowResult", "ObjectFollower"]

MAX_REFERENCE_POINTS = 3000  # previous-object points kept for matching (a random subset beyond)


@dataclass(frozen=True)
class FollowConfig:
    """Settings of `ObjectFollower` (distances in metres, times in seconds)."""

    max_speed: float = 10.0  # largest object speed relative to the sensor [m/s] (the motion gate)
    min_gate: float = 0.5  # gate slack for sampling and noise [m], also the gate when stamps repeat
    max_gate: float = 4.0  # the gate never grows beyond this [m], however long the object was lost
    surface_tolerance: float = 0.25  # a new point within this of the moved object lies on its surface [m]
    surface_clicks: int = 0  # positive clicks beside the centroid's (0: measured best for the shipped model)
    negative_clicks: int = 4  # most negative clicks carried
    min_confidence: float = 0.5  # below this the object counts as lost
    icp_iterations: int = 6

    def __post_init__(self) -> None:
        for name in ("max_speed", "min_gate", "max_gate", "surface_tolerance"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"FollowConfig.{name} must be a finite number >= 0, got {value}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"FollowConfig.min_confidence must be in [0, 1], got {self.min_confidence}")
        if self.surface_clicks < 0 or self.negative_clicks < 0 or self.icp_iterations < 1:
            raise ValueError("FollowConfig: surface_clicks and negative_clicks must be >= 0, icp_iterations >= 1")


@dataclass(frozen=True)
class FollowResult:
    """The followed object in one new cloud; when `lost`, `mask` is empty and `reason` says why."""

    mask: np.ndarray  # bool (N,) over the new cloud's points
    lost: bool
    reason: str
    confidence: float  # in [0, 1]
    centroid: np.ndarray  # (3,) metres, new cloud's frame; the predicted position when lost
    point_count: int
    shift: np.ndarray  # (3,) estimated displacement since the reference cloud [m]
    inference_ms: float  # segmenter time (0 when no inference ran)
    positive: tuple[int, ...] = field(default=())  # the carried clicks (new cloud's point indices)
    negative: tuple[int, ...] = field(default=())


class ObjectFollower:
    """Segments the object of a reference cloud again in each new cloud (see the module doc).

    Args:
        segmenter: anything with `session(xyz, rgb)` whose session has `add_clicks`.
        object_xyz: (M, 3) the object's points in the reference cloud [m].
        stamp: the reference cloud's time [s].
        negative_xyz: (K, 3) positions of the negative clicks that shaped the object.
    """

    def __init__(self, segmenter: Any, object_xyz: np.ndarray, stamp: float,
                 negative_xyz: np.ndarray | None = None, config: FollowConfig | None = None):
        points = np.asarray(object_xyz, dtype=np.float64).reshape(-1, 3)
        points = points[np.isfinite(points).all(axis=1)]
        if len(points) == 0:
            raise ValueError("the object to follow has no finite point")
        if not np.isfinite(stamp):
            raise ValueError(f"the reference stamp must be finite, got {stamp}")
        self.segmenter = segmenter
        self.config = config or FollowConfig()
        self.frames = 0
        self.lost_in_a_row = 0
        self._set_reference(points, float(stamp), np.asarray(
            negative_xyz if negative_xyz is not None else np.zeros((0, 3)), dtype=np.float64).reshape(-1, 3))

    def _set_reference(self, points: np.ndarray, stamp: float, negatives: np.ndarray) -> None:
        """Make `points` (the object found at `stamp`) the reference for the next clouds."""
        self.reference_count = len(points)
        self.extent = float(np.linalg.norm(points.max(axis=0) - points.min(axis=0)))
        if len(points) > MAX_REFERENCE_POINTS:
            points = points[np.random.default_rng(len(points)).choice(len(points), MAX_REFERENCE_POINTS, False)]
        self.reference, self.stamp, self.negatives = points, stamp, negatives[: self.config.negative_clicks]

    def gate(self, stamp: float) -> float:
        """Largest displacement in metres accepted for a cloud taken at `stamp`."""
        grown = self.config.min_gate + self.config.max_speed * max(0.0, float(stamp) - self.stamp)
        return min(grown, max(self.config.max_gate, self.config.min_gate))

    def follow(self, xyz: np.ndarray, rgb: np.ndarray | None, stamp: float, transform: np.ndarray | None = None,
               lock: Any = None) -> FollowResult:
        """Segment the object in the new cloud `xyz` (N, 3) taken at `stamp` [s].

        `transform` (4, 4) maps the reference cloud's frame into the new cloud's (None: the same
        frame, motion found by matching). `lock` is held around the segmenter call.
        """
        xyz = np.asarray(xyz)
        if xyz.ndim != 2 or xyz.shape[1] != 3:
            raise ValueError(f"xyz must have shape (N, 3), got {xyz.shape}")
        if not np.isfinite(stamp):
            raise ValueError(f"the cloud's stamp must be finite, got {stamp}")
        self.frames += 1
        reference, negatives = self._moved(transform)
        finite = np.flatnonzero(np.isfinite(xyz).all(axis=1))
        gate = self.gate(stamp)
        tree = cKDTree(xyz[finite].astype(np.float64)) if len(finite) else None
        shift = self._estimate_shift(tree, xyz[finite], reference, gate) if tree is not None else None
        if shift is None:
            return self._lost(len(xyz), reference.mean(axis=0), np.zeros(3),
                              f"no point of the new cloud within the {gate:.2f} m motion gate of the object")
        moved = reference + shift
        on_surface = self._surface_points(tree, xyz[finite], moved)
        if len(on_surface) == 0:
            return self._lost(len(xyz), moved.mean(axis=0), shift, "no new point lies on the moved object's surface")
        positive = self._positive_clicks(xyz[finite], on_surface, moved)
        negative = self._negative_clicks(tree, xyz[finite], negatives + shift, moved)
        clicks = [(int(finite[i]), True) for i in positive] + [(int(finite[i]), False) for i in negative]
        start = time.perf_counter()
        with lock if lock is not None else contextlib.nullcontext():
            mask = np.asarray(self.segmenter.session(xyz, rgb).add_clicks(clicks), dtype=bool)
        inference_ms = (time.perf_counter() - start) * 1e3
        return self._judge(xyz, mask, moved, shift, stamp, inference_ms, clicks)

    # ------------------------------------------------------------------ the steps
    def _moved(self, transform: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Reference points and negative clicks moved by `transform` (unchanged when None)."""
        if transform is None:
            return self.reference, self.negatives
        matrix = np.asarray(transform, dtype=np.float64)
        if matrix.shape != (4, 4) or not np.isfinite(matrix).all():
            raise ValueError(f"transform must be a finite (4, 4) matrix, got shape {matrix.shape}")
        rotation, translation = matrix[:3, :3], matrix[:3, 3]
        return self.reference @ rotation.T + translation, self.negatives @ rotation.T + translation

    def _estimate_shift(self, tree: cKDTree, xyz: np.ndarray, reference: np.ndarray, gate: float) -> np.ndarray | None:
        """Translation of the object within the gate (median nearest-neighbour offset, iterated); None if none."""
        shift = np.zeros(3)
        radius = gate
        for _ in range(self.config.icp_iterations):
            distance, nearest = tree.query(reference + shift, distance_upper_bound=radius)
            found = np.isfinite(distance)
            if not found.any():
                return None if not shift.any() else shift
            step = np.median(xyz[nearest[found]] - (reference[found] + shift), axis=0)
            shift = shift + step
            if np.linalg.norm(shift) > gate:  # never jump past the gate to another object
                shift *= gate / np.linalg.norm(shift)
            radius = max(self.config.surface_tolerance * 2, radius / 2)
            if np.linalg.norm(step) < 0.01:
                break
        return shift

    def _surface_points(self, tree: cKDTree, xyz: np.ndarray, moved: np.ndarray) -> np.ndarray:
        """Indices of new points within `surface_tolerance` of the moved object."""
        near = tree.query_ball_point(moved, r=self.config.surface_tolerance)
        candidates = np.unique(np.fromiter((i for row in near for i in row), dtype=np.int64))
        return candidates

    def _positive_clicks(self, xyz: np.ndarray, on_surface: np.ndarray, moved: np.ndarray) -> list[int]:
        """The surface point nearest the moved centroid, and points halfway out to far-apart ones."""
        points = xyz[on_surface].astype(np.float64)
        centroid = moved.mean(axis=0)
        chosen = [int(np.argmin(np.linalg.norm(points - centroid, axis=1)))]
        far = [chosen[0]]
        distance = np.linalg.norm(points - points[far[0]], axis=1)
        for _ in range(self.config.surface_clicks):  # farthest-point sampling, then halfway back
            far.append(int(np.argmax(distance)))
            distance = np.minimum(distance, np.linalg.norm(points - points[far[-1]], axis=1))
            target = (points[far[-1]] + points[chosen[0]]) / 2
            chosen.append(int(np.argmin(np.linalg.norm(points - target, axis=1))))
        return list(dict.fromkeys(int(on_surface[i]) for i in chosen))

    def _negative_clicks(self, tree: cKDTree, xyz: np.ndarray, negatives: np.ndarray, moved: np.ndarray) -> list[int]:
        """New points where the moved negative clicks land, kept only off the moved object."""
        if len(negatives) == 0:
            return []
        tolerance = self.config.surface_tolerance
        distance, nearest = tree.query(negatives, distance_upper_bound=2 * tolerance)
        kept = nearest[np.isfinite(distance)]
        if len(kept) == 0:
            return []
        off_object = cKDTree(moved).query(xyz[kept], distance_upper_bound=2 * tolerance)[0] == np.inf
        return list(dict.fromkeys(int(i) for i in kept[off_object]))

    def _judge(self, xyz: np.ndarray, mask: np.ndarray, moved: np.ndarray, shift: np.ndarray, stamp: float,
               inference_ms: float, clicks: list[tuple[int, bool]]) -> FollowResult:
        """Score the new mask against the moved object; keep it as the reference, or report it lost."""
        count = int(mask.sum())
        if count == 0:
            return self._lost(len(xyz), moved.mean(axis=0), shift, "the segmenter returned an empty mask")
        points = xyz[mask].astype(np.float64)
        extent = float(np.linalg.norm(points.max(axis=0) - points.min(axis=0)))
        count_ratio = min(count, self.reference_count) / max(count, self.reference_count)
        extent_ratio = min(extent, self.extent) / max(extent, self.extent, 1e-6)
        near = cKDTree(moved).query(points, distance_upper_bound=2 * self.config.surface_tolerance)[0]
        overlap = float(np.isfinite(near).mean())
        confidence = float((count_ratio * extent_ratio * overlap) ** (1.0 / 3.0))
        if confidence < self.config.min_confidence:
            return self._lost(len(xyz), moved.mean(axis=0), shift,
                              f"low confidence {confidence:.2f} (points x{count / self.reference_count:.2f}, "
                              f"extent x{extent / max(self.extent, 1e-6):.2f}, {overlap:.0%} on the moved object)",
                              confidence)
        negatives = xyz[[i for i, positive in clicks if not positive]].astype(np.float64).reshape(-1, 3)
        self._set_reference(points, stamp, negatives)
        self.lost_in_a_row = 0
        return FollowResult(mask, False, "", confidence, points.mean(axis=0), count, shift, inference_ms,
                            tuple(i for i, p in clicks if p), tuple(i for i, p in clicks if not p))

    def _lost(self, n: int, where: np.ndarray, shift: np.ndarray, reason: str, confidence: float = 0.0) -> FollowResult:
        """A lost result: empty mask, the reference unchanged (the gate widens until it is found again)."""
        self.lost_in_a_row += 1
        return FollowResult(np.zeros(n, dtype=bool), True, reason, confidence, where, 0, shift, 0.0)
