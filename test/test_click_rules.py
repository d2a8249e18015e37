"""Clicks always count (`click_rules`): checked on generated scenes through real sessions.

`AnswerSession` is a complete `InteractiveSession` whose segmenter answers a fixed mask
whatever the clicks (everything, or nothing): the worst cases a network can produce,
which the rules must correct. The same invariants are then checked on the real
segmenters (the baseline and an untrained tiny network).
"""

from __future__ import annotations

import numpy as np
import pytest
from cloud_factories import box_surface

from clickenhance_model.baseline import BaselineSegmenter
from clickenhance_model.inference.click_rules import ClickRules, dense_reach
from clickenhance_model.inference.session import InteractiveSession


class AnswerSession(InteractiveSession):
    """A session whose segmenter ignores the clicks and answers `answer` (True: every point, False: none)."""

    def __init__(self, xyz: np.ndarray, answer: bool):
        super().__init__(xyz)
        self.answer = answer

    def _segment(self, positive: np.ndarray, negative: np.ndarray, current: int) -> np.ndarray:
        return np.full(len(self.xyz), self.answer)


def two_cars() -> tuple[np.ndarray, np.ndarray]:
    """Two 4 x 1.8 x 1.5 m box surfaces 0.8 m apart on a road plane; returns xyz and car ids (0 road, 1, 2)."""
    car_1 = box_surface((0.0, 0.0, 0.0), (4.0, 1.8, 1.5), 0.1)
    car_2 = box_surface((4.8, 0.0, 0.0), (8.8, 1.8, 1.5), 0.1)
    g = np.arange(-2, 11, 0.1)
    road = np.stack(np.meshgrid(g, np.arange(-2, 4, 0.1), [-0.05]), -1).reshape(-1, 3)
    xyz = np.concatenate([car_1, car_2, road]).astype(np.float32)
    return xyz, np.repeat([1, 2, 0], [len(car_1), len(car_2), len(road)])


def test_dense_positive_clicks_keep_the_mask_on_their_object() -> None:
    xyz, car = two_cars()
    clicks = np.random.default_rng(0).choice(np.flatnonzero(car == 1), 300, replace=False)
    session = AnswerSession(xyz, answer=True)  # a segmenter that floods the whole cloud
    session.click_rules = None
    assert session.add_clicks([(int(i), True) for i in clicks]).all()
    session = AnswerSession(xyz, answer=True)
    mask = session.add_clicks([(int(i), True) for i in clicks])
    assert mask[car == 1].all() and not mask[car == 2].any()
    reach = dense_reach(xyz[clicks].astype(np.float64), ClickRules()) + 1e-3
    assert 0.3 <= reach < 0.8  # 3 x the spacing of 300 clicks on a 3,180-point surface
    road = xyz[mask & (car == 0)]  # only road within reach of car 1 (its bottom face lies on the road)
    assert road[:, 0].min() >= -reach and road[:, 0].max() <= 4 + reach and road[:, 1].max() <= 1.8 + reach


def test_few_positive_clicks_do_not_limit_the_mask() -> None:
    xyz, car = two_cars()
    session = AnswerSession(xyz, answer=True)
    mask = session.add_clicks([(int(np.flatnonzero(car == 1)[0]), True), (int(np.flatnonzero(car == 2)[0]), True)])
    assert mask.all()  # two clicks are a person's, not a projected detector mask: the segmenter decides


def test_dense_reach_follows_the_spacing_of_the_clicks() -> None:
    rules = ClickRules(reach_factor=3.0, min_reach=0.3)
    line = np.column_stack([np.arange(100) * 0.5, np.zeros(100), np.zeros(100)])
    assert dense_reach(line, rules) == pytest.approx(1.5)
    assert dense_reach(line / 10, rules) == pytest.approx(0.3)


def test_a_positive_click_takes_its_neighbourhood_into_the_mask() -> None:
    xyz, car = two_cars()
    session = AnswerSession(xyz, answer=False)  # a segmenter that ignores the click
    session.click_rules = ClickRules(radius=0.12)  # on the 10 cm grid: the point and its 4 grid neighbours
    target = int(np.flatnonzero((car == 1) & (xyz[:, 2] == 1.5))[100])  # on the car's roof, off its edges
    mask = session.add_click(target, True)
    distance = np.linalg.norm(xyz - xyz[target], axis=1)
    assert np.array_equal(np.flatnonzero(mask), np.flatnonzero(distance < 0.12)) and mask.sum() == 5
    session.click_rules = None
    assert session.add_click(target, True).sum() == 1


