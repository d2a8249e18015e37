"""Ray to point: the nearest scan point to a click ray, within a pixel-sized angle, in front of the camera."""

from __future__ import annotations

import math

import numpy as np
import pytest

from clickenhance_model.annotate.ray_picking import pick_point, pixel_tolerance

ORIGIN = (0.0, 0.0, 0.0)
FORWARD = (1.0, 0.0, 0.0)


def test_pixel_tolerance_is_the_angle_of_that_many_pixels() -> None:
    assert pixel_tolerance(math.radians(60.0), 600, pixels=6) == pytest.approx(math.radians(0.6))


@pytest.mark.parametrize(("fov", "height"), [(0.0, 600), (math.pi, 600), (1.0, 0)])
def test_pixel_tolerance_rejects_impossible_cameras(fov: float, height: int) -> None:
    with pytest.raises(ValueError):
        pixel_tolerance(fov, height)


def test_picks_the_point_nearest_to_the_ray() -> None:
    xyz = np.array([[10.0, 0.3, 0.0], [10.2, 0.01, 0.0], [10.1, 0.2, 0.0]], dtype=np.float32)
    assert pick_point(xyz, ORIGIN, FORWARD, tolerance=0.05) == 1


def test_a_point_hidden_behind_the_front_surface_is_not_picked() -> None:
    # the far point lies exactly on the ray, but the box face 5 m in front of it hides it
    xyz = np.array([[10.0, 0.0, 0.0], [5.0, 0.1, 0.0], [5.1, -0.12, 0.0]], dtype=np.float32)
    assert pick_point(xyz, ORIGIN, FORWARD, tolerance=0.05) == 1
    assert pick_point(xyz, ORIGIN, FORWARD, tolerance=0.05, surface_depth=10.0) == 0


def test_points_behind_the_camera_are_never_picked() -> None:
    xyz = np.array([[-1.0, 0.0, 0.0], [4.0, 0.3, 0.0]], dtype=np.float32)
    assert pick_point(xyz, ORIGIN, FORWARD, tolerance=0.01) is None
    assert pick_point(xyz, ORIGIN, FORWARD, tolerance=0.1) == 1


def test_tolerance_is_an_angle_so_far_points_get_a_wider_band() -> None:
    near, far = [2.0, 0.1, 0.0], [40.0, 0.1, 0.0]  # same offset: 2.9 deg near, 0.14 deg far
    tolerance = math.radians(0.5)  # each alone, so the near one cannot hide the far one
    assert pick_point(np.array([near], np.float32), ORIGIN, FORWARD, tolerance) is None
    assert pick_point(np.array([far], np.float32), ORIGIN, FORWARD, tolerance) == 0


def test_equal_angles_go_to_the_point_nearer_the_camera() -> None:
    xyz = np.array([[3.3, 0.0, 0.0], [3.0, 0.0, 0.0], [3.2, 0.0, 0.0]], dtype=np.float32)
    assert pick_point(xyz, ORIGIN, FORWARD, tolerance=0.01) == 1


def test_non_finite_points_are_skipped_and_the_direction_need_not_be_unit() -> None:
    xyz = np.array([[np.nan, 0.0, 0.0], [7.0, 7.0, 0.05]], dtype=np.float32)
    assert pick_point(xyz, (0.0, 0.0, 0.0), (3.0, 3.0, 0.0), tolerance=0.02) == 1


@pytest.mark.parametrize(("origin", "direction"), [((0, 0), FORWARD), (ORIGIN, (0, 0, 0)),
                                                   (ORIGIN, (np.nan, 1, 0))])
def test_bad_rays_raise_value_error(origin, direction) -> None:
    with pytest.raises(ValueError):
        pick_point(np.zeros((1, 3), np.float32), origin, direction, tolerance=0.1)
