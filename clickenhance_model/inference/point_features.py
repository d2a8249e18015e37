"""Per-point input of the point refiner: what a point has that its network voxel does not.

A `prior_fusion` network answers once per voxel (10 cm); the fused logit of a point differs from its
voxel neighbours' only through the per-point prior. Where an object meets another inside one voxel
(a table's foot on the floor, a car's sill over the kerb) the voxel's points need different answers.
These features give a small per-point head (`unet.PointRefiner`) what separates them: the point's
place inside its voxel, its height above the lowest nearby surface, its colour against the
colours the prior holds and leaves out around it, and its distance to the nearest positive and
negative click (so that it learns to leave the clicks' surroundings to them). Clouds without
colour get zeros there and a flag. The refiner answers only in the prior's boundary band
(`boundary_band`): voxels that hold both prior values or touch a voxel of the other value.
Everywhere else the voxel decides, so a refiner can move a boundary by a voxel but cannot flood or
cut a region. A refiner with flips (`NetworkConfig.point_refiner_flips`) also answers the points the latest
click moved into or out of the prior (`flip_band`), with two more features saying which way each moved: there it
judges a click's whole change, such as a positive click that floods the hedge behind a fence. A refiner with growth
(`NetworkConfig.point_refiner_growth`) is also told how large that change was against the region before it
(`click_growth`, the same two numbers at every point of a click state): a positive click that adds a few rings to a
fence and one that triples the region by flooding the hedge behind it flag their moved points alike, and only the
size of the move tells them apart. A refiner with memory (`NetworkConfig.point_refiner_memory`) is also told the answer
the user saw after the click before (the session's previous mask, `shown`) and answers every point where the prior now
differs from it (`flip_band` of the two): a flood it removed at one click stays in its band, flagged as removed, at the
next, instead of coming back because the prior still holds it. A refiner with disagreement
(`NetworkConfig.point_refiner_disagree`) also answers the points where the network's own logit disputes the prior
(`disagreement_band`): a first click's flood far inside the prior, or a cut-off part of an object far outside it.
A refiner with shape (`NetworkConfig.point_refiner_shape`) is also told each point's local shape and the first click's
(`shape_columns`), and at an object's first click answers the prior's points whose shape differs from the clicked
point's (`shape_band`): a trunk's first click takes the canopy it touches far inside the region.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from clickenhance_model.inference.voxel_graph import lowest_nearby
from clickenhance_model.inference.voxel_grid import VoxelGrid

POINT_FEATURES = 17
FLIP_FEATURES = 2  # with flips: moved in by the latest click, moved out by it (`point_features`' `previous`)
GROWTH_FEATURES = 2  # with growth: how many points the latest click moved in / out, against the region before it
SHAPE_FEATURES = 3  # with shape: the point's surface variation, its normal's vertical part, the first click's variation
MEMORY_FEATURES = 1  # with memory: the answer shown after the click before (0/1), `point_features`' `shown`
GROWTH_RANGE = (-8.0, 4.0)  # log2 of those ratios is clipped to this and enters divided by its upper end
COLOUR_FEATURES = slice(8, 15)  # the columns that come from colour (and its flag); zero for a colourless cloud
LOGIT_SCALE = 8.0  # logits enter divided by this and clipped to [-2, 2]
HELD_MARGIN = 0.5  # a logit; how far past the threshold `network_holds`' points are set
HEIGHT_SCALE = 0.1  # metres; height above the lowest nearby surface enters in these units, clipped to [0, 5]
CLICK_REACH = 2.0  # metres; distances to the nearest click enter clipped to this (and as their value in metres)
POSITIVE_DISTANCE, NEGATIVE_DISTANCE = 15, 16  # the columns of those distances to the nearest positive / negative click
SPARSE_VOXEL_POINTS = 2  # a voxel with at most this many points is a sparse scan's (`reach_band`)
COLUMN_DEPTH = 1.0  # metres; how far under a prior point `column_band` looks
COLUMN_NEIGHBOURS = 16  # the horizontally nearest prior points `column_band` looks under
FLOOR_CELL = 0.5  # metres; the cells of `lowest_nearby` that give each point its floor or road height


def height_above_floor(xyz: np.ndarray) -> np.ndarray:
    """Height (m, float32 (M,)) of each point over the lowest point of its 3 x 3 cells of 0.5 m: the floor or road
    under a table's foot or a car's sill."""
    return (xyz[:, 2] - lowest_nearby(xyz, FLOOR_CELL)).astype(np.float32)


def boundary_band(coords: np.ndarray, voxel: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Which points (bool (M,)) lie in the prior's boundary band: their voxel holds points of both prior values,
    or one of its 26 neighbours holds a point of the value it lacks. `coords` are the integer coordinates
    of the grid's voxels, `voxel` each point's voxel, `prior` each point's prior (0/1)."""
    if len(voxel) == 0:
        return np.zeros(0, dtype=bool)
    local, groups = np.unique(voxel, return_inverse=True)
    held = np.bincount(groups, weights=np.asarray(prior, dtype=np.float64), minlength=len(local))
    has_in, has_out = held > 0, held < np.bincount(groups, minlength=len(local))
    cells = coords[local].astype(np.int64)
    low = cells.min(axis=0) - 1
    span = cells.max(axis=0) - low + 2

    def code(c: np.ndarray) -> np.ndarray:
        return ((c[:, 0] - low[0]) * span[1] + (c[:, 1] - low[1])) * span[2] + (c[:, 2] - low[2])

    keys = code(cells)
    order = np.argsort(keys)
    band = has_in & has_out
    for offset in np.stack(np.meshgrid(*[(-1, 0, 1)] * 3, indexing="ij"), axis=-1).reshape(-1, 3):
        if not offset.any():
            continue
        wanted = code(cells + offset)
        at = np.clip(np.searchsorted(keys, wanted, sorter=order), 0, len(keys) - 1)
        found = keys[order[at]] == wanted
        neighbour = order[at]
        band |= found & ((has_in & has_out[neighbour]) | (has_out & has_in[neighbour]))
    return band[groups]


