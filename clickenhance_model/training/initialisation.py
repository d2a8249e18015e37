"""Start a network from another checkpoint's weights (fine-tuning, or a refiner's frozen base).

The checkpoint's network must be the new one's, up to two widenings that start as what the
checkpoint computed: geodesic click maps added to the input (their stem weights start at zero)
and prior fusion added on top (the fusion starts as the prior alone: network gain 0).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from clickenhance_model.errors import CheckpointError
from clickenhance_model.model_config import ModelConfig


def initialise_weights(model: torch.nn.Module, config: ModelConfig, state_dict: dict, source: ModelConfig,
                       path: Path) -> None:  # fmt: skip
    """Load a checkpoint's weights (`state_dict`, `source`: what `load_checkpoint(path)` returned) into `model`
    (built from `config`), widened as the module says.

    A checkpoint without geodesic maps may start a network with them: the stem's weights for the
    two new input channels start at zero, so the first step computes what the checkpoint computed
    (a network without them keeps the other channels' weights). A checkpoint without
    `network.prior_fusion` may start one with it: the fusion scalars keep `model`'s initial values
    (gain 0 on the network), so the fused answer starts as the geodesic prior itself; a point refiner
    missing from `state_dict` starts unfitted (it changes nothing), its colour, reach, flips, column, growth,
    memory and disagreement as `config` says, and so are the domains where the fusion's network votes.
    Raises CheckpointError when the two networks differ otherwise, or when fusion would be dropped.
    """
    network = config.network
    expected = dataclasses.replace(source.network, prior_fusion=network.prior_fusion,
                                   network_gain_domains=network.network_gain_domains)  # inference only: no weights
    if network.point_refiner and not source.network.point_refiner:  # a refiner to fit on it starts unfitted
        settings = {field.name: getattr(network, field.name) for field in dataclasses.fields(network)
                    if field.name.startswith("point_refiner_")}  # its colour, band and feature settings
        expected = dataclasses.replace(expected, point_refiner=True, **settings)
    if expected != network:
        raise CheckpointError(f"{path}: holds another network ({source.network}); "
                              "set model.network to that checkpoint's network")  # fmt: skip
    old, new = source.input.main_features, config.input.main_features
    if old != new:  # the geodesic maps are the last two channels: added ones start at zero weight
        weight = state_dict["stem.conv.weight"]  # [C0, 3, 3, 3, in]
        grown = torch.cat([weight, weight.new_zeros(*weight.shape[:-1], max(new - old, 0))], -1)
        state_dict["stem.conv.weight"] = grown[..., :new]  # or dropped ones are cut off
    if network.prior_fusion and not source.network.prior_fusion:  # the fusion scalars start at their init
        state_dict = {**state_dict, **{name: getattr(model, name).data for name in ("prior_scale", "network_gain")}}
    elif source.network.prior_fusion and not network.prior_fusion:
        raise CheckpointError(f"{path}: corrects a geodesic prior (network.prior_fusion), this network not")
    unfitted = {k: v for k, v in model.state_dict().items() if k.startswith("point_refiner.")}
    model.load_state_dict({**unfitted, **state_dict})
