"""The sparse U-Net with Click-Specific Encoder: shapes, shared voxels, branch independence, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from clickenhance_model.inference.network_input import collate, prepare_sample
from clickenhance_model.losses import clickenhance_loss
from clickenhance_model.model_config import InputConfig, ModelConfig, NetworkConfig
from clickenhance_model.spconv_backend import spconv, use_convolution_algorithm
from clickenhance_model.unet import ClickEnhanceNet

TINY = ModelConfig(
    input=InputConfig(voxel_size=0.2, crop_radius=4.0, max_voxels=0),
    network=NetworkConfig(channels=(8, 16, 24, 32), cse_channels=(4, 8, 8, 16), embedding_dim=8),
)


def _samples(config: ModelConfig, seed: int = 0) -> list[dict]:
    """Two labelled samples of a random scene (ground + a box), with different clicks."""
    rng = np.random.default_rng(seed)
    ground = np.c_[rng.uniform(-5, 5, size=(3000, 2)), rng.normal(0, 0.02, 3000)]
    box = rng.uniform([0, 0, 0], [2, 1, 1.5], size=(800, 3))
    xyz = np.concatenate([ground, box]).astype(np.float32)
    labels = np.r_[np.zeros(3000), np.ones(800)]
    first = prepare_sample(xyz, None, xyz[3000:3001], None, None, config, labels=labels)
    second = prepare_sample(xyz, None, xyz[[3100, 3200]], xyz[:1], xyz[0], config, labels=labels)
    return [first, second]


@pytest.fixture(scope="module")
def model() -> ClickEnhanceNet:
    torch.manual_seed(0)
    return ClickEnhanceNet(TINY)


def test_forward_shapes_and_normalised_embeddings(model: ClickEnhanceNet) -> None:
    batch = collate(_samples(TINY))
    logits, embeddings = model(batch)
    assert logits.shape == (len(batch["indices"]), 2)
    assert embeddings.shape == (len(batch["indices"]), 8)
    torch.testing.assert_close(embeddings.norm(dim=1), torch.ones(len(embeddings)))
    assert model(batch, embeddings=False)[1] is None


def test_both_branches_share_voxels_at_every_level(model: ClickEnhanceNet) -> None:
    main_levels, cse_levels = model.encode(collate(_samples(TINY)))
    assert len(main_levels) == len(cse_levels) == 4
    for level, (main, cse) in enumerate(zip(main_levels, cse_levels, strict=True)):
        assert torch.equal(main.indices, cse.indices), f"level {level}"
        assert main.features.shape[1] == TINY.network.channels[level]
        assert cse.features.shape[1] == TINY.network.cse_channels[level]
    assert len(main_levels[-1].indices) < len(main_levels[0].indices)


def test_cse_sees_only_its_own_input(model: ClickEnhanceNet) -> None:
    """Block-diagonal downsampling: the CSE's deepest features do not depend on the main branch input."""
    batch = collate(_samples(TINY))
    batch["features"].requires_grad_(True)
    batch["cse_features"].requires_grad_(True)
    _, cse_levels = model.encode(batch)
    cse_levels[-1].features.square().sum().backward()
    assert batch["features"].grad is None or batch["features"].grad.abs().max() == 0
    assert batch["cse_features"].grad.abs().max() > 0


def test_gradients_reach_both_encoders_and_both_heads() -> None:
    torch.manual_seed(1)
    model = ClickEnhanceNet(TINY).train()
    batch = collate(_samples(TINY))
    logits, embeddings = model(batch)
    loss, parts = clickenhance_loss(logits, embeddings, batch, TINY.loss, torch.Generator().manual_seed(0))
    assert parts["click"] > 0  # an untrained model makes errors: the click loss is active
    loss.backward()
    modules = {
        "main encoder": model.stem,
        "main deepest": model.encoder[-1],
        "cse encoder": model.cse_stem,
        "cse deepest": model.cse_encoder[-1],
        "cse fusion": model.cse_fusion[0],
        "decoder": model.decoder[0],
        "segmentation head": model.seg_head,
        "projection head": model.projection_head,
    }
    for name, module in modules.items():
        grads = [p.grad for p in module.parameters()]
        assert grads and all(g is not None for g in grads), name
        assert sum(float(g.abs().sum()) for g in grads) > 0, name