def reach_band(xyz: np.ndarray, voxel: np.ndarray, prior: np.ndarray, reach: float) -> np.ndarray:
    """Which points (bool (M,)) of sparse voxels (at most `SPARSE_VOXEL_POINTS` points) lie within `reach` metres
    of a point of the other prior value. On a sparse scan (a 16-ring LiDAR's rings 0.3 to 0.6 m apart at 10 to
    20 m) the points a region misses share no voxel edge with it, so `boundary_band` is empty there; this band
    reaches across the gap. Dense voxels (a near or indoor surface) keep the voxel band alone."""
    band = np.zeros(len(xyz), dtype=bool)
    if reach <= 0 or len(xyz) == 0:
        return band
    _, groups, counts = np.unique(voxel, return_inverse=True, return_counts=True)
    sparse = counts[groups] <= SPARSE_VOXEL_POINTS
    held = np.asarray(prior) > 0.5
    for side in (held, ~held):  # the points of one value, measured against the other's
        asked, other = np.flatnonzero(sparse & side), xyz[~side]
        if len(asked) and len(other):
            distance, _ = cKDTree(other).query(xyz[asked], distance_upper_bound=reach)
            band[asked[np.isfinite(distance)]] = True
    return band


def column_band(xyz: np.ndarray, prior: np.ndarray, radius: float) -> np.ndarray:
    """Which points (bool (M,)) lie outside the prior under one of its points: one of their `COLUMN_NEIGHBOURS`
    horizontally nearest prior points lies within `radius` metres of them horizontally and up to `COLUMN_DEPTH`
    above them. On a sparse scan an object's lowest ring, within the ground's height, is joined to the rest of it
    by no graph edge; it lies straight under the ring above, while the road in front of the object lies farther
    from the sensor or nearer."""
    band = np.zeros(len(xyz), dtype=bool)
    held = np.asarray(prior) > 0.5
    if radius <= 0 or not held.any() or held.all():
        return band
    above, asked = xyz[held], np.flatnonzero(~held)
    k = min(COLUMN_NEIGHBOURS, len(above))
    distance, nearest = cKDTree(above[:, :2]).query(xyz[asked, :2], k=k, distance_upper_bound=radius)
    distance, nearest = distance.reshape(len(asked), k), nearest.reshape(len(asked), k)
    found = np.isfinite(distance)
    drop = np.where(found, above[np.minimum(nearest, len(above) - 1), 2] - xyz[asked, 2][:, None], -1.0)
    band[asked] = ((drop > 0) & (drop <= COLUMN_DEPTH)).any(axis=1)
    return band


