"""ObjectFollower (no ROS): carrying a segmented object into new clouds, its motion gate, lost state and tf path."""

from __future__ import annotations

import numpy as np
import pytest
from cloud_factories import box_surface

from clickenhance_model import load_segmenter
from clickenhance_model.object_following import FollowConfig, ObjectFollower

BOX_A = ((4.0, -1.0, 0.1), (8.0, 1.0, 1.5))  # the followed car-sized box
BOX_B = ((4.0, 3.0, 0.1), (8.0, 5.0, 1.5))  # a neighbour 2 m to its left


def street(a_offset: tuple[float, float, float] | None = (0.0, 0.0, 0.0),
           b: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Ground, box A moved by `a_offset` (None: absent) and box B; returns (xyz, mask of box A)."""
    gx, gy = np.meshgrid(np.arange(-4.0, 16.0, 0.3), np.arange(-8.0, 10.0, 0.3))
    parts = [np.stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)], 1)]
    if b:
        parts.append(box_surface(*BOX_B, 0.2))
    label = [np.zeros(sum(map(len, parts)), dtype=bool)]
    if a_offset is not None:
        parts.append(box_surface(*BOX_A, 0.2) + np.asarray(a_offset))
        label.append(np.ones(len(parts[-1]), dtype=bool))
    return np.concatenate(parts).astype(np.float32), np.concatenate(label)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


@pytest.fixture(scope="module")
def segmenter():
    return load_segmenter("baseline")


def follower(segmenter, **config) -> ObjectFollower:
    xyz, truth = street()
    return ObjectFollower(segmenter, xyz[truth], stamp=0.0, config=FollowConfig(**config))


def test_follows_a_box_that_moved_within_the_gate(segmenter) -> None:
    xyz, truth = street((0.6, 0.2, 0.0))
    result = follower(segmenter).follow(xyz, None, stamp=0.1)
    assert not result.lost, result.reason
    assert iou(result.mask, truth) >= 0.9
    assert result.confidence >= 0.8 and result.point_count == int(result.mask.sum())


def test_a_vanished_object_is_lost_not_replaced_and_found_again(segmenter) -> None:
    follow = follower(segmenter)
    gone, _ = street(None)
    result = follow.follow(gone, None, stamp=0.1)
    assert result.lost and not result.mask.any(), "the ground or the neighbour box was published as the object"
    assert result.reason
    back, truth = street((0.3, 0.0, 0.0))
    again = follow.follow(back, None, stamp=0.2)
    assert not again.lost, again.reason
    assert iou(again.mask, truth) >= 0.9


@pytest.mark.parametrize(("config", "found"), [({"max_speed": 0.0, "min_gate": 0.2}, False),
                                               ({"max_speed": 10.0}, True)])
def test_the_motion_gate_bounds_the_jump(segmenter, config: dict, found: bool) -> None:
    """Box A moved 2.5 m sideways, 0.5 m clear of where it was: beyond a 0.2 m gate, within a 1.5 m one."""
    xyz, truth = street((0.0, -2.5, 0.0), b=False)
    result = follower(segmenter, **config).follow(xyz, None, stamp=0.1)
    assert result.lost != found, result.reason
    if found:
        assert iou(result.mask, truth) >= 0.9
    else:
        assert not result.mask.any(), "the ground was published as the object"


def test_the_gate_grows_with_time_up_to_its_cap(segmenter) -> None:
    follow = follower(segmenter, max_speed=10.0, min_gate=0.5, max_gate=4.0)
    assert follow.gate(0.0) == follow.gate(-1.0) == 0.5  # repeated or older stamps: the slack only
    assert follow.gate(0.2) == pytest.approx(2.5)
    assert follow.gate(100.0) == 4.0


def test_a_transform_carries_the_object_when_the_sensor_turned(segmenter) -> None:
    """The sensor turned 90 degrees and moved: with the odometry transform a zero-speed gate suffices."""
    xyz, truth = street()
    turn = np.array([[0.0, -1.0, 0.0, 2.0], [1.0, 0.0, 0.0, -1.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    turned = (xyz @ turn[:3, :3].T + turn[:3, 3]).astype(np.float32)
    with_tf = follower(segmenter, max_speed=0.0).follow(turned, None, stamp=0.1, transform=turn)
    assert not with_tf.lost, with_tf.reason
    assert iou(with_tf.mask, truth) >= 0.9
    without = follower(segmenter, max_speed=0.0).follow(turned, None, stamp=0.1)
    assert without.lost


def test_negative_clicks_are_carried_off_the_object(segmenter) -> None:
    xyz, truth = street()
    negative = np.array([[6.0, 4.0, 1.5], [6.0, 0.0, 1.5]])  # one on box B, one on the followed box itself
    follow = ObjectFollower(segmenter, xyz[truth], 0.0, negative)
    moved, moved_truth = street((0.2, 0.0, 0.0))
    result = follow.follow(moved, None, stamp=0.1)
    assert not result.lost
    assert len(result.negative) == 1 and not moved_truth[result.negative[0]]
    assert not result.mask[list(result.negative)].any()


@pytest.mark.parametrize(("call", "message"), [
    (lambda f, xyz: f.follow(xyz[:, :2], None, 0.1), "shape"),
    (lambda f, xyz: f.follow(xyz, None, float("nan")), "stamp"),
    (lambda f, xyz: f.follow(xyz, None, 0.1, transform=np.eye(3)), "transform"),
])
def test_bad_input_is_a_clear_value_error(segmenter, call, message: str) -> None:
    xyz, _ = street()
    with pytest.raises(ValueError, match=message):
        call(follower(segmenter), xyz)


def test_an_object_without_finite_points_cannot_be_followed(segmenter) -> None:
    with pytest.raises(ValueError, match="no finite point"):
        ObjectFollower(segmenter, np.full((5, 3), np.nan), 0.0)
    with pytest.raises(ValueError, match="min_confidence"):
        FollowConfig(min_confidence=2.0)


def test_a_nan_only_cloud_loses_the_object(segmenter) -> None:
    result = follower(segmenter).follow(np.full((100, 3), np.nan, dtype=np.float32), None, 0.1)
    assert result.lost and not result.mask.any() and result.mask.shape == (100,)


def test_follows_a_car_through_a_generated_drive(segmenter) -> None:
    """The ego car drives at 3 m/s; a parked car is followed from one click through 5 more frames."""
    from clickenhance_model.evaluation.simulated_user import next_click
    from clickenhance_model.scenes.lidar import LidarConfig
    from clickenhance_model.scenes.sequence import SequenceConfig, generate_sequence, largest_car

    config = SequenceConfig(frames=6, lidar=LidarConfig(beams=32, azimuth_steps=1024))
    ious, follow, car = [], None, 0
    for stamp, scan in generate_sequence(0, config):
        if follow is None:
            car = largest_car(scan)
            truth = scan.instance == car
            click = next_click(scan.xyz, np.zeros(len(scan), dtype=bool), truth)
            follow = ObjectFollower(segmenter, scan.xyz[segmenter.session(scan.xyz).add_click(click.index)], stamp)
            continue
        result = follow.follow(scan.xyz, None, stamp)
        assert not result.lost, f"{stamp:.1f} s: {result.reason}"
        ious.append(iou(result.mask, scan.instance == car))
    assert np.mean(ious) >= 0.85 and min(ious) >= 0.7, ious
