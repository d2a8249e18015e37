"""Annotation noise of generated street scans: ground labels bleeding onto the lowest points of objects."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from clickenhance_model.scenes import classes
from clickenhance_model.scenes.annotation_noise import bleed_ground_labels
from clickenhance_model.scenes.generate import GeneratorConfig, generate_scan
from clickenhance_model.scenes.lidar import LidarConfig, LidarScan, SensorPose
from clickenhance_model.scenes.outdoor import OutdoorConfig
from clickenhance_model.scenes.primitives import StreetGround
from clickenhance_model.scenes.statistics import base_ground_label_shares

GROUND = StreetGround(curb_left=4.0, curb_right=4.0, parking_left=2.0, lane_marking_y=None)


def _column_scan(height: float, n: int, y: float = 3.0) -> LidarScan:
    """`n` car points (instance 7) at one height above the ground, on the parking strip at lateral offset y."""
    xyz = np.column_stack([np.linspace(5, 9, n), np.full(n, y), np.full(n, height)]).astype(np.float32)
    return LidarScan(xyz=xyz, remission=np.full(n, 0.3, np.float32),
                     semantic=np.full(n, classes.CAR, np.uint32), instance=np.full(n, 7, np.uint32))  # fmt: skip


ORIGIN = SensorPose(np.zeros(3), np.eye(3))


def test_the_bleed_falls_off_with_height_and_gives_the_ground_label_below() -> None:
    rng = np.random.default_rng(0)
    shares = []
    for height in (0.0, 0.06, 0.3):
        scan = bleed_ground_labels(_column_scan(height, 20_000), ORIGIN, GROUND, 0.5, 0.06, rng)
        bled = scan.semantic != classes.CAR
        shares.append(bled.mean())
        assert set(scan.semantic[bled].tolist()) <= {classes.PARKING}  # the ground under them is parking
        assert not scan.instance[bled].any() and (scan.instance[~bled] == 7).all()
    assert shares[0] == pytest.approx(0.5, abs=0.02)
    assert shares[1] == pytest.approx(0.5 * np.exp(-1.0), abs=0.02)
    assert shares[2] == pytest.approx(0.5 * np.exp(-5.0), abs=0.005)


def test_heights_are_measured_in_the_scene_frame_above_the_raised_sidewalk() -> None:
    # the sensor 1.73 m above the road: a point at sensor z -1.58 lies on the 15 cm sidewalk, not 15 cm above the road
    pose = SensorPose(np.array([0.0, 0.0, 1.73]), np.eye(3))
    scan = _column_scan(-1.73 + GROUND.curb_height_left, 5000, y=5.0)
    bled = bleed_ground_labels(scan, pose, GROUND, 0.5, 0.06, np.random.default_rng(1))
    changed = bled.semantic != classes.CAR
    assert changed.mean() == pytest.approx(0.5, abs=0.03)
    assert set(bled.semantic[changed].tolist()) == {classes.SIDEWALK}


def test_ground_points_keep_their_labels_and_no_chance_draws_nothing() -> None:
    scan = _column_scan(0.0, 1000)
    scan.semantic[:500] = classes.ROAD
    scan.instance[:500] = 0
    rng = np.random.default_rng(2)
    bled = bleed_ground_labels(scan, ORIGIN, GROUND, 1.0, 0.06, rng)
    assert (bled.semantic[:500] == classes.ROAD).all() and (bled.semantic[500:] == classes.PARKING).all()
    state = rng.bit_generator.state
    assert bleed_ground_labels(scan, ORIGIN, GROUND, 0.0, 0.06, rng) is scan
    assert rng.bit_generator.state == state  # off: the generator's random stream is untouched


def test_a_street_scan_with_the_bleed_changes_labels_only_and_only_low_down() -> None:
    small = LidarConfig(beams=32, azimuth_steps=512)
    exact = generate_scan("outdoor", 3, 0, GeneratorConfig(lidar=small))
    noisy_config = GeneratorConfig(lidar=small, outdoor=OutdoorConfig(ground_label_bleed=0.5))
    noisy = generate_scan("outdoor", 3, 0, noisy_config)
    np.testing.assert_array_equal(noisy.xyz, exact.xyz)
    changed = noisy.semantic != exact.semantic
    assert changed.any()
    assert np.isin(noisy.semantic[changed], list(classes.SEMANTIC_KITTI_GROUND)).all()
    assert not noisy.instance[changed].any()
    height_above_sensor = exact.xyz[changed, 2]
    assert (height_above_sensor < -small.height + 0.6).all()  # near the ground (the road's grade is at most 5%)


def test_the_outdoor_config_refuses_bad_bleed_settings() -> None:
    with pytest.raises(ValueError, match="ground_label_bleed"):
        OutdoorConfig(ground_label_bleed=1.5)
    with pytest.raises(ValueError, match="ground_label_bleed"):
        OutdoorConfig(ground_label_bleed_height=0.0)
    assert dataclasses.replace(OutdoorConfig(), ground_label_bleed=1.0).ground_label_bleed == 1.0


def test_the_statistic_counts_ground_labels_inside_standing_objects_by_height() -> None:
    # a 1 m x 1 m x 1 m block of car points on a ground grid; its lowest layer partly labelled as ground
    grid = np.stack(np.meshgrid(np.arange(0, 1.0, 0.05), np.arange(0, 1.0, 0.05), np.arange(0, 1.0, 0.05),
                                indexing="ij"), axis=-1).reshape(-1, 3)  # fmt: skip
    semantic = np.full(len(grid), classes.CAR)
    lowest = np.flatnonzero(grid[:, 2] < 0.01)
    semantic[lowest[::4]] = classes.PARKING
    shares = base_ground_label_shares(grid, semantic)
    assert shares["ground labels at base 0-0.1 m"] == pytest.approx(0.25 * len(lowest) / (grid[:, 2] < 0.1).sum(),
                                                                     rel=0.2)  # fmt: skip
    assert shares["ground labels at base 0.1-0.2 m"] == 0.0
    exact = base_ground_label_shares(grid, np.full(len(grid), classes.CAR))
    assert all(value == 0.0 for value in exact.values())