def test_a_negative_click_takes_its_neighbourhood_out_and_nearer_clicks_win() -> None:
    xyz = np.column_stack([np.arange(0, 2, 0.02), np.zeros(100), np.zeros(100)]).astype(np.float32)  # 2 cm spacing
    session = AnswerSession(xyz, answer=True)
    positive, negative = 50, 53  # 6 cm apart: between them each point goes to the nearer click
    mask = session.add_clicks([(positive, True), (negative, False)])
    assert not mask[52:57].any()  # the negative click's nearest points (53 +- 3; 49 and 57 tie for the 8th)
    assert mask[:52].all() and mask[58:].all()  # 51 is nearer the positive click; beyond, the segmenter decides


class GrowingSession(InteractiveSession):
    """A session whose segmenter floods: every point within 10 m of the latest positive click (a line of points)."""

    click_rules = ClickRules(gain_reach=1.0)

    def _segment(self, positive: np.ndarray, negative: np.ndarray, current: int) -> np.ndarray:
        return np.abs(self.xyz[:, 0] - self.xyz[positive[-1], 0]) <= 10.0


def test_a_positive_click_grows_no_farther_than_the_marked_background() -> None:
    """Rule 3: after a negative click 1 m from it, a positive click adds only points within 1 m of itself; what the
    answer before held stays; a positive click with no negative click before, or with the rule off, floods."""
    xyz = np.column_stack([np.arange(0, 20, 0.1), np.zeros(200), np.zeros(200)]).astype(np.float32)  # x = index / 10
    session = GrowingSession(xyz)
    first = session.add_click(0)  # no answer before: the segmenter's 10 m stand
    assert first[:101].all() and not first[101:].any()
    session.add_click(120, positive=False)  # on the flood's far side: nothing to add, nothing limited
    grown = session.add_click(130)  # 1 m from the negative click: adds 12.0-14.0 m of what the segmenter gives
    added = np.flatnonzero(grown & ~first)
    assert added.min() >= 121 and added.max() == 140  # within 1 m (the negative click's own point is forced out)
    assert grown[30:101].all() and not grown[2:30].any()  # it limits additions only: the segmenter's 3-10 m stay
    undone = session.undo()
    assert np.array_equal(undone, session.mask_after(2))
    session.click_rules = ClickRules()  # off by default
    assert session.add_click(130)[141:].any()
    batch = GrowingSession(xyz)
    assert batch.add_clicks([(0, True), (120, False), (130, True)])[141:].any()  # no answer shown before the batch


