"""The simulated user against hand-worked cases: which error set wins, which point, which polarity."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from clickenhance_model.evaluation.simulated_user import distance_to_outside, next_click, sample_click


def line(n: int = 10) -> np.ndarray:
    """Points at x = 0, 1, ..., n-1 on the x axis (unit spacing makes distances easy to work out)."""
    xyz = np.zeros((n, 3), dtype=np.float32)
    xyz[:, 0] = np.arange(n)
    return xyz


def mask(n: int, indices: list[int]) -> np.ndarray:
    """Bool mask of length n with the given indices set."""
    out = np.zeros(n, dtype=bool)
    out[indices] = True
    return out


def test_distance_to_outside_on_a_line() -> None:
    # region x = 2..6: nearest outside points are x = 1 and x = 7
    distance = distance_to_outside(line(), mask(10, [2, 3, 4, 5, 6]))
    np.testing.assert_array_equal(distance, [1, 2, 3, 2, 1])


def test_distance_to_outside_is_euclidean_in_3d() -> None:
    xyz = np.array([[0, 0, 0], [3, 4, 0], [0, 0, 12], [10, 10, 10]], dtype=np.float32)
    distance = distance_to_outside(xyz, mask(4, [0]))
    assert distance.tolist() == [5.0]  # (3, 4, 0) is nearer than (0, 0, 12)


def test_distance_to_outside_whole_cloud_is_infinite() -> None:
    assert np.isinf(distance_to_outside(line(4), np.ones(4, dtype=bool))).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_distance_to_outside_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    xyz = rng.uniform(-20, 20, size=(3000, 3)).astype(np.float32)
    for region in (np.linalg.norm(xyz, axis=1) < 8, rng.random(3000) < 0.02, np.abs(xyz[:, 0]) < 15):
        inside, outside = xyz[region].astype(np.float64), xyz[~region].astype(np.float64)
        expected = cdist(inside, outside).min(axis=1)
        np.testing.assert_allclose(distance_to_outside(xyz, region), expected, rtol=1e-6)


def test_first_click_is_the_object_point_farthest_from_the_rest() -> None:
    truth = mask(10, [2, 3, 4, 5, 6])
    click = next_click(line(), np.zeros(10, dtype=bool), truth)
    assert (click.index, click.positive, click.depth) == (4, True, 3.0)


def test_false_positive_set_wins_when_deeper() -> None:
    # FN = {0} (depth 1); FP = {3, 4, 5, 6} with depths 1, 2, 2, 1: the lowest index of the deepest, 4
    click = next_click(line(), mask(10, [1, 2, 3, 4, 5, 6]), mask(10, [0, 1, 2]))
    assert (click.index, click.positive, click.depth) == (4, False, 2.0)


def test_tie_between_sets_goes_to_false_negatives() -> None:
    # FN = {0, 1}: depths 2, 1; FP = {3, 4, 5}: depths 1, 2, 1 -> both 2, the false negative wins
    click = next_click(line(), mask(10, [2, 3, 4, 5]), mask(10, [0, 1, 2]))
    assert (click.index, click.positive, click.depth) == (0, True, 2.0)


def test_only_false_positives_gives_a_negative_click() -> None:
    # prediction x = 0..8 for object x = 2..6: FP = {0, 1, 7, 8} with depths 2, 1, 1, 1
    click = next_click(line(), mask(10, list(range(9))), mask(10, [2, 3, 4, 5, 6]))
    assert (click.index, click.positive, click.depth) == (0, False, 2.0)


def test_exact_prediction_gives_no_click() -> None:
    truth = mask(10, [2, 3])
    assert next_click(line(), truth.copy(), truth) is None


def test_shape_mismatch_is_rejected() -> None:
    with pytest.raises(ValueError, match="prediction"):
        next_click(line(), np.zeros(9, dtype=bool), np.zeros(10, dtype=bool))


def test_temperature_sampling_is_seeded_and_stays_in_the_errors() -> None:
    xyz = line(50)
    truth = mask(50, list(range(10, 40)))
    prediction = mask(50, list(range(10, 20)) + [45, 46])
    errors = truth != prediction
    clicks = [next_click(xyz, prediction, truth, 0.5, np.random.default_rng(7)) for _ in range(2)]
    assert clicks[0] == clicks[1]
    rng = np.random.default_rng(3)
    for _ in range(50):
        click = next_click(xyz, prediction, truth, 0.5, rng)
        assert errors[click.index]
        assert click.positive == truth[click.index]


def test_temperature_one_is_uniform_and_zero_stays_near_the_reference() -> None:
    xyz = line(40)
    errors = mask(40, list(range(40)))
    reference = 30
    rng = np.random.default_rng(0)
    uniform = np.array([sample_click(xyz, errors, reference, 1.0, rng) for _ in range(4000)])
    counts = np.bincount(uniform, minlength=40)
    assert counts.min() > 50 and counts.max() < 160  # expected 100 each
    focused = np.array([sample_click(xyz, errors, reference, 0.0, rng) for _ in range(4000)])
    # P(i) ~ exp(-|i - 30|) on i = 0..39: P(30) = 1 / (1 + sum_{d<=30} e^-d + sum_{d<=9} e^-d) ~ 0.46
    assert 0.40 < np.mean(focused == reference) < 0.52
    assert np.abs(focused - reference).mean() < 2.0


def test_temperature_arguments_are_checked() -> None:
    xyz = line()
    with pytest.raises(ValueError, match="temperature"):
        sample_click(xyz, np.ones(10, dtype=bool), 0, 1.5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="random generator"):
        next_click(xyz, np.zeros(10, dtype=bool), mask(10, [3]), 0.5, None)
