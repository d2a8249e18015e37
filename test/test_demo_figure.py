"""The demo's picture (clickenhance_ros.demo_figure): geometry of the views, the colours a person
reads, and clear errors for inputs that do not fit the scan. No ROS needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from clickenhance_ros.demo_figure import (
    FALSE_POSITIVE,
    MISSED,
    TRUE_POSITIVE,
    FigureObject,
    GroundTruthBox,
    draw_demo_figure,
    view_from_sensor,
)


def street(yaw: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    """A 30 m ground grid and one 4 x 2 x 1.5 m box at (10, 5) turned by `yaw`: xyz and the box's mask."""
    gx, gy = np.meshgrid(np.arange(-15, 15, 0.5), np.arange(-15, 15, 0.5))
    ground = np.c_[gx.ravel(), gy.ravel(), np.zeros(gx.size)]
    u, v, w = np.meshgrid(np.linspace(-2, 2, 21), np.linspace(-1, 1, 11), np.linspace(0, 1.5, 8))
    turn = np.array([[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]])
    box = np.c_[np.c_[u.ravel(), v.ravel()] @ turn.T + [10.0, 5.0], w.ravel()]
    xyz = np.vstack([ground, box]).astype(np.float32)
    return xyz, np.r_[np.zeros(len(ground), bool), np.ones(len(box), bool)]


def test_ground_truth_box_recovers_a_turned_box() -> None:
    xyz, truth = street(yaw=0.4)
    box = GroundTruthBox.of(xyz[truth])
    np.testing.assert_allclose(box.center, [10.0, 5.0], atol=1e-5)
    np.testing.assert_allclose(box.half, [2.0, 1.0], atol=1e-5)
    assert abs(abs(box.axes[0] @ [np.cos(0.4), np.sin(0.4)]) - 1.0) < 1e-6  # length along the turned axis
    assert box.z_range == pytest.approx((0.0, 1.5))
    corners = box.corners()
    assert corners.shape == (8, 3) and len(box.edges()) == 12
    lengths = sorted(round(float(np.linalg.norm(corners[a] - corners[b])), 4) for a, b in box.edges())
    assert lengths == [1.5] * 4 + [2.0] * 4 + [4.0] * 4


@pytest.mark.parametrize("target", [(10.0, 5.0, 0.5), (-3.0, -8.0, 1.0), (0.0, 0.0, 0.0)])
def test_view_from_sensor_looks_down_from_the_sensor_side(target: tuple[float, float, float]) -> None:
    rotation = view_from_sensor(np.array(target), elevation_deg=30.0)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    right, up, depth = rotation
    np.testing.assert_allclose(np.cross(right, up), -depth, atol=1e-12)  # not mirrored: right x up faces the viewer
    assert up[2] > 0 and depth[2] == pytest.approx(-0.5)  # looking 30 degrees down, z up on screen
    if np.linalg.norm(target[:2]) > 0:
        assert np.r_[target[:2], 0] @ depth > 0  # the object lies beyond the sensor: seen from its side


def test_the_picture_shows_right_wrong_and_missed_points(tmp_path: Path) -> None:
    xyz, truth = street()
    mask = truth.copy()
    mask[np.flatnonzero(truth)[:300]] = False  # missed
    beside = ~truth & (np.linalg.norm(xyz[:, :2] - [10.0, 5.0], axis=1) < 3.0)
    mask[beside] = True  # false positives: the ground around the box
    mask[np.flatnonzero(~truth)[:5]] = True  # and a few far away, outside the close-up
    clicked = int(np.flatnonzero(truth)[500])
    objects = [FigureObject(1, "car", truth, mask, ((clicked, True), (int(np.flatnonzero(~truth)[0]), False)),
                            (0.6, 0.8)),
               FigureObject(2, "box without clicks", truth, np.zeros_like(truth), (), ())]
    path = draw_demo_figure(xyz, objects, tmp_path / "sub" / "demo.png", title="test", min_iou=0.85)
    image = imread(path)[..., :3]
    assert image.shape[:2] == (1320, 1760)  # 16 x 12 inches at 110 dpi for two objects
    for color in (TRUE_POSITIVE, FALSE_POSITIVE, MISSED):
        near = np.abs(image - np.array(to_rgb(color))).max(axis=-1) < 0.02
        assert near.sum() > 50, f"no {color} pixels"


def test_a_scan_without_objects_still_draws_the_overview(tmp_path: Path) -> None:
    xyz, _ = street()
    assert draw_demo_figure(xyz, [], tmp_path / "empty.png").is_file()


BAD_OBJECTS = {  # name -> (changed fields given the scan's truth mask, expected message)
    "short truth": (lambda truth: {"truth": np.zeros(5, bool)}, "truth must be a bool mask of shape"),
    "uint8 mask": (lambda truth: {"mask": truth.astype(np.uint8)}, "mask must be a bool mask of shape"),
    "empty truth": (lambda truth: {"truth": np.zeros_like(truth)}, "its ground truth has no points"),
    "click outside": (lambda truth: {"clicks": ((len(truth), True),)}, "a click index lies outside the scan's"),
    "IoU count": (lambda truth: {"ious": (0.5, 0.6)}, "1 clicks but 2 IoU values"),
}


@pytest.mark.parametrize("case", BAD_OBJECTS)
def test_objects_that_do_not_fit_the_scan_are_refused_by_name(tmp_path: Path, case: str) -> None:
    xyz, truth = street()
    change, message = BAD_OBJECTS[case]
    fields = {"number": 3, "name": "car", "truth": truth, "mask": truth.copy(), "clicks": ((0, True),),
              "ious": (0.9,)}
    fields.update(change(truth))
    with pytest.raises(ValueError, match=f"object 3: {message}"):
        draw_demo_figure(xyz, [FigureObject(**fields)], tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


def test_a_cloud_that_is_not_n_by_3_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"xyz must be \(N, 3\), got \(10, 2\)"):
        draw_demo_figure(np.zeros((10, 2)), [], tmp_path / "bad.png")
