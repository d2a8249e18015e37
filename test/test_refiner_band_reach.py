"""bench/refiner_band_reach.py: how much of a first click's error lies in the point refiner's band, on a real
refined fusion network (tiny, random weights) and real clouds."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import torch
from test_point_refiner import REFINED
from test_prior_fusion import fusion_segmenter, room

_SCRIPT = Path(__file__).parents[1] / "bench" / "refiner_band_reach.py"
_SPEC = importlib.util.spec_from_file_location("refiner_band_reach", _SCRIPT)
reach = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(reach)


def test_a_dense_object_has_its_errors_in_the_band_and_a_sparse_one_has_no_band() -> None:
    """A bin in a dense room: the band holds points and every count is a part of the one above it. Points 2 m
    apart (a far object on a sparse scan): the first click's region shares no voxel edge with the rest of the
    object, so the band is empty and none of the missed points can be reached."""
    segmenter = fusion_segmenter(0.5, REFINED, domain="indoor")
    points, on_bin = room()
    session = segmenter.session(points)
    first = reach.first_click_reach(session, points, on_bin)
    iou, band, wrong, in_band = first[:4]
    assert 0 < band < len(points) and 0 <= in_band <= min(wrong, band) and 0 < iou <= 1
    assert sum(first.changes) <= band  # the refiner changes band points only
    assert first.missed + first.taken == wrong  # every wrong point is a missed object point or a taken one
    assert first.removed_wrong + first.added_wrong <= in_band  # a wrong change leaves a wrong point in the band
    mask = segmenter.session(points).add_click(reach.next_click(points, np.zeros(len(points), bool), on_bin).index)
    assert wrong == int((mask != on_bin).sum())  # the errors of the evaluation's own first click
    assert reach.first_click_reach(session, points, on_bin) == first  # a reused session: reset
    semantic = np.where(on_bin, 7, np.where(points[:, 2] < 0.05, 1, 2))  # bin 7, floor 1, the rest 2
    labelled = reach.first_click_reach(session, points, on_bin, semantic)
    assert labelled[:-1] == first[:-1] and first.taken_classes == ()  # the labels change no count
    assert sum(n for _, n in labelled.taken_classes) == first.taken and 7 not in dict(labelled.taken_classes)
    taken = mask & ~on_bin
    assert dict(labelled.taken_classes) == {c: int((semantic[taken] == c).sum()) for c in np.unique(semantic[taken])}
    rng = np.random.default_rng(0)
    far = np.stack([np.arange(6) * 2.0, np.zeros(6), np.ones(6)], axis=1)  # six points along a line, 2 m apart
    ground = np.concatenate([rng.uniform(-2, 12, (3000, 2)), np.zeros((3000, 1))], axis=1)
    cloud = np.concatenate([far, ground])
    truth = np.arange(len(cloud)) < len(far)
    line = reach.first_click_reach(fusion_segmenter(0.5, REFINED).session(cloud), cloud, truth)
    iou, band, wrong, in_band = line[:4]
    assert band == 0 and in_band == 0 and wrong >= len(far) - 1 and iou < 0.5 and line.changes == (0, 0, 0, 0)
    assert line.missed >= len(far) - 1  # the line's points across the gaps stay out
    network = dataclasses.replace(REFINED.network, point_refiner_reach=2.5)  # a reach across the 2 m gaps
    reaching = fusion_segmenter(0.5, dataclasses.replace(REFINED, network=network))
    iou, band, wrong, in_band = reach.first_click_reach(reaching.session(cloud), cloud, truth)[:4]
    assert band > 0 and in_band >= 1  # the line points one gap from the region are now the refiner's to answer


def test_the_refiners_changes_are_split_into_removed_and_added_right_and_wrong() -> None:
    """A refiner that says "out" to every band point takes out all the band points the region held and adds none;
    one that says "in" adds all the others and takes none out. Each change counts as right where the object's
    truth agrees with it, so right and wrong together are the band points the region held (or lacked)."""
    points, on_bin = room()
    for bias, removes in ((-50.0, True), (50.0, False)):
        segmenter = fusion_segmenter(0.5, REFINED, domain="indoor")
        last = segmenter.model.point_refiner.layers[-1]
        with torch.no_grad():
            last.weight.zero_()
            last.bias.fill_(bias)
        first = reach.first_click_reach(segmenter.session(points), points, on_bin)
        changed = first.removed_right + first.removed_wrong + first.added_right + first.added_wrong
        assert 0 < changed <= first.band
        if removes:
            assert first.added_right == first.added_wrong == 0
            assert first.removed_right + first.removed_wrong == changed and first.removed_wrong <= on_bin.sum()
        else:
            assert first.removed_right == first.removed_wrong == 0
        session = segmenter.session(points)
        mask = session.add_click(reach.next_click(points, np.zeros(len(points), bool), on_bin).index)
        band = np.zeros(len(points), dtype=bool)
        band[session.valid_indices[session.refiner_inputs([(session.clicks[0].index, True)])[0]]] = True
        assert (mask[band] == (not removes)).all()  # every band point went the refiner's way
        wrong_in_band = int(((mask != on_bin) & band).sum())
        assert first.removed_wrong + first.added_wrong <= wrong_in_band == first.in_band
