"""Offline annotation of a list of frames: one click session at a time, labels saved per frame.

`FrameAnnotator` is what the browser page drives for recorded data. It walks the frames
(`step`), runs the clicks of the object in progress through a segmenter session, keeps
each visited frame's accepted objects in memory, and `save` writes the current frame:

- `OUT/<frame>.label`: SemanticKITTI uint32 per point, `object_id << 16 | semantic`, for the
  accepted objects and the one in progress (written to a hidden file, flushed, renamed);
- `OUT/<frame>/`: the node's annotation folder (`Annotation.save`: scan, labels, one PLY per
  object, clicks.json), in which the object in progress is saved as the next object.

Opening a frame whose folder exists restores its objects, so a session resumes where the
last save left it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from clickenhance_model.annotate.scan_sources import Frame, FrameSource
from clickenhance_model.annotation import Annotation
from clickenhance_model.errors import ClickError, DatasetError


class FrameAnnotator:
    """Annotation state of the current frame (see the module doc).

    Args:
        sources: the frames, in order (`scan_sources.open_sources`).
        segmenter: object with `.session(xyz)` (the model or the baseline).
        output_directory: where labels and annotation folders are written and restored from.
    """

    def __init__(self, sources: Sequence[FrameSource], segmenter: Any, output_directory: str | Path):
        if not sources:
            raise ValueError("no frame to annotate")
        self.sources = list(sources)
        self.segmenter = segmenter
        self.output_directory = Path(output_directory)
        self.positive_mode = True
        self.index = -1
        self.frame: Frame | None = None
        self.annotation: Annotation | None = None
        self.session = None
        self._annotations: dict[str, Annotation] = {}  # accepted objects of every visited frame
        self.open(0)

    # ------------------------------------------------------------------ state
    @property
    def clicks(self) -> tuple:
        """Clicks of the object in progress."""
        return self.session.clicks if self.session is not None else ()

    @property
    def mask(self) -> np.ndarray:
        """Bool (N,) mask of the object in progress."""
        return self.session.mask if self.session is not None else np.zeros(len(self.frame.xyz), dtype=bool)

    @property
    def last_inference_ms(self) -> float:
        """The segmenter's time for the latest click."""
        return self.session.last_inference_ms if self.session is not None else 0.0

    def labels_accepted(self) -> np.ndarray:
        """SemanticKITTI labels of the accepted objects only (what the page colours by object)."""
        return self.annotation.labels

    def frame_position(self) -> str:
        """'(i / n)' of the current frame, for the page."""
        return f"({self.index + 1} / {len(self.sources)})"

    def labels(self) -> np.ndarray:
        """SemanticKITTI labels of the frame: accepted objects and the object in progress."""
        return self._snapshot().labels

    # ------------------------------------------------------------------ frames
    def open(self, index: int) -> None:
        """Show frame `index`, restoring its saved objects; refused while an object is in progress."""
        if not 0 <= index < len(self.sources):
            raise ClickError(f"no frame {index}: there are {len(self.sources)}")
        if self.clicks:
            raise ClickError("the current object has clicks: Accept or Reset it before changing frames")
        source = self.sources[index]
        frame = source.load()
        annotation = self._annotations.get(source.name) or self._restore(frame)
        self._annotations[source.name] = annotation
        self.index, self.frame, self.annotation, self.session = index, frame, annotation, None

    def step(self, delta: int) -> None:
        """Go `delta` frames forward (negative: back)."""
        self.open(self.index + delta)

    def _restore(self, frame: Frame) -> Annotation:
        """The saved annotation of `frame` from the output directory, else a new one."""
        folder = self.output_directory / frame.name
        if not (folder / "clicks.json").is_file():
            return Annotation(frame.xyz, frame.intensity, frame.frame_id, frame.stamp_ns)
        saved = Annotation.load(folder)
        if saved.num_points != len(frame.xyz):
            raise DatasetError(f"{folder}: saved for {saved.num_points} points, but frame {frame.name} has "
                               f"{len(frame.xyz)}: another scan has this name")
        return saved

    # ------------------------------------------------------------------ clicks
    def click(self, point_index: int, positive: bool | None = None) -> np.ndarray:
        """Add a click on a point (polarity from the current mode unless given); return the mask."""
        if self.session is None:
            self.session = self.segmenter.session(self.frame.xyz)
        polarity = self.positive_mode if positive is None else bool(positive)
        return self.session.add_click(int(point_index), polarity)

    def undo(self) -> None:
        """Remove the last click of the object in progress."""
        if self.session is None:
            raise ClickError("nothing to undo: the current object has no click")
        self.session.undo()

    def reset(self) -> None:
        """Drop every click of the object in progress."""
        if self.session is not None:
            self.session.reset()

    def accept(self, semantic_label: int = 0) -> int:
        """Accept the object in progress as a new object; return its id."""
        if not self.clicks:
            raise ClickError("no object to accept: click on an object first")
        try:
            accepted = self.annotation.accept(self.mask, self.clicks, semantic_label)
        except ValueError as error:
            raise ClickError(str(error)) from error
        self.session.reset()
        return accepted.object_id

    # ------------------------------------------------------------------ files
    def save(self) -> Path:
        """Write the frame's .label and annotation folder (see the module doc); return the .label path."""
        snapshot = self._snapshot()
        self.output_directory.mkdir(parents=True, exist_ok=True)
        snapshot.save(self.output_directory / self.frame.name)
        label_path = self.output_directory / f"{self.frame.name}.label"
        write_atomically(label_path, snapshot.labels.astype("<u4").tobytes())
        self.annotation.saved = not self.clicks
        return label_path

    def _snapshot(self) -> Annotation:
        """A copy of the frame's annotation with the object in progress accepted as the next object."""
        copy = Annotation(self.annotation.xyz, self.annotation.intensity, self.annotation.frame_id,
                          self.annotation.stamp_ns)
        copy.labels = self.annotation.labels.copy()
        copy.objects = list(self.annotation.objects)
        if self.clicks and self.mask.any():
            copy.accept(self.mask, self.clicks)
        return copy


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: a hidden sibling is written and flushed, then renamed over it."""
    staging = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(staging, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise

