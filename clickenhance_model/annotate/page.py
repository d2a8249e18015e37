"""The annotation page in the browser, served by viser: the scan in 3D, click markers, controls.

`AnnotationPage` draws what a backend holds and turns the page's events into backend calls.
The backend is a `FrameAnnotator` (recorded data) or the node's live adapter; it offers
`frame` (name, xyz, intensity), `mask`, `clicks`, `labels_accepted()`, `positive_mode`,
`last_inference_ms`, and the actions `click`, `undo`, `reset`, `accept`, `save`, `step`.
Points are sent once per frame; a click sends only the new colours and markers.
"""

from __future__ import annotations

import colorsys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from clickenhance_model.annotate.ray_picking import pick_point, pixel_tolerance
from clickenhance_model.errors import ClickEnhanceError

MASK_COLOUR = np.array([255, 64, 32], dtype=np.uint8)
CONTROLS = ("Positive", "Negative", "Undo", "Reset", "Accept", "Save", "Previous", "Next")


def object_colour(object_id: int) -> np.ndarray:
    """A distinct, stable colour per object id (golden-ratio hues)."""
    hue = (object_id * 0.618033988749895) % 1.0
    return np.array([round(255 * c) for c in colorsys.hsv_to_rgb(hue, 0.65, 0.95)], dtype=np.uint8)


def base_colours(xyz: np.ndarray, intensity: np.ndarray | None, by: str,
                 labels: np.ndarray | None = None) -> np.ndarray:
    """Uint8 (N, 3) colours: dark-to-light blue by height or intensity (2nd..98th percentile), or
    one colour per semantic class of existing SemanticKITTI `labels` (a .label beside the scan)."""
    if by == "labels" and labels is not None:
        semantic = (labels & 0xFFFF).astype(np.int64)
        classes, inverse = np.unique(semantic, return_inverse=True)
        palette = np.array([object_colour(int(c) + 7) if c else (170, 170, 170) for c in classes], np.uint8)
        return palette[inverse.reshape(-1)]
    values = intensity if by == "intensity" and intensity is not None else xyz[:, 2]
    finite = np.isfinite(values)
    low, high = np.percentile(values[finite], [2, 98]) if finite.any() else (0.0, 1.0)
    t = np.clip((np.nan_to_num(values) - low) / max(high - low, 1e-6), 0.0, 1.0)[:, None]  # [N, 1]
    dark, light = np.array([40, 60, 110]), np.array([200, 220, 235])
    return (dark + t * (light - dark)).astype(np.uint8)


def click_tolerance(client: Any) -> float:
    """Angular pick tolerance for `client`'s camera (a typical camera until the browser reported one)."""
    try:
        camera = client.camera
        return pixel_tolerance(float(camera.fov), int(camera.image_height))
    except (AssertionError, ValueError, TypeError):  # viser asserts until the first camera message
        return pixel_tolerance(np.radians(50.0), 600)


