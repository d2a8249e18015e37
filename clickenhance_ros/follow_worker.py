"""The node's follow thread: segments the followed object in the newest cloud, never in a backlog.

Clouds are offered as they arrive; the thread holds at most one waiting cloud, and a newer
cloud replaces a waiting one (counted as skipped), so the work never lags the sensor by more
than one inference. The segmenter lock is shared with the annotation worker (a `FairLock`),
so a click waits at most for the follow inference that is running.
"""

from __future__ import annotations

import collections
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sensor_msgs.msg import PointCloud2

from clickenhance_model.errors import ClickEnhanceError
from clickenhance_model.object_following import FollowConfig, FollowResult, ObjectFollower
from clickenhance_ros.annotation_worker import FollowTarget
from clickenhance_ros.cloud_conversion import points_rgb, points_xyz, read_points

RATE_WINDOW = 10  # clouds over which the achieved rate is measured


def stamp_seconds(header: Any) -> float:
    """A std_msgs/Header's stamp in seconds."""
    return header.stamp.sec + header.stamp.nanosec * 1e-9


@dataclass(frozen=True)
class FollowedCloud:
    """What the follow thread hands to the node for one processed cloud."""

    cloud: PointCloud2
    result: FollowResult | None  # None when the cloud could not be used (see `error`)
    error: str
    latency_ms: float  # arrival to end of processing


class FollowWorker:
    """Follows one object through the clouds offered to it (see the module doc).

    Args:
        segmenter, segmenter_lock: the node's segmenter and the lock every inference holds.
        config: the follower's settings.
        publish: called in the thread with each `FollowedCloud`.
        transform: (previous header, new header) -> 4x4 matrix between the clouds' frames, or None
            (no odometry frame configured, or tf2 not available).
        log_error: logs one line.
    """

    def __init__(self, segmenter: Any, segmenter_lock: Any, config: FollowConfig,
                 publish: Callable[[FollowedCloud], None],
                 transform: Callable[[Any, Any], np.ndarray | None], log_error: Callable[[str], None]):
        self.segmenter, self.segmenter_lock, self.config = segmenter, segmenter_lock, config
        self.publish, self.transform, self.log_error = publish, transform, log_error
        self._condition = threading.Condition()
        self._waiting: tuple[PointCloud2, float] | None = None
        self._follower: ObjectFollower | None = None
        self._reference_header: Any = None
        self._generation = 0  # bumped by start/stop so a result of an older follow is dropped
        self._stopping = False
        self.target_description = ""
        self.processed = self.skipped = self.lost = 0
        self.last: FollowedCloud | None = None
        self._finish_times: collections.deque[float] = collections.deque(maxlen=RATE_WINDOW)
        self._thread = threading.Thread(target=self._run, name="clickenhance-follow", daemon=True)

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the thread after the cloud it is processing."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        self._thread.join(timeout)

    @property
    def following(self) -> bool:
        """True between `follow` and `stop_following`."""
        return self._follower is not None

    def follow(self, target: FollowTarget) -> None:
        """Follow `target` in every cloud offered from now on (ValueError when it cannot be followed)."""
        follower = ObjectFollower(self.segmenter, target.object_xyz, stamp_seconds(target.header),
                                  target.negative_xyz, self.config)
        with self._condition:
            self._follower, self._reference_header = follower, target.header
            self._waiting, self._generation = None, self._generation + 1
            self.target_description = target.description
            self.processed = self.skipped = self.lost = 0
            self.last = None
            self._finish_times.clear()

    def stop_following(self) -> bool:
        """Stop following; False when nothing was followed."""
        with self._condition:
            was = self._follower is not None
            self._follower, self._waiting, self._generation = None, None, self._generation + 1
            return was

    def offer(self, cloud: PointCloud2) -> None:
        """A new cloud: it replaces a cloud still waiting (stale, counted as skipped)."""
        with self._condition:
            if self._follower is None:
                return
            if self._waiting is not None:
                self.skipped += 1
            self._waiting = (cloud, time.monotonic())
            self._condition.notify_all()

    def rate_hz(self) -> float:
        """Clouds processed per second over the last `RATE_WINDOW` (0 before two)."""
        times = list(self._finish_times)
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0

    # ------------------------------------------------------------------ the loop
    def _run(self) -> None:
        while True:
            with self._condition:
                while self._waiting is None and not self._stopping:
                    self._condition.wait()
                if self._stopping:
                    return
                (cloud, arrival), self._waiting = self._waiting, None
                follower, previous, generation = self._follower, self._reference_header, self._generation
            try:
                followed = self._process(follower, previous, cloud, arrival)
            except Exception as error:  # the node never dies on input
                self.log_error(f"following failed on a cloud: {error}\n{traceback.format_exc()}")
                followed = FollowedCloud(cloud, None, f"internal error: {error}", 0.0)
            with self._condition:
                if generation != self._generation:  # stopped or restarted meanwhile: drop it
                    continue
                self.processed += 1
                self.lost += followed.result is None or followed.result.lost
                if followed.result is not None and not followed.result.lost:
                    self._reference_header = cloud.header
                self._finish_times.append(time.monotonic())
                self.last = followed
            try:
                self.publish(followed)
            except Exception as error:
                self.log_error(f"publishing the followed object failed: {error}\n{traceback.format_exc()}")

    def _process(self, follower: ObjectFollower, previous: Any, cloud: PointCloud2, arrival: float) -> FollowedCloud:
        """Convert the cloud, carry the object into it, and time it; bad clouds give an error, not a raise."""
        try:
            points = read_points(cloud)
            xyz, rgb = points_xyz(points), points_rgb(points)
            result = follower.follow(xyz, rgb, stamp_seconds(cloud.header), self.transform(previous, cloud.header),
                                     self.segmenter_lock)
        except (ValueError, ClickEnhanceError) as error:
            return FollowedCloud(cloud, None, f"cannot follow in this cloud: {error}",
                                 (time.monotonic() - arrival) * 1e3)
        return FollowedCloud(cloud, result, "", (time.monotonic() - arrival) * 1e3)