def flip_band(prior: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Which points (bool (M,)) the latest click moved into or out of the prior: `prior` is the region of every
    click, `previous` that of the clicks before the latest one (0/1 or bool, (M,) each)."""
    return (np.asarray(prior) > 0.5) != (np.asarray(previous) > 0.5)


def disagreement_band(prior: np.ndarray, network: np.ndarray, threshold: float) -> np.ndarray:
    """Which points (bool (M,)) the network's own logit (float, (M,)) disputes the prior (0/1 or bool, (M,)) on by more
    than `threshold`: prior points it calls background below -threshold, and points outside the prior it calls
    object above +threshold."""
    held, network = np.asarray(prior) > 0.5, np.asarray(network)
    return (held & (network < -threshold)) | (~held & (network > threshold))


def network_additions(xyz: np.ndarray, prior: np.ndarray, network: np.ndarray, threshold: float,
                      reach: float = 0.0) -> np.ndarray:  # fmt: skip
    """Which points (bool (M,); `xyz` (M, 3)) outside the prior (0/1 or bool, (M,)) the network's own logit (float,
    (M,)) calls object at `threshold` or more, within `reach` metres of a prior point (0: at any distance). A sparse
    scan's far rings of a car lie a ring gap from the ring the prior holds, beyond every band."""
    held = np.asarray(prior) > 0.5
    added = ~held & (np.asarray(network) >= threshold)
    if reach > 0 and added.any():
        if not held.any():
            return np.zeros(len(held), dtype=bool)
        distance = cKDTree(xyz[held]).query(xyz[added], distance_upper_bound=reach)[0]
        added[np.flatnonzero(added)[distance > reach]] = False
    return added


