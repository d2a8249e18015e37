"""Voxelisation, crop, feature layout and batching of the network input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clickenhance_model.config import load_config
from clickenhance_model.errors import ClickError, CloudError
from clickenhance_model.inference.crop import select_crop, spconv_coords
from clickenhance_model.inference.network_input import collate, prepare_sample
from clickenhance_model.inference.voxel_grid import voxelize
from clickenhance_model.model_config import InputConfig, ModelConfig, NetworkConfig

SMALL = ModelConfig(
    input=InputConfig(voxel_size=0.25, crop_radius=3.0, max_voxels=0, coord_scale=2.0),
    network=NetworkConfig(channels=(8, 16, 16), cse_channels=(4, 8, 8)),
)


def test_voxelize_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    xyz = rng.uniform(-2, 2, size=(3000, 3)).astype(np.float32)
    rgb = rng.uniform(0, 1, size=(3000, 3)).astype(np.float32)
    grid = voxelize(xyz, rgb, 0.5)
    keys = np.floor(xyz.astype(np.float64) / 0.5).astype(np.int64)
    np.testing.assert_array_equal(grid.coords[grid.point_to_voxel], keys)
    assert len(np.unique(keys, axis=0)) == len(grid) and grid.counts.sum() == len(xyz)
    for v in (0, len(grid) // 2, len(grid) - 1):
        members = grid.point_to_voxel == v
        np.testing.assert_allclose(grid.centroids[v], xyz[members].astype(np.float64).mean(axis=0), atol=1e-6)
        np.testing.assert_allclose(grid.colors[v], rgb[members].mean(axis=0), atol=1e-6)
    assert (voxelize(xyz, None, 0.5).colors == 0).all()


def test_voxelize_huge_extent_takes_the_row_unique_path() -> None:
    xyz = np.array([[-1e7, 0, 0], [1e7, 5e6, -5e6], [1e7, 5e6, -5e6], [0, 0, 0]])
    grid = voxelize(xyz, None, 1e-3)  # span product far beyond 2**62
    assert len(grid) == 3
    assert grid.point_to_voxel[1] == grid.point_to_voxel[2] != grid.point_to_voxel[0]


@pytest.mark.parametrize("voxel_size", [0.1, 0.05, 0.03, 0.25])
def test_voxelize_puts_points_on_grid_lines_above_the_line(voxel_size: float) -> None:
    """A float32 coordinate meant as k * voxel_size is stored a little below or above the line; it is voxel k.

    A plain floor in float64 put about half of them in voxel k - 1 (e.g. float32(-3.2) / 0.1 < -32),
    so grid-aligned clouds voxelised differently from the float32 floor the baseline used to keep.
    """
    k = np.arange(-4000, 4000)
    on_line = np.repeat((k * voxel_size)[:, None], 3, axis=1).astype(np.float32)  # [K, 3]
    grid = voxelize(on_line, None, voxel_size)
    assert (grid.coords[grid.point_to_voxel] == k[:, None]).all()
    below = np.repeat(((k - 1e-2) * voxel_size)[:, None], 3, axis=1).astype(np.float32)  # 1 % of a voxel below
    grid = voxelize(below, None, voxel_size)
    assert (grid.coords[grid.point_to_voxel] == k[:, None] - 1).all()


def test_select_crop_union_of_balls_and_budget() -> None:
    centroids = np.array([[0, 0, 9.0], [1.5, 0, 0], [3.5, 0, 0], [10, 0, 4], [11.9, 0, 5], [30, 0, 0], [0, 0, 1.9]])
    positive = np.array([[0.0, 0, 0], [10.0, 0, 5]])
    np.testing.assert_array_equal(select_crop(centroids, positive, 2.0, 0), [1, 3, 4, 6])  # 9 m above: out
    np.testing.assert_array_equal(select_crop(centroids, positive, 2.0, 2), [1, 3])  # nearest two kept
    np.testing.assert_array_equal(select_crop(centroids, positive, 0.0, 0), np.arange(7))  # no limit
    np.testing.assert_array_equal(select_crop(centroids, positive, 0.0, 5), [1, 2, 3, 4, 6])


def test_spconv_coords_align_to_the_coarsest_grid() -> None:
    coords = np.array([[-13, 5, 2], [-9, 17, 3], [-1, 6, 30]])
    local, shape = spconv_coords(coords, levels=4)  # step 8
    offset = coords - local
    assert (offset == offset[0]).all() and (offset[0] % 8 == 0).all()
    assert all(s % 8 == 0 for s in shape) and (local >= 0).all() and (local < np.array(shape)).all()


def _cloud(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points on a 12 m x 12 m ground plus a 1 m cube 'object' around (2, 2, 0.5)."""
    ground = np.c_[rng.uniform(-6, 6, size=(4000, 2)), np.zeros(4000)]
    cube = rng.uniform(0, 1, size=(500, 3)) + [1.5, 1.5, 0.0]
    xyz = np.concatenate([ground, cube]).astype(np.float32)
    return xyz, np.r_[np.zeros(4000, bool), np.ones(500, bool)]


