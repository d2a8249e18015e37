"""Training augmentation (pose, scale, jitter, dropout) and the generator's angled parking rows."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from clickenhance_model.datasets.scene import Scene
from clickenhance_model.scenes.classes import CAR
from clickenhance_model.scenes.generate import GeneratorConfig, generate_scan
from clickenhance_model.training.augmentation import MIN_KEPT_OBJECT_POINTS, augment_scene
from clickenhance_model.training.config import AugmentConfig, SyntheticConfig
from clickenhance_model.training.synthetic import generator_config


def random_scene(n: int = 2000, object_points: int = 200) -> Scene:
    """A scene of random points whose first `object_points` are instance 7."""
    rng = np.random.default_rng(0)
    instance = np.zeros(n, dtype=np.int64)
    instance[:object_points] = 7
    return Scene("s", rng.uniform(-20, 20, (n, 3)), rng.uniform(0, 1, (n, 3)), instance, instance.copy())


def pairwise(xyz: np.ndarray) -> np.ndarray:
    """Distances between the first 50 points."""
    return np.linalg.norm(xyz[:50, None].astype(np.float64) - xyz[None, :50], axis=2)


def test_nothing_enabled_returns_the_scene_itself() -> None:
    scene = random_scene()
    assert not AugmentConfig().enabled
    assert augment_scene(scene, 7, AugmentConfig(), np.random.default_rng(0)) is scene


def test_yaw_and_mirror_keep_the_shape_and_the_heights() -> None:
    scene = random_scene()
    config = AugmentConfig(rotate=True, flip_prob=1.0)
    out = augment_scene(scene, 7, config, np.random.default_rng(3))
    assert np.allclose(pairwise(out.xyz), pairwise(scene.xyz), atol=1e-3)
    assert np.allclose(out.xyz[:, 2], scene.xyz[:, 2])
    assert not np.allclose(out.xyz[:, :2], scene.xyz[:, :2], atol=0.1)
    assert np.array_equal(out.instance, scene.instance) and np.array_equal(out.rgb, scene.rgb)


def test_scale_multiplies_distances() -> None:
    scene = random_scene()
    out = augment_scene(scene, 7, AugmentConfig(scale=(2.0, 2.0)), np.random.default_rng(0))
    assert np.allclose(pairwise(out.xyz), 2 * pairwise(scene.xyz), rtol=1e-5, atol=1e-3)


def test_same_generator_seed_same_sample_other_seed_other_sample() -> None:
    scene = random_scene()
    config = AugmentConfig(rotate=True, flip_prob=0.5, scale=(0.9, 1.1), jitter=0.01, dropout_prob=0.5,
                           keep_ratio=(0.4, 1.0))  # fmt: skip
    first, again, other = (augment_scene(scene, 7, config, np.random.default_rng(s)) for s in (1, 1, 2))
    assert np.array_equal(first.xyz, again.xyz)
    assert first.xyz.shape != other.xyz.shape or not np.array_equal(first.xyz, other.xyz)


def test_dropout_thins_the_scene_at_the_drawn_rate() -> None:
    scene = random_scene(n=20000, object_points=2000)
    out = augment_scene(scene, 7, AugmentConfig(dropout_prob=1.0, keep_ratio=(0.3, 0.3)), np.random.default_rng(0))
    assert 0.27 < len(out.xyz) / len(scene.xyz) < 0.33
    assert len(out.xyz) == len(out.rgb) == len(out.instance) == len(out.semantic)


def test_dropout_never_thins_the_object_below_the_floor() -> None:
    scene = random_scene(n=4000, object_points=MIN_KEPT_OBJECT_POINTS + 5)
    config = AugmentConfig(dropout_prob=1.0, keep_ratio=(0.05, 0.05))
    out = augment_scene(scene, 7, config, np.random.default_rng(0))
    assert np.count_nonzero(out.instance == 7) == MIN_KEPT_OBJECT_POINTS + 5  # the sample is kept whole


@pytest.mark.parametrize(
    "bad",
    [{"flip_prob": 1.5}, {"scale": (0.0, 1.0)}, {"scale": (1.2, 1.1)}, {"keep_ratio": (0.5, 1.2)}, {"jitter": -1.0}],
)
def test_bad_ranges_are_rejected(bad: dict) -> None:
    with pytest.raises(ValueError, match="augment"):
        AugmentConfig(**bad)


def widest_car_across_the_street(angled_prob: float) -> float:
    """Largest y extent (metres) of any car in three small generated street scans."""
    base = generator_config(SyntheticConfig(beams=32, azimuth_steps=1024, angled_parking_prob=angled_prob))
    widest = 0.0
    for frame in range(3):
        scan = generate_scan("outdoor", 11, frame, base)
        for instance in np.unique(scan.instance[scan.semantic == CAR]):
            xy = scan.xyz[scan.instance == instance, :2]
            if len(xy) >= 40:
                widest = max(widest, float(np.ptp(xy[:, 1])))
    return widest


def test_angled_parking_turns_parked_cars_across_the_street() -> None:
    assert widest_car_across_the_street(0.0) < 3.0  # every car parallel to the street (x axis)
    assert widest_car_across_the_street(1.0) > 3.5  # some parked nose-on to the curb


def test_unset_angled_parking_keeps_the_generator_default() -> None:
    default = generate_scan("outdoor", 4, 0, generator_config(SyntheticConfig(beams=16, azimuth_steps=256)))
    off = GeneratorConfig()
    off.lidar = dataclasses.replace(off.lidar, beams=16, azimuth_steps=256)
    off.outdoor = dataclasses.replace(off.outdoor, angled_parking_prob=0.0)
    assert np.array_equal(generate_scan("outdoor", 4, 0, off).xyz, default.xyz)


def ring_scan(rings: int, steps: int = 360) -> np.ndarray:
    """A spinning LiDAR's points stored ring by ring (KITTI's order: each ring one sweep of rising azimuth that starts
    straight ahead), 10 m away, rings 0.4 degrees apart."""
    azimuth = np.tile(np.linspace(0.0, 2 * np.pi, steps, endpoint=False), rings)
    azimuth = np.angle(np.exp(1j * azimuth))  # wraps from +pi to -pi half-way round, as KITTI's do
    elevation = np.radians(np.repeat(-10.0 + 0.4 * np.arange(rings), steps))
    return 10.0 * np.stack([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth),
                            np.sin(elevation)], axis=1)  # fmt: skip


def ring_scene(rings: int, object_ring: int | None = None) -> Scene:
    """`ring_scan` as a scene whose object (instance 7) is a quarter of every ring, or of `object_ring` alone."""
    xyz = ring_scan(rings)
    ring, step = np.divmod(np.arange(len(xyz)), 360)
    on = (step < 90) & ((ring == object_ring) if object_ring is not None else True)
    instance = np.where(on, 7, 0).astype(np.int64)
    return Scene("s", xyz.astype(np.float32), None, instance, instance.copy())


def test_ring_cut_keeps_whole_rings_of_a_64_ring_scan_and_leaves_sparser_sensors_whole() -> None:
    config = AugmentConfig(ring_cut_prob=1.0, ring_cuts=(4,))
    assert config.enabled
    scene = ring_scene(64)
    out = augment_scene(scene, 7, config, np.random.default_rng(0))
    kept_rings = np.unique(np.round(np.degrees(np.arcsin(out.xyz[:, 2] / 10.0)) / 0.4 + 25).astype(int))
    assert np.array_equal(kept_rings, np.arange(0, 64, 4))  # rings 0, 4, 8, ... 60: a 16-ring sensor
    assert len(out.xyz) == 16 * 360 and np.count_nonzero(out.instance == 7) == 16 * 90  # each kept ring whole
    assert out.rgb is None and len(out.semantic) == len(out.xyz)
    thirty_two = ring_scene(32)  # every 4th ring of a 32-ring sensor would be 8 rings: no sensor the project serves
    assert len(augment_scene(thirty_two, 7, config, np.random.default_rng(0)).xyz) == len(thirty_two.xyz)
    on_a_cut_ring = ring_scene(64, object_ring=1)  # the cut would take the whole object
    assert len(augment_scene(on_a_cut_ring, 7, config, np.random.default_rng(0)).xyz) == len(on_a_cut_ring.xyz)
    never = augment_scene(scene, 7, AugmentConfig(ring_cut_prob=0.0, jitter=0.0, rotate=True), np.random.default_rng(0))
    assert len(never.xyz) == len(scene.xyz)


@pytest.mark.parametrize("bad", [{"ring_cut_prob": 1.5}, {"ring_cuts": (1,)}, {"ring_cuts": ()},
                                 {"ring_cuts": (True,)}])
def test_ring_cut_settings_are_checked(bad: dict) -> None:
    with pytest.raises(ValueError, match="ring_cut"):
        AugmentConfig(**bad)
