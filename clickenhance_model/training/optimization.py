"""Optimizer and learning-rate schedule of a training run (SGD + OneCycleLR by default, as in the paper)."""

from __future__ import annotations

import torch

from clickenhance_model.training.config import OptimizerConfig, SchedulerConfig


def build_optimizer(model: torch.nn.Module, config: OptimizerConfig) -> torch.optim.Optimizer:
    """SGD with momentum or AdamW over the model's parameters, starting at the peak rate `config.lr`."""
    if config.name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                               weight_decay=config.weight_decay)  # fmt: skip
    return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: SchedulerConfig, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """The per-step schedule over `total_steps` optimizer steps (one `step()` after each optimizer step)."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    peak = [group["lr"] for group in optimizer.param_groups]
    if config.name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=peak, total_steps=total_steps, pct_start=config.pct_start,
            div_factor=config.div_factor, final_div_factor=config.final_div_factor,
        )  # fmt: skip
    if config.name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
