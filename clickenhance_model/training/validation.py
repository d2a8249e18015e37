"""Validation during training: NoC/IoU of the current network through the evaluation protocol.

The same fixed validation objects every time (drawn once from the seed), the standard
simulated user (`evaluation.protocol.evaluate_scene`) and a `Segmenter` wrapping the
network being trained, so the figures mean what `clickenhance-eval --no-ground-gate`
reports: the network alone, without inference-only steps.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from tqdm import tqdm

from clickenhance_model.datasets.scene import SceneDataset, SceneObject
from clickenhance_model.evaluation.metrics import summarize
from clickenhance_model.evaluation.protocol import ProtocolSettings, evaluate_scene
from clickenhance_model.model_config import DOMAINS, ModelConfig, SegmenterConfig
from clickenhance_model.segmenter import Segmenter
from clickenhance_model.training.config import ValConfig
from clickenhance_model.training.sampling import group_by_scene

IOU_CLICKS = (1, 5, 10)


def choose_val_objects(objects: list[SceneObject], count: int, seed: int) -> list[SceneObject]:
    """`count` validation objects (all when fewer), drawn once from `seed`, in scene order."""
    if count >= len(objects):
        return list(objects)
    picked = np.random.default_rng([int(seed), 7]).choice(len(objects), size=count, replace=False)
    return [objects[i] for i in sorted(picked)]


def metric_is_better(metric: str, value: float, best: float | None) -> bool:
    """Whether `value` beats `best` for `metric` (NoC: lower is better; IoU: higher)."""
    if best is None or not np.isfinite(best):
        return bool(np.isfinite(value))
    return value < best if metric.startswith("NoC@") else value > best


def validate(
    model: torch.nn.Module, model_config: ModelConfig, dataset: SceneDataset, objects: list[SceneObject],
    config: ValConfig, device: torch.device, show_progress: bool = True, domains: dict[str, str] | None = None,
) -> dict[str, float]:  # fmt: skip
    """Click on every validation object with the simulated user; NoC@80/85/90, IoU@k and timing.

    `domains` (scene -> "outdoor" | "indoor", default outdoor) is each scene's `SegmenterConfig.domain`
    (the graph preset of a `prior_fusion` network's prior). The model is evaluated in eval mode and
    given back in the mode it had.
    """
    began = time.perf_counter()
    was_training = model.training
    # the network alone: inference-only steps (the ground gate) would change which epoch is best
    segmenters = {domain: Segmenter(model, model_config, device, SegmenterConfig(ground_gate=False, domain=domain))
                  for domain in DOMAINS}  # eval mode  # fmt: skip
    settings = ProtocolSettings(max_clicks=config.max_clicks)
    rows, classes = [], []
    try:
        progress = tqdm(total=len(objects), desc="validation", unit="object", leave=False, disable=not show_progress)
        for scene_name, scene_objects in group_by_scene(objects).items():
            scene = dataset.load_scene(scene_name)
            segmenter = segmenters[(domains or {}).get(scene_name, "outdoor")]
            for result in evaluate_scene(segmenter, scene, scene_objects, settings):
                rows.append(result.ious)
                classes.append(result.class_name)
                progress.update()
        progress.close()
    finally:
        model.train(was_training)
    summary = summarize(rows, classes, config.max_clicks)
    metrics = {"objects": len(rows), **{k: summary[k] for k in ("NoC@80", "NoC@85", "NoC@90")}}
    for clicks in IOU_CLICKS:
        metrics[f"IoU@{clicks}"] = summary["IoU@k"][min(clicks, config.max_clicks) - 1] if rows else float("nan")
    metrics["seconds"] = time.perf_counter() - began
    return metrics
