"""The node's worker with the real baseline segmenter: buffered clicks, superseded publishing, robustness."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from ros_fixtures import box_scene, iou, scene_cloud

rclpy = pytest.importorskip("rclpy")

from clickenhance_model.baseline import BaselineSegmenter  # noqa: E402
from clickenhance_model.inference.click_rules import ClickRules  # noqa: E402
from clickenhance_ros.annotation_worker import ACCEPT, CLICK, NEW_SCAN, RESET, UNDO, AnnotationWorker  # noqa: E402
from clickenhance_ros.frames import ClickFrames  # noqa: E402

SCENE = box_scene(seed=3)
TIMEOUT = 60.0


class Recorder:
    """Publish callback recording what would be published; optionally fails once."""

    def __init__(self, fail_once: bool = False):
        self.calls: list[tuple[bool, int]] = []
        self.fail_once = fail_once

    def __call__(self, worker: AnnotationWorker, clouds_changed: bool) -> None:
        self.calls.append((clouds_changed, len(worker.clicks)))
        if self.fail_once:
            self.fail_once = False
            raise RuntimeError("publisher exploded")


def make_worker(ros_node, tmp_path: Path, publish, errors: list, autosave: bool = False,
                click_rules: ClickRules | None = None) -> AnnotationWorker:  # fmt: skip
    cloud = scene_cloud(SCENE)
    worker = AnnotationWorker(BaselineSegmenter(), threading.Lock(), lambda: (cloud, ""), ClickFrames(ros_node),
                              publish, 0.5, tmp_path, autosave, errors.append, click_rules)  # fmt: skip
    worker.start()
    return worker


def test_clicks_during_inference_are_applied_together(ros_node, tmp_path: Path) -> None:
    errors, recorder = [], Recorder()
    worker = make_worker(ros_node, tmp_path, recorder, errors)
    try:
        top = np.array(SCENE.tops[0])
        assert worker.submit(CLICK, position=top, positive=True).wait(TIMEOUT).success
        wait_for(lambda: len(recorder.calls) == 1, TIMEOUT)  # the first click's state is published
        batches, published = worker.batches, len(recorder.calls)
        with worker.segmenter_lock:  # an inference in progress: everything submitted now must wait
            offsets = [(0.5, 0.3, 0.0), (-0.5, 0.3, 0.0), (1.0, -0.5, 0.0), (-1.0, -0.5, 0.0), (1.5, 0.0, 0.0)]
            jobs = [worker.submit(CLICK, position=top + offset, positive=True) for offset in offsets]
        results = [job.wait(TIMEOUT) for job in jobs]
        assert all(r.success for r in results), [r.message for r in results]
        assert worker.batches - batches <= 2  # five clicks, at most two inferences
        assert "buffered click" in results[-1].message
        assert len({r.object_point_count for r in results[1:]}) == 1
        # Only the newest state is published: the stale intermediate one is superseded.
        assert recorder.calls[published:] == [(True, 6)]
        assert iou(worker.mask, SCENE.instance == 1) > 0.85
    finally:
        worker.stop()
    assert errors == []


def test_the_operator_sessions_answer_under_the_node_click_rules(ros_node, tmp_path: Path) -> None:
    """The node's `gain_reach` reaches the session the operator's clicks go to (and a new scan's session)."""
    errors, rules = [], ClickRules(gain_reach=1.0)
    worker = make_worker(ros_node, tmp_path, Recorder(), errors, click_rules=rules)
    try:
        top = np.array(SCENE.tops[0])
        assert worker.submit(CLICK, position=top, positive=True).wait(TIMEOUT).success
        assert worker.session.click_rules is rules
        assert worker.submit(NEW_SCAN).wait(TIMEOUT).success
        assert worker.submit(CLICK, position=top, positive=True).wait(TIMEOUT).success
        assert worker.session.click_rules is rules
    finally:
        worker.stop()
    assert errors == []


def test_requests_are_applied_in_order(ros_node, tmp_path: Path) -> None:
    errors, recorder = [], Recorder()
    worker = make_worker(ros_node, tmp_path, recorder, errors, autosave=True)
    try:
        tops = [np.array(t) for t in SCENE.tops]
        with worker.segmenter_lock:
            jobs = [worker.submit(CLICK, position=tops[0], positive=True), worker.submit(UNDO),
                    worker.submit(CLICK, position=tops[1], positive=True), worker.submit(ACCEPT, semantic_label=10),
                    worker.submit(CLICK, position=tops[2], positive=True), worker.submit(ACCEPT),
                    worker.submit(NEW_SCAN)]
        results = [job.wait(TIMEOUT) for job in jobs]
        assert all(r.success for r in results), [r.message for r in results]
        assert [r.object_id for r in results if r.object_id] == [1, 2]
        assert worker.scan is None  # released after the autosave
        folders = list(tmp_path.iterdir())
        assert len(folders) == 1 and "saved to" in results[5].message
    finally:
        worker.stop()
    assert errors == []


def test_a_failing_publisher_is_logged_and_the_worker_goes_on(ros_node, tmp_path: Path) -> None:
    """Each request waits for the state before it to be published (a request queued before that supersedes it,
    by design), so every state's publish is seen: the first one fails, is logged, and the worker goes on."""
    errors, recorder = [], Recorder(fail_once=True)
    worker = make_worker(ros_node, tmp_path, recorder, errors)
    try:
        top = np.array(SCENE.tops[0])
        for published, (kind, values) in enumerate([(CLICK, {"position": top, "positive": True}), (RESET, {}),
                                                     (CLICK, {"position": top, "positive": True})], start=1):
            assert worker.submit(kind, **values).wait(TIMEOUT).success
            wait_for(lambda count=published: len(recorder.calls) == count, TIMEOUT)
    finally:
        worker.stop()
    assert len(errors) == 1 and "publisher exploded" in errors[0]
    assert [count for _, count in recorder.calls] == [1, 0, 1]


def test_a_superseded_state_is_published_after_a_failing_request(ros_node, tmp_path: Path) -> None:
    errors, recorder = [], Recorder()
    worker = make_worker(ros_node, tmp_path, recorder, errors)
    try:
        with worker.segmenter_lock:  # the click waits for the lock while the bad accept queues behind it
            click = worker.submit(CLICK, position=np.array(SCENE.tops[0]), positive=True)
            wait_for(lambda: worker._queue.empty())  # the worker holds the click
            bad = worker.submit(ACCEPT, semantic_label=70000)
        assert click.wait(TIMEOUT).success
        assert not bad.wait(TIMEOUT).success and "semantic_label" in bad.result.message
        wait_for(lambda: recorder.calls == [(True, 1)])
    finally:
        worker.stop()


def wait_for(condition, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)
