"""The page's drawing, in-process (no browser): points are sent once per frame, a click only recolours."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from cloud_factories import ground_and_box

from clickenhance_model import load_segmenter
from clickenhance_model.annotate.frame_annotator import FrameAnnotator
from clickenhance_model.annotate.page import MASK_COLOUR, AnnotationPage, object_colour
from clickenhance_model.annotate.scan_sources import open_sources


@pytest.fixture
def page(tmp_path: Path) -> Iterator[AnnotationPage]:
    xyz, _ = ground_and_box()
    for name in ("a", "b"):
        np.save(tmp_path / f"{name}.npy", xyz)
    annotator = FrameAnnotator(open_sources([tmp_path / "a.npy", tmp_path / "b.npy"]), load_segmenter("baseline"),
                               tmp_path / "out")
    served = AnnotationPage(annotator, port=0)
    yield served
    served.stop()


def test_the_page_binds_loopback_by_default(page: AnnotationPage) -> None:
    assert page.url.startswith("http://127.0.0.1:")


def test_a_click_recolours_the_same_cloud_and_a_new_frame_sends_new_points(page: AnnotationPage) -> None:
    _, box = ground_and_box()
    cloud = page._cloud
    page._run(lambda: str(page.backend.click(int(np.flatnonzero(box)[0]), True).sum()))
    assert page._cloud is cloud  # the points were not sent again
    assert (cloud.colors[box] == MASK_COLOUR).all() and not (cloud.colors[~box] == MASK_COLOUR).all(axis=1).any()
    page._run(page._accept)
    assert (page._cloud.colors[box] == object_colour(1)).all()
    page._run(lambda: page._step(1))
    assert page._cloud is not cloud and "b" in page.frame_text.content


def test_a_refused_action_is_shown_and_changes_nothing(page: AnnotationPage) -> None:
    page._run(page._undo)
    assert page.message.content.startswith("**Refused:** nothing to undo")
    page._run(lambda: page._step(-1))
    assert "no frame -1" in page.message.content and page.backend.index == 0
