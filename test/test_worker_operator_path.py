"""The worker on the operator's path: timed-out requests, refused first clicks, undo inside a batch."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from ros_fixtures import box_scene, scene_cloud
from test_annotation_worker import Recorder, wait_for

rclpy = pytest.importorskip("rclpy")

from clickenhance_model.baseline import BaselineSegmenter  # noqa: E402
from clickenhance_ros.annotation_worker import CLICK, UNDO, AnnotationWorker  # noqa: E402
from clickenhance_ros.frames import ClickFrames  # noqa: E402

SCENE = box_scene(seed=3)
OTHER = box_scene(seed=4)  # the same boxes, other noise and point order
TIMEOUT = 60.0


def make_worker(ros_node, tmp_path: Path, latest: list, errors: list) -> AnnotationWorker:
    """A worker whose latest cloud is `latest[0]` (the test swaps it)."""
    worker = AnnotationWorker(BaselineSegmenter(), threading.Lock(), lambda: (latest[0], ""), ClickFrames(ros_node),
                              Recorder(), 0.5, tmp_path, False, errors.append)
    worker.start()
    return worker


def test_a_timed_out_request_is_cancelled_unless_it_is_running(ros_node, tmp_path: Path) -> None:
    errors = []
    worker = make_worker(ros_node, tmp_path, [scene_cloud(SCENE)], errors)
    try:
        top = np.array(SCENE.tops[0])
        with worker.segmenter_lock:  # an inference in progress elsewhere (the stateless ~/segment)
            running = worker.submit(CLICK, position=top, positive=True)
            wait_for(lambda: worker._queue.empty())  # the worker holds it, blocked on the lock
            queued = worker.submit(CLICK, position=np.array(SCENE.tops[1]), positive=True)
            late = queued.wait(0.2)
            assert not late.success and "cancelled, not applied" in late.message
            still = running.wait(0.2)
            assert not still.success and "still running and will be applied" in still.message
        assert running.done.wait(TIMEOUT) and running.result.success, running.result.message
        assert worker.submit(UNDO).wait(TIMEOUT).success  # queued after the cancelled click
        assert worker.clicks == ()  # the cancelled click was never applied
        assert queued.result.message == late.message  # and its result stays the cancellation
    finally:
        worker.stop()
    assert errors == []


def test_a_refused_first_click_freezes_nothing(ros_node, tmp_path: Path) -> None:
    errors, latest = [], [scene_cloud(SCENE, stamp_sec=1)]
    worker = make_worker(ros_node, tmp_path, latest, errors)
    try:
        far = worker.submit(CLICK, position=np.array(SCENE.tops[0]) + [50.0, 0.0, 0.0], positive=True).wait(TIMEOUT)
        assert not far.success and "from the nearest point" in far.message
        assert worker.scan is None
        negative = worker.submit(CLICK, position=np.array(SCENE.tops[0]), positive=False).wait(TIMEOUT)
        assert not negative.success and "must be positive" in negative.message
        assert worker.scan is None
        latest[0] = scene_cloud(OTHER, stamp_sec=2)
        valid = worker.submit(CLICK, position=np.array(OTHER.tops[0]), positive=True).wait(TIMEOUT)
        assert valid.success, valid.message
        assert worker.scan.cloud.header.stamp.sec == 2  # the new cloud, not the one the refused clicks saw
        assert np.linalg.norm(OTHER.xyz[valid.point_index] - OTHER.tops[0]) < 0.5
    finally:
        worker.stop()
    assert errors == []


def test_undo_inside_a_batch_gives_the_mask_of_the_remaining_clicks(ros_node, tmp_path: Path) -> None:
    errors = []
    worker = make_worker(ros_node, tmp_path, [scene_cloud(SCENE)], errors)
    try:
        top = np.array(SCENE.tops[0])
        positions = [top, np.array(SCENE.tops[1]), top + (-1.8, 0.0, 0.0), top + (1.8, 0.0, 0.0)]
        polarities = [True, True, False, False]
        with worker.segmenter_lock:
            first = worker.submit(CLICK, position=positions[0], positive=True)
            wait_for(lambda: worker._queue.empty())
            batch = [worker.submit(CLICK, position=p, positive=s)
                     for p, s in zip(positions[1:], polarities[1:], strict=True)]
        results = [job.wait(TIMEOUT) for job in [first, *batch]]
        assert all(r.success for r in results), [r.message for r in results]
        assert "buffered click" in results[-1].message  # the last three ran as one inference
        assert worker.submit(UNDO).wait(TIMEOUT).success
        expected = BaselineSegmenter().session(SCENE.xyz).add_clicks(
            [(r.point_index, s) for r, s in zip(results[:3], polarities[:3], strict=True)])
        assert not np.array_equal(expected, BaselineSegmenter().session(SCENE.xyz).add_clicks(
            [(r.point_index, s) for r, s in zip(results, polarities, strict=True)]))  # the undone click mattered
        np.testing.assert_array_equal(worker.mask, expected)
    finally:
        worker.stop()
    assert errors == []
