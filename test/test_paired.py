"""Paired comparison of two evaluation runs (clickenhance_model.evaluation.paired)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clickenhance_model.evaluate import main as evaluate
from clickenhance_model.evaluation.paired import main as paired_main
from clickenhance_model.evaluation.paired import objects_to_decide, paired_difference, stuck_comparison


def _object(index: int, first_hit: int, final: float = 0.9, max_clicks: int = 10) -> dict:
    """A results.json object entry whose IoU reaches 85% at click `first_hit` (never when past the budget)."""
    ious = [0.5 if k < first_hit else final for k in range(1, max_clicks + 1)]
    return {"scene": f"s{index // 3}", "instance_id": index, "class_name": "pole", "ious": ious}


def test_a_model_one_click_better_on_every_object_is_better_beyond_noise() -> None:
    baseline = [_object(i, 3 + i % 4) for i in range(12)]
    model = [_object(i, 2 + i % 4) for i in range(12)]
    diff = paired_difference(model, baseline, "NoC@85", 10)
    assert (diff.objects, diff.mean, diff.standard_error) == (12, -1.0, 0.0)
    assert (diff.low, diff.high, diff.better, diff.worse) == (-1.0, -1.0, 12, 0)
    assert not diff.level and diff.sentence().endswith("12 better, 0 worse; better)")
    assert objects_to_decide(diff) == 0  # no spread: any number of objects decides it


def test_wins_and_losses_that_cancel_are_level() -> None:
    baseline = [_object(i, 5) for i in range(20)]
    model = [_object(i, 4 if i % 2 else 6) for i in range(20)]  # one better, one worse, ten times
    diff = paired_difference(model, baseline, "NoC@85", 10)
    assert diff.mean == 0.0 and diff.level and (diff.better, diff.worse) == (10, 10)
    assert diff.low < 0.0 < diff.high and objects_to_decide(diff) is None
    assert diff.standard_error == pytest.approx(np.std([1.0, -1.0] * 10, ddof=1) / math.sqrt(20))


def test_iou_differences_are_read_after_the_kth_click_and_reported_in_points() -> None:
    baseline = [_object(i, 1, final=0.90) for i in range(6)]
    model = [_object(i, 1, final=0.95) for i in range(6)]
    diff = paired_difference(model, baseline, "IoU@10", 10)
    assert diff.mean == pytest.approx(0.05) and diff.better == 6 and not diff.level
    assert diff.sentence(named=False).startswith("+5.00 pt ± 0.00")
    short = [{**o, "ious": o["ious"][:3]} for o in model]  # a run that stopped early repeats its last IoU
    assert paired_difference(short, baseline, "IoU@10", 10).mean == pytest.approx(0.05)


def test_objects_are_matched_by_scene_and_instance_and_unmatched_ones_are_left_out() -> None:
    baseline = [_object(i, 5) for i in range(6)]
    model = [_object(i, 3) for i in reversed(range(6))] + [_object(99, 1)]  # another order, one extra object
    assert paired_difference(model, baseline, "NoC@85", 10).objects == 6
    with pytest.raises(ValueError, match="share no object"):
        paired_difference([_object(99, 1)], baseline, "NoC@85", 10)
    with pytest.raises(ValueError, match="unknown metric"):
        paired_difference(model, baseline, "AP@50", 10)


def test_objects_to_decide_scales_with_the_spread_over_the_mean() -> None:
    # the session-25 street gate: +0.05 clicks at a standard error of 0.23 over 113 objects
    diff = paired_difference([_object(0, 1)], [_object(0, 1)], "NoC@85", 10)
    diff = type(diff)(metric="NoC@85", objects=113, mean=0.05, standard_error=0.23, low=-0.4, high=0.5,
                      better=17, worse=17)  # fmt: skip
    assert objects_to_decide(diff) == math.ceil((2 * 0.23 * math.sqrt(113) / 0.05) ** 2)  # about 9600


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 11), st.integers(1, 11)), min_size=2, max_size=30))
def test_the_mean_difference_is_the_difference_of_the_runs_means(hits: list[tuple[int, int]]) -> None:
    model = [_object(i, a) for i, (a, _) in enumerate(hits)]
    baseline = [_object(i, b) for i, (_, b) in enumerate(hits)]
    diff = paired_difference(model, baseline, "NoC@85", 10)
    nocs = np.array([[min(a, 10), min(b, 10)] for a, b in hits], dtype=float)  # past the budget: the budget
    assert diff.mean == pytest.approx(nocs[:, 0].mean() - nocs[:, 1].mean())
    assert diff.low <= diff.mean + 1e-9 and diff.mean - 1e-9 <= diff.high
    assert diff.better + diff.worse <= diff.objects


def test_the_cli_compares_two_real_evaluation_runs(tmp_path: Path, capsys) -> None:
    """Two `clickenhance-eval` baseline runs (outdoor and indoor presets) on two touching rails and a post: the
    CLI's mean equals the difference of the runs' own NoC@85, and a run against itself is level."""
    rng = np.random.default_rng(0)
    rail = np.stack([np.linspace(0.0, 4.0, 120), np.zeros(120), np.full(120, 0.5)], axis=1)
    post = np.stack([np.full(80, 6.0), np.zeros(80), np.linspace(0.0, 2.0, 80)], axis=1)
    xyz = np.concatenate([rail, rail + [4.05, 0.0, 0.0], post]) + rng.normal(0.0, 0.01, (320, 3))
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    np.save(scenes / "street.xyz.npy", xyz.astype(np.float32))
    np.save(scenes / "street.instance.npy", np.repeat([1, 2, 3], [120, 120, 80]))
    runs = {}
    for domain in ("outdoor", "indoor"):
        runs[domain] = tmp_path / domain
        assert evaluate(["--method", "baseline", "--dataset", "npy", "--root", str(scenes), "--domain", domain,
                         "--min-points", "10", "--max-clicks", "5", "--seed", "0", "--out", str(runs[domain])]) == 0
    capsys.readouterr()
    assert paired_main([str(runs["outdoor"]), str(runs["outdoor"])]) == 0
    same = capsys.readouterr().out.splitlines()
    assert same[2].startswith("| all | 3 | +0.00 ± 0.00") and "0 better, 0 worse; level" in same[2]
    assert paired_main([str(runs["indoor"]), str(runs["outdoor"]), "--by", "class", "--metric", "NoC@85"]) == 0
    rows = capsys.readouterr().out.splitlines()
    means = [json.loads((runs[d] / "results.json").read_text())["summary"]["NoC@85"] for d in ("indoor", "outdoor")]
    assert rows[2].startswith(f"| all | 3 | {means[0] - means[1]:+.2f} ± ")
    assert len(rows) == 4  # all, and the one class the reader gives every object


def test_by_kind_splits_objects_as_the_real_dev_sets_do(tmp_path: Path, capsys) -> None:
    """A car is judged with the things, a trunk with the stuff objects, a building in no real set ("other")."""
    ids = (10, 71, 50, 252, 80, 70)  # car, trunk, building, moving car, pole, vegetation
    model = [{**_object(i, 1), "semantic_id": s} for i, s in enumerate(ids)]
    hits = (2, 1, 1, 2, 3, 1)  # the baseline's clicks to 85% (the model needs one on each)
    baseline = [{**_object(i, hit), "semantic_id": s} for i, (s, hit) in enumerate(zip(ids, hits, strict=True))]
    for name, objects in (("model", model), ("baseline", baseline)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps({"run": {"max_clicks": 10}, "objects": objects}))
    assert paired_main([str(tmp_path / "model"), str(tmp_path / "baseline"), "--by", "kind", "--metric",
                        "NoC@85"]) == 0  # fmt: skip
    rows = {line.split(" | ")[0][2:]: line for line in capsys.readouterr().out.splitlines()[2:]}
    assert set(rows) == {"all", "things", "stuff", "other"}
    assert rows["things"].startswith("| things | 2 | -1.00 ± 0.00")  # both vehicles a click better
    assert rows["stuff"].startswith("| stuff | 2 | -1.00 ± 1.00")  # the pole two clicks better, the trunk level
    assert rows["other"].startswith("| other | 2 | +0.00 ± 0.00")


def test_nearly_right_keeps_the_objects_whose_baseline_first_click_is_nearly_right(tmp_path: Path, capsys) -> None:
    """Objects 0-2: the baseline is at 90% after one click, and the model spoils two of those first clicks (a
    click more each). Objects 3-5: the baseline needs three clicks and the model one. Over all six the model is
    better; over the nearly-right ones (`--nearly-right 0.9`) it is worse, a click on two of the three."""
    baseline = [_object(i, 1 if i < 3 else 3) for i in range(6)]
    model = [_object(i, 2 if i in (0, 1) else 1) for i in range(6)]
    for name, objects in (("model", model), ("baseline", baseline)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps({"run": {"max_clicks": 10}, "objects": objects}))
    pair = [str(tmp_path / "model"), str(tmp_path / "baseline"), "--metric", "NoC@85"]
    assert paired_main(pair) == 0
    assert capsys.readouterr().out.splitlines()[2].startswith("| all | 6 | -0.67 ± ")  # (+1 +1 +0 -2 -2 -2) / 6
    assert paired_main([*pair, "--nearly-right", "0.9"]) == 0
    row = capsys.readouterr().out.splitlines()[2]
    assert row.startswith("| all | 3 | +0.67 ± ") and "0 better, 2 worse" in row
    assert paired_main([*pair, "--nearly-right", "0.95"]) == 2  # no baseline first click is that good
    assert "share no object" in capsys.readouterr().err
    assert paired_main([*pair, "--nearly-right", "90"]) == 2
    assert "IoU in 0..1" in capsys.readouterr().err


def test_second_clicks_keeps_the_objects_the_baseline_finished_in_that_many_clicks(tmp_path: Path, capsys) -> None:
    """The baseline needs 1, 2, 3, 6 and 8 clicks and never reaches 85% on the last (the budget, 10); the model
    needs one more on the 2- and 3-click objects and four fewer on the long ones. Over all the model is better;
    over the baseline's 2 to 5 clicks (`--second-clicks 2 5`) it is a click worse on both; 6 to 10 keeps the long
    three, the never-reached one counted at the budget."""
    hits = (1, 2, 3, 6, 8, 11)  # 11: past the budget of 10
    baseline = [_object(i, hit) for i, hit in enumerate(hits)]
    model = [_object(i, hit + 1 if hit in (2, 3) else max(hit - 4, 1)) for i, hit in enumerate(hits)]
    for name, objects in (("model", model), ("baseline", baseline)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps({"run": {"max_clicks": 10}, "objects": objects}))
    pair = [str(tmp_path / "model"), str(tmp_path / "baseline"), "--metric", "NoC@85"]
    assert paired_main([*pair, "--second-clicks", "2", "5"]) == 0
    row = capsys.readouterr().out.splitlines()[2]
    assert row.startswith("| all | 2 | +1.00 ± 0.00") and "0 better, 2 worse" in row
    assert paired_main([*pair, "--second-clicks", "6", "10"]) == 0
    row = capsys.readouterr().out.splitlines()[2]
    assert row.startswith("| all | 3 | -3.67 ± 0.33") and "3 better, 0 worse" in row  # 6->2, 8->4, 10->7 clicks
    for bad in (("0", "5"), ("5", "2"), ("2", "11")):
        assert paired_main([*pair, "--second-clicks", *bad]) == 2
        assert "--second-clicks needs" in capsys.readouterr().err


def test_kinds_and_first_click_share_judge_only_the_real_sets_kinds(tmp_path: Path, capsys) -> None:
    """A car and a trunk the model brings to 85% at the first click where the baseline needs two, and a building
    it spoils (one click against three). Over all three the first-click share gains a third; over things and
    stuff (`--kinds things stuff`, the real 16-ring set's kinds) it gains on both objects, and the building, which
    no real set holds, is left out of the clicks too."""
    ids = (10, 71, 50)  # car, trunk, building
    model = [{**_object(i, hit), "semantic_id": s} for i, (s, hit) in enumerate(zip(ids, (1, 1, 3), strict=True))]
    baseline = [{**_object(i, hit), "semantic_id": s} for i, (s, hit) in enumerate(zip(ids, (2, 2, 1), strict=True))]
    for name, objects in (("model", model), ("baseline", baseline)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps({"run": {"max_clicks": 10}, "objects": objects}))
    pair = [str(tmp_path / "model"), str(tmp_path / "baseline"), "--metric", "First@85", "--metric", "NoC@85"]
    assert paired_main(pair) == 0
    row = capsys.readouterr().out.splitlines()[2]
    assert row.startswith("| all | 3 | +33.33 pt ± ") and "2 better, 1 worse" in row
    assert "| +0.00 ± " in row  # two clicks saved, two lost
    assert paired_main([*pair, "--kinds", "things", "stuff"]) == 0
    row = capsys.readouterr().out.splitlines()[2]
    assert row.startswith("| all | 2 | +100.00 pt ± 0.00") and "| -1.00 ± 0.00" in row
    with pytest.raises(SystemExit):
        paired_main([*pair, "--kinds", "vehicles"])
    assert "invalid choice" in capsys.readouterr().err


def test_the_cli_refuses_what_it_cannot_compare(tmp_path: Path, capsys) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "results.json").write_text("{truncated")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "results.json").write_text(json.dumps({"run": {"max_clicks": 10}, "objects": [_object(0, 2)]}))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "results.json").write_text(json.dumps({"run": {"max_clicks": 10}, "objects": [_object(7, 2)]}))
    assert paired_main([str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert "not a readable evaluation result" in capsys.readouterr().err
    assert paired_main([str(tmp_path / "b"), str(tmp_path / "c")]) == 2
    assert "share no object" in capsys.readouterr().err
    assert paired_main([str(tmp_path / "b"), str(tmp_path / "b"), "--metric", "IoU@11"]) == 2
    assert "k must lie in 1..10" in capsys.readouterr().err
    assert paired_main([str(tmp_path / "b"), str(tmp_path / "b"), "--by", "domain"]) == 2
    assert "needs a generated mix" in capsys.readouterr().err
    assert paired_main([str(tmp_path / "b"), str(tmp_path / "b"), "--domain", "outdoor"]) == 2
    assert "needs a generated mix" in capsys.readouterr().err


def test_a_single_object_has_no_standard_error_to_show() -> None:
    diff = paired_difference([_object(0, 2)], [_object(0, 4)], "NoC@85", 10)
    assert diff.mean == -2.0 and not math.isfinite(diff.standard_error)
    assert "± – (one object)" in diff.sentence()


def _stuck(index: int, stuck: bool) -> dict:
    """An object of a 20-click run: stuck at 60% from click 5 on, or rising to 90%."""
    ious = [0.6] * 20 if stuck else [0.5] * 5 + [0.9] * 15
    return {"scene": "s", "instance_id": index, "ious": ious}


@pytest.mark.parametrize(("only_first", "only_second", "both", "p"), [
    (4, 1, 3, 6 / 32),  # 5 discordant objects: at least 4 of them by chance, 6 times in 32
    (9, 1, 0, 11 / 1024),
    (1, 3, 2, 15 / 16),
    (0, 0, 5, 1.0),  # the same objects stuck in both: nothing tells the runs apart
])  # fmt: skip
def test_stuck_objects_are_compared_by_those_stuck_in_one_run_only(only_first: int, only_second: int, both: int,
                                                                    p: float) -> None:  # fmt: skip
    kinds = [(True, False)] * only_first + [(False, True)] * only_second + [(True, True)] * both + [(False, False)] * 4
    first = [_stuck(i, a) for i, (a, _) in enumerate(kinds)] + [_stuck(99, True)]  # unmatched: left out
    second = [_stuck(i, b) for i, (_, b) in reversed(list(enumerate(kinds)))]
    comparison = stuck_comparison(first, second, 20)
    assert (comparison.first, comparison.second) == (only_first + both, only_second + both)
    assert (comparison.first_only, comparison.second_only) == (only_first, only_second)
    assert comparison.p_value == pytest.approx(p)
    assert f"only in the first run, {only_second} only in the second; sign test p = {p:.2f})" in comparison.sentence()
    with pytest.raises(ValueError, match="more than 5 clicks"):
        stuck_comparison(first, second, 5)
