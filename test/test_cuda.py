"""The same code on a CUDA device: network, session and an AMP training step agree with the CPU.

These run only where torch sees a GPU (and spconv is a CUDA build); on a CPU machine they skip.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from clickenhance_model import Segmenter
from clickenhance_model.inference.network_input import collate, prepare_sample
from clickenhance_model.model_config import InputConfig, ModelConfig, NetworkConfig
from clickenhance_model.training.config import OptimizerConfig, SchedulerConfig
from clickenhance_model.training.optimization import build_optimizer, build_scheduler
from clickenhance_model.training.step import train_step

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

SMALL = ModelConfig(
    input=InputConfig(voxel_size=0.2, crop_radius=6.0, max_voxels=0, coord_scale=5.0, geodesic_maps="outdoor"),
    network=NetworkConfig(channels=(8, 16, 32), cse_channels=(4, 8, 16), embedding_dim=8),
)


def _scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A flat ground with a 2 m box on it; returns (xyz, box mask)."""
    rng = np.random.default_rng(seed)
    ground = np.c_[rng.uniform(-6, 6, size=(4000, 2)), rng.normal(0, 0.02, 4000)]
    box = rng.uniform([0, 0, 0], [2, 1, 1.5], size=(1000, 3))
    return np.concatenate([ground, box]).astype(np.float32), np.r_[np.zeros(4000, bool), np.ones(1000, bool)]


def test_network_output_matches_the_cpu() -> None:
    xyz, target = _scene()
    sample = prepare_sample(xyz, None, xyz[4000:4001], None, None, SMALL, labels=target.astype(np.int64))
    cpu = Segmenter.from_config(SMALL, device="cpu", seed=0).model.eval()
    gpu = Segmenter.from_config(SMALL, device="cuda", seed=0).model.eval()
    with torch.no_grad():
        on_cpu = cpu(collate([sample]), embeddings=False)[0]
        on_gpu = gpu(collate([sample], torch.device("cuda")), embeddings=False)[0]
    assert on_gpu.is_cuda
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, atol=1e-3, rtol=1e-3)


def test_session_on_cuda_returns_the_cpu_mask() -> None:
    xyz, target = _scene(1)
    masks = []
    for device in ("cpu", "cuda"):
        session = Segmenter.from_config(SMALL, device=device, seed=0).session(xyz)
        session.add_click(4000)
        masks.append(session.add_click(10, positive=False))
    assert masks[0].shape == masks[1].shape == target.shape
    assert (masks[0] != masks[1]).mean() < 0.001  # ties at the decision boundary may differ


def test_amp_training_step_on_cuda_learns() -> None:
    xyz, target = _scene(2)
    sample = prepare_sample(xyz, None, xyz[4000:4001], None, None, SMALL, labels=target.astype(np.int64))
    model = Segmenter.from_config(SMALL, device="cuda", seed=0).model.train()
    optimizer = build_optimizer(model, OptimizerConfig(lr=0.02))
    scheduler = build_scheduler(optimizer, dataclasses.replace(SchedulerConfig(), name="constant"), 100)
    scaler = torch.amp.GradScaler("cuda")
    device = torch.device("cuda")
    losses = [train_step(model, [sample], optimizer, scheduler, scaler, SMALL.loss, device, amp=True)["total"]
              for _ in range(15)]  # fmt: skip
    assert all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses
    assert all(p.device.type == "cuda" for p in model.parameters())
