"""The point refiner: a per-point correction of a fusion network's fused logit (features, wiring, fit)."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_prior_fusion import FUSION, fusion_segmenter, room
from test_training import scenes_root  # noqa: F401 (fixture)

from clickenhance_model.checkpoint import load_checkpoint
from clickenhance_model.datasets.semantic_kitti import SemanticKittiDataset
from clickenhance_model.inference.point_features import (
    CLICK_REACH,
    COLOUR_FEATURES,
    COLUMN_DEPTH,
    FLIP_FEATURES,
    GROWTH_FEATURES,
    MEMORY_FEATURES,
    POINT_FEATURES,
    SHAPE_FEATURES,
    SPARSE_VOXEL_POINTS,
    boundary_band,
    click_growth,
    column_band,
    disagreement_band,
    flip_band,
    height_above_floor,
    network_additions,
    network_holds,
    overruled_holds,
    point_features,
    reach_band,
    shape_band,
    shape_columns,
)
from clickenhance_model.inference.voxel_grid import voxelize
from clickenhance_model.model_config import DOMAINS, ModelConfig, NetworkConfig
from clickenhance_model.segmenter import Segmenter
from clickenhance_model.training.config import SyntheticConfig, SyntheticPart
from clickenhance_model.training.point_refiner_fit import (
    FitSettings,
    Rows,
    click_states,
    collect_rows,
    informative_rows,
    main,
    rows_record,
    shown_answers,
)
from clickenhance_model.training.synthetic import ensure_generated
from clickenhance_model.unet import PointRefiner

REFINED = dataclasses.replace(FUSION, network=dataclasses.replace(FUSION.network, point_refiner=True))
FLIPS = dataclasses.replace(FUSION, network=dataclasses.replace(FUSION.network, point_refiner=True,
                                                                 point_refiner_flips=True))  # fmt: skip
GROWTH = dataclasses.replace(FLIPS, network=dataclasses.replace(FLIPS.network, point_refiner_growth=True))
MEMORY = dataclasses.replace(FLIPS, network=dataclasses.replace(FLIPS.network, point_refiner_memory=True))


def sure_room_segmenter(config: ModelConfig, network_logit: float, band_logit: float | None = None) -> Segmenter:
    """The tiny fusion network of `config` for rooms, its own object - background logit set to `network_logit` at
    every voxel and, given `band_logit`, its refiner's answer on every band point set to that logit."""
    segmenter = fusion_segmenter(0.0, config, domain="indoor")
    with torch.no_grad():
        head = segmenter.model.seg_head[-1]
        head.weight.zero_()
        head.bias.copy_(torch.tensor([-network_logit / 2, network_logit / 2]))
        if band_logit is not None:
            segmenter.model.point_refiner.layers[-1].bias.fill_(band_logit)
    return segmenter


def test_point_features_set_each_point_against_its_voxel() -> None:
    """Two points share a 0.1 m voxel on the floor (one held by the prior, one not); a third is alone, 0.3 m up."""
    xyz = np.array([[0.02, 0.05, 0.0], [0.08, 0.05, 0.04], [0.05, 0.05, 0.35]])
    rgb = np.array([[0.9, 0.9, 0.9], [0.1, 0.2, 0.3], [0.1, 0.2, 0.3]])
    grid = voxelize(xyz, rgb, 0.1)
    voxel = grid.point_to_voxel
    prior = np.array([0.0, 1.0, 1.0])
    height = height_above_floor(xyz)
    positive, negative = xyz[2:], np.zeros((0, 3))
    features = point_features(xyz, rgb, height, grid, voxel, prior, np.array([-4.0, 4.0, 40.0]), np.array([1, 1, 2.0]),
                              positive, negative)  # fmt: skip
    assert features.shape == (3, POINT_FEATURES) and features.dtype == np.float32
    np.testing.assert_allclose(features[:, 0], [-0.5, 0.5, 2.0])  # fused logit / 8, clipped
    np.testing.assert_allclose(features[:, 3], [0.5, 0.5, 1.0])  # the voxel's share of prior points
    np.testing.assert_allclose(features[:2, 4], [-0.3, 0.3], atol=1e-6)  # x offsets from the voxel centroid, in voxels
    np.testing.assert_allclose(height, [0.0, 0.04, 0.35], atol=1e-6)
    np.testing.assert_allclose(features[:, 7], [0.0, 0.4, 3.5], atol=1e-5)
    np.testing.assert_allclose(features[0, 8:11], [0.4, 0.35, 0.3], atol=1e-6)  # colour minus the voxel's mean
    object_colour = rgb[1]
    assert features[0, 11] == pytest.approx(np.linalg.norm(rgb[0] - object_colour), abs=1e-6)
    assert features[0, 12] == pytest.approx(0.0, abs=1e-6)  # its colour is that of the voxel's left-out point
    assert features[0, 13] == pytest.approx(np.linalg.norm(rgb[0] - rgb[1]), abs=1e-6)  # and not the held one's
    assert features[2, 12] == 0.0  # a voxel with no left-out point
    assert (features[:, 14] == 1).all()
    np.testing.assert_allclose(features[:, 15], np.linalg.norm(xyz - xyz[2], axis=1), atol=1e-6)  # nearest positive
    assert (features[:, 16] == 2.0).all()  # no negative click: the clipped distance
    plain = point_features(xyz, None, height, voxelize(xyz, None, 0.1), voxel, prior, np.zeros(3), np.zeros(3),
                           positive, xyz[:1])  # fmt: skip
    assert (plain[:, 8:15] == 0).all()  # no colour: zeros and the flag off
    np.testing.assert_allclose(plain[:, 16], np.minimum(np.linalg.norm(xyz - xyz[0], axis=1), 2.0), atol=1e-6)


def test_the_boundary_band_is_the_voxels_at_the_priors_edge() -> None:
    """A row of ten voxels: the prior holds the first four and one point of the fifth; the band is voxels 4 to 6
    (mixed, and the neighbours on either side of the edge), never the inner or the far voxels."""
    xyz = np.array([[i * 0.1 + 0.05, 0.05, 0.05] for i in range(10)] + [[0.42, 0.05, 0.05]])
    prior = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1])
    grid = voxelize(xyz, None, 0.1)
    band = boundary_band(grid.coords, grid.point_to_voxel, prior)
    assert list(np.flatnonzero(band[:10])) == [3, 4, 5] and band[10]
    assert boundary_band(grid.coords, np.zeros(0, dtype=np.int64), np.zeros(0)).shape == (0,)


def test_the_reach_band_spans_a_sparse_scans_ring_gap_and_leaves_dense_surfaces_to_the_voxel_band() -> None:
    """Two rings of a sparse scan, 0.4 m apart (one point per voxel), the region holding the lower: the voxel band
    is empty, the reach band (0.6 m) holds both rings, and none at 0.3 m or with reach 0. A dense surface (2 cm
    spacing) split by the region keeps the voxel band alone, however far the reach."""
    x = np.arange(20) * 0.2 + 0.05
    rings = np.concatenate([np.stack([x, np.full(20, 0.05), np.full(20, z)], axis=1) for z in (1.05, 1.45)])
    prior = np.repeat([1.0, 0.0], 20)
    grid = voxelize(rings, None, 0.1)
    assert not boundary_band(grid.coords, grid.point_to_voxel, prior).any()
    assert reach_band(rings, grid.point_to_voxel, prior, 0.6).all()
    assert not reach_band(rings, grid.point_to_voxel, prior, 0.3).any()
    assert not reach_band(rings, grid.point_to_voxel, prior, 0.0).any()
    xs, ys = np.meshgrid(np.arange(0, 1, 0.02), np.arange(0, 1, 0.02), indexing="ij")
    plane = np.stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)], axis=1)
    dense = voxelize(plane, None, 0.1)
    assert not reach_band(plane, dense.point_to_voxel, (plane[:, 0] < 0.5).astype(float), 5.0).any()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 2), st.floats(0, 2), st.floats(0, 0.5), st.booleans()), min_size=1,
                max_size=40), st.floats(0.05, 1.0))  # fmt: skip
def test_the_reach_band_is_the_sparse_points_near_the_other_value(points: list, reach: float) -> None:
    """Random clouds: a point is in the reach band exactly when its voxel holds at most SPARSE_VOXEL_POINTS points
    and a point of the other prior value lies within `reach` (checked pair by pair). A point whose nearest such
    point lies at `reach` itself, to float precision, may go either way (the KD-tree's bound is strict)."""
    xyz = np.array([p[:3] for p in points])
    prior = np.array([p[3] for p in points], dtype=float)
    grid = voxelize(xyz, None, 0.1)
    band = reach_band(xyz, grid.point_to_voxel, prior, reach)
    counts = np.bincount(grid.point_to_voxel)
    for i in range(len(xyz)):
        other = np.linalg.norm(xyz[prior != prior[i]] - xyz[i], axis=1)
        if np.any(np.abs(other - reach) <= 1e-9):
            continue  # on the boundary
        near = bool(np.any(other < reach))
        assert band[i] == (near and counts[grid.point_to_voxel[i]] <= SPARSE_VOXEL_POINTS), i


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 2), st.booleans()), min_size=1,
                max_size=40))  # fmt: skip
def test_the_boundary_band_matches_a_neighbour_by_neighbour_count(points: list) -> None:
    """Random points on a small voxel lattice: the band is what a direct look at every pair of voxels gives."""
    cells = np.array([p[:3] for p in points])
    prior = np.array([p[3] for p in points], dtype=float)
    grid = voxelize(cells * 0.1 + 0.05, None, 0.1)
    band = boundary_band(grid.coords, grid.point_to_voxel, prior)
    values = {}
    for cell, held in zip(map(tuple, grid.coords[grid.point_to_voxel]), prior, strict=True):
        values.setdefault(cell, set()).add(held)
    for i, cell in enumerate(map(tuple, grid.coords[grid.point_to_voxel])):
        near = set()
        for other, held in values.items():
            if other != cell and max(abs(a - b) for a, b in zip(cell, other, strict=True)) == 1:
                near |= held
        expected = len(values[cell]) == 2 or bool(near - values[cell])
        assert band[i] == expected, (cell, values[cell], near)


def test_flip_features_say_which_way_the_latest_click_moved_each_point() -> None:
    """With the prior before the latest click, two more columns: moved in (0 -> 1) and moved out (1 -> 0); the
    other columns are the plain features."""
    xyz = np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [1.0, 0.0, 0.0], [1.5, 0.0, 0.0]])
    grid = voxelize(xyz, None, 0.1)
    prior, previous = np.array([1.0, 1.0, 0.0, 0.0]), np.array([1.0, 0.0, 1.0, 0.0])
    args = (xyz, None, height_above_floor(xyz), grid, grid.point_to_voxel, prior, np.zeros(4), np.zeros(4), xyz[:1],
            np.zeros((0, 3)))  # fmt: skip
    plain, flipped = point_features(*args), point_features(*args, previous=previous)
    assert flipped.shape == (4, POINT_FEATURES + FLIP_FEATURES)
    np.testing.assert_array_equal(flipped[:, :POINT_FEATURES], plain)
    np.testing.assert_array_equal(flipped[:, POINT_FEATURES:], [[0, 0], [1, 0], [0, 1], [0, 0]])
    np.testing.assert_array_equal(flip_band(prior, previous), [False, True, True, False])
    assert not flip_band(prior, prior).any()


def test_the_memory_column_holds_the_answer_shown_before() -> None:
    """With the answer shown after the click before, one more column, the last, after flips and growth; the other
    columns are unchanged, and it needs the prior before the latest click."""
    xyz = np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [1.0, 0.0, 0.0], [1.5, 0.0, 0.0]])
    grid = voxelize(xyz, None, 0.1)
    prior, previous, shown = np.array([1.0, 1.0, 0.0, 0.0]), np.array([1.0, 0.0, 1.0, 0.0]), np.array([0, 1, 1, 0])
    args = (xyz, None, height_above_floor(xyz), grid, grid.point_to_voxel, prior, np.zeros(4), np.zeros(4), xyz[:1],
            np.zeros((0, 3)))  # fmt: skip
    grown = point_features(*args, previous=previous, growth=(0.25, -2.0))
    remembered = point_features(*args, previous=previous, growth=(0.25, -2.0), shown=shown)
    assert remembered.shape == (4, POINT_FEATURES + FLIP_FEATURES + GROWTH_FEATURES + MEMORY_FEATURES)
    np.testing.assert_array_equal(remembered[:, :-MEMORY_FEATURES], grown)
    np.testing.assert_array_equal(remembered[:, -1], shown)
    np.testing.assert_array_equal(point_features(*args, previous=previous, shown=shown)[:, -1], shown)
    with pytest.raises(ValueError, match="previous"):
        point_features(*args, shown=shown)
    with pytest.raises(ValueError, match="point_refiner_flips"):
        NetworkConfig(prior_fusion=True, point_refiner=True, point_refiner_memory=True)


