"""The closed-form smallest axis behind the voxel graph's surface normals (against LAPACK's eigh), its surface
variation, and the shape penalty that variation feeds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clickenhance_model.inference.voxel_graph import (
    OUTDOOR,
    UPRIGHT_CLICK,
    GraphConfig,
    VoxelGraph,
    smallest_axes,
    surface_shape,
)

PLAIN = dataclasses.replace(OUTDOOR, shape_penalty=0.0)  # the outdoor graph without the shape penalty


def scatter_matrices(rng: np.random.Generator, count: int, shapes: list[str]) -> np.ndarray:
    """Scatter matrices (count, 3, 3) of small random point sets shaped as planes, lines, blobs or single points,
    turned and moved at random, as a scan's node neighbourhoods are."""
    matrices = np.empty((count, 3, 3))
    for k in range(count):
        shape = shapes[k % len(shapes)]
        spread = {"plane": [1.0, 0.6, 1e-4], "flat": [1.0, 0.5, 0.0], "line": [1.0, 1e-6, 1e-6],
                  "blob": [1.0, 0.9, 0.8], "point": [0.0, 0.0, 0.0], "sphere": [1.0, 1.0, 1.0]}[shape]  # fmt: skip
        points = rng.normal(size=(9, 3)) * np.array(spread) * rng.uniform(0.01, 1.0)
        turn, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        points = points @ turn.T + rng.uniform(-50, 50, 3)
        offset = points - points.mean(axis=0)
        matrices[k] = offset.T @ offset
    return matrices


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), shapes=st.lists(
    st.sampled_from(["plane", "flat", "line", "blob", "point", "sphere"]), min_size=1, max_size=6))  # fmt: skip
def test_smallest_axes_are_unit_eigenvectors_of_the_smallest_eigenvalue(seed: int, shapes: list[str]) -> None:
    matrices = scatter_matrices(np.random.default_rng(seed), 60, shapes)
    lowest, axes = smallest_axes(matrices)
    values, vectors = np.linalg.eigh(matrices)
    scale = np.maximum(values[:, 2], 1e-300)
    lengths = np.linalg.norm(axes, axis=1)
    assert np.allclose(lengths, 1.0, atol=1e-9)
    # each axis is an eigenvector of the smallest eigenvalue: A v = lowest v, to the matrix's precision
    residual = np.linalg.norm(np.einsum("nij,nj->ni", matrices, axes) - values[:, :1] * axes, axis=1)
    assert (residual <= 1e-7 * scale + 1e-12).all()
    assert np.allclose(lowest, values[:, 0], atol=1e-9 * scale.max() + 1e-12)
    # where that eigenvalue stands clear of the next one, the axis is eigh's up to its sign
    clear = values[:, 1] - values[:, 0] > 1e-3 * scale
    agreement = np.abs((axes * vectors[:, :, 0]).sum(axis=1))
    assert np.allclose(agreement[clear], 1.0, atol=1e-9)


def test_smallest_axes_of_a_degenerate_matrix_fall_back_to_eigh() -> None:
    matrices = np.zeros((3, 3, 3))
    matrices[1] = np.diag([1.0, 0.0, 0.0])  # a line: every axis across it has eigenvalue 0
    matrices[2] = np.eye(3)  # isotropic
    lowest, axes = smallest_axes(matrices)
    values, vectors = np.linalg.eigh(matrices)
    assert np.array_equal(axes, vectors[:, :, 0]) and np.array_equal(lowest, values[:, 0])


def test_surface_normals_of_a_tilted_plane_and_its_lone_node() -> None:
    rng = np.random.default_rng(3)
    u, v = rng.uniform(-1, 1, (2, 200))
    normal = np.array([0.3, -0.2, 0.93]) / np.linalg.norm([0.3, -0.2, 0.93])
    a = np.cross(normal, [1.0, 0.0, 0.0])
    a /= np.linalg.norm(a)
    b = np.cross(normal, a)
    nodes = np.concatenate([u[:, None] * a + v[:, None] * b + [10.0, -4.0, 2.0], [[50.0, 50.0, 50.0]]])
    neighbours = np.argsort(np.linalg.norm(nodes[:200, None] - nodes[None, :200], axis=2), axis=1)[:, 1:7]
    edges = np.stack([np.repeat(np.arange(200), 6), neighbours.reshape(-1)], axis=1)
    normals, variation = surface_shape(nodes, edges)
    assert np.allclose(np.abs(normals[:200] @ normal), 1.0, atol=1e-9)
    assert np.allclose(variation[:200], 0.0, atol=1e-9)  # a plane
    assert np.array_equal(normals[200], np.zeros(3)) and variation[200] == 1.0  # no neighbour: no surface


