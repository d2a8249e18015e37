"""The single-object evaluation protocol: a segmenter's session driven by the simulated user.

For each object the session is reset, then up to `max_clicks` times the simulated user
clicks on the current error, the session returns a new mask, clicked points are forced to
their click's label, and the IoU on the full-resolution points is recorded. One session
is opened per scene, so whatever it caches per cloud (voxels, graphs) serves every object.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from clickenhance_model.datasets.scene import Scene, SceneObject
from clickenhance_model.evaluation.metrics import iou
from clickenhance_model.evaluation.simulated_user import next_click
from clickenhance_model.inference.click_rules import ClickRules
from clickenhance_model.inference.session import InteractiveSession


class SupportsSession(Protocol):
    """What the protocol needs of a segmenter: a click session over one cloud."""

    def session(self, xyz: np.ndarray, rgb: np.ndarray | None = None) -> InteractiveSession:
        """Open a click session over one cloud."""
        ...


@dataclass(frozen=True)
class ProtocolSettings:
    """How the simulated user behaves: click budget, temperature (None = deterministic), seed; and the click rules
    the sessions answer under (`inference.click_rules`; None: the sessions' own)."""

    max_clicks: int = 20
    temperature: float | None = None
    seed: int = 0
    click_rules: ClickRules | None = None


@dataclass
class ObjectResult:
    """One evaluated object: identity, IoU after each click, the clicks and their timings."""

    scene: str
    instance_id: int
    semantic_id: int
    class_name: str
    num_points: int
    ious: list[float] = field(default_factory=list)
    clicks: list[tuple[int, bool]] = field(default_factory=list)
    inference_ms: list[float] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, int]:
        """(scene, instance id): identifies the object across runs."""
        return (self.scene, self.instance_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (clicks as [index, positive] pairs)."""
        row = asdict(self)
        row["clicks"] = [[int(i), bool(p)] for i, p in self.clicks]
        return row

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> ObjectResult:
        """Inverse of `to_dict`."""
        values = dict(row)
        values["clicks"] = [(int(i), bool(p)) for i, p in row["clicks"]]
        return cls(**values)


def object_rng(seed: int, scene: str, instance_id: int) -> np.random.Generator:
    """Random generator of one object, independent of evaluation order (so resumed runs match)."""
    return np.random.default_rng([seed, zlib.crc32(scene.encode()), int(instance_id) & 0xFFFFFFFFFFFF])


def simulate_object(
    session: InteractiveSession,
    xyz: np.ndarray,
    ground_truth: np.ndarray,
    settings: ProtocolSettings,
    rng: np.random.Generator | None = None,
) -> tuple[list[float], list[tuple[int, bool]], list[float]]:
    """Click on one object until its mask is exact or the budget is spent.

    Returns the IoU after each click, the clicks (index, positive) and the session's
    inference time per click in ms. The session is reset first.
    """
    session.reset()
    prediction = np.zeros(len(xyz), dtype=bool)
    ious: list[float] = []
    clicks: list[tuple[int, bool]] = []
    times: list[float] = []
    for _ in range(settings.max_clicks):
        click = next_click(xyz, prediction, ground_truth, settings.temperature, rng)
        if click is None:
            break
        prediction = np.array(session.add_click(click.index, click.positive), dtype=bool)
        clicks.append((click.index, click.positive))
        for index, positive in clicks:  # clicked points carry their click's label
            prediction[index] = positive
        ious.append(iou(prediction, ground_truth))
        times.append(session.last_inference_ms)
    ious += [1.0] * (settings.max_clicks - len(ious))  # stopped early only when the mask was exact
    return ious, clicks, times


def evaluate_scene(
    segmenter: SupportsSession, scene: Scene, objects: list[SceneObject], settings: ProtocolSettings
) -> Iterator[ObjectResult]:
    """Evaluate the given objects of one scene, yielding one result per object as it finishes."""
    if not objects:
        return
    session = segmenter.session(scene.xyz, scene.rgb)
    if settings.click_rules is not None:
        session.click_rules = settings.click_rules
    for obj in objects:
        rng = object_rng(settings.seed, scene.name, obj.instance_id) if settings.temperature is not None else None
        ious, clicks, times = simulate_object(session, scene.xyz, scene.object_mask(obj.instance_id), settings, rng)
        yield ObjectResult(obj.scene, obj.instance_id, obj.semantic_id, obj.class_name, obj.num_points,
                           ious, clicks, times)  # fmt: skip