def test_shape_columns_sit_after_flips_and_growth_and_before_memory() -> None:
    """The shape columns (each point's surface variation and |normal z|, the first click's variation) come after the
    flip and growth columns and before the memory column, which stays last; the shape band is the prior's points
    whose variation differs from the click's by more than the gap, and a refiner with shape reads three more columns."""
    xyz = np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [1.0, 0.0, 0.0], [1.5, 0.0, 0.0]])
    grid = voxelize(xyz, None, 0.1)
    prior, previous, shown = np.array([1.0, 1.0, 1.0, 0.0]), np.array([1.0, 0.0, 1.0, 0.0]), np.array([0, 1, 1, 0])
    variation, normal_z = np.array([0.02, 0.4, 0.1, 0.5]), np.array([0.0, 0.3, 1.0, 0.2])
    shape = shape_columns(variation, normal_z, 0.05)
    np.testing.assert_allclose(shape, np.stack([variation, normal_z, np.full(4, 0.05)], axis=1), rtol=1e-6)
    args = (xyz, None, height_above_floor(xyz), grid, grid.point_to_voxel, prior, np.zeros(4), np.zeros(4), xyz[:1],
            np.zeros((0, 3)))  # fmt: skip
    plain = point_features(*args, previous=previous, growth=(0.25, -2.0), shown=shown)
    shaped = point_features(*args, previous=previous, growth=(0.25, -2.0), shown=shown, shape=shape)
    at = POINT_FEATURES + FLIP_FEATURES + GROWTH_FEATURES
    assert shaped.shape == (4, at + SHAPE_FEATURES + MEMORY_FEATURES)
    np.testing.assert_array_equal(shaped[:, at : at + SHAPE_FEATURES], shape)
    np.testing.assert_array_equal(np.delete(shaped, np.s_[at : at + SHAPE_FEATURES], axis=1), plain)
    np.testing.assert_array_equal(point_features(*args, shape=shape)[:, POINT_FEATURES:], shape)
    # the foliage-like point the prior holds differs from the click by 0.35; the one outside the prior is not asked
    np.testing.assert_array_equal(shape_band(prior, variation, 0.05, 0.1), [False, True, False, False])
    assert shape_band(prior, variation, 0.05, 0.5).sum() == 0
    assert PointRefiner(shape=True).layers[0].in_features == POINT_FEATURES + SHAPE_FEATURES
    with pytest.raises(ValueError, match="point_refiner_shape"):
        NetworkConfig(prior_fusion=True, point_refiner=True, point_refiner_shape=1.5)


def test_a_refiner_with_shape_answers_a_first_clicks_foliage_deep_inside_the_region() -> None:
    """A smooth trunk (a cylinder of 6 cm radius) under a bush (a random scatter) it touches: clicked on the trunk,
    the prior takes both. A refiner with shape answers the bush's scattered points deep inside the region at that
    first click, told their shape and the click's; a plain refiner answers only its boundary band; after a second
    click the shape band is gone (the flips and the memory hold what the user's clicks moved)."""
    rng = np.random.default_rng(0)
    angle, height = np.meshgrid(np.linspace(0, 2 * np.pi, 24, endpoint=False), np.arange(0.1, 1.0, 0.02))
    trunk = np.stack([0.06 * np.cos(angle.ravel()), 0.06 * np.sin(angle.ravel()), height.ravel()], axis=1)
    bush = rng.normal(0.0, 0.12, (2500, 3)) + [0.0, 0.0, 1.15]
    step = 0.03
    xs, ys = np.meshgrid(np.arange(-1, 1, step), np.arange(-1, 1, step), indexing="ij")
    floor = np.stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)], axis=1)
    points = np.concatenate([floor, trunk, bush]).astype(np.float32)
    part = np.repeat([0, 1, 2], [len(floor), len(trunk), len(bush)])
    click = len(floor) + int(np.argmin(np.abs(trunk[:, 2] - 0.5)))
    shaped_config = dataclasses.replace(REFINED, network=dataclasses.replace(REFINED.network, point_refiner_shape=0.1))
    shaped = fusion_segmenter(0.5, shaped_config, domain="indoor")
    assert shaped.model.point_refiner.layers[0].in_features == POINT_FEATURES + SHAPE_FEATURES
    session = shaped.session(points)
    plain = fusion_segmenter(0.5, REFINED, domain="indoor").session(points)
    region = session.prior.of_points(np.array([click]), np.array([], dtype=np.int64))
    assert region[part == 1].all() and region[part == 2].all()  # the prior takes the bush with the trunk
    band, _, features = session.refiner_inputs([(click, True)])
    graph, node = session.prior.graph, session.prior.node_of_point
    deep = np.flatnonzero((part == 2) & (np.linalg.norm(points - [0.0, 0.0, 1.15], axis=1) < 0.1)
                          & (graph.variation[node] > 0.3))  # fmt: skip
    assert len(deep) > 50 and np.isin(deep, band).all()
    assert not np.isin(deep, plain.refiner_inputs([(click, True)])[0]).any()
    np.testing.assert_allclose(features[:, POINT_FEATURES], graph.variation[node[band]], rtol=1e-6)
    np.testing.assert_allclose(features[:, POINT_FEATURES + 2], graph.variation[node[click]], rtol=1e-6)
    far = int(np.flatnonzero(part == 2)[np.argmax(points[part == 2, 2])])  # a second click: no shape band
    later = session.refiner_inputs([(click, True), (far, False)])[0]
    assert not np.isin(deep, later).all()


def test_click_growth_measures_the_latest_clicks_move_against_the_region_before_it() -> None:
    """A region of 63 points: a click that doubles it, one that triples it (a flood), one that takes 31 of its points
    and one that moves nothing; the two numbers are log2 of (1 + moved) / (1 + held before) over 4, clipped to
    [-2, 1], and they fill the last two feature columns of every point of the state."""
    before = np.arange(400) < 63
    doubled, tripled, halved = np.arange(400) < 126, np.arange(400) < 190, before & (np.arange(400) >= 31)
    assert click_growth(doubled, before) == pytest.approx((0.0, -1.5))  # log2(64 / 64), log2(1 / 64); over 4
    assert click_growth(tripled, before) == pytest.approx((0.25, -1.5))  # log2(128 / 64) / 4
    assert click_growth(halved, before) == pytest.approx((-1.5, -0.25))  # log2(32 / 64) / 4
    assert click_growth(before, before) == pytest.approx((-1.5, -1.5))
    assert click_growth(np.ones(400), np.zeros(400)) == (1.0, 0.0)  # log2(401) clipped to 4; nothing to move out
    large = np.arange(400) < 300
    assert click_growth(large, large) == (-2.0, -2.0)  # log2(1 / 301) clipped to -8
    xyz = np.random.default_rng(0).uniform(0, 1, (5, 3))
    grid = voxelize(xyz, None, 0.1)
    args = (xyz, None, height_above_floor(xyz), grid, grid.point_to_voxel, np.ones(5), np.zeros(5), np.zeros(5),
            xyz[:1], np.zeros((0, 3)))  # fmt: skip
    features = point_features(*args, previous=np.zeros(5), growth=(0.25, -2.0))
    assert features.shape == (5, POINT_FEATURES + FLIP_FEATURES + GROWTH_FEATURES)
    np.testing.assert_array_equal(features[:, :-GROWTH_FEATURES], point_features(*args, previous=np.zeros(5)))
    np.testing.assert_array_equal(features[:, -GROWTH_FEATURES:], [[0.25, -2.0]] * 5)
    with pytest.raises(ValueError, match="previous"):
        point_features(*args, growth=(0.25, -2.0))
    with pytest.raises(ValueError, match="point_refiner_flips"):
        NetworkConfig(prior_fusion=True, point_refiner=True, point_refiner_growth=True)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=600))
def test_click_growth_is_bounded_and_grows_with_the_move(states: list) -> None:
    """Random regions before and after a click: both numbers lie in [-2, 1]; moving one more point in never lowers
    the first and leaves the second, and a click that moved nothing gives the two the same value."""
    now = np.array([a for a, _ in states], dtype=bool)
    before = np.array([b for _, b in states], dtype=bool)
    moved_in, moved_out = click_growth(now, before)
    assert -2.0 <= moved_in <= 1.0 and -2.0 <= moved_out <= 1.0
    assert click_growth(before, before)[0] == click_growth(before, before)[1]
    outside = np.flatnonzero(~now & ~before)
    if len(outside):  # one more point moved in
        more = now.copy()
        more[outside[0]] = True
        assert click_growth(more, before)[0] >= moved_in and click_growth(more, before)[1] == moved_out


def test_the_column_band_is_what_lies_under_the_region_not_the_road_before_it() -> None:
    """A 16-ring bin seen from the sensor at x = 0: rings at 0.25 and 0.6 m on its face at x = 10 (the region holds
    the upper one), the road at x = 9.4 and 10.6, and a branch 1.5 m under nothing but 1.2 m below the ring. Only the
    lowest ring, straight under the region, is in the band; the band grows with the radius and is empty at 0."""
    ys = np.arange(-0.3, 0.31, 0.05)

    def ring(x: float, z: float) -> np.ndarray:
        return np.stack([np.full_like(ys, x), ys, np.full_like(ys, z)], axis=1)

    xyz = np.concatenate([ring(10.0, 0.6), ring(10.0, 0.25), ring(9.4, 0.0), ring(10.6, 0.0),
                          ring(10.03, 0.6 - COLUMN_DEPTH - 0.2)])  # fmt: skip
    part = np.repeat(np.arange(5), len(ys))
    prior = part == 0
    np.testing.assert_array_equal(column_band(xyz, prior, 0.1), part == 1)
    assert not column_band(xyz, prior, 0.0).any() and not column_band(xyz, np.zeros(len(xyz)), 0.1).any()
    wide = column_band(xyz, prior, 0.7)  # a radius past the road's offset takes the road too
    assert wide[part == 2].all() and wide[part == 3].all() and not wide[prior].any() and not wide[part == 4].any()


def test_a_refiner_with_a_column_answers_what_lies_under_the_region() -> None:
    """Clicked on a 1.2 m table top floating 0.7 m over a floor, a refiner with a column of 5 cm answers the floor
    points under the top besides its voxel band; without the column it answers none of those under its middle."""
    step = 0.02
    xs, ys = np.meshgrid(np.arange(0, 3, step), np.arange(0, 3, step), indexing="ij")
    floor = np.stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)], axis=1)
    inside = (floor[:, 0] > 0.9) & (floor[:, 0] < 2.1) & (floor[:, 1] > 0.9) & (floor[:, 1] < 2.1)
    points = np.concatenate([floor, floor[inside] + [0.0, 0.0, 0.7]]).astype(np.float32)
    click = len(points) - 1 - int(inside.sum()) // 2  # the top's middle
    column = dataclasses.replace(REFINED, network=dataclasses.replace(REFINED.network, point_refiner_column=0.05))
    plain = fusion_segmenter(0.5, REFINED, domain="indoor").session(points)
    session = fusion_segmenter(0.5, column, domain="indoor").session(points)
    band = session.refiner_inputs([(click, True)])[0]
    region = session.prior.of_points(np.array([click]), np.array([], dtype=np.int64))
    assert region[len(floor):].all() and not region[: len(floor)].any()
    under = np.flatnonzero(column_band(points, region, 0.05))
    assert np.isin(np.flatnonzero(inside), under).all() and np.isin(under, band).all()
    middle = np.flatnonzero(inside & (np.abs(floor[:, :2] - 1.5).max(axis=1) < 0.3))
    assert len(middle) > 100 and not np.isin(middle, plain.refiner_inputs([(click, True)])[0]).any()


@given(st.lists(st.tuples(*[st.floats(-2, 2, allow_nan=False)] * 3, st.booleans()), min_size=1, max_size=40),
       st.floats(0.01, 1.0))  # fmt: skip
