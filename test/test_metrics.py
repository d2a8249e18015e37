"""Metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from clickenhance_model.evaluation.metrics import (
    average_precision,
    click_collapses,
    click_responsiveness,
    collapse_summary,
    iou,
    iou_curve,
    mean_class_ap,
    number_of_clicks,
    pad_ious,
    summarize,
)


def test_iou_hand_values() -> None:
    prediction = np.array([1, 1, 1, 0, 0], dtype=bool)
    truth = np.array([0, 1, 1, 1, 0], dtype=bool)
    assert iou(prediction, truth) == 0.5  # 2 shared / 4 in the union
    assert iou(np.zeros(3, bool), np.zeros(3, bool)) == 1.0
    assert iou(np.zeros(3, bool), np.ones(3, bool)) == 0.0


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [(0.80, 2), (0.85, 3), (0.90, 4), (0.96, 20)],
)
def test_number_of_clicks(threshold: float, expected: int) -> None:
    ious = [0.5, 0.82, 0.86, 0.95] + [0.95] * 16
    assert number_of_clicks(ious, threshold, 20) == expected


def test_number_of_clicks_counts_only_the_budget() -> None:
    assert number_of_clicks([0.1, 0.2, 0.95], 0.9, max_clicks=2) == 2
    assert number_of_clicks([0.1, 0.2, 0.95], 0.9) == 3


def test_iou_curve_pads_short_rows_with_their_last_value() -> None:
    assert pad_ious([0.5, 1.0], 4) == [0.5, 1.0, 1.0, 1.0]
    assert pad_ious([0.1, 0.2, 0.3], 2) == [0.1, 0.2]
    np.testing.assert_allclose(iou_curve([[0.5, 1.0], [0.1, 0.3, 0.5]], 3), [0.3, 0.65, 0.75])


def test_average_precision_with_equal_scores_is_hit_rate_squared() -> None:
    # one PR point: precision = recall = 2/4, area under the interpolated curve 0.5 * 0.5
    assert average_precision(np.array([True, True, False, False])) == pytest.approx(0.25)
    assert average_precision(np.array([True, True])) == pytest.approx(1.0)
    assert math.isnan(average_precision(np.array([], dtype=bool)))


def test_average_precision_with_ranked_scores() -> None:
    # levels 0.9: P=1, R=1/3; 0.8: P=1/2, R=1/3; 0.7: P=2/3, R=2/3
    # interpolated P = 1, 2/3, 2/3; recall steps 1/3, 0, 1/3 -> 1/3 + 2/9 = 5/9
    hits = np.array([True, False, True])
    assert average_precision(hits, np.array([0.9, 0.8, 0.7])) == pytest.approx(5 / 9)


def test_mean_class_ap_averages_classes() -> None:
    ious = np.array([0.9, 0.3, 0.6, 0.7])
    classes = np.array(["car", "car", "person", "person"])
    # car: 1 of 2 hits -> 0.25; person: 2 of 2 -> 1.0
    assert mean_class_ap(ious, classes, 0.5) == pytest.approx(0.625)


def test_summarize_hand_example() -> None:
    rows = [[0.5, 0.9, 1.0], [0.85, 0.85, 0.85]]
    summary = summarize(rows, ["car", "car"], max_clicks=3)
    assert summary["objects"] == 2
    assert summary["NoC@80"] == pytest.approx(1.5)  # 2 and 1
    assert summary["NoC@85"] == pytest.approx(1.5)  # 2 and 1
    assert summary["NoC@90"] == pytest.approx(2.5)  # 2 and 3 (never reached: the budget)
    np.testing.assert_allclose(summary["IoU@k"], [0.675, 0.875, 0.925])
    first = summary["AP@k"][0]  # after one click: IoUs 0.5 and 0.85
    assert first["AP50"] == pytest.approx(1.0)
    assert first["AP25"] == pytest.approx(1.0)
    # thresholds 0.50: both hit (1.0); 0.55..0.85 (7 of them): one of two (0.25); 0.90, 0.95: none
    assert first["AP"] == pytest.approx((1.0 + 7 * 0.25) / 10)


def test_summarize_no_objects() -> None:
    summary = summarize([], [], max_clicks=5)
    assert summary["objects"] == 0
    assert math.isnan(summary["NoC@80"])
    assert len(summary["IoU@k"]) == 5


@pytest.mark.parametrize(("ious", "gain", "rising", "stuck"), [
    ([0.1, 0.12, 0.13, 0.14, 0.15] + [0.16] * 15, 0.01, False, True),  # a pole at 15%: corrections ignored
    ([0.5] * 5 + [0.6] * 15, 0.1, True, False),  # still rising after click 5
    ([0.9] * 20, 0.0, False, False),  # flat but done (>= 85%): not stuck
    ([0.5] * 5 + [0.51] * 14 + [0.7], 0.2, True, False),  # the last click counts
    ([0.2, 0.3, 0.4, 0.5, 0.6, 0.61], 0.01, False, True),  # stopped early: short rows repeat their last IoU
])  # fmt: skip
def test_click_responsiveness(ious: list[float], gain: float, rising: bool, stuck: bool) -> None:
    flags = click_responsiveness(ious, 20)
    assert flags["gain_after_5"] == pytest.approx(gain) and flags["rising"] is rising and flags["stuck"] is stuck


def test_summary_counts_stuck_and_rising_objects() -> None:
    rows = [[0.1] * 20, [0.5] * 5 + [0.9] * 15, [0.95] * 20, [0.3] * 5 + [0.31] * 15]
    summary = summarize(rows, ["pole"] * 4, 20)
    assert summary["stuck_objects"] == 2 and summary["rising_after_5"] == 1
    assert click_responsiveness(rows[0], 5) is None  # a budget of 5 clicks has no "after click 5"
    assert summarize(rows, ["pole"] * 4, 5)["stuck_objects"] is None


def test_click_collapses_name_the_click_and_its_sign() -> None:
    ious = [0.5, 0.95, 0.97, 0.2, 0.9, 0.69, 0.95]
    clicks = [(0, True), (1, True), (2, False), (3, False), (4, True), (5, True), (6, False)]
    collapses = click_collapses(ious, clicks)
    assert [(c["click"], c["positive"]) for c in collapses] == [(4, False), (6, True)]
    assert collapses[0]["drop"] == pytest.approx(0.77) and collapses[1]["drop"] == pytest.approx(0.21)
    assert click_collapses([0.9, 0.7, 0.71], [(0, True), (1, False), (2, True)]) == []  # exactly 20 points: not
    assert click_collapses([0.9], [(0, True)]) == []
    summary = collapse_summary([collapses, [], click_collapses([0.9, 0.1], [(0, True), (1, False)])])
    assert summary == {"collapsed_objects": 2, "collapses_after_negative": 2, "collapses_after_positive": 1}
