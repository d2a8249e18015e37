"""The node's interactive annotation, run by one worker thread so inference never blocks ROS callbacks.

State: a frozen scan (the cloud the first click of an object froze), the session of the
object being clicked, and the scan's `Annotation` (accepted objects). Requests (clicks,
undo, reset, accept, save, new scan, mode) are queued as `Job`s and applied in order;
clicks that queue up while an inference runs are applied together in one inference, and
the outputs are published only for the newest state (a newer request supersedes a stale one).
"""

from __future__ import annotations

import itertools
import queue
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sensor_msgs.msg import PointCloud2

from clickenhance_model.annotation import Annotation
from clickenhance_model.errors import ClickEnhanceError
from clickenhance_model.inference.click_rules import ClickRules
from clickenhance_model.inference.session import InteractiveSession
from clickenhance_ros.cloud_conversion import points_rgb, points_xyz, read_points
from clickenhance_ros.frames import ClickFrames

CLICK, MODE, UNDO, RESET, ACCEPT, SAVE, NEW_SCAN = "click", "mode", "undo", "reset", "accept", "save", "new_scan"
FOLLOW_TARGET = "follow_target"  # read the object to follow (no change to the session)
QUEUED, RUNNING, CANCELLED, DONE = "queued", "running", "cancelled", "done"  # Job.state


@dataclass
class JobResult:
    """Outcome of one request; the fields a request does not produce stay zero."""

    success: bool
    message: str = ""
    point_index: int = 0
    object_point_count: int = 0
    inference_ms: float = 0.0
    object_id: int = 0
    point_count: int = 0
    directory: str = ""
    target: FollowTarget | None = None


@dataclass(frozen=True)
class FollowTarget:
    """The object `~/follow` starts from: its points and negative clicks in the frozen cloud."""

    object_xyz: np.ndarray  # [M, 3] metres, in `header.frame_id`
    negative_xyz: np.ndarray  # [K, 3] metres
    header: Any  # std_msgs/Header of the frozen cloud
    description: str  # "the current object (3 clicks)" or "accepted object 2"


@dataclass
class Job:
    """One queued request: its kind, arguments, and the result the caller may wait for.

    A job is queued, then running (claimed by the worker), then done. A caller that times
    out cancels a job still queued (it is never applied); a running job is applied anyway.
    """

    kind: str
    args: dict[str, Any] = field(default_factory=dict)
    on_done: Callable[[JobResult], None] | None = None  # for requests nobody waits for (RViz)
    done: threading.Event = field(default_factory=threading.Event)
    result: JobResult | None = None
    state: str = QUEUED
    _state_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def claim(self) -> bool:
        """Mark the job running before the worker applies it; False if its caller cancelled it."""
        with self._state_lock:
            if self.state != QUEUED:
                return False
            self.state = RUNNING
            return True

    def finish(self, success: bool, message: str = "", **values: Any) -> None:
        """Store the result, wake the waiting caller and run `on_done`."""
        with self._state_lock:
            self.state = DONE
            self.result = JobResult(success, message, **values)
        self.done.set()
        if self.on_done is not None:
            self.on_done(self.result)

    def wait(self, timeout: float) -> JobResult:
        """The result; at the deadline, cancel the job if it has not started, and say which happened."""
        if self.done.wait(timeout):
            return self.result
        with self._state_lock:
            if self.state == QUEUED:
                self.state = CANCELLED
                self.result = JobResult(False, f"timed out after {timeout:g} s waiting for the segmenter "
                                        "(busy with earlier requests): cancelled, not applied")
                self.done.set()
                return self.result
            if self.state == DONE:  # finished between the deadline and the lock
                return self.result
        return JobResult(False, f"timed out after {timeout:g} s: the request is still running and will be "
                         "applied (see ~/state for the outcome)")


@dataclass
class FrozenScan:
    """The cloud the clicks refer to, converted once, with its annotation and output folder name."""

    cloud: PointCloud2
    xyz: np.ndarray
    rgb: np.ndarray | None
    annotation: Annotation
    name: str

    @classmethod
    def freeze(cls, cloud: PointCloud2, output_directory: Path) -> FrozenScan:
        """Convert `cloud` (ValueError if malformed) and pick a folder name no earlier save uses."""
        if cloud.width * cloud.height == 0:
            raise ValueError("the cloud is empty (0 points)")
        points = read_points(cloud)
        xyz, rgb = points_xyz(points), points_rgb(points)
        intensity = None
        if "intensity" in points.dtype.names and not points.dtype.fields["intensity"][0].shape:
            intensity = points["intensity"].reshape(-1).astype(np.float32)
        stamp = cloud.header.stamp
        annotation = Annotation(xyz, intensity, cloud.header.frame_id, stamp.sec * 10**9 + stamp.nanosec)
        base = f"scan_{stamp.sec:010d}_{stamp.nanosec:09d}"
        name = next(n for n in itertools.chain([base], (f"{base}_{k}" for k in itertools.count(1)))
                    if not (output_directory / n).exists())
        return cls(cloud, xyz, rgb, annotation, name)