@settings(max_examples=60, deadline=None)
def test_the_column_band_matches_a_point_by_point_count(points: list, radius: float) -> None:
    """Every band point lies outside the prior with a prior point within the radius horizontally and at most
    COLUMN_DEPTH above it, and every such point with 16 or fewer prior points is in the band. A point with a prior
    point at the radius itself, to float precision, may go either way (the KD-tree's bound is strict)."""
    xyz = np.array([p[:3] for p in points], dtype=np.float64)
    prior = np.array([p[3] for p in points])
    band = column_band(xyz, prior, radius)
    for i in range(len(xyz)):
        horizontal = np.linalg.norm(xyz[prior, :2] - xyz[i, :2], axis=1)
        if np.any(np.abs(horizontal - radius) <= 1e-9):
            continue  # on the boundary
        drop = xyz[prior, 2] - xyz[i, 2]
        under = bool(((horizontal <= radius) & (drop > 0) & (drop <= COLUMN_DEPTH)).any())
        if band[i]:
            assert not prior[i] and under
        elif prior.sum() <= 16:
            assert prior[i] or not under


def test_a_refiner_with_flips_answers_every_point_the_latest_click_moved() -> None:
    """A positive click on the bin, then a negative one on its far side: the second state's band holds every point
    the negative click took (inside the crop), flagged as moved out, and a refiner that answers "object" there puts
    them all back; the first click moved nothing (its flip columns are zero)."""
    points, on_bin = room()
    segmenter = fusion_segmenter(0.5, FLIPS, domain="indoor")
    session = segmenter.session(points)
    bin_points = np.flatnonzero(on_bin)
    top = bin_points[np.argmax(points[bin_points, 2] - points[bin_points, 0])]  # high, at the cabinet's side
    far = bin_points[np.argmin(np.abs(points[bin_points] - [1.76, 1.0, 0.3]).sum(axis=1))]  # on the far side
    first = session.refiner_inputs([(int(top), True)])
    assert first[2].shape[1] == POINT_FEATURES + FLIP_FEATURES and not first[2][:, POINT_FEATURES:].any()
    region = segmenter.session(points).prior
    before = region.of_points(np.array([top]), np.array([], dtype=np.int64))
    after = region.of_points(np.array([top]), np.array([far]))
    moved = np.flatnonzero(before & ~after)
    assert len(moved) > 500  # the negative click takes half the bin
    band, _, features = session.refiner_inputs([(int(top), True), (int(far), False)])
    in_band = np.isin(moved, band)
    assert in_band.mean() > 0.9  # all but what lies outside the crop
    flagged = features[np.isin(band, moved)]
    assert (flagged[:, POINT_FEATURES + 1] == 1).all() and not flagged[:, POINT_FEATURES].any()
    session.add_click(int(top))
    with torch.no_grad():
        segmenter.model.point_refiner.layers[-1].bias.fill_(50.0)  # the band's points: object
    mask = session.add_click(int(far), positive=False)
    away = np.linalg.norm(points - points[far], axis=1) > session.click_rules.radius  # the click rules keep the rest
    assert mask[moved[in_band & away[moved]]].all()


def test_disagreement_band_holds_the_points_the_network_disputes_beyond_a_threshold() -> None:
    prior = np.array([1, 1, 1, 0, 0, 0], dtype=bool)
    network = np.array([-9.0, -3.0, 9.0, 9.0, 3.0, -9.0])
    np.testing.assert_array_equal(disagreement_band(prior, network, 4.0), [True, False, False, True, False, False])
    assert not disagreement_band(prior, network, 10.0).any() and disagreement_band(prior, network, 2.0).sum() == 4
    with pytest.raises(ValueError, match="point_refiner_disagree must be >= 0"):
        NetworkConfig(point_refiner_disagree=-1.0)


def test_a_refiner_with_disagreement_answers_the_prior_points_a_sure_network_calls_background() -> None:
    """A network set to call everything background (logit -100): a refiner with disagreement 4 answers every prior
    point of the crop, one with 200 only the plain band, which lacks most of the bin's inside; a refiner answering
    "background" there takes the whole bin, where the plain refiner keeps its inside."""
    points, on_bin = room()
    top = np.flatnonzero(on_bin)[np.argmax(points[on_bin, 2] - points[on_bin, 0])]
    bands = {}
    for threshold in (4.0, 200.0):
        network = dataclasses.replace(FLIPS.network, point_refiner_disagree=threshold)
        config = dataclasses.replace(FLIPS, network=network)
        segmenter = sure_room_segmenter(config, -100.0, -50.0)  # the network: background; the band: background
        session = segmenter.session(points)
        band, _, _ = session.refiner_inputs([(int(top), True)])
        region = session.prior.of_points(np.array([top]), np.array([], dtype=np.int64))
        bands[threshold] = (set(band.tolist()), set(np.flatnonzero(region).tolist()), session.add_click(int(top)))
    (wide, region, taken), (plain, _, kept) = bands[4.0], bands[200.0]
    assert region <= wide and wide == plain | region and len(region - plain) > 100  # the room lies in the crop
    inside = np.array(sorted(region - plain))
    assert kept[inside].mean() > 0.9 and taken[np.array(sorted(region))].mean() < 0.1  # (the click rules keep a few)

    def band_of(clicks: list, **network: object) -> set:
        config = dataclasses.replace(FLIPS, network=dataclasses.replace(FLIPS.network, point_refiner_disagree=4.0,
                                                                        **network))  # fmt: skip
        return set(sure_room_segmenter(config, -100.0).session(points).refiner_inputs(clicks)[0].tolist())

    # Only where the network speaks: a street network draws no disputes in a room.
    assert band_of([(int(top), True)], network_gain_domains=("outdoor",)) == plain
    # At the first click only: a later state's band is the one without disputes.
    far = int(np.flatnonzero(on_bin)[np.argmin(points[on_bin, 2])])
    later = [(int(top), True), (far, False)]
    assert band_of([(int(top), True)], point_refiner_disagree_first=True) == wide
    assert band_of(later, point_refiner_disagree_first=True) < band_of(later)
    assert band_of(later, point_refiner_disagree_first=True) == band_of(later, network_gain_domains=("outdoor",))
    # The click lies where the network says -100: with the disputes overruled at 4 the band is the plain one, at
    # 150 (beyond the network's certainty) the disputes stay.
    assert band_of([(int(top), True)], point_refiner_keep_overruled=4.0, point_refiner_disagree_overruled=True) == plain
    assert band_of([(int(top), True)], point_refiner_keep_overruled=150.0,
                   point_refiner_disagree_overruled=True) == wide  # fmt: skip
    with pytest.raises(ValueError, match="disagree_overruled .* needs network.point_refiner_keep_overruled"):
        NetworkConfig(point_refiner_disagree_overruled=True)
    # Only for a prior region of at least the minimum: the first click's region (the bin) holds over 100 points.
    assert band_of([(int(top), True)], point_refiner_network_min_region=100) == wide
    assert band_of([(int(top), True)], point_refiner_network_min_region=len(points) + 1) == plain
    # And only on an object the network recognises: it calls the clicked point -100, no object at any threshold.
    assert band_of([(int(top), True)], point_refiner_network_recognised=4.0) == plain
    # And only where it calls some of the region object: here none of it.
    assert band_of([(int(top), True)], point_refiner_network_min_share=0.01) == plain
    with pytest.raises(ValueError, match="point_refiner_network_min_region must be >= 0 points"):
        NetworkConfig(point_refiner_network_min_region=-1)
    with pytest.raises(ValueError, match="point_refiner_network_recognised must be >= 0"):
        NetworkConfig(point_refiner_network_recognised=-1.0)
    with pytest.raises(ValueError, match="point_refiner_network_min_share must lie in"):
        NetworkConfig(point_refiner_network_min_share=1.5)


