"""One gradient step on a batch of samples whose clicks are already simulated."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from clickenhance_model.inference.network_input import collate
from clickenhance_model.losses import clickenhance_loss
from clickenhance_model.model_config import LossConfig
from clickenhance_model.training.distributed import amp_context


def train_step(
    model: torch.nn.Module, samples: Sequence[dict], optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler, scaler: torch.amp.GradScaler, loss_config: LossConfig,
    device: torch.device, amp: bool = False, grad_clip: float = 0.0, generator: torch.Generator | None = None,
) -> dict[str, float]:  # fmt: skip
    """Forward with gradients, ClickEnhance loss, backward, optimizer and scheduler step.

    `samples` are labelled samples (from `click_simulation.simulate_clicks`). Returns the
    loss parts ("ce", "dice", "click", "total") and the learning rate used ("lr").
    Raises FloatingPointError on a non-finite loss, before any weight changes.
    """
    batch = collate(samples, device)
    model.train()
    optimizer.zero_grad(set_to_none=True)
    with amp_context(device, amp):
        logits, embeddings = model(batch, embeddings=loss_config.click_loss)  # [V, 2], [V, D]
    embeddings = None if embeddings is None else embeddings.float()
    loss, parts = clickenhance_loss(logits.float(), embeddings, batch, loss_config, generator)
    if not torch.isfinite(loss):  # clickenhance_loss checks too; kept here so any loss change stays guarded
        raise FloatingPointError(f"non-finite training loss {parts}")
    scaler.scale(loss).backward()
    if grad_clip > 0:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    parts["lr"] = float(optimizer.param_groups[0]["lr"])
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
    return parts
