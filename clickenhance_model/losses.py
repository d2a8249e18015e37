"""Training losses of ClickEnhance: L = w_seg (CE + Dice) + w_click L_click (paper eq. 4).

All losses take the outputs of `ClickEnhanceNet.forward` on a batch from
`inference.network_input.collate` and are averaged per sample, then over the batch, so a large
crop does not outweigh a small one.

Click loss (eq. 4), per sample: the anchor is the embedding of the voxel of the latest
positive click; K voxels are drawn from the false-positive region (predicted object,
truly background) and K from the false-negative region (predicted background, truly
object) of the current prediction (argmax of the logits); with mean Euclidean distances
d_FN and d_FP to the anchor, L_click = max(0, d_FN - d_FP + margin): missed object voxels
are pulled towards the clicked object, wrongly included ones pushed away. An empty region
contributes a mean distance of 0; a sample with both regions empty contributes 0.

For a `prior_fusion` network, `LossConfig.prior_error_weight` weighs the cross-entropy of the
voxels whose geodesic prior is wrong (`prior_error_weights`), so training is spent on the
corrections rather than on agreeing with the prior where it is already right.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812

from clickenhance_model.model_config import LossConfig


def _per_sample_mean(values: torch.Tensor, batch_index: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Mean of `values` [V] within each sample -> [B]."""
    total = torch.zeros(batch_size, dtype=values.dtype, device=values.device).index_add_(0, batch_index, values)
    count = torch.bincount(batch_index, minlength=batch_size).clamp(min=1)
    return total / count


def segmentation_loss(
    logits: torch.Tensor, labels: torch.Tensor, batch_index: torch.Tensor, batch_size: int,
    weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Cross-entropy and soft Dice loss of the object class, each averaged over the batch's samples.

    `weights` [V] (default 1) scale each voxel's cross-entropy; a sample's CE is the weighted
    sum over its voxel count, so weights only add emphasis (see `prior_error_weights`).
    """
    per_voxel = F.cross_entropy(logits, labels, reduction="none")  # [V]
    if weights is not None:
        per_voxel = per_voxel * weights
    ce = _per_sample_mean(per_voxel, batch_index, batch_size)  # [B]
    prob = torch.softmax(logits, dim=1)[:, 1]  # [V]
    target = labels.to(prob.dtype)  # [V]
    zeros = torch.zeros(batch_size, dtype=prob.dtype, device=prob.device)
    intersection = zeros.index_add(0, batch_index, prob * target)  # [B]
    denominator = zeros.index_add(0, batch_index, prob + target)  # [B]
    dice = 1.0 - (2.0 * intersection + 1.0) / (denominator + 1.0)  # [B]
    return ce.mean(), dice.mean()


def prior_error_weights(prior: torch.Tensor, labels: torch.Tensor, weight: float) -> torch.Tensor:
    """Per-voxel CE weights [V]: `weight` where the geodesic prior (0/1) disagrees with the label, else 1."""
    wrong = (prior > 0.5) != (labels == 1)
    return torch.where(wrong, torch.full_like(prior, weight), torch.ones_like(prior))


def _mean_distance(
    anchor: torch.Tensor, region: torch.Tensor, k: int, generator: torch.Generator | None
) -> torch.Tensor:
    """Mean Euclidean distance from `anchor` [D] to up to `k` random rows of `region` [M, D]; 0 if M == 0."""
    if len(region) == 0:
        return anchor.new_zeros(())
    if len(region) > k:
        pick = torch.randperm(len(region), generator=generator)[:k].to(region.device)
        region = region[pick]  # [K, D]
    return torch.sqrt(((region - anchor) ** 2).sum(dim=1) + 1e-12).mean()


def click_loss(
    embeddings: torch.Tensor,
    logits: torch.Tensor,
    labels: torch.Tensor,
    batch: dict,
    num_samples: int = 16,
    margin: float = 0.1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Paper eq. 4 averaged over the batch (see the module docstring); `generator` seeds the sampling."""
    prediction = logits.detach().argmax(dim=1)  # [V]
    false_positive = (prediction == 1) & (labels == 0)  # [V]
    false_negative = (prediction == 0) & (labels == 1)  # [V]
    losses = []
    for b in range(batch["batch_size"]):
        in_sample = batch["batch_index"] == b
        fp = embeddings[false_positive & in_sample]  # [M_fp, D]
        fn = embeddings[false_negative & in_sample]  # [M_fn, D]
        if len(fp) == 0 and len(fn) == 0:
            losses.append(embeddings.new_zeros(()))
            continue
        anchor = embeddings[batch["anchor"][b]]  # [D]
        d_fn = _mean_distance(anchor, fn, num_samples, generator)
        d_fp = _mean_distance(anchor, fp, num_samples, generator)
        losses.append(F.relu(d_fn - d_fp + margin))
    return torch.stack(losses).mean()


def clickenhance_loss(
    logits: torch.Tensor,
    embeddings: torch.Tensor | None,
    batch: dict,
    config: LossConfig,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts ("ce", "dice", "click", "total") for a labelled batch.

    Raises ValueError when the batch has no labels and FloatingPointError on a non-finite loss.
    """
    if "labels" not in batch:
        raise ValueError("the batch has no 'labels'; build samples with prepare_sample(..., labels=...)")
    labels = batch["labels"]
    weights = None
    if config.prior_error_weight != 1.0 and "prior" in batch:
        weights = prior_error_weights(batch["prior"].to(logits.dtype), labels, config.prior_error_weight)
    ce, dice = segmentation_loss(logits, labels, batch["batch_index"], batch["batch_size"], weights)
    total = config.seg_weight * (ce + dice)
    click = logits.new_zeros(())
    if config.click_loss:
        if embeddings is None:
            raise ValueError("the click loss needs embeddings: call the model with embeddings=True")
        click = click_loss(embeddings, logits, labels, batch, config.num_samples, config.margin, generator)
        total = total + config.click_weight * click
    if not torch.isfinite(total):
        raise FloatingPointError(f"non-finite loss: ce={ce.item()}, dice={dice.item()}, click={click.item()}")
    parts = {"ce": ce.item(), "dice": dice.item(), "click": click.item(), "total": total.item()}
    return total, parts