def test_network_additions_are_its_sure_object_points_outside_the_prior_within_reach() -> None:
    """A ring the prior holds (x = 0) and rings 0.9 m and 3 m above it: the network's sure "object" outside the prior
    joins at any distance without a reach, only the near ring within 1 m; a prior point is never an addition."""
    xyz = np.array([[0, 0, 0], [1, 0, 0], [0, 0, 0.9], [1, 0, 0.9], [0, 0, 3.0], [1, 0, 3.0]], dtype=float)
    prior = np.array([1, 1, 0, 0, 0, 0], dtype=bool)
    network = np.array([9.0, 9.0, 5.0, 3.0, 9.0, -9.0])
    np.testing.assert_array_equal(network_additions(xyz, prior, network, 4.0), [0, 0, 1, 0, 1, 0])
    np.testing.assert_array_equal(network_additions(xyz, prior, network, 4.0, reach=1.0), [0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(network_additions(xyz, prior, network, 2.0, reach=1.0), [0, 0, 1, 1, 0, 0])
    assert not network_additions(xyz, np.zeros(6, dtype=bool), network, 4.0, reach=1.0).any()  # nothing to reach from
    with pytest.raises(ValueError, match="point_refiner_network_adds .* must be >= 0"):
        NetworkConfig(point_refiner_network_adds=-1.0)
    with pytest.raises(ValueError, match="point_refiner_network_adds .* must be >= 0"):
        NetworkConfig(point_refiner_network_adds=4.0, point_refiner_network_adds_reach=-0.5)


def test_a_first_click_takes_the_network_additions_only_where_it_speaks_and_recognises_the_object() -> None:
    """A network set to call everything object (logit +100) and a refiner that answers its band "background": at
    the first click on the bin the additions bring in the crop's points outside the prior (all of them, or those
    within the reach), and nothing else does; at a click state with a negative click, where the network does not
    speak, or where it is not sure enough to recognise the clicked object, the answer is the one without them."""
    points, on_bin = room()
    top = int(np.flatnonzero(on_bin)[np.argmax(points[on_bin, 2] - points[on_bin, 0])])
    far = int(np.argmax(np.linalg.norm(points - points[top], axis=1)))

    def answer(clicks: list, **network: object) -> np.ndarray:
        config = dataclasses.replace(FLIPS, network=dataclasses.replace(FLIPS.network, **network))
        session = sure_room_segmenter(config, 100.0, -50.0).session(points)  # the network: object; the band: not
        mask = None
        for index, positive in clicks:
            mask = session.add_click(index, positive)
        return np.asarray(mask, dtype=bool)

    first = [(top, True)]
    plain = answer(first)
    added = answer(first, point_refiner_network_adds=4.0)
    near = answer(first, point_refiner_network_adds=4.0, point_refiner_network_adds_reach=0.2)
    assert added.sum() > plain.sum() + 1000  # the floor and the cabinet in the crop join
    assert plain.sum() < near.sum() < added.sum()  # only what lies within 0.2 m of the prior's region
    assert (near <= added).all()
    later = [(top, True), (far, False)]
    np.testing.assert_array_equal(answer(later, point_refiner_network_adds=4.0), answer(later))
    np.testing.assert_array_equal(answer(first, point_refiner_network_adds=4.0, network_gain_domains=("outdoor",)),
                                  answer(first, network_gain_domains=("outdoor",)))  # fmt: skip
    np.testing.assert_array_equal(answer(first, point_refiner_network_adds=4.0, point_refiner_network_recognised=150.0),
                                  answer(first, point_refiner_network_recognised=150.0))  # fmt: skip
    # The region's size does not silence the additions as it silences the disputes and the holds.
    np.testing.assert_array_equal(answer(first, point_refiner_network_adds=4.0,
                                         point_refiner_network_min_region=len(points) + 1), added)  # fmt: skip


def test_network_holds_are_its_sure_answers_on_what_the_prior_holds_the_click_cut_or_the_answer_left_out() -> None:
    """Six points, read from their features: held object where the network's logit is >= 4 on a prior point or on
    one the latest click moved out; held background where it is <= -4 on a prior point the answer before left out,
    but not closer than the yield to a positive click."""
    grid = voxelize(np.zeros((1, 3), dtype=np.float32), None, 1.0)
    prior = np.array([1, 1, 0, 0, 1, 1], dtype=float)
    previous = np.array([1, 1, 1, 0, 1, 0], dtype=float)  # point 2 moved out, point 5 moved in
    shown = np.array([1, 1, 1, 0, 0, 0], dtype=float)  # points 4 and 5 were left out of the answer before
    network = np.array([5.0, 3.0, 6.0, 9.0, -5.0, -3.0])
    xyz = np.zeros((6, 3))
    xyz[[0, 4], 0] = 4.0  # points 0 and 4 lie 4 m from the others

    def holds(positive: list, negative: list, yields: float = CLICK_REACH, columns: int | None = None) -> tuple:
        features = point_features(xyz, None, np.zeros(6), grid, np.zeros(6, dtype=np.int64), prior, np.zeros(6),
                                  network, np.array(positive, dtype=float).reshape(-1, 3),
                                  np.array(negative, dtype=float).reshape(-1, 3), previous, (0.0, 0.0),
                                  shown)  # fmt: skip
        flips = columns is None
        return network_holds(features[:, :columns], 4.0, flips=flips, memory=flips, yields=yields)

    far = [[-5.0, 0.0, 0.0]]  # 5 m or more from every point
    hold_in, hold_out = holds(far, far)
    np.testing.assert_array_equal(hold_in, [True, False, True, False, False, False])  # 3: never the prior's
    np.testing.assert_array_equal(hold_out, [False, False, False, False, True, False])
    hold_in, hold_out = holds(far, [], columns=POINT_FEATURES)  # no flips, no memory
    np.testing.assert_array_equal(hold_in, [True, False, False, False, False, False])
    assert not hold_out.any()
    near = [[5.0, 0.0, 0.0]]  # 1 m from points 0 and 4, 5 m from the others
    assert not holds(near, far)[1][4]  # a positive click 1 m away: point 4 is not held out
    assert holds(near, far, yields=0.5)[1][4]  # unless the yield is shorter
    assert holds(far, near)[0][0]  # object holds never yield: a negative click's cut stops where the network is sure
    features = point_features(xyz, None, np.zeros(6), grid, np.zeros(6, dtype=np.int64), prior, np.zeros(6), network,
                              np.array(far), np.array(far), previous, (0.0, 0.0), shown)  # fmt: skip
    assert not network_holds(features, 4.0, True, True, keep_out=6.0)[1].any()  # point 4's -5 is not sure enough
    assert network_holds(features, 4.0, True, True, keep_out=5.0)[1][4]
    for field in ("point_refiner_keep_out", "point_refiner_keep_overruled"):
        with pytest.raises(ValueError, match="point_refiner_keep_out and point_refiner_keep_overruled must be >= 0"):
            NetworkConfig(**{field: -1.0})
    assert NetworkConfig(point_refiner_keep_yield=CLICK_REACH).point_refiner_keep_yield == CLICK_REACH
    with pytest.raises(ValueError, match="point_refiner_keep_yield must lie in"):
        NetworkConfig(point_refiner_keep_yield=CLICK_REACH + 0.1)


def test_where_the_network_is_sure_a_negative_click_and_the_refiner_cut_only_what_it_does_not_call_object() -> None:
    """A network that calls everything object (logit +100) and a refiner that answers background everywhere: the
    negative click on the bin's far side takes half of what the first click's prior held with the refiner alone,
    and nothing of it beyond the click rules' radius when the network's sure answers hold (`point_refiner_keep`,
    which never yield to a negative click) - but only where it speaks."""
    points, on_bin = room()
    bin_points = np.flatnonzero(on_bin)
    top = bin_points[np.argmax(points[bin_points, 2] - points[bin_points, 0])]
    far = bin_points[np.argmin(np.abs(points[bin_points] - [1.76, 1.0, 0.3]).sum(axis=1))]
    away = np.linalg.norm(points - points[far], axis=1) > 0.3

    def bin_kept(keep: float, domains: tuple[str, ...] = DOMAINS, yields: float = 0.0,
                 overruled: float = 0.0, min_region: int = 0, recognised: float = 0.0,
                 share: float = 0.0) -> float:  # fmt: skip
        network = dataclasses.replace(MEMORY.network, point_refiner_keep=keep, network_gain_domains=domains,
                                      point_refiner_keep_yield=yields, point_refiner_keep_overruled=overruled,
                                      point_refiner_network_min_region=min_region,
                                      point_refiner_network_recognised=recognised,
                                      point_refiner_network_min_share=share)  # fmt: skip
        segmenter = sure_room_segmenter(dataclasses.replace(MEMORY, network=network), 100.0, -50.0)
        session = segmenter.session(points)  # the network: object everywhere; the band's points: background
        shown = session.add_click(int(top))
        band, _, _ = session.refiner_inputs([(int(top), True), (int(far), False)], shown)
        mask = session.add_click(int(far), positive=False)
        held = session.prior.of_points(np.array([top]), np.array([], dtype=np.int64))  # the first click's prior
        answered = np.zeros(len(points), dtype=bool)
        answered[band] = True
        return float(mask[held & away & answered].mean())  # (outside the crop the prior alone answers)

    assert bin_kept(4.0) == 1.0
    assert bin_kept(0.0) < 0.5 and bin_kept(4.0, ("outdoor",)) == bin_kept(0.0)
    assert bin_kept(4.0, yields=CLICK_REACH) == 1.0  # the yield is to positive clicks only
    # a negative click where the network says +100 overrules its object hold at a threshold up to 100, not beyond
    assert bin_kept(4.0, overruled=4.0) == bin_kept(0.0) and bin_kept(4.0, overruled=150.0) == 1.0
    # and only on a prior region of at least the minimum (the bin's, after the cut, holds over 20 points)
    assert bin_kept(4.0, min_region=20) == 1.0 and bin_kept(4.0, min_region=len(points) + 1) == bin_kept(0.0)
    # and only on an object the network recognises: +100 at the first click is object at 4, not at 150
    assert bin_kept(4.0, recognised=4.0) == 1.0 and bin_kept(4.0, recognised=150.0) == bin_kept(0.0)
    # and where it calls at least the share of the region object: all of it here
    assert bin_kept(4.0, share=1.0) == 1.0


def test_clicks_on_the_networks_sure_opposite_answer_overrule_its_holds() -> None:
    """`overruled_holds`: a negative click where the network says object at the threshold or more drops the object
    hold; a positive click where it says background at minus the threshold or less drops the background hold; a
    threshold of 0 drops nothing, and clicks outside the crop (no logits) drop nothing."""
    assert overruled_holds(np.array([6.0, -4.0]), np.array([]), 4.0) == (False, True)
    assert overruled_holds(np.array([6.0, -3.9]), np.array([4.0]), 4.0) == (True, False)
    assert overruled_holds(np.array([-9.0]), np.array([9.0]), 0.0) == (False, False)
    assert overruled_holds(np.array([]), np.array([]), 4.0) == (False, False)


def test_a_refiner_with_growth_is_told_how_large_the_latest_clicks_move_was() -> None:
    """On the bin of the flips test: at the first click nothing moved (both growth columns at their floor); the
    negative click on the far side takes half the bin, and every band point of that state carries the same two
    numbers, `click_growth` of the crop's region against the one before the click (here the crop holds the room)."""
    points, on_bin = room()
    segmenter = fusion_segmenter(0.5, GROWTH, domain="indoor")
    session = segmenter.session(points)
    bin_points = np.flatnonzero(on_bin)
    top = bin_points[np.argmax(points[bin_points, 2] - points[bin_points, 0])]
    far = bin_points[np.argmin(np.abs(points[bin_points] - [1.76, 1.0, 0.3]).sum(axis=1))]
    assert segmenter.model.point_refiner.layers[0].in_features == POINT_FEATURES + FLIP_FEATURES + GROWTH_FEATURES
    _, _, first = session.refiner_inputs([(int(top), True)])
    assert first.shape[1] == POINT_FEATURES + FLIP_FEATURES + GROWTH_FEATURES
    assert (first[:, -GROWTH_FEATURES:] == -2.0).all()  # a region of thousands of points, nothing moved
    _, _, second = session.refiner_inputs([(int(top), True), (int(far), False)])
    region = session.prior
    before = region.of_points(np.array([top]), np.array([], dtype=np.int64))
    after = region.of_points(np.array([top]), np.array([far]))
    session.add_clicks([(int(top), True), (int(far), False)])
    assert session.last_crop_voxels == len(session.grid)  # the crop is the whole room, so the counts are the cloud's
    np.testing.assert_allclose(second[:, -GROWTH_FEATURES:], np.tile(click_growth(after, before), (len(second), 1)),
                               rtol=1e-6)  # fmt: skip
    assert -1.0 < second[0, -1] < -0.1 and second[0, -2] == -2.0  # took a good share of the bin, added nothing


def test_a_refiner_with_memory_is_shown_the_sessions_previous_answer() -> None:
    """A refiner that answers "background" in its band takes the bin's band out at the first click. At a second
    positive click the prior still holds those points, and a refiner without memory would meet them as at any first
    state; with memory they are in its band, marked as not shown. The session measures each click against its own
    previous mask (after an undo too), and a batch after a reset against none (the prior itself)."""
    points, on_bin = room()
    segmenter = fusion_segmenter(0.5, MEMORY, domain="indoor")
    assert segmenter.model.point_refiner.layers[0].in_features == POINT_FEATURES + FLIP_FEATURES + MEMORY_FEATURES
    bin_points = np.flatnonzero(on_bin)
    top = int(bin_points[np.argmax(points[bin_points, 2] - points[bin_points, 0])])
    far = int(bin_points[np.argmin(np.abs(points[bin_points] - [1.76, 1.0, 0.3]).sum(axis=1))])
    seen = []
    refine = segmenter.refine
    segmenter.refine = lambda features: seen.append(features) or refine(features)  # what the refiner was given
    with torch.no_grad():
        segmenter.model.point_refiner.layers[-1].bias.fill_(-50.0)  # the band's points: background
    session = segmenter.session(points)
    _, _, first = session.refiner_inputs([(top, True)])
    np.testing.assert_array_equal(first[:, -1], first[:, 2])  # nothing shown yet: the prior itself
    shown = session.add_click(top)
    clicks = [(top, True), (far, True)]
    band, _, features = session.refiner_inputs(clicks, shown=shown)
    region = session.prior.of_points(np.array([top, far]), np.array([], dtype=np.int64))
    taken = np.flatnonzero(region & ~shown[session.valid_indices])  # held by the prior, taken out by the refiner
    assert len(taken) > 20 and np.isin(taken, band).mean() > 0.9
    np.testing.assert_array_equal(features[:, -1], shown[session.valid_indices][band])
    assert not features[np.isin(band, taken), -1].any()
    assert features[np.isin(band, taken), 2].all()  # while the prior holds them
    _, _, afresh = session.refiner_inputs(clicks)  # no answer shown: the prior's own
    np.testing.assert_array_equal(afresh[:, -1], afresh[:, 2])
    second = session.add_click(far)
    np.testing.assert_array_equal(seen[-1], features)  # the session's own previous mask
    np.testing.assert_array_equal(session.undo(), shown)
    np.testing.assert_array_equal(session.add_click(far), second)
    np.testing.assert_array_equal(seen[-1], features)
    session.reset()
    session.add_clicks(clicks)  # one state, measured against the prior
    np.testing.assert_array_equal(seen[-1], session.refiner_inputs(clicks)[2])


def answer_by_last_column(segmenter: Segmenter) -> Segmenter:
    """`segmenter` with its refiner set to answer each band point by its last feature column: with memory, the answer
    shown before (it keeps its previous answer wherever its band reaches); with flips alone, moved out (it puts back
    what the latest click took)."""
    layers = segmenter.model.point_refiner.layers
    with torch.no_grad():
        for layer in (layers[0], layers[2], layers[4]):
            layer.weight.zero_()
            layer.bias.zero_()
        layers[0].weight[0, -1] = layers[2].weight[0, 0] = 1.0
        layers[4].weight[0, 0], layers[4].bias[0] = 100.0, -50.0
    return segmenter


def test_shown_answers_are_taken_click_by_click_where_the_answerer_remembers() -> None:
    """The answers a session shows after k clicks: one batch per k for a segmenter without memory (its answer
    depends on the clicks alone), click by click from a reset for one with memory (its answer depends on the
    answers before)."""
    points, on_bin = room()
    bin_points = np.flatnonzero(on_bin)
    clicks = [(int(bin_points[0]), True), (int(bin_points[len(bin_points) // 2]), False), (int(bin_points[-1]), True)]
    for config, click_by_click in ((FLIPS, False), (MEMORY, True)):
        segmenter = answer_by_last_column(fusion_segmenter(0.5, config, domain="indoor"))
        answers = shown_answers(segmenter.session(points), clicks, [0, 1, 3], click_by_click)
        assert sorted(answers) == [1, 3]
        session = segmenter.session(points)
        masks = [session.add_click(index, positive=positive) for index, positive in clicks]
        np.testing.assert_array_equal(answers[1], masks[0])
        np.testing.assert_array_equal(answers[3], masks[2])
        batch = segmenter.session(points).add_clicks(clicks)
        assert np.array_equal(batch, masks[2]) != click_by_click  # memory: the batch differs from the clicks


def test_the_answerer_as_the_user_clicks_on_the_answers_the_rows_show(scenes_root: Path,  # noqa: F811
                                                                       tmp_path: Path) -> None:  # fmt: skip
    """With `--user answerer` the simulated user corrects the answers the rows show (an answerer that keeps its
    first answer, so its user clicks elsewhere than the baseline's), and the rows record it."""
    fusion_segmenter(0.5).save(tmp_path / "fusion.pt", {"inference_options": {"ground_gate": False}})
    answer_by_last_column(fusion_segmenter(0.5, MEMORY)).save(tmp_path / "keeper.pt",
                                                              {"inference_options": {"ground_gate": False}})
    common = ["--checkpoint", str(tmp_path / "fusion.pt"), "--root", str(scenes_root), "--scene-stride", "1",
              "--held-out-every", "2", "--epochs", "1", "--views", "1", "--no-progress", "--threads", "1",
              "--refiner-flips", "--refiner-memory", "--memory-from", str(tmp_path / "keeper.pt"),
              "--states-per-object", "0"]  # fmt: skip
    rows = {user: tmp_path / f"rows_{user}.npz" for user in ("baseline", "answerer")}
    for user, path in rows.items():
        assert main([*common, "--user", user, "--rows", str(path), "--out", str(tmp_path / f"{user}.pt")]) == 0
        assert rows_record(path).collection["user"] == user
    baseline_user, answerer_user = (np.load(path)["fit_features"] for path in rows.values())
    assert baseline_user.shape != answerer_user.shape or not np.array_equal(baseline_user, answerer_user)
    shown_out = (answerer_user[:, 2] > 0.5) & (answerer_user[:, -1] < 0.5)  # prior holds it, the answer shown not
    assert shown_out.any()  # the keeper's user saw answers the prior no longer gives
    assert main([*common[:-2], "--user", "answerer", "--rows", str(rows["answerer"]), "--out",
                 str(tmp_path / "refit.pt")]) == 0  # a refit: the rows' own user, as recorded  # fmt: skip
    refit = load_checkpoint(tmp_path / "refit.pt")[2]["point_refiner_fit"]["settings"]
    assert refit["user"] == "answerer"
    no_memory = fusion_segmenter(0.5, FLIPS)
    with pytest.raises(ValueError, match="no memory"):  # from Python too: no silent fallback to its own answers
        collect_rows(no_memory, SemanticKittiDataset(scenes_root), [], {},
                     FitSettings(user="answerer"))  # fmt: skip


def test_rows_collected_in_workers_are_the_rows_of_one_process(scenes_root: Path,  # noqa: F811
                                                              tmp_path: Path) -> None:  # fmt: skip
    """`--jobs 2`: the scans' click states answered in two worker processes (the fitted network and the answerer
    loaded there from files) give the one-process rows array for array, and the same record."""
    fusion_segmenter(0.5).save(tmp_path / "fusion.pt", {"inference_options": {"ground_gate": False}})
    answer_by_last_column(fusion_segmenter(0.5, MEMORY)).save(tmp_path / "keeper.pt",
                                                              {"inference_options": {"ground_gate": False}})
    common = ["--checkpoint", str(tmp_path / "fusion.pt"), "--root", str(scenes_root), "--scene-stride", "1",
              "--held-out-every", "3", "--epochs", "1", "--views", "1", "--no-progress", "--threads", "1",
              "--refiner-flips", "--refiner-memory", "--memory-from", str(tmp_path / "keeper.pt"), "--user",
              "answerer", "--states-per-object", "0"]  # fmt: skip
    for jobs in (1, 2):
        assert main([*common, "--jobs", str(jobs), "--rows", str(tmp_path / f"rows_{jobs}.npz"), "--out",
                     str(tmp_path / f"fit_{jobs}.pt")]) == 0  # fmt: skip
    one, two = np.load(tmp_path / "rows_1.npz"), np.load(tmp_path / "rows_2.npz")
    assert sorted(one.files) == sorted(two.files) and len(one["fit_features"]) > 0
    for name in one.files:
        assert np.array_equal(one[name], two[name]), name
    assert rows_record(tmp_path / "rows_1.npz") == rows_record(tmp_path / "rows_2.npz")
    with pytest.raises(SystemExit):
        main([*common, "--jobs", "0", "--out", str(tmp_path / "bad.pt")])


def test_a_refiner_with_flips_solves_one_prior_region_per_click() -> None:
    """The region before the latest click is the previous click's region: a session keeps it, so three clicks
    solve three regions (not five), and its masks equal those of sessions that solve every state afresh."""
    points, on_bin = room()
    segmenter = fusion_segmenter(0.5, FLIPS, domain="indoor")
    bin_points = np.flatnonzero(on_bin)
    clicks = [(int(bin_points[0]), True), (int(bin_points[len(bin_points) // 2]), False),
              (int(bin_points[-1]), True)]  # fmt: skip
    session = segmenter.session(points)
    solved = []
    solve = session.prior.of_points
    session.prior.of_points = lambda positive, negative: solved.append(1) or solve(positive, negative)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the kept regions are read-only: nothing may wrap them writably
        masks = [session.add_click(index, positive=positive) for index, positive in clicks]
    assert len(solved) == 3
    for k in range(1, 4):
        fresh = segmenter.session(points)
        for index, positive in clicks[: k - 1]:
            fresh.add_click(index, positive=positive)
        fresh._prior_regions.clear()  # the latest click solves both its region and the one before it
        np.testing.assert_array_equal(fresh.add_click(*clicks[k - 1]), masks[k - 1])
    session.undo()
    np.testing.assert_array_equal(session.add_click(*clicks[2]), masks[2])  # after an undo, the same state
    assert len(solved) == 3  # undo shows the kept mask; the same click again finds both its regions kept


def test_an_unfitted_refiner_changes_nothing_and_a_fitted_one_answers_per_point() -> None:
    """A refiner starts at zero (the network's answer exactly); its correction reaches every point of the crop."""
    points, on_bin = room()
    plain = fusion_segmenter(0.5, domain="indoor")
    refined = fusion_segmenter(0.5, REFINED, domain="indoor")  # the same seed gives the same network
    for name, value in plain.model.state_dict().items():
        assert torch.equal(refined.model.state_dict()[name], value), name
    click = int(np.flatnonzero(on_bin)[len(np.flatnonzero(on_bin)) // 2])
    first, second = plain.session(points), refined.session(points)
    np.testing.assert_array_equal(first.add_click(click), second.add_click(click))
    band, fused, features = second.refiner_inputs([(click, True)])
    assert features.shape == (len(band), POINT_FEATURES) and len(fused) == len(band) > 0
    base = first.add_click(click)
    with torch.no_grad():
        refined.model.point_refiner.layers[-1].bias.fill_(-50.0)  # the band's points: background
    shrunk = second.add_click(click)
    with torch.no_grad():
        refined.model.point_refiner.layers[-1].bias.fill_(50.0)  # the band's points: object
    grown = second.add_click(click)
    in_band = np.zeros(len(points), dtype=bool)
    in_band[band] = True
    away = np.linalg.norm(points - points[click], axis=1) > second.click_rules.radius  # the click rules keep the rest
    np.testing.assert_array_equal(shrunk[away], (base & ~in_band)[away])  # only the band moves, and all of it
    np.testing.assert_array_equal(grown, base | in_band)
    assert (base & in_band).any() and (in_band & ~base).any()  # the band straddles the edge


def test_a_refiner_without_colour_answers_a_coloured_point_as_a_colourless_one() -> None:
    """`point_refiner_colour` off: the colour columns (and their flag) do not reach the refiner, in its fit as at
    inference; on, they do. The other columns reach both."""
    torch.manual_seed(0)
    features = torch.rand(64, POINT_FEATURES)
    recoloured = features.clone()
    recoloured[:, COLOUR_FEATURES] = torch.rand(64, COLOUR_FEATURES.stop - COLOUR_FEATURES.start)
    moved = features.clone()
    moved[:, 0] += 1.0  # the fused logit
    for colour in (True, False):
        refiner = PointRefiner(colour=colour)
        torch.nn.init.normal_(refiner.layers[-1].weight)  # a fitted refiner: it answers
        with torch.no_grad():
            assert not torch.equal(refiner(features), refiner(moved))
            assert torch.equal(refiner(features), refiner(recoloured)) == (not colour)
    assert not torch.equal(features[:, COLOUR_FEATURES], recoloured[:, COLOUR_FEATURES])  # the input is left as it was


def test_informative_rows_keep_every_point_of_a_voxel_with_an_error_or_two_labels() -> None:
    voxel = np.array([0, 0, 1, 1, 2, 2, 3, 3, 3])
    labels = np.array([1, 0, 1, 1, 0, 0, 1, 1, 1.0])
    wrong = np.array([False, False, False, False, True, False, False, False, False])
    rows, weights = informative_rows(voxel, labels, wrong, rest=1, rng=np.random.default_rng(0))
    assert set(rows[:4]) == {0, 1, 4, 5} and len(rows) == 5 and rows[4] in (2, 3, 6, 7, 8)
    np.testing.assert_allclose(weights, [1, 1, 1, 1, 5])  # the one easy row stands for all five easy points
    assert weights.sum() == len(voxel)


def test_fit_point_refiner_writes_a_network_with_its_refiner(scenes_root: Path, tmp_path: Path,  # noqa: F811
                                                             capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    """The fit collects click states on generated scans, fits, reports held-out rows and writes a loadable
    checkpoint whose network weights are the source's; a network without fusion is refused."""
    source = fusion_segmenter(0.5)
    source.save(tmp_path / "fusion.pt", {"inference_options": {"ground_gate": False}})
    out = tmp_path / "refined.pt"
    common = ["--root", str(scenes_root), "--scene-stride", "1", "--held-out-every", "2", "--epochs", "2",
              "--views", "1", "--no-progress", "--threads", "1"]  # fmt: skip
    rows = tmp_path / "rows.npz"
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(out), "--rows", str(rows), *common]) == 0
    assert "held-out crop points answered wrong" in capsys.readouterr().out and rows.is_file()
    again = tmp_path / "again.pt"  # a refit from the saved rows: same rows, so the same fit
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(again), "--rows", str(rows), *common]) == 0
    first, second = (load_checkpoint(path)[2]["point_refiner_fit"] for path in (out, again))
    assert first["fit_rows"] == second["fit_rows"] and first["loss"] == second["loss"]
    collection = rows_record(rows).collection  # the collecting command's options, for the card's reproduce steps
    assert collection["checkpoint"] == str(tmp_path / "fusion.pt") and collection["scene_stride"] == 1
    assert collection["views"] == 1 and collection["ring_cuts"] == [1] and collection["refiner_flips"] is False
    assert first["rows_collections"] == second["rows_collections"] == [collection]
    loaded = Segmenter.load(out, device="cpu")
    assert loaded.config.network.point_refiner and not loaded.options.ground_gate
    report = load_checkpoint(out)[2]["point_refiner_fit"]
    assert report["fit_states"] > 0 and report["fit_rows"] > 0 and len(report["loss"]) == 2
    fitted = loaded.model.state_dict()
    for name, value in source.model.state_dict().items():
        assert torch.equal(fitted[name], value), name  # the network itself is frozen
    assert fitted["point_refiner.layers.4.weight"].abs().sum() > 0
    assert loaded.config.network.point_refiner_colour and report["refiner_colour"]
    colourless = tmp_path / "colourless.pt"  # the same rows, a refiner that reads no colour
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(colourless), "--rows", str(rows),
                 "--no-refiner-colour", *common]) == 0  # fmt: skip
    blind = Segmenter.load(colourless, device="cpu")
    assert not blind.config.network.point_refiner_colour and not blind.model.point_refiner.colour
    assert load_checkpoint(colourless)[2]["point_refiner_fit"]["refiner_colour"] is False
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(tmp_path / "far.pt"), "--rows", str(rows),
                 "--refiner-reach", "0.5", *common]) == 2  # fmt: skip
    assert "collect them again" in capsys.readouterr().err and not (tmp_path / "far.pt").exists()
    reaching = tmp_path / "reach_rows.npz"  # rows of the reach band, collected with it
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(tmp_path / "far.pt"), "--rows",
                 str(reaching), "--refiner-reach", "0.5", *common]) == 0  # fmt: skip
    far = Segmenter.load(tmp_path / "far.pt", device="cpu")
    assert far.config.network.point_refiner_reach == 0.5
    assert load_checkpoint(tmp_path / "far.pt")[2]["point_refiner_fit"]["refiner_reach"] == 0.5
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(tmp_path / "flips.pt"), "--rows", str(rows),
                 "--refiner-flips", *common]) == 2  # rows without flips  # fmt: skip
    assert "--refiner-flips" in capsys.readouterr().err and not (tmp_path / "flips.pt").exists()
    flipped = tmp_path / "flip_rows.npz"  # rows with the latest click's flips, collected with them
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(tmp_path / "flips.pt"), "--rows",
                 str(flipped), "--refiner-flips", *common]) == 0  # fmt: skip
    flips = Segmenter.load(tmp_path / "flips.pt", device="cpu")
    assert flips.config.network.point_refiner_flips and load_checkpoint(tmp_path / "flips.pt")[2][
        "point_refiner_fit"]["refiner_flips"] is True
    assert flips.model.point_refiner.layers[0].in_features == POINT_FEATURES + FLIP_FEATURES
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(tmp_path / "no.pt"), "--rows",
                 str(flipped), *common]) == 2  # rows with flips, a fit without  # fmt: skip
    assert "collect them again" in capsys.readouterr().err and not (tmp_path / "no.pt").exists()
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(tmp_path / "no.pt"), "--rows",
                 str(flipped), "--refiner-flips", "--refiner-growth", *common]) == 2  # rows without growth  # fmt: skip
    assert "--refiner-growth False, not True" in capsys.readouterr().err and not (tmp_path / "no.pt").exists()
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(tmp_path / "no.pt"),
                 "--refiner-growth", *common]) == 2  # growth without flips  # fmt: skip
    assert "point_refiner_flips" in capsys.readouterr().err and not (tmp_path / "no.pt").exists()
    grown = tmp_path / "growth_rows.npz"
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(tmp_path / "growth.pt"), "--rows",
                 str(grown), "--refiner-flips", "--refiner-growth", *common]) == 0  # fmt: skip
    growth = Segmenter.load(tmp_path / "growth.pt", device="cpu")
    assert growth.config.network.point_refiner_growth
    assert load_checkpoint(tmp_path / "growth.pt")[2]["point_refiner_fit"]["refiner_growth"] is True
    assert growth.model.point_refiner.layers[0].in_features == POINT_FEATURES + FLIP_FEATURES + GROWTH_FEATURES
    assert np.load(grown)["fit_features"].shape[1] == POINT_FEATURES + FLIP_FEATURES + GROWTH_FEATURES
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(tmp_path / "no.pt"), "--rows",
                 str(rows), "--refiner-shape", "0.1", *common]) == 2  # rows without the shape columns  # fmt: skip
    assert "--refiner-shape 0.0, not 0.1" in capsys.readouterr().err and not (tmp_path / "no.pt").exists()
    shaped = tmp_path / "shape_rows.npz"
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(tmp_path / "shape.pt"), "--rows",
                 str(shaped), "--refiner-shape", "0.1", *common]) == 0  # fmt: skip
    shape = Segmenter.load(tmp_path / "shape.pt", device="cpu")
    assert shape.config.network.point_refiner_shape == 0.1
    assert load_checkpoint(tmp_path / "shape.pt")[2]["point_refiner_fit"]["refiner_shape"] == 0.1
    assert np.load(shaped)["fit_features"].shape[1] == POINT_FEATURES + SHAPE_FEATURES
    remembered = tmp_path / "memory_rows.npz"  # shown answers: the flips refiner's
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(tmp_path / "memory.pt"), "--rows",
                 str(remembered), "--refiner-flips", "--refiner-memory", "--memory-from", str(tmp_path / "flips.pt"),
                 *common]) == 0  # fmt: skip
    memory = Segmenter.load(tmp_path / "memory.pt", device="cpu")
    assert memory.config.network.point_refiner_memory
    assert memory.model.point_refiner.layers[0].in_features == POINT_FEATURES + FLIP_FEATURES + MEMORY_FEATURES
    assert rows_record(remembered).memory_from == str(tmp_path / "flips.pt")
    memory_rows = np.load(remembered)["fit_features"]
    assert (memory_rows[:, -1] != memory_rows[:, 2]).any()  # somewhere the flips refiner's answer left the prior
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(tmp_path / "again.pt"), "--rows",
                 str(remembered), "--refiner-flips", "--refiner-memory", *common]) == 0  # a refit: as recorded
    assert load_checkpoint(tmp_path / "again.pt")[2]["point_refiner_fit"]["settings"]["memory_from"] == str(
        tmp_path / "flips.pt")
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(tmp_path / "no.pt"), "--rows",
                 str(remembered), "--refiner-flips", "--refiner-memory", "--memory-from", str(tmp_path / "growth.pt"),
                 *common]) == 2  # rows of another model's answers  # fmt: skip
    assert "flips.pt" in capsys.readouterr().err and not (tmp_path / "no.pt").exists()
    stepped = tmp_path / "step_rows.npz"  # as if a later on-policy step's rows, the growth refiner's answers shown
    with np.load(remembered) as data:
        np.savez(stepped, **{**dict(data), "memory_from": np.asarray(str(tmp_path / "growth.pt"))})
    steps = [str(remembered), str(stepped)]
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(tmp_path / "no.pt"), "--rows", *steps,
                 "--refiner-flips", "--refiner-memory", *common]) == 2  # two answerers, not joined  # fmt: skip
    assert "--join-answerers" in capsys.readouterr().err and not (tmp_path / "no.pt").exists()
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(tmp_path / "joined.pt"), "--rows", *steps,
                 "--refiner-flips", "--refiner-memory", "--join-answerers", *common]) == 0  # fmt: skip
    assert load_checkpoint(tmp_path / "joined.pt")[2]["point_refiner_fit"]["settings"]["memory_from"] == (
        f"{tmp_path / 'flips.pt'} + {tmp_path / 'growth.pt'}")
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(tmp_path / "no.pt"), "--rows",
                 str(tmp_path / "uncollected.npz"), "--refiner-flips", "--refiner-memory", "--join-answerers",
                 *common]) == 2  # a collection shows one answerer  # fmt: skip
    assert "--join-answerers" in capsys.readouterr().err and not (tmp_path / "no.pt").exists()
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(tmp_path / "no.pt"), "--rows",
                 str(remembered), "--refiner-flips", *common]) == 2  # rows with memory, a fit without  # fmt: skip
    assert "--refiner-memory True, not False" in capsys.readouterr().err and not (tmp_path / "no.pt").exists()
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(tmp_path / "no.pt"), "--refiner-flips",
                 "--memory-from", str(tmp_path / "flips.pt"), *common]) == 2  # fmt: skip
    assert "add --refiner-memory" in capsys.readouterr().err and not (tmp_path / "no.pt").exists()
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(tmp_path / "no.pt"), "--refiner-flips",
                 "--user", "answerer", *common]) == 2  # no answers shown without memory  # fmt: skip
    assert "add --refiner-memory" in capsys.readouterr().err and not (tmp_path / "no.pt").exists()
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(tmp_path / "no.pt"), "--rows",
                 str(tmp_path / "no_rows.npz"), "--refiner-flips", "--refiner-memory", "--memory-from",
                 str(tmp_path / "broken.pt"), *common]) == 2  # fmt: skip
    assert "--memory-from" in capsys.readouterr().err and not (tmp_path / "no.pt").exists()
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(tmp_path / "column.pt"), "--rows",
                 str(tmp_path / "column_rows.npz"), "--refiner-column", "0.1", *common]) == 0  # fmt: skip
    column = Segmenter.load(tmp_path / "column.pt", device="cpu")
    assert column.config.network.point_refiner_column == 0.1
    assert load_checkpoint(tmp_path / "column.pt")[2]["point_refiner_fit"]["refiner_column"] == 0.1
    assert main(["--checkpoint", str(tmp_path / "fusion.pt"), "--out", str(tmp_path / "no.pt"), "--rows",
                 str(tmp_path / "column_rows.npz"), "--refiner-column", "0.2", *common]) == 2  # fmt: skip
    assert "--refiner-column 0.1, not 0.2" in capsys.readouterr().err and not (tmp_path / "no.pt").exists()
    Segmenter.from_config(ModelConfig(network=NetworkConfig(channels=(8, 16), cse_channels=(4, 8)))).save(
        tmp_path / "plain.pt")
    assert main(["--checkpoint", str(tmp_path / "plain.pt"), "--out", str(tmp_path / "no.pt"), *common]) == 2
    assert "prior-fusion" in capsys.readouterr().err and not (tmp_path / "no.pt").exists()