class AnnotationWorker:
    """Applies queued requests to the frozen scan and the current object in a worker thread.

    Args:
        segmenter: object with `.session(xyz, rgb)` returning an InteractiveSession.
        segmenter_lock: held around every inference (shared with the stateless service).
        latest_cloud: returns (latest usable cloud or None, why the last cloud was rejected).
        frames: transforms click positions into the scan's frame.
        publish: called in the worker with (worker, clouds_changed) when outputs must be published.
        snap_distance, output_directory, autosave: see the node's parameters.
        log_error: logs one line (failures of requests that have no caller, internal errors).
        click_rules: the click rules of the operator's sessions (the node's `gain_reach`, `keep_direction`); None:
            the sessions' own.
    """

    def __init__(self, segmenter: Any, segmenter_lock: threading.Lock,
                 latest_cloud: Callable[[], tuple[PointCloud2 | None, str]], frames: ClickFrames,
                 publish: Callable[[AnnotationWorker, bool], None], snap_distance: float,
                 output_directory: Path, autosave: bool, log_error: Callable[[str], None],
                 click_rules: ClickRules | None = None):  # fmt: skip
        self.segmenter = segmenter
        self.click_rules = click_rules
        self.segmenter_lock = segmenter_lock
        self.latest_cloud = latest_cloud
        self.frames = frames
        self.publish = publish
        self.snap_distance = snap_distance
        self.output_directory = output_directory
        self.autosave = autosave
        self.log_error = log_error
        self.scan: FrozenScan | None = None
        self.session: InteractiveSession | None = None
        self.positive_mode = True
        self.last_inference_ms = 0.0
        self.batches = 0  # inferences run for clicks (a batch of buffered clicks counts once)
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="clickenhance-worker", daemon=True)

    # ------------------------------------------------------------------ thread control
    def start(self) -> None:
        """Start the worker thread."""
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker after the request it is running."""
        self._queue.put(None)
        self._thread.join(timeout)

    def submit(self, kind: str, on_done: Callable[[JobResult], None] | None = None, **args: Any) -> Job:
        """Queue a request; wait on the returned job for its result (or pass `on_done`)."""
        job = Job(kind, args, on_done)
        self._queue.put(job)
        return job

    # ------------------------------------------------------------------ read-only state
    @property
    def clicks(self) -> tuple:
        """Clicks of the current object."""
        return self.session.clicks if self.session is not None else ()

    @property
    def mask(self) -> np.ndarray | None:
        """Current object mask over the frozen scan, or None without a scan."""
        if self.scan is None:
            return None
        if self.session is None:
            return np.zeros(len(self.scan.xyz), dtype=bool)
        return self.session.mask

    # ------------------------------------------------------------------------ the loop
    def _run(self) -> None:
        """Take every queued job, apply them in order (clicks in batches), then publish once.

        When more requests queued up meanwhile, the outputs of this state are stale: they are
        published only after those requests, merged with their changes.
        """
        unpublished: bool | None = None  # None: nothing to publish; else whether the clouds changed
        while True:
            jobs = [self._queue.get()]
            while True:
                try:
                    jobs.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = None in jobs
            jobs = [job for job in jobs if job is not None]
            changed = self._apply_all(jobs)
            if changed is not None:
                unpublished = bool(unpublished) or changed
            if unpublished is not None and self._queue.empty() and not stop:
                self._publish(unpublished)
                unpublished = None
            for job in jobs:
                if not job.done.is_set():
                    job.finish(False, "internal error: the request was not handled")
            if stop:
                return

    def _apply_all(self, jobs: list[Job]) -> bool | None:
        """Apply jobs in order; return None if nothing changed, else whether the clouds changed."""
        changed: bool | None = None
        start = 0
        while start < len(jobs):
            end = start + 1
            if jobs[start].kind == CLICK:
                while end < len(jobs) and jobs[end].kind == CLICK:
                    end += 1
            group = [job for job in jobs[start:end] if job.claim()]  # cancelled jobs are skipped
            try:
                result = None if not group else (
                    self._apply_clicks(group) if group[0].kind == CLICK else self._apply(group[0]))
            except Exception as error:  # the node never dies on a request
                self.log_error(f"internal error on '{jobs[start].kind}': {error}\n{traceback.format_exc()}")
                for job in group:
                    if not job.done.is_set():
                        job.finish(False, f"internal error: {error}")
                result = None
            if result is not None:
                changed = bool(changed) or result
            start = end
        return changed

    def _publish(self, clouds_changed: bool) -> None:
        """Publish through the node's callback; a failure is logged, never raised."""
        try:
            self.publish(self, clouds_changed)
        except Exception as error:
            self.log_error(f"publishing the segmentation failed: {error}\n{traceback.format_exc()}")

    # ------------------------------------------------------------------------- clicks
    def _ensure_session(self) -> str:
        """Freeze the latest cloud and open a session if needed; return an error message or ''."""
        if self.scan is None:
            cloud, rejected = self.latest_cloud()
            if cloud is None:
                return "no usable cloud received yet" + (f" (last cloud rejected: {rejected})" if rejected else "")
            try:
                self.scan = FrozenScan.freeze(cloud, self.output_directory)
            except ValueError as error:
                return f"cannot use the latest cloud: {error}"
        if self.session is None:
            try:
                self.session = self.segmenter.session(self.scan.xyz, self.scan.rgb)
            except ClickEnhanceError as error:
                self.scan = None
                return f"cannot segment the latest cloud: {error}"
            self.session.snap_distance = self.snap_distance
            if self.click_rules is not None:
                self.session.click_rules = self.click_rules
        return ""

    def _resolve_click(self, job: Job) -> tuple[int, bool]:
        """Snapped point index and polarity of a click job (ClickError when it cannot be applied)."""
        frame = self.scan.cloud.header.frame_id
        position = self.frames.to_cloud_frame(job.args["position"], job.args.get("frame_id", ""), frame)
        polarity = job.args.get("positive")
        return self.session.snap(position), self.positive_mode if polarity is None else bool(polarity)

    def _apply_clicks(self, jobs: list[Job]) -> bool | None:
        """Snap every click, then run one inference for all valid ones (the buffered batch).

        A scan frozen for this batch is released again when no click is applied (AddClick.srv:
        only an applied first click freezes the cloud), so the next click sees the latest cloud.
        """
        freezes = self.scan is None
        problem = self._ensure_session()
        if problem:
            for job in jobs:
                job.finish(False, problem)
            return None
        try:
            return self._segment_clicks(jobs)
        finally:
            if freezes and not self.session.clicks:
                self.scan, self.session = None, None

    def _segment_clicks(self, jobs: list[Job]) -> bool | None:
        """Resolve the clicks and run one inference for the valid ones; True if any was applied."""
        valid: list[tuple[Job, int, bool]] = []
        for job in jobs:
            try:
                valid.append((job, *self._resolve_click(job)))
            except ClickEnhanceError as error:
                job.finish(False, str(error))
        if not valid:
            return None
        if not self.session.clicks and not any(positive for _, _, positive in valid):
            for job, _, _ in valid:
                job.finish(False, "the first click of an object must be positive (switch to positive mode)")
            return None
        try:
            with self.segmenter_lock:
                mask = self.session.add_clicks([(index, positive) for _, index, positive in valid])
        except ClickEnhanceError as error:
            for job, _, _ in valid:
                job.finish(False, str(error))
            return None
        self.last_inference_ms = self.session.last_inference_ms
        self.batches += 1
        count = int(mask.sum())
        note = f" (applied together with {len(valid) - 1} buffered click(s))" if len(valid) > 1 else ""
        for job, index, positive in valid:
            job.finish(True, f"{'positive' if positive else 'negative'} click on point {index}: "
                       f"{count} points{note}", point_index=index, object_point_count=count,
                       inference_ms=self.last_inference_ms)
        return True

    # ---------------------------------------------------------------- other requests
    def _apply(self, job: Job) -> bool | None:
        """Apply one non-click request; return like `_apply_all`."""
        handler = {MODE: self._set_mode, UNDO: self._undo, RESET: self._reset, ACCEPT: self._accept,
                   SAVE: self._save, NEW_SCAN: self._new_scan, FOLLOW_TARGET: self._follow_target}.get(job.kind)
        if handler is None:
            job.finish(False, f"unknown request '{job.kind}'")
            return None
        return handler(job)

    def _set_mode(self, job: Job) -> bool:
        self.positive_mode = bool(job.args["positive"])
        job.finish(True, f"{'positive' if self.positive_mode else 'negative'} mode")
        return False

    def _undo(self, job: Job) -> bool | None:
        if self.session is None or not self.session.clicks:
            job.finish(False, "nothing to undo: the current object has no click")
            return None
        with self.segmenter_lock:  # undoing a click of a batch runs the segmenter
            mask = self.session.undo()
        job.finish(True, f"undone; {len(self.session.clicks)} click(s) left, {int(mask.sum())} points",
                   object_point_count=int(mask.sum()))
        return True

    def _reset(self, job: Job) -> bool | None:
        """Clear the current object's clicks; a scan without accepted objects is released too."""
        if self.scan is None:
            job.finish(True, "nothing to reset")
            return None
        if self.session is not None:
            self.session.reset()
        if not self.scan.annotation.objects:
            self.scan, self.session = None, None
            job.finish(True, "reset; the next click freezes the latest cloud")
        else:
            job.finish(True, f"reset the current object; {len(self.scan.annotation.objects)} accepted object(s) kept")
        return True

    def _accept(self, job: Job) -> bool | None:
        if self.session is None or not self.session.clicks:
            job.finish(False, "no object to accept: click on an object first")
            return None
        mask = self.session.mask
        try:
            accepted = self.scan.annotation.accept(mask, self.session.clicks, job.args.get("semantic_label", 0))
        except ValueError as error:
            job.finish(False, str(error))
            return None
        self.session.reset()  # the next object reuses the session's cached preprocessing
        count = int(self.scan.annotation.object_mask(accepted.object_id).sum())
        message = f"accepted object {accepted.object_id} ({count} points)"
        if self.autosave:
            try:
                message += f", saved to {self._write()}"
            except OSError as error:
                message += f"; autosave FAILED ({error}): call ~/save after fixing it"
        job.finish(True, message, object_id=accepted.object_id, point_count=count)
        return True

    def _write(self) -> Path:
        """Save the frozen scan's annotation into its folder of the output directory."""
        return self.scan.annotation.save(self.output_directory / self.scan.name)

    def _save(self, job: Job) -> None:
        if self.scan is None:
            job.finish(False, "nothing to save: no scan is frozen (click on an object first)")
            return None
        try:
            directory = self._write()
        except OSError as error:
            job.finish(False, f"cannot save to {self.output_directory / self.scan.name}: {error}")
            return None
        pending = f"; the current object ({len(self.clicks)} clicks) is not accepted, so not saved" \
            if self.clicks else ""
        job.finish(True, f"saved {len(self.scan.annotation.objects)} object(s) to {directory}{pending}",
                   directory=str(directory))
        return None

    def _new_scan(self, job: Job) -> bool | None:
        """Release the frozen scan (refused while accepted objects are unsaved)."""
        if self.scan is not None and not self.scan.annotation.saved:
            job.finish(False, f"{len(self.scan.annotation.objects)} accepted object(s) are not saved: "
                       "call ~/save first")
            return None
        self.scan, self.session = None, None
        job.finish(True, "released the frozen scan; the next click freezes the latest cloud")
        return True

    def _follow_target(self, job: Job) -> None:
        """The current object (clicked, not accepted) or else the last accepted one, for `~/follow`."""
        scan = self.scan
        if scan is not None and self.session is not None and self.session.clicks and self.session.mask.any():
            mask, clicks = self.session.mask, self.session.clicks
            what = f"the current object ({len(clicks)} click(s))"
        elif scan is not None and scan.annotation.objects:
            accepted = scan.annotation.objects[-1]
            mask, clicks = scan.annotation.object_mask(accepted.object_id), accepted.clicks
            what = f"accepted object {accepted.object_id}"
        else:
            job.finish(False, "no object to follow: click on an object (or accept one) first")
            return None
        if not mask.any():
            job.finish(False, f"no object to follow: {what} has no point left")
            return None
        negative = np.array([c.position for c in clicks if not c.positive], dtype=np.float64).reshape(-1, 3)
        target = FollowTarget(scan.xyz[mask].astype(np.float64), negative, scan.cloud.header, what)
        job.finish(True, f"following {what}: {int(mask.sum())} points", target=target)
        return None