def test_prepare_sample_features_crop_and_labels() -> None:
    rng = np.random.default_rng(1)
    xyz, labels = _cloud(rng)
    positive, negative = xyz[4000:4001], xyz[:1]
    sample = prepare_sample(xyz, None, positive, negative, negative[0], SMALL, labels=labels)
    grid = voxelize(xyz, None, SMALL.input.voxel_size)
    crop = sample["crop"].numpy()
    distance = np.linalg.norm(grid.centroids - positive[0], axis=1)  # the crop is a ball
    np.testing.assert_array_equal(crop, np.flatnonzero(distance <= 3.0))
    features = sample["features"].numpy()
    assert features.shape == (len(crop), 8) and sample["cse_features"].shape == (len(crop), 4)
    expected_xyz = (grid.centroids[crop] - positive[0].astype(np.float64)) / SMALL.input.coord_scale
    np.testing.assert_allclose(features[:, :3], expected_xyz, atol=1e-5)
    assert (features[:, 3:6] == 0).all()  # no rgb: zeros
    np.testing.assert_array_equal(sample["cse_features"][:, :3].numpy(), features[:, :3])
    point_voxel = sample["point_voxel"].numpy()
    assert ((point_voxel >= 0) == np.isin(grid.point_to_voxel, crop)).all()
    assert sample["current"] == int(np.argmin(np.linalg.norm(grid.centroids[crop] - negative[0], axis=1)))
    assert features[sample["anchor"], 6] == 0.0  # the positive map is 0 at the clicked voxel
    voxel_labels = sample["labels"].numpy()
    cube_voxels = np.unique(point_voxel[4000:][point_voxel[4000:] >= 0])
    assert voxel_labels[cube_voxels].mean() > 0.9 and voxel_labels.sum() <= len(cube_voxels) + 5


def test_collate_offsets_batch_rows() -> None:
    rng = np.random.default_rng(2)
    xyz, labels = _cloud(rng)
    a = prepare_sample(xyz, None, xyz[4000:4001], None, None, SMALL, labels=labels)
    b = prepare_sample(xyz, None, xyz[:1], None, None, SMALL, labels=labels)
    batch = collate([a, b])
    n_a = len(a["coords"])
    assert batch["batch_size"] == 2 and batch["indices"].shape == (n_a + len(b["coords"]), 4)
    assert batch["indices"][:n_a, 0].eq(0).all() and batch["indices"][n_a:, 0].eq(1).all()
    assert batch["anchor"].tolist() == [a["anchor"], b["anchor"] + n_a]
    assert batch["spatial_shape"] == [max(a["spatial_shape"][d], b["spatial_shape"][d]) for d in range(3)]
    assert batch["labels"].shape == (len(batch["indices"]),)


def test_prepare_sample_rejects_bad_input() -> None:
    xyz, _ = _cloud(np.random.default_rng(3))
    with pytest.raises(ClickError, match="positive click"):
        prepare_sample(xyz, None, np.zeros((0, 3)), None, None, SMALL)
    bad = xyz.copy()
    bad[3] = np.nan
    with pytest.raises(CloudError, match="finite"):
        prepare_sample(bad, None, xyz[:1], None, None, SMALL)
    with pytest.raises(ClickError, match="crop radius"):
        prepare_sample(xyz, None, [[100.0, 100.0, 0.0]], None, None, SMALL)
    with pytest.raises(ClickError, match="current_xyz"):
        prepare_sample(xyz, None, xyz[:1], None, xyz[:2], SMALL)
    with pytest.raises(ClickError, match=r"\(K, 3\)"):
        prepare_sample(xyz, None, [[1.0, 2.0]], None, None, SMALL)
    with pytest.raises(ClickError, match="finite"):
        prepare_sample(xyz, None, xyz[:1], [[np.inf, 0.0, 0.0]], None, SMALL)
    with pytest.raises(CloudError, match="labels"):
        prepare_sample(xyz, None, xyz[:1], None, None, SMALL, labels=np.zeros(3))


def test_config_validation_and_yaml() -> None:
    with pytest.raises(ValueError, match="encoding"):
        InputConfig(encoding="gaussian")
    with pytest.raises(ValueError, match="two voxels"):
        InputConfig(encoding="sparse", voxel_size=0.25, sparse_cube_size=0.3)
    with pytest.raises(ValueError, match="crop_radius"):
        InputConfig(voxel_size=0.25, crop_radius=0.3)
    with pytest.raises(ValueError, match="cse_channels"):
        NetworkConfig(channels=(8, 16), cse_channels=(4,))
    with pytest.raises(ValueError, match="unknown key"):
        ModelConfig.from_dict({"input": {"voxel_sise": 0.1}})
    assert ModelConfig.from_dict(ModelConfig().to_dict()) == ModelConfig()
    default_yaml = Path(__file__).resolve().parents[1] / "config" / "model_default.yaml"
    assert load_config(ModelConfig, default_yaml) == ModelConfig()