def test_as_fusion_fits_a_refiner_on_a_plain_network_at_network_gain_zero(scenes_root: Path,  # noqa: F811
                                                                         tmp_path: Path) -> None:  # fmt: skip
    """`--as-fusion` takes a network without prior fusion (the shipped default's kind): the output is a fusion
    network at its start (network gain 0, so its voxel answer is the training-free region) with the source's
    weights and a fitted refiner; a source the fusion cannot wrap (no geodesic maps) is refused."""
    plain = dataclasses.replace(FUSION, network=dataclasses.replace(FUSION.network, prior_fusion=False))
    source = Segmenter.from_config(plain, seed=0)
    source.save(tmp_path / "plain.pt")
    common = ["--root", str(scenes_root), "--scene-stride", "1", "--held-out-every", "2", "--epochs", "2",
              "--views", "1", "--no-progress", "--threads", "1", "--as-fusion"]  # fmt: skip
    assert main(["--checkpoint", str(tmp_path / "plain.pt"), "--out", str(tmp_path / "refined.pt"), *common]) == 0
    refined = Segmenter.load(tmp_path / "refined.pt", device="cpu")
    assert refined.config.network.prior_fusion and refined.config.network.point_refiner
    assert refined.model.network_gain.item() == 0.0
    fitted = refined.model.state_dict()
    for name, value in source.model.state_dict().items():
        assert torch.equal(fitted[name], value), name
    assert fitted["point_refiner.layers.4.weight"].abs().sum() > 0
    no_maps = ModelConfig(network=NetworkConfig(channels=(8, 16), cse_channels=(4, 8)))
    Segmenter.from_config(no_maps).save(tmp_path / "no_maps.pt")
    assert main(["--checkpoint", str(tmp_path / "no_maps.pt"), "--out", str(tmp_path / "no.pt"), *common]) == 2
    assert not (tmp_path / "no.pt").exists()


