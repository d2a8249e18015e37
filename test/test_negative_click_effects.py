"""bench/negative_click_effects.py: what a negative click took, split into object points and others, from a real
graph and a real evaluation run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from clickenhance_model.evaluate import main as evaluate
from clickenhance_model.evaluation.protocol import ObjectResult
from clickenhance_model.inference.geodesic_region import GeodesicRegion
from clickenhance_model.inference.voxel_graph import OUTDOOR, height_above_lowest

_SCRIPT = Path(__file__).parents[1] / "bench" / "negative_click_effects.py"
_SPEC = importlib.util.spec_from_file_location("negative_click_effects", _SCRIPT)
effects = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(effects)


def fence_with_twig() -> tuple[np.ndarray, np.ndarray]:
    """A 10 m rail of 100 points 1 m up (the object) and 3 points of a twig rising from its middle."""
    x = np.arange(100) * 0.1
    rail = np.stack([x, np.zeros_like(x), np.ones_like(x)], axis=1)
    twig = np.array([[5.0, 0.0, 1.3], [5.05, 0.0, 1.4], [5.1, 0.0, 1.5]])
    on_object = np.arange(103) < 100
    return np.concatenate([rail, twig]), on_object


def test_a_negative_click_on_a_twig_takes_the_far_half_of_the_rail() -> None:
    """Positive at the rail's end, negative on the twig: the click takes the twig (3 wrong points) and every rail
    point nearer to it than to the positive click (object points); the report counts it as a collapse."""
    xyz, on_object = fence_with_twig()
    region = GeodesicRegion(xyz, OUTDOOR)
    height = height_above_lowest(region.graph.tree.data, OUTDOOR.ground_cell)
    before = region.of_points(np.array([0]), np.array([], dtype=np.int64))
    after = region.of_points(np.array([0]), np.array([101]))
    obj = ObjectResult("s", 1, 0, "fence", 100, ious=[0.97, 0.5], clicks=[(0, True), (101, False)])
    (row,) = effects.replay_object(region, height, obj, on_object)
    taken = before & ~after
    assert row["harm"] == int((taken & on_object).sum()) > 40  # the rail beyond the midpoint, up to the reach
    assert row["benefit"] == int((taken & ~on_object).sum()) == 3
    assert 0 < row["local_harm"] < row["harm"] and row["local_benefit"] == 3  # within 0.5 m: the twig and its foot
    assert row["height"] == pytest.approx(0.4, abs=0.05)  # the twig's voxel centroid above the rail
    assert row["depth"] > 0 and 0 <= row["enclosure"] <= 1
    text = effects.report([row])
    assert "collapses 1, fixes (IoU up by > 0.05) 0" in text
    saved = row["harm"] - row["local_harm"]
    assert f"| height < 0.5 | 1 | {saved} | 0 | {saved} | 0 |" in text


def test_every_negative_click_of_an_evaluation_run_is_replayed(tmp_path: Path) -> None:
    """A baseline run of the evaluation CLI over two touching rails: one row per negative click after the first
    click, with the IoUs the run logged."""
    first, _ = fence_with_twig()
    second = first[:100] + [10.1, 0.0, 0.0]  # a second rail continuing the first: the first click's reach leaks
    xyz = np.concatenate([first[:100], second]).astype(np.float32)
    instance = np.repeat([1, 2], 100)
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    np.save(scenes / "rails.xyz.npy", xyz)
    np.save(scenes / "rails.instance.npy", instance)
    out = tmp_path / "run"
    assert evaluate(["--method", "baseline", "--dataset", "npy", "--root", str(scenes), "--domain", "outdoor",
                     "--min-points", "10", "--max-clicks", "5", "--seed", "0", "--out", str(out)]) == 0  # fmt: skip
    logged = [ObjectResult.from_dict(json.loads(line)["object"]) for line in (out / "objects.jsonl").open()
              if "object" in json.loads(line)]  # fmt: skip
    negatives = [(o.ious[i - 1], o.ious[i]) for o in logged for i, (_, positive) in enumerate(o.clicks)
                 if i > 0 and not positive]  # fmt: skip
    assert negatives, "the leak between the rails should draw negative clicks"
    rows = effects.replay_run(out, None, None)
    assert [(r["before"], r["after"]) for r in rows] == negatives
    assert all(r["harm"] >= 0 and r["benefit"] >= 0 for r in rows)
    assert sum(r["benefit"] for r in rows) > 0  # the negative clicks took the other rail's points
