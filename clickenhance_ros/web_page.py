"""The browser annotation page attached to the node's live session (parameter `web_port`).

`LiveBackend` presents the node's `AnnotationWorker` as a backend of
`clickenhance_model.annotate.page.AnnotationPage`: the page's clicks, Undo, Reset, Accept,
Save and modes are queued on the same worker as RViz's requests, and the page is redrawn
from the node's publish callback, so the browser and RViz show the same state. Before a scan
is frozen the page shows the latest cloud; Next releases a saved scan (like ~/new_scan) and
shows the latest cloud again. Previous has no meaning live and is refused.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from clickenhance_model.annotate.scan_sources import Frame
from clickenhance_model.errors import ClickEnhanceError
from clickenhance_ros.annotation_worker import ACCEPT, CLICK, MODE, NEW_SCAN, RESET, SAVE, UNDO, AnnotationWorker
from clickenhance_ros.cloud_conversion import points_xyz, read_points


@dataclass(frozen=True)
class LiveView:
    """One consistent picture of the worker's state, taken in the worker thread."""

    frame: Frame | None
    mask: np.ndarray
    clicks: tuple
    labels: np.ndarray
    last_inference_ms: float


class LiveBackend:
    """The node's worker as a page backend (see the module doc)."""

    def __init__(self, worker: AnnotationWorker, latest_cloud: Any, timeout: float):
        self.worker = worker
        self.latest_cloud = latest_cloud  # () -> (PointCloud2 | None, rejection)
        self.timeout = timeout
        self._view_lock = threading.Lock()
        self._cloud_frame: tuple[Any, Frame] | None = None  # (cloud, its Frame) shown before a freeze
        self._view = LiveView(None, np.zeros(0, bool), (), np.zeros(0, np.uint32), 0.0)
        self.capture()

    # --------------------------------------------------------------- what the page reads
    def capture(self) -> None:
        """Take a new view of the worker (call in the worker thread, or when it is idle)."""
        scan = self.worker.scan
        if scan is not None:
            stamp = scan.cloud.header.stamp
            frame = Frame(scan.name, scan.xyz, scan.annotation.intensity, scan.cloud.header.frame_id,
                          stamp.sec * 10**9 + stamp.nanosec)
            if self._view.frame is not None and self._view.frame.name == frame.name:
                frame = self._view.frame  # same scan: the page sends only colours
            view = LiveView(frame, self.worker.mask, self.worker.clicks, scan.annotation.labels.copy(),
                            self.worker.last_inference_ms)
        else:
            frame = self._latest_frame()
            n = 0 if frame is None else len(frame.xyz)
            view = LiveView(frame, np.zeros(n, bool), (), np.zeros(n, np.uint32), self.worker.last_inference_ms)
        with self._view_lock:
            self._view = view

    def _latest_frame(self) -> Frame | None:
        """The latest cloud as a frame (converted once per cloud)."""
        cloud, _ = self.latest_cloud()
        if cloud is None:
            return None
        if self._cloud_frame is None or self._cloud_frame[0] is not cloud:
            stamp = cloud.header.stamp
            name = f"live {stamp.sec}.{stamp.nanosec:09d}"
            self._cloud_frame = (cloud, Frame(name, points_xyz(read_points(cloud)), None, cloud.header.frame_id))
        return self._cloud_frame[1]

    @property
    def frame(self) -> Frame | None:
        """The scan the page shows (before a freeze: the latest cloud, taken now)."""
        if self.worker.scan is None:
            self.capture()
        return self._view.frame

    @property
    def mask(self) -> np.ndarray:
        return self._view.mask

    @property
    def clicks(self) -> tuple:
        return self._view.clicks

    @property
    def last_inference_ms(self) -> float:
        return self._view.last_inference_ms

    def labels_accepted(self) -> np.ndarray:
        """Labels of the accepted objects of the frozen scan."""
        return self._view.labels

    @property
    def positive_mode(self) -> bool:
        return self.worker.positive_mode

    @positive_mode.setter
    def positive_mode(self, positive: bool) -> None:
        self._request(MODE, positive=bool(positive))

    # --------------------------------------------------------------- what the page does
    def _request(self, kind: str, **args: Any) -> str:
        """Queue a request on the worker and wait for it; ClickEnhanceError with its message on failure."""
        result = self.worker.submit(kind, **args).wait(self.timeout)
        if not result.success:
            raise ClickEnhanceError(result.message)
        return result.message

    def click(self, point_index: int, positive: bool) -> None:
        """A click on a point of the shown scan, sent by position in its frame (snapped by the worker)."""
        frame = self.frame
        self._request(CLICK, position=[float(v) for v in frame.xyz[point_index]], frame_id=frame.frame_id,
                      positive=bool(positive))

    def undo(self) -> None:
        self._request(UNDO)

    def reset(self) -> None:
        self._request(RESET)

    def accept(self) -> str:
        return self._request(ACCEPT)

    def save(self) -> str:
        return self._request(SAVE)

    def step(self, delta: int) -> None:
        """Next: release the frozen scan and show the latest cloud; Previous is refused."""
        if delta < 0:
            raise ClickEnhanceError("the live page has no previous frame (recorded data: clickenhance-annotate)")
        self._request(NEW_SCAN)
        self.capture()


def attach_web_page(worker: AnnotationWorker, latest_cloud: Any, host: str, port: int, timeout: float) -> Any:
    """Serve the annotation page for `worker` on host:port; return the page.

    After each publish of the worker, call `backend.capture()` (in the worker thread) and
    `request_refresh()` on the page."""
    from clickenhance_model.annotate.page import AnnotationPage

    return AnnotationPage(LiveBackend(worker, latest_cloud, timeout), host, port)