def test_network_gain_is_set_after_the_fit_and_lets_the_network_vote_beyond_the_band(scenes_root: Path,  # noqa: F811
                                                                                     tmp_path: Path,
                                                                                     capsys) -> None:  # fmt: skip
    """`--network-gain G` (with `--as-fusion`) writes the refiner fitted at gain 0 (the same weights and held-out
    figures as without it, from the same rows) with the fusion's network gain G, recorded in the fit's settings;
    a fusion checkpoint's learned gain and a negative gain are refused."""
    plain = dataclasses.replace(FUSION, network=dataclasses.replace(FUSION.network, prior_fusion=False))
    Segmenter.from_config(plain, seed=0).save(tmp_path / "plain.pt")
    rows = tmp_path / "rows.npz"
    common = ["--checkpoint", str(tmp_path / "plain.pt"), "--root", str(scenes_root), "--scene-stride", "1",
              "--held-out-every", "2", "--epochs", "2", "--views", "1", "--no-progress", "--threads", "1",
              "--as-fusion", "--rows", str(rows)]  # fmt: skip
    assert main([*common, "--out", str(tmp_path / "zero.pt")]) == 0 and rows.is_file()
    assert main([*common, "--network-gain", "0.75", "--out", str(tmp_path / "voting.pt")]) == 0
    zero, voting = (Segmenter.load(tmp_path / name, device="cpu") for name in ("zero.pt", "voting.pt"))
    assert zero.model.network_gain.item() == 0.0 and voting.model.network_gain.item() == 0.75
    refiner = {k: v for k, v in voting.model.state_dict().items() if k != "network_gain"}
    for name, value in zero.model.state_dict().items():
        if name != "network_gain":
            assert torch.equal(refiner[name], value), name
    fits = [s.extra["point_refiner_fit"] for s in (zero, voting)]
    assert fits[1]["settings"]["network_gain"] == 0.75 and fits[0]["settings"]["network_gain"] == 0.0
    assert fits[0]["held_out_wrong_after"] == fits[1]["held_out_wrong_after"]  # at the rows' gain 0, both
    network = torch.tensor([[0.0, 8.0], [3.0, -5.0]])  # object - background logits +8 and -8
    prior = torch.tensor([0.0, 1.0])  # the prior says background, then object
    half = voting.model.fuse(network, prior)[:, 1]  # half the fused object logit
    assert torch.allclose(2 * half, torch.tensor([-4.0 + 0.75 * 8, 4.0 - 0.75 * 8]))  # a sure network outvotes it
    assert voting.config.network.network_gain_domains == DOMAINS  # a source without a training config: everywhere
    # Voting in the streets only: a room's session answers as at gain 0, a street's does not.
    assert main([*common, "--network-gain", "1000", "--network-gain-domains", "outdoor",
                 "--out", str(tmp_path / "streets.pt")]) == 0  # fmt: skip (an untrained network's logits are small)
    streets = Segmenter.load(tmp_path / "streets.pt", device="cpu")
    assert streets.config.network.network_gain_domains == ("outdoor",)
    assert streets.network_votes and not streets.with_options(domain="indoor").network_votes
    rng = np.random.default_rng(3)
    xyz = np.concatenate([rng.normal([0, 0, 0.5], 0.3, (300, 3)), rng.normal([1.2, 0, 0.5], 0.3, (300, 3)),
                          rng.uniform([-3, -3, 0], [3, 3, 0.02], (600, 3))]).astype(np.float32)  # fmt: skip
    clicks = [(5, True), (320, False), (40, True)]

    def masks(segmenter: Segmenter, domain: str) -> list[np.ndarray]:
        session = segmenter.with_options(domain=domain).session(xyz)
        return [session.add_click(index, positive=positive).copy() for index, positive in clicks]

    for mine, at_zero in zip(masks(streets, "indoor"), masks(zero, "indoor"), strict=True):
        np.testing.assert_array_equal(mine, at_zero)
    assert any((mine != at_zero).any() for mine, at_zero in zip(masks(streets, "outdoor"), masks(zero, "outdoor"),
                                                                strict=True))  # fmt: skip (it does vote there)
    half = streets.with_options(domain="indoor").model.fuse(network, prior, network_votes=False)[:, 1]
    assert torch.allclose(2 * half, torch.tensor([-4.0, 4.0]))
    fusion = tmp_path / "fusion.pt"
    Segmenter.from_config(FUSION, seed=0).save(fusion)
    capsys.readouterr()
    for argv, why in (([*common, "--network-gain", "-0.5"], "network_gain must be >= 0"),
                      ([*[fusion if a == str(tmp_path / "plain.pt") else a for a in common if a != "--as-fusion"],
                        "--network-gain", "0.5"], "a prior-fusion network learned its own")):  # fmt: skip
        assert main([str(a) for a in argv] + ["--out", str(tmp_path / "no.pt")]) == 2
        assert why in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*common, "--network-gain", "0.5", "--network-gain-domains", "moon", "--out", str(tmp_path / "no.pt")])
    assert "invalid choice: 'moon'" in capsys.readouterr().err
    assert not (tmp_path / "no.pt").exists()