@pytest.mark.parametrize("settings, message", [
    ({"radius": 0.0}, "radius must be > 0"), ({"neighbours": 0}, "neighbours must be >= 1"),
    ({"dense_min_clicks": 0}, "dense_min_clicks must be >= 1"), ({"min_reach": -1.0}, "min_reach must be > 0"),
    ({"gain_reach": -0.5}, "gain_reach must be >= 0"),
])  # fmt: skip
def test_click_rules_reject_meaningless_settings(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ClickRules(**settings)


def real_sessions(xyz: np.ndarray) -> list[InteractiveSession]:
    """Sessions of the real segmenters: the outdoor baseline and an untrained tiny network."""
    from clickenhance_model.model_config import ModelConfig, NetworkConfig
    from clickenhance_model.segmenter import Segmenter

    tiny = Segmenter.from_config(ModelConfig(network=NetworkConfig(channels=(8, 16), cse_channels=(4, 8))), seed=3)
    return [BaselineSegmenter.for_domain("outdoor").session(xyz), tiny.session(xyz)]


@pytest.mark.usefixtures("one_thread")
def test_every_segmenter_keeps_clicks_and_their_neighbourhoods() -> None:
    xyz, car = two_cars()
    rng = np.random.default_rng(4)
    positives = rng.choice(np.flatnonzero(car == 1), 3, replace=False)
    negatives = np.concatenate([rng.choice(np.flatnonzero(car == 2), 2), rng.choice(np.flatnonzero(car == 0), 2)])
    clicks = [(int(i), True) for i in positives] + [(int(i), False) for i in negatives]
    tree_distance = np.linalg.norm(xyz[:, None] - xyz[np.concatenate([positives, negatives])][None], axis=2)
    nearest = np.argmin(tree_distance, axis=1)  # each point's nearest click
    for session in real_sessions(xyz):
        mask = session.add_clicks(clicks)
        assert mask[positives].all() and not mask[negatives].any()
        for k, index in enumerate(np.concatenate([positives, negatives])):
            ring = np.argsort(tree_distance[:, k])[:8]
            ring = ring[(tree_distance[ring, k] <= 0.1) & (nearest[ring] == k)]
            assert (mask[ring] == (k < len(positives))).all(), (type(session).__name__, index)
        dense = rng.choice(np.flatnonzero(car == 1), 200, replace=False)
        mask = session.add_clicks([(int(i), True) for i in dense])
        assert not mask[car == 2].any()


@pytest.mark.usefixtures("one_thread")
def test_a_model_serves_rule_3_when_its_weights_carry_it(tmp_path) -> None:
    """`SegmenterConfig.gain_reach` (stored in the weights like the ground gate) puts rule 3 on the model's own
    sessions: after a negative click, what a positive click adds lies within that reach of it, whatever the network
    answers; a caller's rules still replace the model's, and the baseline never carries it."""
    from clickenhance_model.model_config import ModelConfig, NetworkConfig
    from clickenhance_model.segmenter import Segmenter

    xyz, car = two_cars()
    tiny = Segmenter.from_config(ModelConfig(network=NetworkConfig(channels=(8, 16), cse_channels=(4, 8))), seed=3)
    path = tiny.save(tmp_path / "tiny.pt", {"inference_options": {"gain_reach": 1.0}})
    carried = Segmenter.load(path, device="cpu")
    assert carried.options.gain_reach == 1.0
    assert Segmenter.load(path, device="cpu", gain_reach=0.0).options.gain_reach == 0.0  # the caller's choice wins
    session = carried.session(xyz)
    assert session.click_rules == ClickRules(gain_reach=1.0)
    assert tiny.session(xyz).click_rules == ClickRules()
    assert tiny.with_options(keep_direction=True).session(xyz).click_rules == ClickRules(keep_direction=True)
    assert BaselineSegmenter.for_domain("outdoor").session(xyz).click_rules == ClickRules()
    def nearest(point: tuple[float, float, float]) -> int:
        return int(np.argmin(np.linalg.norm(xyz - np.array(point, np.float32), axis=1)))

    session.add_click(nearest((0.5, 0.9, 1.5)))  # the car's top, then the road 0.4 m beside it
    negative, click = nearest((2.0, -0.4, -0.05)), nearest((2.0, 0.9, 1.5))
    shown = session.add_click(negative, positive=False)
    grown = session.add_click(click)
    reach = np.linalg.norm(xyz[click] - xyz[negative])
    added = np.flatnonzero(grown & ~shown)
    assert (np.linalg.norm(xyz[added] - xyz[click], axis=1) <= reach + 1e-5).all()
    with pytest.raises(ValueError, match="gain_reach must be >= 0"):
        tiny.with_options(gain_reach=-1.0)


def test_rule_4_stays_off_where_a_negative_click_may_turn_the_road_into_a_fence() -> None:
    """A model carrying rule 4 under `joined_click: deferred` (a negative click on the road a foot click grew makes
    the fence the object, which only adds points) answers without it, and keeps its rule 3."""
    from clickenhance_model.model_config import SegmenterConfig
    from clickenhance_model.segmenter import model_click_rules

    both = SegmenterConfig(gain_reach=1.0, keep_direction=True)
    assert model_click_rules(both, ClickRules()) == ClickRules(gain_reach=1.0, keep_direction=True)
    deferred = SegmenterConfig(gain_reach=1.0, keep_direction=True, joined_click="deferred")
    assert model_click_rules(deferred, ClickRules()) == ClickRules(gain_reach=1.0)
    assert model_click_rules(both, None) is None  # rules off stay off


class FlippingSession(InteractiveSession):
    """A session whose segmenter answers every other state with the left or the right half of a line of points:
    each click moves the whole answer, the late swing rule 4 is for."""

    click_rules = ClickRules(keep_direction=True)

    def _segment(self, positive: np.ndarray, negative: np.ndarray, current: int) -> np.ndarray:
        left = self.xyz[:, 0] < 10.0
        return left if (len(positive) + len(negative)) % 2 else ~left


def test_clicks_act_in_their_own_direction() -> None:
    """Rule 4: after positive clicks alone the answer keeps all it showed, after negative clicks alone it gains
    nothing; a mixed batch and the rule off leave the segmenter's answer as it is (rules 2 on every click)."""
    xyz = np.column_stack([np.arange(0, 20, 0.1), np.zeros(200), np.zeros(200)]).astype(np.float32)  # x = index / 10
    session = FlippingSession(xyz)
    first = session.add_click(10)  # no answer before: the segmenter's left half
    assert first[:100].all() and not first[100:].any()
    assert session.add_click(150).all()  # the segmenter swings to the right half; the left half shown stays
    shrunk = session.add_click(50, positive=False)  # back to the left half: taking out is the negative click's
    assert shrunk[:48].all() and shrunk[53:100].all() and not shrunk[49:52].any()
    assert not shrunk[100:148].any() and shrunk[150] and not shrunk[153:].any()  # the positive click's own point
    mixed = session.add_clicks([(180, True), (30, False), (120, True)])  # no one direction: the right half
    assert not mixed[60:100].any() and mixed[160:175].all()
    session.click_rules = ClickRules()  # off by default: a positive click may drop what was shown
    assert not session.add_click(70)[160:175].any()
    with_rule = FlippingSession(xyz)
    with_rule.add_clicks([(10, True), (150, True)])  # a batch after no answer: nothing to keep
    assert not with_rule.mask[:5].any()
