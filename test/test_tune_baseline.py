"""bench/tune_baseline.py's settings grid: numbers, switches and words each become their field's type."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from clickenhance_model.inference.voxel_graph import OUTDOOR, GraphConfig

_SCRIPT = Path(__file__).parents[1] / "bench" / "tune_baseline.py"
_SPEC = importlib.util.spec_from_file_location("tune_baseline", _SCRIPT)
tune_baseline = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(tune_baseline)


def test_grid_values_take_their_settings_types() -> None:
    """`--grid joined_click=ground,free,lifted neighbours=12 max_edge=0.7`: words stay words, counts are ints,
    lengths floats; the centre's own value is no variant."""
    grid = {"joined_click": ("ground", "free", "lifted"), "neighbours": ("12",), "max_edge": ("0.7",)}
    found = tune_baseline.variants(OUTDOOR, grid)
    assert set(found) == {"start", "joined_click=free", "joined_click=lifted", "neighbours=12", "max_edge=0.7"}
    assert found["joined_click=lifted"].joined_click == "lifted" and found["start"] == OUTDOOR
    assert found["max_edge=0.7"].max_edge == pytest.approx(0.7)
    assert isinstance(found["neighbours=12"].neighbours, int) and found["neighbours=12"].neighbours == 12
    assert tune_baseline.graph_overrides(OUTDOOR, ["max_edge=0.7"]).max_edge == pytest.approx(0.7)


def test_bad_grid_values_are_refused() -> None:
    """A word for a number, or a rule the graph does not know, is an error, not a silent default."""
    with pytest.raises(ValueError):
        tune_baseline.variants(OUTDOOR, {"max_edge": ("wide",)})
    with pytest.raises(ValueError, match="joined_click"):
        tune_baseline.variants(OUTDOOR, {"joined_click": ("sideways",)})
    with pytest.raises(ValueError, match="joined_click"):
        GraphConfig(joined_click="object")
