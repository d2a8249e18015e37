"""bench/refiner_collapse_sources.py: a refined model's wrong points after a click, split by whether the geodesic
prior moved them, on a real refined fusion network (tiny, random weights) and a real evaluation run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import torch
from test_point_refiner import FLIPS, MEMORY, answer_by_last_column
from test_prior_fusion import fusion_segmenter, room

from clickenhance_model.evaluate import main as evaluate
from clickenhance_model.evaluation.metrics import click_collapses
from clickenhance_model.evaluation.protocol import ObjectResult

_SCRIPT = Path(__file__).parents[1] / "bench" / "refiner_collapse_sources.py"
_SPEC = importlib.util.spec_from_file_location("refiner_collapse_sources", _SCRIPT)
sources = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(sources)


def bin_clicks(points: np.ndarray, on_bin: np.ndarray) -> list[tuple[int, bool]]:
    """A positive click high on the bin, then a negative one on its far side (it takes half the bin)."""
    bin_points = np.flatnonzero(on_bin)
    top = bin_points[np.argmax(points[bin_points, 2] - points[bin_points, 0])]
    far = bin_points[np.argmin(np.abs(points[bin_points] - [1.76, 1.0, 0.3]).sum(axis=1))]
    return [(int(top), True), (int(far), False)]


def test_an_unfitted_refiner_loses_only_what_the_prior_moved() -> None:
    """Without a fitted refiner (and without the click rules) the model is its prior, so every bin point the negative
    click lost is one the prior moved out: none is held or outside, and nothing is gained."""
    points, on_bin = room()
    session = fusion_segmenter(0.5, FLIPS, domain="indoor").session(points)
    session.click_rules = None
    clicks = bin_clicks(points, on_bin)
    split = sources.collapse_sources(session, on_bin, clicks, 1)
    region = session.prior
    before = region.of_points(np.array([clicks[0][0]]), np.array([], dtype=np.int64))
    after = region.of_points(np.array([clicks[0][0]]), np.array([clicks[1][0]]))
    assert split.lost_moved == int((on_bin & before & ~after).sum()) > 500
    assert split.lost_held == split.lost_outside == 0
    assert split.gained_moved == split.gained_held == split.gained_outside == 0


def test_a_refiner_that_changes_its_answer_is_counted_as_held() -> None:
    """A refiner that answers "out" everywhere in its band: after the negative click its band follows the region's new
    edge across the bin, so bin points the prior still holds, in before, are out now (held); those the prior moved out
    are lost as moved; nothing is gained, and the split adds up to the points the click got wrong."""
    points, on_bin = room()
    segmenter = fusion_segmenter(0.5, FLIPS, domain="indoor")
    with torch.no_grad():  # a correction of -50 at every band point
        last = segmenter.model.point_refiner.layers[-1]
        last.weight.zero_()
        last.bias.fill_(-50.0)
    session = segmenter.session(points)
    session.click_rules = None
    clicks = bin_clicks(points, on_bin)
    split = sources.collapse_sources(session, on_bin, clicks, 1)
    session.reset()
    before = session.add_clicks(clicks[:1])
    after = session.add_click(*clicks[1])
    assert split.lost_moved + split.lost_held + split.lost_outside == int((on_bin & before & ~after).sum())
    assert split.gained_moved + split.gained_held + split.gained_outside == int((~on_bin & ~before & after).sum())
    assert split.lost_held > 0 and split.lost_moved > 0 and split.lost_outside == 0
    assert split.gained_moved == split.gained_held == split.gained_outside == 0  # "out" adds nothing
    text = sources.report([(ObjectResult("room", 1, 0, "bin", int(on_bin.sum()), [0.9, 0.4], clicks),
                            {"click": 2, "positive": False, "drop": 0.5}, split)])  # fmt: skip
    assert f"{split.lost_moved}/{split.lost_held}/{split.lost_outside}" in text
    assert "after negative clicks (1 collapses)" in text and "after positive clicks" not in text


def test_a_refiner_with_memory_is_replayed_click_by_click() -> None:
    """A refiner with memory that keeps its previous answer in its band answers the negative click's state
    differently after the first click than in one batch; the replay before the third click takes the answers the
    user saw, click by click, so its split adds up to what that click changed in them."""
    points, on_bin = room()
    segmenter = answer_by_last_column(fusion_segmenter(0.5, MEMORY, domain="indoor"))
    bin_points = np.flatnonzero(on_bin)
    clicks = [*bin_clicks(points, on_bin), (int(bin_points[len(bin_points) // 2]), True)]
    session = segmenter.session(points)
    session.click_rules = None
    half = np.zeros(len(points), dtype=bool)  # the truth: the half of the bin the negative click leaves in the prior
    half[session.valid_indices] = session.prior.of_points(np.array([clicks[0][0]]), np.array([clicks[1][0]]))
    split = sources.collapse_sources(session, half, clicks, 2)
    session.reset()
    masks = [session.add_click(index, positive) for index, positive in clicks]
    before, after = masks[1], masks[2]
    assert split.lost_moved + split.lost_held + split.lost_outside == int((half & before & ~after).sum())
    assert split.gained_moved + split.gained_held + split.gained_outside == int((~half & ~before & after).sum())
    session.reset()
    batch = session.add_clicks(clicks[:2])  # a batch replay would start from another answer, and count other points
    assert int((half & batch & ~after).sum()) + int((~half & ~batch & after).sum()) != sum(split)


def test_every_collapse_of_a_model_run_is_replayed(tmp_path: Path) -> None:
    """An evaluation run over the room, through the evaluation CLI, of the prior with a refiner that says "in" to its
    whole band within 2 m of a negative click (+60 per metre nearer than 2 m; nothing before the first negative
    click): a negative click then floods the mask with the floor and the other box. One row per collapse the run
    logged, and the negative ones alone with `--negative-only`."""
    points, on_bin = room()
    segmenter = fusion_segmenter(0.0, FLIPS, domain="indoor")
    first, second, last = (segmenter.model.point_refiner.layers[i] for i in (0, 2, 4))
    with torch.no_grad():  # relu(2 - distance to the nearest negative click) * 60
        for layer in (first, second, last):
            layer.weight.zero_()
            layer.bias.zero_()
        first.weight[0, 16], first.bias[0] = -1.0, 2.0
        second.weight[0, 0] = 1.0
        last.weight[0, 0] = 60.0
    segmenter.save(tmp_path / "refined.pt", {"inference_options": {"ground_gate": False}})
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    np.save(scenes / "room.xyz.npy", points.astype(np.float32))
    np.save(scenes / "room.instance.npy", np.where(on_bin, 1, np.where(points[:, 2] > 0.01, 2, 0)))
    out = tmp_path / "run"
    assert evaluate(["--method", "model", "--checkpoint", str(tmp_path / "refined.pt"), "--dataset", "npy", "--root",
                     str(scenes), "--domain", "indoor", "--min-points", "100", "--max-clicks", "8", "--seed", "0",
                     "--views", "1", "--out", str(out)]) == 0  # fmt: skip
    logged = [ObjectResult.from_dict(json.loads(line)["object"]) for line in (out / "objects.jsonl").open()
              if "object" in json.loads(line)]  # fmt: skip
    collapses = [(o.instance_id, c["click"]) for o in logged for c in click_collapses(o.ious, o.clicks)]
    events = sources.replay_run(out, False, None)
    assert [(row.instance_id, collapse["click"]) for row, collapse, _ in events] == collapses
    assert collapses, "the room's objects should collapse under a refiner that answers at random"
    assert all(split.gained_held + split.gained_outside > 0 for *_, split in events)  # the refiner's flood
    assert sources.replay_run(out, True, None) == [e for e in events if not e[1]["positive"]]