def test_batched_forward_equals_one_sample_at_a_time(model: ClickEnhanceNet) -> None:
    """The trainer's batches and the session's batch of one give the same logits per sample."""
    model.eval()
    samples = _samples(TINY, seed=3)
    with torch.inference_mode():
        together, _ = model(collate(samples), embeddings=False)
        alone = [model(collate([s]), embeddings=False)[0] for s in samples]
    torch.testing.assert_close(together, torch.cat(alone), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("encoding", ["dense", "sparse"])
def test_ablation_switches_build_and_run(encoding: str) -> None:
    config = ModelConfig(
        input=InputConfig(voxel_size=0.2, crop_radius=4.0, encoding=encoding, sparse_cube_size=0.4),
        network=NetworkConfig(channels=(8, 16), cse_channels=(4, 8), use_cse=False),
    )
    model = ClickEnhanceNet(config)
    assert not hasattr(model, "cse_stem")
    batch = collate(_samples(config))
    logits, embeddings = model(batch)
    assert logits.shape[0] == embeddings.shape[0] == len(batch["indices"])
    assert model.encode(batch)[1] == []


def _dense(coords: torch.Tensor, features: torch.Tensor, size: int) -> torch.Tensor:
    """Scatter sparse features [N, C] at coords [N, 3] into a dense [1, C, size, size, size] grid."""
    grid = torch.zeros(size, size, size, features.shape[1]).index_put(
        (coords[:, 0], coords[:, 1], coords[:, 2]), features
    )
    return grid.permute(3, 0, 1, 2)[None]


def test_sparse_convolutions_equal_dense_ones_with_several_threads() -> None:
    """Sparse convolutions on the CPU (with spconv_backend's serial CPU kernels) match conv3d and its gradients."""
    torch.set_num_threads(2)
    torch.manual_seed(0)
    coords = torch.unique(torch.randint(0, 16, (1500, 3)), dim=0)  # [N, 3]
    indices = torch.cat([torch.zeros(len(coords), 1, dtype=torch.int32), coords.int()], 1)  # [N, 4]
    subm = spconv.SubMConv3d(6, 5, 3, padding=1, bias=False, indice_key="s")
    down = spconv.SparseConv3d(6, 5, 2, stride=2, bias=False, indice_key="d")
    use_convolution_algorithm(torch.nn.ModuleList([subm, down]), on_cuda=False)  # a CUDA build defaults to GPU-only
    for _ in range(3):
        features = torch.randn(len(coords), 6, requires_grad=True)  # [N, 6]
        x = spconv.SparseConvTensor(features, indices, [16, 16, 16], 1)
        y_subm, y_down = subm(x), down(x)
        dense_in = _dense(coords, features, 16)  # [1, 6, 16, 16, 16]
        ref_subm = F.conv3d(dense_in, subm.weight.permute(0, 4, 1, 2, 3), padding=1)[0]  # [5, 16, 16, 16]
        ref_down = F.conv3d(dense_in, down.weight.permute(0, 4, 1, 2, 3), stride=2)[0]  # [5, 8, 8, 8]
        out_coords = y_down.indices[:, 1:].long()  # [M, 3]
        ref_subm = ref_subm[:, coords[:, 0], coords[:, 1], coords[:, 2]].T  # [N, 5]
        ref_down = ref_down[:, out_coords[:, 0], out_coords[:, 1], out_coords[:, 2]].T  # [M, 5]
        torch.testing.assert_close(y_subm.features, ref_subm, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(y_down.features, ref_down, atol=1e-5, rtol=1e-5)
        grad = torch.autograd.grad(y_subm.features.square().sum() + y_down.features.sum(), [features, subm.weight])
        ref_grad = torch.autograd.grad(ref_subm.square().sum() + ref_down.sum(), [features, subm.weight])
        torch.testing.assert_close(grad[0], ref_grad[0], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(grad[1], ref_grad[1], atol=1e-3, rtol=1e-4)
    assert torch.get_num_threads() == 2  # the serial kernels give the caller's thread count back


def test_convolution_algorithm_follows_the_features_device() -> None:
    """A CUDA build of spconv defaults to implicit GEMM, which refuses CPU tensors: the CPU takes native."""
    from spconv.core import ConvAlgo
    from spconv.pytorch.conv import SparseConvolution

    torch.manual_seed(0)
    model = ClickEnhanceNet(TINY)
    convolutions = [m for m in model.modules() if isinstance(m, SparseConvolution)]
    assert len(convolutions) > 10
    for layer in convolutions:
        layer.algo = ConvAlgo.MaskImplicitGemm  # as a CUDA build of spconv builds them
    logits = model(collate(_samples(TINY)), embeddings=False)[0]  # features on the CPU
    assert all(layer.algo == ConvAlgo.Native for layer in convolutions) and torch.isfinite(logits).all()
    assert use_convolution_algorithm(model, on_cuda=False) == 0  # already chosen
