"""The demo's simulated operator without ROS (`evaluation.demo_operator`): its objects, its clicks, its verdict."""

from __future__ import annotations

import re

import numpy as np
import pytest

from clickenhance_model.baseline import BaselineSegmenter
from clickenhance_model.evaluation.demo_operator import (
    DEMO_MAX_CLICKS,
    DEMO_TARGET_IOU,
    OperatorRun,
    demo_objects,
    demo_street,
    demo_streets,
    main,
)

LINE = re.compile(r"^street seed (\d+), object (\d+) \(class (\d+)\): ((?:[+-][01]\.\d{3} ?)+)", re.M)


def test_demo_objects_are_the_largest_ones_above_the_minimum_with_their_main_class() -> None:
    instance = np.array([0] * 50 + [3] * 5 + [1] * 30 + [2] * 20 + [4] * 40)
    semantic = np.array([9] * 50 + [10] * 5 + [10] * 29 + [18] + [20] * 20 + [11] * 40)
    assert demo_objects(instance, semantic, 3, 10) == [(4, 11), (1, 10), (2, 20)]
    assert demo_objects(instance, semantic, 5, 25) == [(4, 11), (1, 10)]  # 0 is no object, 3 and 2 too small


def test_each_object_is_clicked_until_the_target_or_the_budget_and_every_iou_is_the_sessions() -> None:
    """On the demo's street (seed 0) with the training-free baseline: each run stops at the target IoU or the
    budget, its first click is positive, and replaying its clicks in a fresh session gives the recorded IoUs."""
    baseline = BaselineSegmenter.for_domain("outdoor")
    from clickenhance_model.scenes.generate import generate_scan

    scan = generate_scan("outdoor", 0, 0)
    runs = demo_street(baseline, 0)
    assert [run.instance for run in runs] == [i for i, _ in demo_objects(scan.instance, scan.semantic)]
    for run in runs:
        assert run.clicks[0][1] and 1 <= len(run.clicks) == len(run.ious) <= DEMO_MAX_CLICKS
        assert run.final_iou >= DEMO_TARGET_IOU or len(run.clicks) == DEMO_MAX_CLICKS
        assert all(value < DEMO_TARGET_IOU for value in run.ious[:-1])  # it stops at the first IoU that reaches it
        session = baseline.session(scan.xyz.astype(np.float32))
        truth = scan.instance == run.instance
        replayed = [session.add_click(index, positive) for index, positive in run.clicks]
        for mask, value in zip(replayed, run.ious, strict=True):
            assert (mask & truth).sum() / (mask | truth).sum() == pytest.approx(value)
    assert OperatorRun(1, 10, [(4, True), (7, False)], [0.5, 0.75]).line() == "+0.500 -0.750"


def test_the_command_prints_each_object_and_fails_below_the_minimum(capsys: pytest.CaptureFixture) -> None:
    assert main(["--method", "baseline", "--seeds", "0"]) == 0
    printed = capsys.readouterr().out
    finals = [float(found[3].split()[-1][1:]) for found in LINE.findall(printed)]
    assert len(finals) == 3 and "every object reached IoU >= 0.850" in printed
    strict = round((min(finals) + 1.0) / 2, 4)  # above the lowest final IoU: that object fails
    assert main(["--method", "baseline", "--seeds", "0", "--min-iou", str(strict)]) == 1
    assert f"{sum(f < strict for f in finals)} object(s) below {strict:.3f}" in capsys.readouterr().out
    assert demo_streets(BaselineSegmenter.for_domain("outdoor"), [0], strict, echo=None) != []