def fence_and_hedge(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A 4 m x 1.2 m fence plane (10 cm grid, x-z) with a 0.8 m deep hedge of scattered points 0.2 m behind it;
    returns the nodes and a bool mask of the fence's."""
    x, z = np.meshgrid(np.arange(0.0, 4.0, 0.1), np.arange(0.2, 1.4, 0.1))
    fence = np.stack([x.ravel(), np.zeros(x.size), z.ravel()], axis=1)
    hedge = rng.uniform([0.0, 0.2, 0.2], [4.0, 1.0, 1.4], (1500, 3))
    return np.concatenate([fence, hedge]), np.arange(len(fence) + len(hedge)) < len(fence)


def test_foliage_scatters_and_a_plane_does_not() -> None:
    rng = np.random.default_rng(5)
    nodes, on_fence = fence_and_hedge(rng)
    graph = VoxelGraph(nodes, OUTDOOR)
    _, variation = surface_shape(nodes, graph.edges)
    inner_fence = on_fence & (nodes[:, 0] > 0.5) & (nodes[:, 0] < 3.5)
    assert np.median(variation[inner_fence]) < 0.25 < np.median(variation[~on_fence])


def test_shape_penalty_raises_the_edges_from_a_fence_into_its_hedge_and_not_along_the_fence() -> None:
    nodes, on_fence = fence_and_hedge(np.random.default_rng(5))
    plain = VoxelGraph(nodes, PLAIN)
    graph = VoxelGraph(nodes, dataclasses.replace(OUTDOOR, shape_penalty=10.0))
    assert np.array_equal(plain.edges, graph.edges)
    shaped, unshaped = graph.costs(False, shaped=True), graph.costs(False)
    assert (unshaped != plain.costs(False)).nnz == 0  # without the penalty the costs are the plain graph's
    edges = graph.edges
    at = (edges[:, 0], edges[:, 1])
    ratio = np.asarray(shaped[at]).ravel() / np.asarray(unshaped[at]).ravel()
    assert (ratio >= 1.0 - 1e-9).all()
    inner_fence = on_fence & (nodes[:, 0] > 0.5) & (nodes[:, 0] < 3.5) & (nodes[:, 2] > 0.45) & (nodes[:, 2] < 1.15)
    along = inner_fence[edges].all(axis=1)
    into = on_fence[edges].any(axis=1) & (~on_fence)[edges].any(axis=1)
    assert along.sum() > 100 and into.sum() > 20
    assert np.median(ratio[along]) == 1.0 and np.median(ratio[into]) > 1.5


def test_shape_penalty_applies_to_an_object_clicked_on_the_fence_and_not_to_one_clicked_in_the_hedge() -> None:
    nodes, on_fence = fence_and_hedge(np.random.default_rng(5))
    graph = VoxelGraph(nodes, dataclasses.replace(OUTDOOR, shape_penalty=10.0, shape_rule="surface_click"))
    fence_click = int(np.argmin(np.linalg.norm(nodes - [2.0, 0.0, 0.8], axis=1)))
    hedge_click = int(np.argmin(np.linalg.norm(nodes - [2.0, 0.6, 0.8], axis=1)))
    assert on_fence[fence_click] and not on_fence[hedge_click]
    assert graph.grows_shaped(np.array([fence_click, hedge_click]))
    assert not graph.grows_shaped(np.array([hedge_click, fence_click]))  # the first click decides
    assert not VoxelGraph(nodes, PLAIN).grows_shaped(np.array([fence_click]))  # off: no penalty anywhere
    # clicked on the fence, the hedge lies farther away than it does for the same click without the penalty
    with_penalty = graph.click_distances(np.array([fence_click]), np.array([], dtype=np.int64)).to_positive
    without = VoxelGraph(nodes, PLAIN).click_distances(np.array([fence_click]), np.array([], dtype=np.int64))
    hedge = ~on_fence & np.isfinite(with_penalty) & np.isfinite(without.to_positive)
    assert np.median(with_penalty[hedge] - without.to_positive[hedge]) > 0.2


def test_contest_rule_grows_the_first_click_as_without_it_and_gives_a_negative_click_the_hedge() -> None:
    """`shape_rule="contest"`: one click's region is the plain one; with a negative click in the hedge, the
    shaped distances hand the negative the hedge and keep the fence, where the plain ones split by length."""
    nodes, on_fence = fence_and_hedge(np.random.default_rng(5))
    plain = VoxelGraph(nodes, PLAIN)
    contest = VoxelGraph(nodes, dataclasses.replace(OUTDOOR, shape_penalty=10.0, shape_rule="contest"))
    fence_click = int(np.argmin(np.linalg.norm(nodes - [2.0, 0.0, 0.8], axis=1)))
    hedge_click = int(np.argmin(np.linalg.norm(nodes - [0.5, 0.9, 0.8], axis=1)))  # the hedge's far corner
    none = np.array([], dtype=np.int64)
    first = contest.click_distances(np.array([fence_click]), none)
    assert first.contested is None
    assert np.array_equal(first.region(), plain.click_distances(np.array([fence_click]), none).region())
    with_negative = contest.click_distances(np.array([fence_click]), np.array([hedge_click]))
    assert with_negative.contested is not None
    shaped_region = with_negative.region()
    plain_region = plain.click_distances(np.array([fence_click]), np.array([hedge_click])).region()
    assert shaped_region[on_fence].mean() >= plain_region[on_fence].mean() - 0.01
    assert shaped_region[~on_fence].mean() < plain_region[~on_fence].mean() - 0.1  # more of the hedge goes
    # the region never leaves the plain reach of the positive click
    assert not (shaped_region & ~np.isfinite(with_negative.to_positive)).any()


def bench_over_hedge(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`fence_and_hedge` laid flat: a 4 m x 1.2 m bench top 1 m above a 10 cm grid of road, the hedge's scatter
    above it; returns the nodes and a bool mask of the top's."""
    nodes, on_top = fence_and_hedge(rng)
    nodes = nodes[:, [0, 2, 1]] + [0.0, 0.0, 1.0]
    x, y = np.meshgrid(np.arange(-2.0, 6.0, 0.1), np.arange(-2.0, 4.0, 0.1))
    road = np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], axis=1)
    return np.concatenate([nodes, road]), np.concatenate([on_top, np.zeros(len(road), dtype=bool)])


