"""Sensor presets and ray patterns: ring elevations as in the datasheets, the rosette, the depth camera."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from clickenhance_model.scenes import classes
from clickenhance_model.scenes.lidar import (
    LidarConfig,
    SensorPose,
    beam_elevations,
    pinhole_directions,
    ray_directions,
    simulate_scan,
)
from clickenhance_model.scenes.primitives import Material, Scene, box, cylinder
from clickenhance_model.scenes.sensors import SENSOR_PRESETS, sensor_preset

AT_ORIGIN = SensorPose(np.zeros(3), np.eye(3))
QUIET = dict(range_noise=0.0, outlier_rate=0.0, dropout=0.0, far_dark_dropout=0.0, grazing_dropout=0.0)


def quiet(name: str, **changes: object) -> LidarConfig:
    """A preset without noise or dropout (and without beam calibration error)."""
    return dataclasses.replace(sensor_preset(name), **QUIET, elevation_jitter_deg=0.0, **changes)


def drum(radius: float = 20.0) -> Scene:
    """A tall open drum around the origin: every ray of a spinning LiDAR hits its inside."""
    return Scene([cylinder(np.zeros(3), radius, 200.0, Material(semantic=classes.BUILDING))])


@pytest.mark.parametrize(
    ("name", "beams", "top", "bottom", "spacing"),
    [
        ("vlp16", 16, 15.0, -15.0, 2.0),  # VLP-16 datasheet: +-15 deg, 2 deg apart
        ("hdl32", 32, 10.67, -30.67, 1.3335),  # HDL-32E: +10.67 to -30.67 deg
        ("os1_128", 128, 22.5, -22.5, 45.0 / 127),  # OS1-128: 45 deg vertical FOV
        ("os2_128", 128, 11.25, -11.25, 22.5 / 127),  # OS2-128: 22.5 deg vertical FOV
    ],
)
def test_spinning_presets_cast_their_datasheet_rings(
    name: str, beams: int, top: float, bottom: float, spacing: float
) -> None:
    config = quiet(name, azimuth_steps=90)
    elevations = beam_elevations(config)
    assert config.beams == beams and len(elevations) == beams
    assert elevations[0] == pytest.approx(top) and elevations[-1] == pytest.approx(bottom)
    np.testing.assert_allclose(-np.diff(elevations), spacing, atol=1e-3)
    scan = simulate_scan(drum(), AT_ORIGIN, config, np.random.default_rng(0))
    assert len(scan) == beams * 90  # every ray returns from the drum
    measured = np.degrees(np.arctan2(scan.xyz[:, 2], np.linalg.norm(scan.xyz[:, :2], axis=1)))
    np.testing.assert_allclose(measured.reshape(beams, 90), np.repeat(elevations[:, None], 90, 1), atol=2e-3)


def test_hdl64_preset_is_the_generators_default_sensor() -> None:
    assert SENSOR_PRESETS["hdl64"] == LidarConfig()
    assert sensor_preset("hdl64") is not SENSOR_PRESETS["hdl64"]  # callers get a copy to change
    with pytest.raises(ValueError, match="unknown sensor 'hdl65'; presets: hdl64"):
        sensor_preset("hdl65")


def test_rosette_stays_in_its_cone_and_never_repeats() -> None:
    config = sensor_preset("livox_mid40")
    frames = [ray_directions(config, np.random.default_rng(seed)) for seed in range(10)]
    assert all(f.shape == (10_000, 3) for f in frames)
    polar = np.degrees(np.arccos(np.clip(np.concatenate(frames)[:, 0], -1, 1)))
    assert polar.max() <= 38.4 / 2 + 1e-6 and polar.max() > 19.0  # the full 38.4 deg cone is used
    assert not np.allclose(frames[0], frames[1])  # non-repetitive: each frame starts elsewhere in the pattern
    # ten frames together fill the cone (half-degree cells of its inner disc); one frame leaves gaps
    assert _coverage(frames[0]) < 0.7 and _coverage(np.concatenate(frames)) > 0.95


def _coverage(dirs: np.ndarray, cell: float = 0.5) -> float:
    """Share of the cells (angles about +x, `cell` degrees) within 17.5 deg of the axis that rays fall in."""
    index = np.floor(np.degrees(np.arctan2(dirs[:, 1:], dirs[:, :1])) / cell).astype(int)
    hit = {tuple(c) for c in index.tolist()}
    n = int(20 / cell)
    disc = {(i, j) for i in range(-n, n) for j in range(-n, n) if ((i + 0.5) ** 2 + (j + 0.5) ** 2) * cell**2 < 17.5**2}
    return len(hit & disc) / len(disc)


def test_depth_camera_limits_depth_and_its_noise_grows_with_range() -> None:
    config = sensor_preset("rgbd")
    dirs = pinhole_directions(config)
    width, height = config.image_size
    assert dirs.shape == (width * height, 3)
    corner_h = np.degrees(np.arctan2(-dirs[:, 1], dirs[:, 0]))
    assert corner_h.max() == pytest.approx(87.0 / 2, abs=0.5)  # the outermost pixel centres reach the FOV edge
    noisy = dataclasses.replace(config, dropout=0.0, far_dark_dropout=0.0, grazing_dropout=0.0)
    spreads = []
    for depth in (1.0, 5.0):
        wall = Scene([box(np.array([depth + 0.5, 0.0, 0.0]), np.array([0.5, 20.0, 20.0]), Material(semantic=1))])
        scan = simulate_scan(wall, AT_ORIGIN, noisy, np.random.default_rng(1))
        spreads.append(float(np.std(scan.xyz[:, 0] - depth)))
        if depth == 5.0:  # corner pixels lie beyond 6 m in range but within 6 m in depth: kept
            assert len(scan) == width * height and np.linalg.norm(scan.xyz, axis=1).max() > 6.0
    # Nguyen et al.'s model: sigma(1 m) ~ 3 mm, sigma(5 m) ~ 4.9 cm
    assert spreads[0] < 0.006 and 0.03 < spreads[1] < 0.08
    beyond = Scene([box(np.array([7.5, 0.0, 0.0]), np.array([0.5, 20.0, 20.0]), Material(semantic=1))])
    assert len(simulate_scan(beyond, AT_ORIGIN, noisy, np.random.default_rng(1))) == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"pattern": "raster"}, "pattern must be one of"),
        ({"fov_deg": (0.0, 30.0)}, "fov_deg must be two angles"),
        ({"image_size": (0, 10)}, "image_size must be >= 1"),
        ({"range_noise_growth": -1.0}, "range_noise_growth must be >= 0"),
    ],
)
def test_bad_sensor_settings_are_refused(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LidarConfig(**changes)


def test_explicit_elevations_set_the_beam_count() -> None:
    config = LidarConfig(elevations_deg=[5, 0, -5], azimuth_steps=8)
    assert config.beams == 3 and config.elevations_deg == (5.0, 0.0, -5.0)
    np.testing.assert_array_equal(beam_elevations(config), [5.0, 0.0, -5.0])