class AnnotationPage:
    """A viser server showing one backend (see the module doc).

    Args:
        backend: the annotation state the page shows and changes.
        host, port: where to serve (port 0: any free port); loopback unless the caller says otherwise.
        point_size: drawn size of a point in metres.
        lock: held around every backend call (the page's events arrive on several threads).
    """

    def __init__(self, backend: Any, host: str = "127.0.0.1", port: int = 8080, point_size: float = 0.05,
                 lock: threading.Lock | None = None, camera: tuple | None = None):
        import viser

        self.backend = backend
        self.lock = lock or threading.Lock()
        self.point_size = point_size
        self.server = viser.ViserServer(host=host, port=port, label="ClickEnhance", verbose=False)
        self.server.scene.set_up_direction("+z")
        self._camera = camera
        self._cloud = None
        self._markers: list = []
        self._colour_by = "height"
        self._base: np.ndarray | None = None
        self._shown_frame = None
        self._build_controls()
        self.server.scene.on_click()(self._on_scene_click)
        self.server.scene.on_click(modifier="shift")(lambda event: self._on_scene_click(event, flip=True))
        with self.lock:
            self.refresh()
        self._dirty = threading.Event()
        self._stopping = False
        threading.Thread(target=self._redraw_loop, name="annotation-page-redraw", daemon=True).start()
        self.server.on_client_connect(lambda _: self.request_refresh())  # a live page shows the latest cloud

    @property
    def url(self) -> str:
        """Address of the page."""
        return f"http://{self.server.get_host()}:{self.server.get_port()}/"

    def stop(self) -> None:
        """Stop serving."""
        self._stopping = True
        self._dirty.set()
        self.server.stop()

    def request_refresh(self) -> None:
        """Redraw soon, from the page's own thread: for callers that must not wait for the page's lock
        (the node's worker: a page action holds the lock while it waits for that worker)."""
        self._dirty.set()

    def _redraw_loop(self) -> None:
        while True:
            self._dirty.wait()
            self._dirty.clear()
            if self._stopping:
                return
            with self.lock:
                self.refresh()

    # ------------------------------------------------------------------ controls
    def _build_controls(self) -> None:
        gui = self.server.gui
        self.frame_text = gui.add_markdown("")
        self.status = gui.add_markdown("")
        self.message = gui.add_markdown("")
        colour = gui.add_dropdown("Colour by", ("height", "intensity", "labels"), initial_value="height")
        colour.on_update(lambda _: self._set_colouring(colour.value))
        actions: dict[str, Callable[[], str]] = {
            "Positive": lambda: self._set_mode(True), "Negative": lambda: self._set_mode(False),
            "Undo": self._undo, "Reset": self._reset, "Accept": self._accept, "Save": self._save,
            "Previous": lambda: self._step(-1), "Next": lambda: self._step(1)}
        for label in CONTROLS:
            button = gui.add_button(label)
            button.on_click(lambda _, action=actions[label]: self._run(action))

    def _run(self, action: Callable[[], str]) -> None:
        """Apply one page action under the lock; a refused one shows its reason and changes nothing."""
        with self.lock:
            try:
                text = action()
            except (ClickEnhanceError, ValueError, OSError) as error:
                text = f"**Refused:** {error}"
            except Exception as error:  # the page stays up whatever a backend raises
                text = f"**Internal error:** {type(error).__name__}: {error}"
            self.message.content = text
            self.refresh()

    def _set_mode(self, positive: bool) -> str:
        self.backend.positive_mode = positive
        return f"next click: {'positive' if positive else 'negative'}"

    def _undo(self) -> str:
        self.backend.undo()
        return "undone"

    def _reset(self) -> str:
        self.backend.reset()
        return "reset"

    def _accept(self) -> str:
        return f"accepted object {self.backend.accept()}"

    def _save(self) -> str:
        return f"saved {self.backend.save()}"

    def _step(self, delta: int) -> str:
        self.backend.step(delta)
        return f"frame {self.backend.frame.name}"

    def _set_colouring(self, by: str) -> None:
        with self.lock:
            self._colour_by, self._shown_frame = by, None
            self.refresh()

    # ------------------------------------------------------------------ clicks
    def _on_scene_click(self, event: Any, flip: bool = False) -> None:
        """Turn a click ray into a click on the nearest scan point (shift: the other polarity)."""
        tolerance = click_tolerance(event.client)
        start = time.perf_counter()

        def click() -> str:
            if self.backend.frame is None:
                return "no cloud to click on yet"
            index = pick_point(self.backend.frame.xyz, event.ray_origin, event.ray_direction, tolerance)
            if index is None:
                return "no scan point under the cursor"
            positive = self.backend.positive_mode != flip
            self.backend.click(index, positive)
            return f"{'positive' if positive else 'negative'} click on point {index}"

        self._run(click)
        self.message.content += f" ({(time.perf_counter() - start) * 1e3:.0f} ms to repaint sent)"

    # ------------------------------------------------------------------ drawing
    def refresh(self) -> None:
        """Redraw: the points when the frame changed, else only colours, markers and texts (lock held)."""
        frame = self.backend.frame
        if frame is None:
            return
        if self._shown_frame is not frame:
            self._base = base_colours(frame.xyz, frame.intensity, self._colour_by, frame.labels)
            finite = np.where(np.isfinite(frame.xyz), frame.xyz, 0.0).astype(np.float32)
            self._cloud = self.server.scene.add_point_cloud(
                "/scan", finite, self._colours(), point_size=self.point_size, precision="float32",
                point_shading="flat")
            self._shown_frame = frame
            self._frame_camera(frame.xyz)
        else:
            self._cloud.colors = self._colours()
        self._draw_markers()
        mask = self.backend.mask
        position = getattr(self.backend, "frame_position", lambda: "")()
        self.frame_text.content = f"**Frame** {frame.name} {position}"
        self.status.content = (f"**Mask:** {int(mask.sum())} points · segmenter "
                               f"{self.backend.last_inference_ms:.0f} ms · "
                               f"{'positive' if self.backend.positive_mode else 'negative'} mode")

    def _colours(self) -> np.ndarray:
        """Per-point colours: base, accepted objects in their colours, the mask on top."""
        colours = self._base.copy()
        labels = self.backend.labels_accepted()
        objects = labels >> 16
        for object_id in np.unique(objects[objects > 0]):
            colours[objects == object_id] = object_colour(int(object_id))
        colours[self.backend.mask] = MASK_COLOUR
        return colours

    def _draw_markers(self) -> None:
        """Numbered + / - labels at the clicks of the object in progress."""
        for handle in self._markers:
            handle.remove()
        self._markers = [
            self.server.scene.add_label(f"/clicks/{number}", f"{'+' if c.positive else '-'}{number}",
                                        position=np.asarray(c.position, dtype=np.float32), anchor="bottom-center")
            for number, c in enumerate(self.backend.clicks, start=1)]

    def _frame_camera(self, xyz: np.ndarray) -> None:
        """Aim the initial camera at the scan (or at the `camera` given: position, look-at)."""
        if self._camera is not None:
            position, look_at = self._camera
        else:
            finite = xyz[np.isfinite(xyz).all(axis=1)]
            look_at = np.median(finite, axis=0) if len(finite) else np.zeros(3)
            extent = float(np.percentile(np.linalg.norm(finite - look_at, axis=1), 90)) if len(finite) else 10.0
            position = look_at + np.array([-0.8, -0.8, 0.9]) * max(extent, 1.0)
        self.server.initial_camera.position = tuple(float(v) for v in position)
        self.server.initial_camera.look_at = tuple(float(v) for v in look_at)
        self.server.initial_camera.up = (0.0, 0.0, 1.0)