def network_holds(features: np.ndarray, keep: float, flips: bool, memory: bool, yields: float = 0.0,
                  keep_out: float = 0.0) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Which band points (bool (M,) each) the network's sure answer holds against the refiner and the latest click
    (`NetworkConfig.point_refiner_keep`), read from their `point_features`: object, where its own logit is at least
    `keep` on a point the prior holds or (with `flips`) the latest click moved out; background, where it is at most
    -`keep_out` (0: -`keep`) on a point the prior holds that the answer shown before (with `memory`) left out. So a
    negative click cuts only what the network does not call object, and a flood taken out of an answer stays out
    when a later click's prior brings it back. The background hold yields to the user's positive clicks: none
    closer than `yields` metres (at most `CLICK_REACH`) to one; there the user has spoken, and the refiner
    answers."""
    network = features[:, 1] * LOGIT_SCALE
    held = features[:, 2] > 0.5
    hold_in = held.copy()
    if flips:
        hold_in |= features[:, POINT_FEATURES + 1] > 0.5  # moved out by the latest click
    hold_in &= network >= keep
    hold_out = np.zeros(len(features), dtype=bool)
    if memory:  # shown as background before
        hold_out = held & (features[:, -1] < 0.5) & (network <= -(keep_out or keep))
        hold_out &= features[:, POSITIVE_DISTANCE] >= yields
    return hold_in, hold_out


def overruled_holds(at_positive: np.ndarray, at_negative: np.ndarray, threshold: float) -> tuple[bool, bool]:
    """Which of `network_holds`' two holds the user's clicks overrule (`NetworkConfig.point_refiner_keep_overruled`),
    from the network's own logits at the positive and the negative clicks' points: the object hold once a negative
    click lies where the network says object at `threshold` or more, the background hold once a positive click lies
    where it says background at -`threshold` or less. The network is then wrong about this object, so its sure answers
    elsewhere on it are no knowledge either. A `threshold` of 0 overrules nothing."""
    if threshold <= 0:
        return False, False
    return bool(np.any(np.asarray(at_negative) >= threshold)), bool(np.any(np.asarray(at_positive) <= -threshold))


def shape_columns(variation: np.ndarray, normal_z: np.ndarray, click_variation: float) -> np.ndarray:
    """The shape features (float32 (M, SHAPE_FEATURES)) of M points: each point's surface variation and the vertical
    part of its normal (of its node in the prior's graph, `VoxelGraph.variation` and `normal_z`), and the first positive
    click's surface variation (the same at every point): whether a point is shaped as what the user clicked."""
    columns = np.empty((len(variation), SHAPE_FEATURES), dtype=np.float32)
    columns[:, 0], columns[:, 1], columns[:, 2] = variation, normal_z, click_variation
    return columns


def shape_band(prior: np.ndarray, variation: np.ndarray, click_variation: float | np.ndarray, gap: float
               ) -> np.ndarray:  # fmt: skip
    """Which points (bool (M,)) the prior (0/1 or bool, (M,)) holds whose surface variation (float, (M,)) differs from
    the first click's by more than `gap`: foliage in the region of a click on a trunk's bark, or a wall in that of a
    click on a hedge."""
    return (np.asarray(prior) > 0.5) & (np.abs(np.asarray(variation) - click_variation) > gap)


def click_growth(prior: np.ndarray, previous: np.ndarray) -> tuple[float, float]:
    """How much the latest click moved, as two numbers for every point of its click state: log2 of (1 + points it
    moved in) / (1 + points the region held before it), and the same of the points it moved out, clipped to
    `GROWTH_RANGE` and divided by its upper end. `prior` is the region of every click, `previous` that of the
    clicks before the latest one (0/1 or bool, the same points). A flood that triples a region gives about +0.25 in
    (log2 of 2, over 4); a click that moved nothing gives -2 for both in a region of 255 points or more."""
    now, before = np.asarray(prior) > 0.5, np.asarray(previous) > 0.5
    held = 1.0 + before.sum()
    low, high = GROWTH_RANGE
    moved_in, moved_out = (float(np.clip(np.log2((1.0 + moved.sum()) / held), low, high)) / high
                           for moved in (now & ~before, before & ~now))  # fmt: skip
    return moved_in, moved_out


def _group_mean(values: np.ndarray, groups: np.ndarray, weights: np.ndarray, count: int
                ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Weighted mean of `values` [M, 3] per group (count groups) and the weight per group."""
    total = np.bincount(groups, weights=weights, minlength=count)
    means = np.stack([np.bincount(groups, weights=values[:, d] * weights, minlength=count) for d in range(3)], axis=1)
    return means / np.maximum(total, 1e-9)[:, None], total


def point_features(
    xyz: np.ndarray,
    rgb: np.ndarray | None,
    height: np.ndarray,
    grid: VoxelGrid,
    voxel: np.ndarray,
    prior: np.ndarray,
    fused: np.ndarray,
    network: np.ndarray,
    positive_xyz: np.ndarray,
    negative_xyz: np.ndarray,
    previous: np.ndarray | None = None,
    growth: tuple[float, float] | None = None,
    shown: np.ndarray | None = None,
    shape: np.ndarray | None = None,
) -> np.ndarray:
    """Features float32 [M, POINT_FEATURES] of M points of one crop; [M, POINT_FEATURES + FLIP_FEATURES] with
    `previous`, `GROWTH_FEATURES` more with `growth` too, `SHAPE_FEATURES` more after those with `shape`, and
    `MEMORY_FEATURES` more (the last) with `shown`.

    Args:
        xyz: the points (metres).
        rgb: their colours in [0, 1], or None.
        height: their `height_above_floor` (m).
        grid: the network's voxels.
        voxel: each point's voxel in `grid` (int, (M,)).
        prior: each point's geodesic prior (0/1).
        fused: each point's fused object logit.
        network: the network's own logit of each point's voxel.
        positive_xyz: the positive clicks (K, 3).
        negative_xyz: the negative clicks (K', 3), possibly none.
        previous: for a refiner with flips, each point's prior before the latest click (0/1; the first click: the
            prior itself, so nothing moved); the two columns after the plain ones say the click moved the point in /
            out.
        growth: with `previous`, the state's `click_growth` (the crop's region against the one before the latest
            click), written into the two columns after the flip columns of every point.
        shown: with `previous`, for a refiner with memory, each point's answer after the click before the latest
            one, as the user saw it (0/1; the first click: the prior itself), written into the last column.
        shape: for a refiner with shape, the points' `shape_columns`, written after the flip and growth columns.
    """
    if (growth is not None or shown is not None) and previous is None:
        raise ValueError("point_features: growth and shown are taken at the latest click, and need the region "
                         "before it (previous)")
    m = len(xyz)
    prior = np.asarray(prior, dtype=np.float64)
    local, groups = np.unique(voxel, return_inverse=True)  # the crop's voxels that hold these points
    share = np.bincount(groups, weights=prior, minlength=len(local)) / np.bincount(groups, minlength=len(local))
    shape_at = POINT_FEATURES + (0 if previous is None else FLIP_FEATURES) + (0 if growth is None else GROWTH_FEATURES)
    width = shape_at + (0 if shape is None else SHAPE_FEATURES) + (0 if shown is None else MEMORY_FEATURES)
    features = np.zeros((m, width), dtype=np.float32)
    if shape is not None:
        features[:, shape_at : shape_at + SHAPE_FEATURES] = shape
    if growth is not None:
        features[:, POINT_FEATURES + FLIP_FEATURES : POINT_FEATURES + FLIP_FEATURES + GROWTH_FEATURES] = growth
    if shown is not None:
        features[:, -1] = np.asarray(shown, dtype=np.float64) > 0.5
    if previous is not None:
        before = np.asarray(previous, dtype=np.float64) > 0.5
        features[:, POINT_FEATURES] = (prior > 0.5) & ~before
        features[:, POINT_FEATURES + 1] = before & ~(prior > 0.5)
    features[:, 0] = np.clip(fused / LOGIT_SCALE, -2, 2)
    features[:, 1] = np.clip(network / LOGIT_SCALE, -2, 2)
    features[:, 2] = prior
    features[:, 3] = share[groups]
    features[:, 4:7] = (xyz - grid.centroids[voxel]) / grid.voxel_size
    features[:, 7] = np.clip(height / HEIGHT_SCALE, 0, 5)
    for column, clicks in ((POSITIVE_DISTANCE, positive_xyz), (NEGATIVE_DISTANCE, negative_xyz)):
        features[:, column] = CLICK_REACH
        if len(clicks):
            nearest = np.min(np.linalg.norm(xyz[:, None, :] - np.asarray(clicks)[None, :, :], axis=2), axis=1)
            features[:, column] = np.minimum(nearest, CLICK_REACH)
    if rgb is None or m == 0:
        return features
    rgb = np.asarray(rgb, dtype=np.float64)
    features[:, 8:11] = rgb - grid.colors[voxel]
    held = prior > 0.5
    if held.any():  # the object's colour, as the prior holds it in this crop
        features[:, 11] = np.linalg.norm(rgb - rgb[held].mean(axis=0), axis=1)
    for column, weights in ((12, 1.0 - prior), (13, prior)):  # the colour of the voxel's left-out / held points
        means, total = _group_mean(rgb, groups, weights, len(local))
        present = total[groups] > 0
        features[present, column] = np.linalg.norm(rgb[present] - means[groups[present]], axis=1)
    features[:, 14] = 1.0
    return features
