"""Choosing and loading the node's segmenter from its parameters, and saying plainly which it is.

`method: auto` takes the learned model when a checkpoint is given, or the shipped default when
it exists, was trained on the node's `domain` and still beats today's baseline (its facts file,
`shipped_facts.auto_method`), else the training-free baseline. The choice and its reason go into
the start-up log. A checkpoint that cannot be loaded raises CheckpointError (the node exits with it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clickenhance_model import load_segmenter
from clickenhance_model.shipped_facts import SHIPPED_CHECKPOINT, auto_method  # no torch: a baseline starts in 1 s
from clickenhance_ros.node_parameters import NodeParameters

if TYPE_CHECKING:
    from clickenhance_model.model_config import InputConfig


@dataclass(frozen=True)
class LoadedSegmenter:
    """The segmenter, its method ("model" | "baseline"), device and a one-line description."""

    segmenter: Any
    method: str
    device: str
    description: str


def resolve_method(params: NodeParameters) -> tuple[str, str]:
    """The method to load and why (`shipped_facts.auto_method` for `method: auto`)."""
    if params.method != "auto":
        return params.method, f"method '{params.method}' requested"
    return auto_method(SHIPPED_CHECKPOINT, params.domain, params.checkpoint or None)


def refuse_input_overrides(trained: InputConfig, params: NodeParameters) -> None:
    """Raise ValueError when voxel_size / crop_radius ask a trained model for other values than its own.

    The network learned its voxel scale and the extent of its crops (and the click maps'
    normalisation over them); silently feeding it others degrades it without a word.
    """
    asked = {"voxel_size": params.voxel_size if params.voxel_size > 0 else None,
             "crop_radius": params.crop_radius if params.crop_radius >= 0 else None}  # fmt: skip
    for name, value in asked.items():
        if value is not None and value != getattr(trained, name):
            raise ValueError(f"parameter {name}={value} differs from the model's trained input.{name}="
                             f"{getattr(trained, name)}: a trained model's {name} cannot be overridden "
                             f"(leave {name} at its default, or train a model with that value)")


def load_configured_segmenter(params: NodeParameters) -> LoadedSegmenter:
    """Load the segmenter the parameters ask for, with their voxel size and crop radius overrides."""
    method, reason = resolve_method(params)
    if method == "baseline":
        from clickenhance_model.baseline import BaselineSegmenter
        from clickenhance_model.inference.voxel_graph import PRESETS

        overrides: dict[str, float] = {}
        if params.voxel_size > 0:
            overrides["voxel_size"] = params.voxel_size
        if params.crop_radius >= 0:  # the baseline's reach from a positive click; 0 = unlimited
            overrides["max_radius"] = params.crop_radius if params.crop_radius > 0 else float("inf")
        segmenter = BaselineSegmenter(dataclasses.replace(PRESETS[params.domain], **overrides))
        config = segmenter.config
        description = (f"segmenter: training-free BASELINE (geodesic region growing), not the learned model "
                       f"[{reason}]; {params.domain} preset, voxel {config.voxel_size} m, reach {config.max_radius} m")
        return LoadedSegmenter(segmenter, "baseline", "cpu", description)
    segmenter = load_segmenter("model", params.checkpoint or None, params.device, domain=params.domain,
                               **params.model_options)
    refuse_input_overrides(segmenter.config.input, params)
    source = params.checkpoint or "the shipped default"
    inputs = segmenter.config.input
    gate = "on" if segmenter.options.ground_gate else "off"
    if params.ground_gate == "auto":
        gate += " (the weights' own choice)"
    description = (f"segmenter: learned ClickEnhance model from {source} [{reason}]; voxel {inputs.voxel_size} m, "
                   f"crop radius {inputs.crop_radius} m, ground gate {gate}, {segmenter.options.views} view(s) per "
                   f"crop, {params.domain} clouds")
    if segmenter.options.ground_prior and segmenter.config.network.prior_fusion:
        description += "; objects clicked first on the ground are the geodesic prior's (the weights' ground prior)"
        joined = segmenter.options.joined_click
        if joined not in (None, "ground"):
            description += f", but for a first click on a fence's foot or a car's sill the network answers ({joined})"
    affinity = segmenter.edge_affinity
    if affinity is not None and params.domain in affinity.domains:
        description += (f"; its {params.domain} prior prices each edge by a learned affinity (an edge between two "
                        f"objects costs up to {1 + affinity.weight:g} times its length)")
    rule = "the node's click rules replace them" if params.click_rules is not None else "the weights' own"
    if segmenter.options.gain_reach > 0:
        description += (f"; a positive click adds only within {segmenter.options.gain_reach:g} times its distance to "
                        f"the nearest negative click (click rule 3, {rule})")
    if segmenter.options.keep_direction:
        description += f"; positive clicks only add, negative clicks only take out (click rule 4, {rule})"
    return LoadedSegmenter(segmenter, "model", str(segmenter.device), description)
