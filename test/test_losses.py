"""Losses against hand-computed values: CE + Dice, the click triplet loss, weights and switches."""

from __future__ import annotations

import math

import pytest
import torch

from clickenhance_model.losses import click_loss, clickenhance_loss, segmentation_loss
from clickenhance_model.model_config import LossConfig


def _batch(batch_index: list[int], anchor: list[int], labels: list[int]) -> dict:
    return {
        "batch_index": torch.tensor(batch_index),
        "batch_size": max(batch_index) + 1,
        "anchor": torch.tensor(anchor),
        "labels": torch.tensor(labels),
    }


def test_segmentation_loss_hand_computed() -> None:
    logits = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    labels = torch.tensor([1, 0, 1])
    ce, dice = segmentation_loss(logits, labels, torch.zeros(3, dtype=torch.long), 1)
    p = [0.5, 1 / (1 + math.e**2), 1 / (1 + math.e**-2)]  # object probabilities
    expected_ce = -(math.log(p[0]) + math.log(1 - p[1]) + math.log(p[2])) / 3
    expected_dice = 1 - (2 * (p[0] + p[2]) + 1) / (sum(p) + 2 + 1)
    assert ce.item() == pytest.approx(expected_ce, rel=1e-5)
    assert dice.item() == pytest.approx(expected_dice, rel=1e-5)


def test_segmentation_loss_averages_per_sample() -> None:
    """A big sample and a small one weigh the same."""
    logits = torch.tensor([[5.0, -5.0]] * 9 + [[-5.0, 5.0]])  # sample 0: 9 right; sample 1: 1 wrong
    labels = torch.tensor([0] * 9 + [0])
    ce, _ = segmentation_loss(logits, labels, torch.tensor([0] * 9 + [1]), 2)
    wrong = -math.log(1 / (1 + math.e**10))
    right = -math.log(1 / (1 + math.e**-10))
    assert ce.item() == pytest.approx((right + wrong) / 2, rel=1e-4)


def test_prior_error_weight_scales_the_ce_of_voxels_the_prior_gets_wrong() -> None:
    """Voxels whose geodesic prior disagrees with the label weigh `prior_error_weight` in the CE; Dice is unchanged."""
    logits = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    batch = _batch([0] * 4, [0], [1, 1, 0, 0])
    batch["prior"] = torch.tensor([1.0, 0.0, 1.0, 0.0])  # voxel 1 (missed object) and 2 (wrongly held) are errors
    per_voxel = torch.nn.functional.cross_entropy(logits, batch["labels"], reduction="none")
    plain = LossConfig(click_loss=False)
    weighted = LossConfig(click_loss=False, prior_error_weight=5.0)
    _, parts_plain = clickenhance_loss(logits, None, batch, plain)
    _, parts_weighted = clickenhance_loss(logits, None, batch, weighted)
    expected = (per_voxel[0] + 5 * per_voxel[1] + 5 * per_voxel[2] + per_voxel[3]).item() / 4
    assert parts_plain["ce"] == pytest.approx(per_voxel.mean().item(), rel=1e-6)
    assert parts_weighted["ce"] == pytest.approx(expected, rel=1e-6)
    assert parts_weighted["dice"] == pytest.approx(parts_plain["dice"], rel=1e-6)
    del batch["prior"]  # a network without a prior: the weight has nothing to act on
    assert clickenhance_loss(logits, None, batch, weighted)[1]["ce"] == pytest.approx(parts_plain["ce"], rel=1e-6)
    with pytest.raises(ValueError, match="prior_error_weight"):
        LossConfig(prior_error_weight=0.5)


def test_click_loss_hand_computed() -> None:
    # voxel 0: anchor (object, predicted object); 1, 2: false negatives; 3: false positive; 4: true negative
    embeddings = torch.tensor([[0.0, 0.0], [0.3, 0.0], [0.0, 0.5], [0.2, 0.0], [1.0, 1.0]])
    logits = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    batch = _batch([0] * 5, [0], [1, 1, 1, 0, 0])
    loss = click_loss(embeddings, logits, batch["labels"], batch, num_samples=16, margin=0.1)
    assert loss.item() == pytest.approx(max(0.0, (0.3 + 0.5) / 2 - 0.2 + 0.1), abs=1e-6)
    far = embeddings.clone()
    far[3] = torch.tensor([2.0, 0.0])  # false positive pushed far away: loss 0
    assert click_loss(far, logits, batch["labels"], batch, 16, 0.1).item() == 0.0


def test_click_loss_empty_regions_and_sampling() -> None:
    embeddings = torch.tensor([[0.0, 0.0], [0.3, 0.0], [0.0, 0.5]])
    labels = torch.tensor([1, 1, 1])
    perfect = torch.tensor([[0.0, 1.0]] * 3)
    batch = _batch([0, 0, 0], [0], [1, 1, 1])
    assert click_loss(embeddings, perfect, labels, batch, 16, 0.1).item() == 0.0  # no error, no loss
    missed = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])  # two false negatives, no false positive
    assert click_loss(embeddings, missed, labels, batch, 16, 0.1).item() == pytest.approx(0.4 + 0.1, abs=1e-6)
    sampled = click_loss(embeddings, missed, labels, batch, 1, 0.1, torch.Generator().manual_seed(0)).item()
    assert sampled == pytest.approx(0.3 + 0.1, abs=1e-6) or sampled == pytest.approx(0.5 + 0.1, abs=1e-6)


def test_total_loss_weights_and_switch() -> None:
    torch.manual_seed(0)
    logits = torch.randn(6, 2)
    embeddings = torch.nn.functional.normalize(torch.randn(6, 4), dim=1)
    batch = _batch([0, 0, 0, 1, 1, 1], [0, 3], [1, 0, 1, 1, 1, 0])
    ce, dice = segmentation_loss(logits, batch["labels"], batch["batch_index"], 2)
    click = click_loss(embeddings, logits, batch["labels"], batch, 16, 0.1)
    total, parts = clickenhance_loss(logits, embeddings, batch, LossConfig())
    assert total.item() == pytest.approx(0.8 * (ce + dice).item() + 0.2 * click.item(), rel=1e-6)
    assert set(parts) == {"ce", "dice", "click", "total"}
    off, parts_off = clickenhance_loss(logits, None, batch, LossConfig(click_loss=False))
    assert off.item() == pytest.approx(0.8 * (ce + dice).item(), rel=1e-6) and parts_off["click"] == 0.0


def test_total_loss_errors() -> None:
    batch = _batch([0, 0], [0], [1, 0])
    with pytest.raises(FloatingPointError, match="non-finite"):
        clickenhance_loss(torch.tensor([[float("nan"), 0.0], [0.0, 1.0]]), None, batch, LossConfig(click_loss=False))
    with pytest.raises(ValueError, match="embeddings"):
        clickenhance_loss(torch.zeros(2, 2), None, batch, LossConfig())
    del batch["labels"]
    with pytest.raises(ValueError, match="labels"):
        clickenhance_loss(torch.zeros(2, 2), None, batch, LossConfig())
