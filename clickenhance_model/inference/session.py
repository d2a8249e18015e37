"""Interactive click session: the bookkeeping every segmenter shares.

The top of the inference data flow (see the package docstring). A session holds one point
cloud and the clicks on one object. It reduces the cloud once (`cloud.usable_points`:
non-finite and out-of-range points dropped, the caller's indexing kept), snaps clicks given
by coordinates, keeps the click history for undo, and asks its segmenter for a mask
after every change. Subclasses implement only `_segment`.

Input conventions: `xyz` is float32 (N, 3) in metres with z up; `rgb`, when present,
is (N, 3) in [0, 1]. Masks are bool (N,) over the caller's points; non-finite points
are never part of a mask.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from clickenhance_model.errors import ClickError
from clickenhance_model.inference.click_rules import ClickRules, apply_click_rules
from clickenhance_model.inference.cloud import usable_points


@dataclass(frozen=True)
class Click:
    """One click: the caller's point index, its polarity and the point's position."""

    index: int
    positive: bool
    position: tuple[float, float, float]


class InteractiveSession(ABC):
    """Clicks on one object of one cloud; `add_click` returns the updated mask.

    Args:
        xyz: (N, 3) points in metres, z up. Non-finite points are ignored.
        rgb: optional (N, 3) colours in [0, 1].
        snap_distance: largest distance in metres between a click given by coordinates
            and the point it snaps to.
        max_range: points farther than this (metres) from the origin are ignored like
            non-finite ones, so a stray return at 1e17 m cannot blow up the voxel grid.

    `click_rules` (see `click_rules`) make every click count whatever the segmenter
    returns; None turns them off (to measure a segmenter alone).
    """

    click_rules: ClickRules | None = ClickRules()

    def __init__(
        self, xyz: np.ndarray, rgb: np.ndarray | None = None, snap_distance: float = 0.5, max_range: float = 1000.0
    ):
        cloud = usable_points(xyz, rgb, max_range)
        self.num_points = cloud.num_points
        self.snap_distance = float(snap_distance)
        self.valid_indices = cloud.valid_indices  # caller index of each kept point
        self._caller_to_valid = np.full(self.num_points, -1, dtype=np.int64)
        self._caller_to_valid[self.valid_indices] = np.arange(len(self.valid_indices))
        self.xyz = cloud.xyz  # [M, 3] finite points within range, the segmenter's input
        self.rgb = cloud.rgb
        self._tree: cKDTree | None = None
        self._clicks: list[Click] = []
        # Valid-point mask after each click; None for a click of a batch other than its last (no
        # inference ran for that state: `undo` computes it when it becomes current again).
        self._masks: list[np.ndarray | None] = []
        self.last_inference_ms = 0.0  # wall time of the latest `_segment` call: crop, encoding, network, mask back

    # ----------------------------------------------------------------- read-only state
    @property
    def clicks(self) -> tuple[Click, ...]:
        """The clicks of the current object, oldest first."""
        return tuple(self._clicks)

    @property
    def mask(self) -> np.ndarray:
        """Current object mask, bool (N,) over the caller's points (empty before the first click)."""
        shown = self.mask_after(len(self._masks))  # the latest state always has its mask, also after a batch
        return np.zeros(self.num_points, dtype=bool) if shown is None else shown

    def mask_after(self, count: int) -> np.ndarray | None:
        """The mask (bool (N,) over the caller's points) shown after the first `count` clicks of the current object;
        None for no click or for a click inside a batch (no answer was shown for it)."""
        if not 0 < count <= len(self._masks) or self._masks[count - 1] is None:
            return None
        full = np.zeros(self.num_points, dtype=bool)
        full[self.valid_indices] = self._masks[count - 1]
        return full

    @property
    def tree(self) -> cKDTree:
        """KD-tree over the finite points, built on first use."""
        if self._tree is None:
            self._tree = cKDTree(self.xyz)
        return self._tree

    # --------------------------------------------------------------------- clicking
    def add_click(self, target: int | Sequence[float] | np.ndarray, positive: bool = True) -> np.ndarray:
        """Add one click and return the new mask (bool (N,) over the caller's points).

        `target` is a point index of the caller's cloud, or an (x, y, z) position that is
        snapped to the nearest finite point within `snap_distance`.
        """
        return self.add_clicks([(target, positive)])

    def add_clicks(self, clicks: Iterable[tuple[int | Sequence[float] | np.ndarray, bool]]) -> np.ndarray:
        """Add several clicks and run the segmenter once (clicks buffered during inference)."""
        new = [self._make_click(target, bool(positive)) for target, positive in clicks]
        if not new:
            raise ClickError("no click given")
        if not any(c.positive for c in self._clicks + new):
            raise ClickError("the first click of an object must be positive")
        self._clicks.extend(new)
        try:
            mask = self._run()
        except Exception:
            del self._clicks[len(self._clicks) - len(new):]
            raise
        self._masks.extend([None] * (len(new) - 1))
        self._masks.append(mask)
        return self.mask

    def undo(self) -> np.ndarray:
        """Remove the last click and return the mask of the remaining clicks.

        When the remaining clicks ended inside a batch (`add_clicks`), no mask was ever computed
        for them, so the segmenter runs once now; on failure the click is restored and the error raised.
        """
        if not self._clicks:
            raise ClickError("nothing to undo: the session has no click")
        click, mask = self._clicks.pop(), self._masks.pop()
        if self._masks and self._masks[-1] is None:
            try:
                self._masks[-1] = self._run()
            except Exception:
                self._clicks.append(click)
                self._masks.append(mask)
                raise
        return self.mask

    def reset(self) -> np.ndarray:
        """Remove every click; the mask becomes empty."""
        self._clicks.clear()
        self._masks.clear()
        return self.mask

    def snap(self, point: Sequence[float] | np.ndarray) -> int:
        """Caller index of the finite point nearest to `point`, within `snap_distance`."""
        p = np.asarray(point, dtype=np.float64).reshape(-1)
        if p.shape != (3,) or not np.isfinite(p).all():
            raise ClickError(f"a click position must be 3 finite numbers, got {point!r}")
        distance, nearest = self.tree.query(p)
        if distance > self.snap_distance:
            raise ClickError(
                f"click at ({p[0]:.2f}, {p[1]:.2f}, {p[2]:.2f}) is {distance:.2f} m from the nearest "
                f"point (snap distance {self.snap_distance:.2f} m)"
            )
        return int(self.valid_indices[nearest])

    def _make_click(self, target: int | Sequence[float] | np.ndarray, positive: bool) -> Click:
        """Validate a click target (index or position) and return the Click."""
        if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
            index = int(target)
            if not 0 <= index < self.num_points:
                raise ClickError(f"click index {index} out of range for a cloud of {self.num_points} points")
            if self._caller_to_valid[index] < 0:
                raise ClickError(f"click index {index} is a non-finite point (NaN/Inf) or beyond max_range")
        else:
            index = self.snap(target)
        position = self.xyz[self._caller_to_valid[index]]
        return Click(index, positive, (float(position[0]), float(position[1]), float(position[2])))

    def _run(self) -> np.ndarray:
        """Run the segmenter on the current clicks; force clicked points to their label."""
        valid = self._caller_to_valid
        positive, negative, current = self._click_indices(self._clicks)
        start = time.perf_counter()
        mask = np.asarray(self._segment(positive, negative, current), dtype=bool)
        self.last_inference_ms = (time.perf_counter() - start) * 1e3
        if mask.shape != (len(self.xyz),):
            raise RuntimeError(f"segmenter returned a mask of shape {mask.shape}, expected ({len(self.xyz)},)")
        mask = self._apply_click_rules(mask, positive, negative, *self._since_shown())
        for click in self._clicks:  # later clicks win over earlier ones on the same point
            mask[valid[click.index]] = click.positive
        return mask

    def _shown_before(self) -> np.ndarray | None:
        """The mask (bool over `self.xyz`) the user last saw before the current click state: that of the latest
        earlier state that has one (a batch's inner states have none, so a batch is measured against the mask
        before it); None where no earlier state has one (the first click, a batch after `reset`). For segmenters
        that take their own previous answer into account."""
        return self._since_shown()[0]

    def _since_shown(self) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """The answer shown before the current click state (`_shown_before`) and the positive and the negative
        clicks made since (indices into `self.xyz`, for click rules 3 and 4); all None where no answer was shown."""
        for count in range(min(len(self._clicks) - 1, len(self._masks)), 0, -1):
            if self._masks[count - 1] is not None:
                new = self._clicks[count:]
                since = [self._caller_to_valid[[c.index for c in new if c.positive is sign]] for sign in (True, False)]
                return self._masks[count - 1], since[0], since[1]
        return None, None, None

    def _click_indices(self, clicks: Sequence[Click]) -> tuple[np.ndarray, np.ndarray, int]:
        """Indices into `self.xyz` of the positive and of the negative clicks (each in click order) and of the
        latest click: what `_segment` takes."""
        valid = self._caller_to_valid
        positive = np.array([valid[c.index] for c in clicks if c.positive], dtype=np.int64)
        negative = np.array([valid[c.index] for c in clicks if not c.positive], dtype=np.int64)
        return positive, negative, int(valid[clicks[-1].index])

    def _apply_click_rules(
        self, mask: np.ndarray, positive: np.ndarray, negative: np.ndarray, shown: np.ndarray | None = None,
        new_positive: np.ndarray | None = None, new_negative: np.ndarray | None = None,
    ) -> np.ndarray:
        """The segmenter's mask with the click rules applied (unchanged when `click_rules` is None); `shown`,
        `new_positive` and `new_negative` as `_since_shown` gives them."""
        if self.click_rules is None:
            return mask
        return apply_click_rules(self.xyz, self.tree, mask, positive, negative, self.click_rules, shown, new_positive,
                                 new_negative)  # fmt: skip

    @abstractmethod
    def _segment(self, positive: np.ndarray, negative: np.ndarray, current: int) -> np.ndarray:
        """Mask over `self.xyz` (bool (M,)) given click indices into `self.xyz`.

        `positive` and `negative` are in click order; `current` is the index of the
        latest click (the Click-Specific Encoder's input).
        """
