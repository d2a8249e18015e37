"""Clicks always count: rules applied to every segmenter's mask after inference.

A network (or the baseline) may ignore a click: leave a positive click's surroundings out,
keep a negative click's in, or, given hundreds of positive points at once (a 2D detector's
mask projected into the cloud), grow past the object into its neighbour. The rules, run by
`InteractiveSession` after its segmenter:

1. Dense positives stay within their own extent. When a request holds at least
   `dense_min_clicks` positive clicks, they sample the object's surface, so the mask keeps
   only points within `reach` of some positive click: reach = max(`min_reach`,
   `reach_factor` x the median spacing between neighbouring positive clicks). A human's few
   clicks never trigger it.
2. A click's immediate neighbourhood follows it. The `neighbours` nearest points of each
   click, within `radius` metres, take the polarity of the nearest click (positive or
   negative), so a correction always changes the mask around it, at any point density.
   Dense positive clicks are exempt (they sample the object themselves, and their
   neighbours at its border are ground or the next object); negative clicks never are.

3. A positive click grows the answer no farther than the background the user has marked
   (`gain_reach` > 0; off by default). Points it adds to the answer shown before it must lie
   within `gain_reach` x (its distance to the nearest negative click) of it: a negative click
   says the object ends before it, so a region that floods past that distance has run into the
   neighbour. Without a negative click, or without an answer shown before (the first click, a
   batch after a reset), nothing is limited. Applied before rules 1 and 2.
4. Clicks act in their own direction (`keep_direction`; off by default). Clicks that are all
   positive only add to the answer shown before them, and clicks that are all negative only take
   out of it: a correction at one end of an object never drops (or floods) the rest, which the
   user has already accepted. Like rule 3 it needs an answer shown before, leaves dense positive
   batches to rule 1, and runs first.

The clicked points themselves are then forced to their own label by the session.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class ClickRules:
    """Settings of the click rules (lengths in metres); see the module docstring."""

    radius: float = 0.1
    neighbours: int = 8
    dense_min_clicks: int = 50
    reach_factor: float = 3.0
    min_reach: float = 0.3
    gain_reach: float = 0.0
    keep_direction: bool = False

    def __post_init__(self) -> None:
        """Reject settings that make a rule meaningless."""
        for name in ("radius", "reach_factor", "min_reach"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ClickRules.{name} must be > 0, got {getattr(self, name)}")
        if not self.gain_reach >= 0:
            raise ValueError(f"ClickRules.gain_reach must be >= 0 (0 = off), got {self.gain_reach}")
        for name in ("neighbours", "dense_min_clicks"):
            if getattr(self, name) < 1:
                raise ValueError(f"ClickRules.{name} must be >= 1, got {getattr(self, name)}")


def chosen_rules(gain_reach: float, keep_direction: bool) -> ClickRules | None:
    """Rules 3 and 4 as a caller sets them for its sessions (the node's parameters, `clickenhance-eval`'s flags):
    the default rules with them, or None where neither is on (the sessions' own rules stay)."""
    if gain_reach > 0 or keep_direction:
        return ClickRules(gain_reach=gain_reach, keep_direction=keep_direction)
    return None


def dense_reach(positions: np.ndarray, rules: ClickRules) -> float:
    """How far the mask may extend from dense positive clicks: a multiple of their median spacing."""
    distances, _ = cKDTree(positions).query(positions, k=2)  # [P, 2]: self, nearest other click
    return max(rules.min_reach, rules.reach_factor * float(np.median(distances[:, 1])))


def keep_within_reach(xyz: np.ndarray, mask: np.ndarray, positive: np.ndarray, rules: ClickRules) -> np.ndarray:
    """Rule 1: with dense positive clicks, drop mask points farther than `dense_reach` from all of them."""
    positions = xyz[np.unique(positive)].astype(np.float64)
    if len(positions) < rules.dense_min_clicks:
        return mask
    inside = np.flatnonzero(mask)
    distance, _ = cKDTree(positions).query(xyz[inside], distance_upper_bound=dense_reach(positions, rules))
    mask = mask.copy()
    mask[inside[~np.isfinite(distance)]] = False
    return mask


def follow_clicks(
    xyz: np.ndarray, tree: cKDTree, mask: np.ndarray, followed: np.ndarray, negative: np.ndarray, rules: ClickRules,
    positive: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """Rule 2: the nearest points (within `radius`) of the `followed` positive and all negative clicks
    take the polarity of their nearest click among `positive` (default: `followed`) and `negative`."""
    positive = followed if positive is None else positive
    clicks = np.concatenate([followed, negative]).astype(np.int64)
    if len(clicks) == 0:
        return mask
    k = min(rules.neighbours, len(xyz))
    _, near = tree.query(xyz[clicks], k=k, distance_upper_bound=rules.radius)  # [C, k], len(xyz) = none
    near = np.unique(np.asarray(near).reshape(-1))
    near = near[near < len(xyz)]
    points = xyz[near].astype(np.float64)
    to_positive = cKDTree(xyz[positive]).query(points)[0] if len(positive) else np.full(len(near), np.inf)
    to_negative = cKDTree(xyz[negative]).query(points)[0] if len(negative) else np.full(len(near), np.inf)
    mask = mask.copy()
    mask[near] = to_positive <= to_negative
    return mask


def limit_gains(xyz: np.ndarray, mask: np.ndarray, shown: np.ndarray | None, new_positive: np.ndarray,
                negative: np.ndarray, rules: ClickRules) -> np.ndarray:  # fmt: skip
    """Rule 3: points of `mask` not in `shown` (the answer before the latest clicks) are dropped unless within
    `gain_reach` x (the click's distance to the nearest negative click) of one of the `new_positive` clicks."""
    if (rules.gain_reach <= 0 or shown is None or len(negative) == 0 or len(new_positive) == 0
            or len(new_positive) >= rules.dense_min_clicks):  # dense positives: rule 1 bounds them  # fmt: skip
        return mask
    gained = np.flatnonzero(mask & ~shown)
    if len(gained) == 0:
        return mask
    clicks = xyz[new_positive].astype(np.float64)
    reach = rules.gain_reach * cKDTree(xyz[negative].astype(np.float64)).query(clicks)[0]  # [P]
    offset = xyz[gained].astype(np.float64)[:, None, :] - clicks[None]  # [G, P, 3]; P < dense_min_clicks
    kept = (np.einsum("gpk,gpk->gp", offset, offset) <= reach[None] ** 2).any(axis=1)
    mask = mask.copy()
    mask[gained[~kept]] = False
    return mask


def keep_direction(mask: np.ndarray, shown: np.ndarray | None, new_positive: np.ndarray | None,
                   new_negative: np.ndarray | None, rules: ClickRules) -> np.ndarray:  # fmt: skip
    """Rule 4: after positive clicks alone, `mask` keeps all of `shown` (the answer before them); after negative
    clicks alone, it holds nothing `shown` did not. Unchanged for a mixed batch, a dense one, or no answer before."""
    if not rules.keep_direction or shown is None or new_positive is None or new_negative is None:
        return mask
    if len(new_negative) == 0 and 0 < len(new_positive) < rules.dense_min_clicks:
        return mask | shown
    if len(new_positive) == 0 and len(new_negative) > 0:
        return mask & shown
    return mask


def apply_click_rules(
    xyz: np.ndarray, tree: cKDTree, mask: np.ndarray, positive: np.ndarray, negative: np.ndarray, rules: ClickRules,
    shown: np.ndarray | None = None, new_positive: np.ndarray | None = None, new_negative: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """The rules on a segmenter's mask (bool (M,) over `xyz`); click indices index `xyz`. `shown` is the answer
    before the latest clicks and `new_positive` / `new_negative` their positive / negative ones (rules 3 and 4;
    None: no answer before). Returns a new mask."""
    mask = keep_direction(np.asarray(mask, dtype=bool), shown, new_positive, new_negative, rules)
    if new_positive is not None:
        mask = limit_gains(xyz, mask, shown, new_positive, negative, rules)
    mask = keep_within_reach(xyz, mask, positive, rules)
    followed = positive if len(np.unique(positive)) < rules.dense_min_clicks else positive[:0]
    return follow_clicks(xyz, tree, mask, followed, negative, rules, positive)