def test_iou_weighting_gives_each_click_state_the_weight_of_its_iou_error() -> None:
    """Two states: a pole's (union 10 crop points) and a building's (union 1000). By points the building's rows
    outweigh the pole's a hundredfold; by IoU one wrong point of each weighs as its share of its state's union."""
    rows = Rows([np.zeros((2, 1)), np.zeros((3, 1))], [np.zeros(2), np.zeros(3)], [np.ones(2), np.ones(3)],
                [np.array([1.0, 9.0]), np.array([1.0, 499.0, 500.0])], [np.full(2, 10.0), np.full(3, 1000.0)])
    np.testing.assert_allclose(rows.loss_weights("points").numpy(), [1, 9, 1, 499, 500])
    by_iou = rows.loss_weights("iou").numpy()
    np.testing.assert_allclose(by_iou, [0.1, 0.9, 0.001, 0.499, 0.5], rtol=1e-6)
    assert by_iou[:2].sum() == pytest.approx(by_iou[2:].sum())  # each state's rows weigh the same in all
    collected = dataclasses.replace(rows, weights=[np.array([1 / 3, 2 / 3]), np.array([0.1, 0.2, 0.3])])
    saved = dataclasses.replace(collected, weights=[w.astype(np.float32) for w in collected.weights])  # as stored
    assert torch.equal(collected.loss_weights("iou"), saved.loss_weights("iou"))  # a refit fits the same rows
    old = dataclasses.replace(rows, unions=[])  # rows saved before unions were kept
    with pytest.raises(ValueError, match="unions"):
        old.loss_weights("iou")


