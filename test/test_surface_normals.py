"""The closed-form smallest axis behind the voxel graph's surface normals, against LAPACK's eigh."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from clickenhance_model.inference.voxel_graph import smallest_axes, surface_normals


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
    axes = smallest_axes(matrices)
    values, vectors = np.linalg.eigh(matrices)
    scale = np.maximum(values[:, 2], 1e-300)
    lengths = np.linalg.norm(axes, axis=1)
    assert np.allclose(lengths, 1.0, atol=1e-9)
    # each axis is an eigenvector of the smallest eigenvalue: A v = lowest v, to the matrix's precision
    residual = np.linalg.norm(np.einsum("nij,nj->ni", matrices, axes) - values[:, :1] * axes, axis=1)
    assert (residual <= 1e-7 * scale + 1e-12).all()
    # where that eigenvalue stands clear of the next one, the axis is eigh's up to its sign
    clear = values[:, 1] - values[:, 0] > 1e-3 * scale
    agreement = np.abs((axes * vectors[:, :, 0]).sum(axis=1))
    assert np.allclose(agreement[clear], 1.0, atol=1e-9)


def test_smallest_axes_of_a_degenerate_matrix_fall_back_to_eigh() -> None:
    matrices = np.zeros((3, 3, 3))
    matrices[1] = np.diag([1.0, 0.0, 0.0])  # a line: every axis across it has eigenvalue 0
    matrices[2] = np.eye(3)  # isotropic
    assert np.array_equal(smallest_axes(matrices), np.linalg.eigh(matrices)[1][:, :, 0])


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
    normals = surface_normals(nodes, edges)
    assert np.allclose(np.abs(normals[:200] @ normal), 1.0, atol=1e-9)
    assert np.array_equal(normals[200], np.zeros(3))  # no neighbour: no reliable normal