def test_upright_rule_shapes_the_growth_of_a_fence_click_and_not_of_a_click_on_a_flat_top() -> None:
    """`shape_rule="upright_click"`: the shaped costs only for an object first clicked on an upright surface (a
    trunk, a pole, a wall); a click on a flat top (a bench, a hedge's clipped top) grows as without them."""
    upright = dataclasses.replace(OUTDOOR, shape_penalty=10.0, shape_rule="upright_click")
    surface = dataclasses.replace(upright, shape_rule="surface_click")
    nodes, on_fence = fence_and_hedge(np.random.default_rng(5))
    fence_click = np.array([np.argmin(np.linalg.norm(nodes - [2.0, 0.0, 0.8], axis=1))])
    graph = VoxelGraph(nodes, upright)
    assert on_fence[fence_click[0]] and graph.normal_z[fence_click[0]] < UPRIGHT_CLICK
    assert graph.grows_shaped(fence_click)
    nodes, on_top = bench_over_hedge(np.random.default_rng(5))
    top_click = np.array([np.argmin(np.linalg.norm(nodes - [2.0, 0.8, 1.0], axis=1))])
    graph, shaped, plain = (VoxelGraph(nodes, config) for config in (upright, surface, PLAIN))
    assert on_top[top_click[0]] and not graph.ground[top_click[0]] and graph.normal_z[top_click[0]] > 0.9
    assert shaped.grows_shaped(top_click) and not graph.grows_shaped(top_click)
    none = np.array([], dtype=np.int64)
    grown = graph.click_distances(top_click, none).to_positive
    assert np.array_equal(grown, plain.click_distances(top_click, none).to_positive)
    assert not np.array_equal(grown, shaped.click_distances(top_click, none).to_positive)


def test_shape_rule_is_checked() -> None:
    with pytest.raises(ValueError, match="shape_rule"):
        GraphConfig(shape_rule="sometimes")
