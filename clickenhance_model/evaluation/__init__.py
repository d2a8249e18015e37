"""Evaluation of click segmenters: simulated user, protocol, metrics and reports."""

from clickenhance_model.evaluation.metrics import iou, number_of_clicks, summarize
from clickenhance_model.evaluation.protocol import (
    ObjectResult,
    ProtocolSettings,
    evaluate_scene,
    simulate_object,
)
from clickenhance_model.evaluation.simulated_user import SimulatedClick, distance_to_outside, next_click

__all__ = [
    "ObjectResult", "ProtocolSettings", "SimulatedClick", "distance_to_outside", "evaluate_scene", "iou",
    "next_click", "number_of_clicks", "simulate_object", "summarize",
]  # fmt: skip