def test_iou_weighted_fit_reports_each_states_errors_and_refuses_rows_without_unions(
        scenes_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:  # noqa: F811
    """`--weighting iou` fits from rows with their states' unions and reports the held-out errors per state as a
    share of its union; saved rows that lack the unions are refused with exit 2 and nothing written."""
    fusion_segmenter(0.5).save(tmp_path / "fusion.pt", {"inference_options": {"ground_gate": False}})
    common = ["--checkpoint", str(tmp_path / "fusion.pt"), "--root", str(scenes_root), "--scene-stride", "1",
              "--held-out-every", "2", "--epochs", "2", "--views", "1", "--no-progress", "--threads", "1",
              "--weighting", "iou"]  # fmt: skip
    rows = tmp_path / "new_folder" / "rows.npz"  # its folder is made
    assert main([*common, "--rows", str(rows), "--out", str(tmp_path / "iou.pt")]) == 0
    report = load_checkpoint(tmp_path / "iou.pt")[2]["point_refiner_fit"]
    assert report["settings"]["weighting"] == "iou"
    assert main([*common, "--rows", str(rows), "--out", str(tmp_path / "again.pt")]) == 0  # a refit from the rows
    again = load_checkpoint(tmp_path / "again.pt")[2]["point_refiner_fit"]
    assert again["loss"] == report["loss"] and again["held_out_wrong_after"] == report["held_out_wrong_after"]
    for when in ("before", "after"):  # no wrong point, no share; a share is of a union, so at most 1
        share = report[f"held_out_union_share_{when}"]
        assert 0 <= share <= 1 and (share > 0) == (report[f"held_out_wrong_{when}"] > 0)
    assert "share of its union" in capsys.readouterr().out
    with np.load(rows) as data:
        saved = {name: data[name] for name in data.files}
    assert len(saved["fit_unions"]) == len(saved["fit_labels"]) and (saved["fit_unions"] >= 1).all()
    old = tmp_path / "old_rows.npz"
    np.savez(old, **{name: value for name, value in saved.items() if not name.endswith("_unions")})
    assert main([*common, "--rows", str(old), "--out", str(tmp_path / "no.pt")]) == 2
    assert "collect them again" in capsys.readouterr().err and not (tmp_path / "no.pt").exists()
    assert main([*common[:-2], "--rows", str(old), "--out", str(tmp_path / "points.pt")]) == 0  # by points: fine


def test_ring_cuts_add_the_thinned_scans_rows_and_several_row_files_fit_together(
        scenes_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:  # noqa: F811
    """The tiny streets are 32-ring scans: `--ring-cuts 2` collects their 16-ring cut and `--ring-cuts 1 2` both,
    the cut's states adding to the full scans' (cut 1 draws what a fit without cuts draws); a cut that would leave
    8 rings is skipped. Row files collected apart fit together, with their states summed; a missing or repeated
    file, several files to collect into, or a bad cut exit 2 with nothing written."""
    fusion_segmenter(0.5).save(tmp_path / "fusion.pt", {"inference_options": {"ground_gate": False}})
    common = ["--checkpoint", str(tmp_path / "fusion.pt"), "--root", str(scenes_root), "--scene-stride", "1",
              "--held-out-every", "2", "--epochs", "1", "--views", "1", "--no-progress", "--threads", "1",
              "--weighting", "iou"]  # fmt: skip

    def fit(name: str, *options: str) -> dict:
        assert main([*common, "--out", str(tmp_path / f"{name}.pt"), *options]) == 0
        return load_checkpoint(tmp_path / f"{name}.pt")[2]["point_refiner_fit"]

    full = fit("full", "--rows", str(tmp_path / "full.npz"))
    cut = fit("cut", "--ring-cuts", "2", "--rows", str(tmp_path / "cut.npz"))
    both = fit("both", "--ring-cuts", "1", "2")
    assert full["fit_states"] > 0 and cut["fit_states"] > 0 and list(both["settings"]["ring_cuts"]) == [1, 2]
    assert both["fit_states"] == full["fit_states"] + cut["fit_states"]
    assert both["held_out_states"] == full["held_out_states"] + cut["held_out_states"]
    assert both["fit_rows"] == full["fit_rows"] + cut["fit_rows"]
    with np.load(tmp_path / "cut.npz") as data:
        assert data["ring_cuts"].tolist() == [2]
    joined = fit("joined", "--rows", str(tmp_path / "full.npz"), str(tmp_path / "cut.npz"))
    assert joined["fit_states"] == both["fit_states"] and joined["fit_rows"] == both["fit_rows"]
    assert joined["held_out_rows"] == both["held_out_rows"] and len(joined["rows"]) == 2
    assert list(joined["settings"]["ring_cuts"]) == [1, 2]  # the cuts the joined rows hold, whatever --ring-cuts says
    assert main([*common, "--out", str(tmp_path / "thin.pt"), "--ring-cuts", "4"]) == 2  # 8 rings: no rows at all
    assert "no point" in capsys.readouterr().err
    for bad in (["--rows", str(tmp_path / "full.npz"), str(tmp_path / "none.npz")],
                ["--rows", str(tmp_path / "full.npz"), str(tmp_path / "full.npz")],
                ["--rows", str(tmp_path / "a.npz"), str(tmp_path / "b.npz")], ["--ring-cuts", "0"]):
        assert main([*common, "--out", str(tmp_path / "no.pt"), *bad]) == 2, bad
        assert not (tmp_path / "no.pt").exists() and not (tmp_path / "a.npz").exists()
    assert main([*common, "--out", str(tmp_path / "no.pt"), "--refiner-reach", "0.5", "--rows",
                 str(tmp_path / "full.npz"), str(tmp_path / "cut.npz")]) == 2  # fmt: skip
    assert "collect them again" in capsys.readouterr().err


def test_click_states_are_the_first_and_drawn_ones_or_every_one() -> None:
    rng = np.random.default_rng(0)
    assert click_states(5, 0, rng) == [1, 2, 3, 4, 5]
    assert click_states(1, 3, rng) == [1]
    for _ in range(20):
        drawn = click_states(10, 3, rng)
        assert drawn[0] == 1 and drawn == sorted(set(drawn)) and len(drawn) <= 3 and drawn[-1] <= 10


def test_collapsed_states_join_the_drawn_ones_without_changing_the_draw() -> None:
    """The states after a collapse are answered as well; they take nothing from the generator, so the drawn states
    (and every later object's draw) are those of a collection without them. Click numbers past the run are dropped."""
    plain, with_collapses = np.random.default_rng(3), np.random.default_rng(3)
    for _ in range(20):
        drawn = click_states(10, 3, plain)
        joined = click_states(10, 3, with_collapses, collapsed=[7, 4, 12, 0])
        assert joined == sorted(set(drawn) | {4, 7})
    assert click_states(5, 0, plain, collapsed=[3]) == [1, 2, 3, 4, 5]


def test_collapse_states_add_the_states_after_a_collapse_and_are_recorded(
        scenes_root: Path, tmp_path: Path) -> None:  # noqa: F811
    """`--collapse-states` answers the drawn states and those right after each click that collapsed the user's
    mask: its fit has the plain fit's states and more when a user's run collapsed. The rows record it, and a
    refit from them (alone or joined with plain rows) reports it."""
    fusion_segmenter(0.5).save(tmp_path / "fusion.pt", {"inference_options": {"ground_gate": False}})
    common = ["--checkpoint", str(tmp_path / "fusion.pt"), "--root", str(scenes_root), "--scene-stride", "1",
              "--held-out-every", "2", "--epochs", "1", "--views", "1", "--no-progress", "--threads", "1",
              "--objects-per-scene", "4", "--clicks", "10"]  # fmt: skip

    def fit(name: str, *options: str) -> dict:
        assert main([*common, "--out", str(tmp_path / f"{name}.pt"), *options]) == 0
        return load_checkpoint(tmp_path / f"{name}.pt")[2]["point_refiner_fit"]

    plain = fit("plain", "--rows", str(tmp_path / "plain.npz"))
    collapses = fit("collapses", "--collapse-states", "--rows", str(tmp_path / "collapses.npz"))
    assert collapses["settings"]["collapse_states"] and not plain["settings"]["collapse_states"]
    assert collapses["fit_states"] + collapses["held_out_states"] > plain["fit_states"] + plain["held_out_states"]
    assert collapses["fit_rows"] > plain["fit_rows"]
    with np.load(tmp_path / "collapses.npz") as data:
        assert bool(data["collapse_states"])
    assert fit("refit", "--rows", str(tmp_path / "collapses.npz"))["settings"]["collapse_states"]
    joined = fit("joined", "--rows", str(tmp_path / "plain.npz"), str(tmp_path / "collapses.npz"))
    assert joined["settings"]["collapse_states"]
    assert joined["fit_states"] == plain["fit_states"] + collapses["fit_states"]
    assert not fit("plain_again", "--rows", str(tmp_path / "plain.npz"))["settings"]["collapse_states"]


@pytest.fixture(scope="module")
def kinds_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three VLP-16 street scans (and one for validation) whose vehicles, poles, signs, trunks and buildings are
    all targets: objects of the three kinds."""
    root = tmp_path_factory.mktemp("kinds")
    targets = {"vehicle": 1.0, "pole": 1.0, "sign": 1.0, "trunk": 1.0, "building": 1.0}
    config = SyntheticConfig(train_scans=3, val_scans=1, seed=3, generator={"outdoor": {"target_mix": targets}},
                             mix=(SyntheticPart("outdoor", "vlp16", 1.0),))  # fmt: skip
    ensure_generated(root, config, show_progress=False, workers=1)
    return root


def test_object_kinds_split_the_street_objects_and_are_recorded(kinds_root: Path, tmp_path: Path) -> None:
    """`--object-kinds` keeps the street objects of those kinds: with every object and every click state answered,
    the states and rows of things and of the other two kinds add up to those of all three, and a kind alone has
    fewer. The rows record their kinds; a refit reports them and a join reports the kinds of both parts."""
    fusion_segmenter(0.5).save(tmp_path / "fusion.pt", {"inference_options": {"ground_gate": False}})
    common = ["--checkpoint", str(tmp_path / "fusion.pt"), "--root", str(kinds_root), "--scene-stride", "1",
              "--held-out-every", "3", "--epochs", "1", "--views", "1", "--no-progress", "--threads", "1",
              "--objects-per-scene", "1000", "--states-per-object", "0", "--clicks", "2"]  # fmt: skip

    def fit(name: str, *options: str) -> dict:
        assert main([*common, "--out", str(tmp_path / f"{name}.pt"), *options]) == 0
        return load_checkpoint(tmp_path / f"{name}.pt")[2]["point_refiner_fit"]

    every = fit("every")
    things = fit("things", "--object-kinds", "things", "--rows", str(tmp_path / "things.npz"))
    rest = fit("rest", "--object-kinds", "other", "stuff", "--rows", str(tmp_path / "rest.npz"))
    assert list(every["settings"]["object_kinds"]) == ["things", "stuff", "other"]
    assert list(rest["settings"]["object_kinds"]) == ["stuff", "other"]  # one order, whatever the command's
    for key in ("fit_states", "held_out_states", "fit_rows", "held_out_rows"):
        assert things[key] + rest[key] == every[key], key
    assert 0 < things["fit_states"] < every["fit_states"] and 0 < rest["fit_states"] < every["fit_states"]
    assert things["held_out_states"] == 0  # the held-out scan has no thing of 100 points: reported, saved, refitted
    with np.load(tmp_path / "things.npz") as data:
        assert data["object_kinds"].tolist() == ["things"]
    assert list(fit("refit", "--rows", str(tmp_path / "things.npz"))["settings"]["object_kinds"]) == ["things"]
    joined = fit("joined", "--rows", str(tmp_path / "things.npz"), str(tmp_path / "rest.npz"))
    assert list(joined["settings"]["object_kinds"]) == ["things", "stuff", "other"]
    with pytest.raises(SystemExit):
        main([*common, "--out", str(tmp_path / "no.pt"), "--object-kinds", "buildings"])
    assert not (tmp_path / "no.pt").exists()


def test_refiner_gain_scales_the_fitted_correction(kinds_root: Path, tmp_path: Path) -> None:
    """`--refiner-gain G` writes the refiner fitted on the same rows with its correction scaled by G; the gain is
    recorded, and a gain of 0 is refused."""
    fusion_segmenter(0.5).save(tmp_path / "fusion.pt", {"inference_options": {"ground_gate": False}})
    common = ["--checkpoint", str(tmp_path / "fusion.pt"), "--root", str(kinds_root), "--scene-stride", "1",
              "--held-out-every", "2", "--epochs", "3", "--views", "1", "--no-progress", "--threads", "1",
              "--rows", str(tmp_path / "rows.npz")]  # fmt: skip
    refiners, reports = {}, {}
    for gain in ("1", "0.5"):
        assert main([*common, "--out", str(tmp_path / f"{gain}.pt"), "--refiner-gain", gain]) == 0
        state, _, extra = load_checkpoint(tmp_path / f"{gain}.pt")
        refiners[gain], reports[gain] = PointRefiner(flips=False), extra["point_refiner_fit"]
        refiners[gain].load_state_dict({key.removeprefix("point_refiner."): value for key, value in state.items()
                                        if key.startswith("point_refiner.")})  # fmt: skip
    assert reports["0.5"]["settings"]["refiner_gain"] == 0.5 and reports["1"]["settings"]["refiner_gain"] == 1.0
    features = torch.from_numpy(np.load(tmp_path / "rows.npz")["fit_features"])
    with torch.no_grad():
        full, half = refiners["1"](features), refiners["0.5"](features)
    assert full.abs().min() > 0  # a fitted correction, not the zero of an unfitted refiner
    torch.testing.assert_close(half, full * 0.5)
    assert main([*common, "--out", str(tmp_path / "zero.pt"), "--refiner-gain", "0"]) == 2
    assert not (tmp_path / "zero.pt").exists()


def test_network_keep_and_served_disagree_are_written_after_the_fit(kinds_root: Path, tmp_path: Path) -> None:
    """`--network-keep K` (with `--network-keep-yield`, `-out`, `-overruled`, `--network-disagree-overruled`,
    `--network-min-region`, `--network-recognised`, `--network-min-share`), `--network-adds` (with its reach) and
    `--served-disagree T` set the written network's holds, its first-click additions and its disputes (the rows
    and the fitted refiner are those of the fit without them), also disputes the rows were collected without
    (`--served-disagree-first`: at the first click only); a yield beyond the click distances' 2 m is refused, and
    so are disputes overruled without a threshold, first-click disputes without any, a negative region minimum, a
    share above 1 and a negative reach."""
    fusion_segmenter(0.5).save(tmp_path / "fusion.pt", {"inference_options": {"ground_gate": False}})
    common = ["--checkpoint", str(tmp_path / "fusion.pt"), "--root", str(kinds_root), "--scene-stride", "1",
              "--held-out-every", "2", "--epochs", "2", "--views", "1", "--no-progress", "--threads", "1",
              "--refiner-disagree", "4", "--rows", str(tmp_path / "rows.npz")]  # fmt: skip
    assert main([*common, "--out", str(tmp_path / "plain.pt")]) == 0
    assert main([*common, "--out", str(tmp_path / "served.pt"), "--network-keep", "4", "--served-disagree", "6",
                 "--network-keep-yield", "1", "--network-keep-out", "12", "--network-keep-overruled", "5",
                 "--network-disagree-overruled", "--network-min-region", "150", "--network-recognised", "3",
                 "--network-min-share", "0.25", "--network-adds", "4", "--network-adds-reach", "1"]) == 0
    plain, served = (load_checkpoint(tmp_path / f"{name}.pt") for name in ("plain", "served"))
    assert (plain[1].network.point_refiner_keep, plain[1].network.point_refiner_disagree) == (0.0, 4.0)
    written = served[1].network
    assert (written.point_refiner_keep, written.point_refiner_disagree, written.point_refiner_keep_yield,
            written.point_refiner_keep_out, written.point_refiner_keep_overruled,
            written.point_refiner_disagree_overruled, written.point_refiner_network_min_region,
            written.point_refiner_network_recognised, written.point_refiner_network_min_share,
            written.point_refiner_network_adds, written.point_refiner_network_adds_reach
            ) == (4.0, 6.0, 1.0, 12.0, 5.0, True, 150, 3.0, 0.25, 4.0, 1.0)  # fmt: skip
    assert plain[1].network.point_refiner_network_adds == 0.0
    for key, value in plain[0].items():
        torch.testing.assert_close(served[0][key], value)  # the same fit
    assert served[2]["point_refiner_fit"]["settings"]["network_keep"] == 4.0
    without = [str(tmp_path / "rows_plain.npz") if word == str(tmp_path / "rows.npz") else word
               for word in common if word not in ("--refiner-disagree", "4")]  # rows collected without disputes
    assert main([*without, "--out", str(tmp_path / "new.pt"), "--served-disagree", "6", "--served-disagree-first"]) == 0
    new = load_checkpoint(tmp_path / "new.pt")[1].network
    assert (new.point_refiner_disagree, new.point_refiner_disagree_first) == (6.0, True)
    assert main([*without, "--out", str(tmp_path / "refused.pt"), "--served-disagree-first"]) == 2
    assert main([*common, "--out", str(tmp_path / "refused.pt"), "--network-keep-yield", "3"]) == 2
    assert main([*common, "--out", str(tmp_path / "refused.pt"), "--network-disagree-overruled"]) == 2
    assert main([*common, "--out", str(tmp_path / "refused.pt"), "--network-min-region", "-1"]) == 2
    assert main([*common, "--out", str(tmp_path / "refused.pt"), "--network-min-share", "2"]) == 2
    assert main([*common, "--out", str(tmp_path / "refused.pt"), "--network-adds", "4", "--network-adds-reach",
                 "-1"]) == 2  # fmt: skip
    assert not (tmp_path / "refused.pt").exists()


def test_the_network_as_the_users_counterpart_answers_every_click_state(scenes_root: Path,  # noqa: F811
                                                                         tmp_path: Path) -> None:  # fmt: skip
    """With `--user network --states-per-object 0` the simulated user corrects the frozen network and every
    state of each run is a source of rows: more states than the default's two per object."""
    fusion_segmenter(0.5).save(tmp_path / "fusion.pt", {"inference_options": {"ground_gate": False}})
    common = ["--checkpoint", str(tmp_path / "fusion.pt"), "--root", str(scenes_root), "--scene-stride", "1",
              "--held-out-every", "2", "--epochs", "1", "--views", "1", "--no-progress", "--threads", "1"]  # fmt: skip
    assert main([*common, "--out", str(tmp_path / "two.pt")]) == 0
    assert main([*common, "--out", str(tmp_path / "all.pt"), "--user", "network", "--states-per-object", "0"]) == 0
    two, every = (load_checkpoint(tmp_path / name)[2]["point_refiner_fit"] for name in ("two.pt", "all.pt"))
    assert every["settings"]["user"] == "network" and every["settings"]["states_per_object"] == 0
    assert every["fit_states"] + every["held_out_states"] > two["fit_states"] + two["held_out_states"]
    with pytest.raises(SystemExit):
        main([*common, "--out", str(tmp_path / "no.pt"), "--user", "oracle"])
    assert main([*common, "--out", str(tmp_path / "no.pt"), "--states-per-object", "-1"]) == 2
    assert not (tmp_path / "no.pt").exists()


def test_a_refiner_needs_prior_fusion() -> None:
    with pytest.raises(ValueError, match="prior_fusion"):
        NetworkConfig(point_refiner=True)
