"""Stray points (far above the sensor, absurd coordinates) change no mask and raise nothing.

One outlier used to wreck the answer: the crop was horizontal only, so a point 100 m up entered
it and stretched the min-max click maps, and a point at z=1e17 overflowed spconv's voxel grid.
The crop is now a ball around the positive clicks and points beyond `max_range` are dropped
like non-finite ones, with the caller's indexing kept.
"""

from __future__ import annotations

import numpy as np
import pytest

from clickenhance_model import ClickError, CloudError, Segmenter
from clickenhance_model.baseline import BaselineSegmenter
from clickenhance_model.model_config import InputConfig, ModelConfig, NetworkConfig
from clickenhance_model.scenes.generate import GeneratorConfig, generate_scan
from clickenhance_model.scenes.lidar import LidarConfig

TINY = ModelConfig(  # the shipped model's crop (20 m ball) and geodesic maps, a tiny network
    input=InputConfig(voxel_size=0.2, crop_radius=20.0, max_voxels=4000, coord_scale=10.0, geodesic_maps="outdoor"),
    network=NetworkConfig(channels=(8, 16, 32), cse_channels=(4, 8, 16), embedding_dim=8),
)
OUTLIERS = {
    "100m_above_sensor": [[0.0, 0.0, 100.0]],
    "z_1e17": [[0.0, 0.0, 1e17]],
    "x_1e6": [[1e6, 0.0, 0.0]],
    "all_three": [[0.0, 0.0, 100.0], [0.0, 0.0, 1e17], [1e6, 0.0, 0.0]],
}


@pytest.fixture(scope="module")
def scan() -> tuple[np.ndarray, np.ndarray]:
    """A generated street scan (about 28k points): xyz float32 and instance ids."""
    generated = generate_scan("outdoor", 5, 0, GeneratorConfig(lidar=LidarConfig(azimuth_steps=512)))
    return generated.xyz.astype(np.float32), generated.instance.astype(np.int64)


@pytest.fixture(scope="module", params=["model", "baseline"])
def segmenter(request: pytest.FixtureRequest) -> Segmenter | BaselineSegmenter:
    """An untrained tiny network with geodesic maps (threshold low enough to select a lot), and the baseline."""
    if request.param == "model":
        return Segmenter.from_config(TINY, seed=0, threshold=0.3, ground_gate=False)
    return BaselineSegmenter()


def click_objects(segmenter, xyz: np.ndarray, instance: np.ndarray, outliers: np.ndarray | None) -> list[np.ndarray]:
    """Masks after a positive click near each of three objects' centres, then a negative one beside it.

    `outliers` are placed before the scan's own points, so every caller index moves by their count.
    """
    shift = 0 if outliers is None else len(outliers)
    cloud = xyz if outliers is None else np.concatenate([outliers, xyz])
    masks = []
    for object_id in [o for o in np.unique(instance) if o > 0 and (instance == o).sum() >= 100][:3]:
        inside = np.flatnonzero(instance == object_id)
        centre = xyz[inside].mean(axis=0)
        first = int(inside[np.argmin(((xyz[inside] - centre) ** 2).sum(axis=1))])
        beside = np.flatnonzero((instance != object_id) & (((xyz - centre) ** 2).sum(axis=1) < 9.0))
        session = segmenter.session(cloud)
        session.add_click(first + shift)
        masks.append(session.add_click(int(beside[0]) + shift, positive=False))
    return masks


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


@pytest.mark.parametrize("name", sorted(OUTLIERS))
def test_outliers_change_no_mask(segmenter, scan: tuple[np.ndarray, np.ndarray], name: str) -> None:
    xyz, instance = scan
    outliers = np.array(OUTLIERS[name], dtype=np.float32)
    clean = click_objects(segmenter, xyz, instance, outliers=None)
    polluted = click_objects(segmenter, xyz, instance, outliers=outliers)
    k = len(outliers)
    for before, after in zip(clean, polluted, strict=True):
        assert before.any() and not after[:k].any()  # the outliers (placed first) are in no mask
        assert iou(after[k:], before) >= 0.98


def test_points_beyond_max_range_are_dropped_with_the_indexing_kept() -> None:
    stray = np.array([[0.0, 0.0, 1e17], [900.0, 0.0, 0.0]])
    xyz = np.concatenate([stray, np.random.default_rng(0).uniform(-3, 3, (500, 3))])
    session = Segmenter.from_config(TINY, seed=0, max_range=500.0).session(xyz)
    np.testing.assert_array_equal(session.valid_indices, np.arange(2, 502))  # 900 m is beyond 500 m
    with pytest.raises(ClickError, match="click index 1 is a non-finite point .* or beyond max_range"):
        session.add_click(1)
    assert not session.add_click(7)[:2].any()
    with pytest.raises(CloudError, match="no point within 500.0 m"):
        Segmenter.from_config(TINY, seed=0, max_range=500.0).session(xyz[:2])
    with pytest.raises(ValueError, match="max_range"):
        Segmenter.from_config(TINY, max_range=0.0)
