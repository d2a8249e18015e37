"""spconv's CPU path trains once the workarounds of clickenhance_model.spconv_backend are applied."""

from __future__ import annotations

import torch
from torch import nn

from clickenhance_model.spconv_backend import spconv, use_convolution_algorithm


def tiny_unet_block(channels_in: int) -> spconv.SparseSequential:
    """One encoder level down and back up, bias-free convolutions (spconv's CPU limit)."""
    return spconv.SparseSequential(
        spconv.SubMConv3d(channels_in, 8, 3, bias=False, indice_key="subm0"),
        nn.BatchNorm1d(8), nn.ReLU(),
        spconv.SparseConv3d(8, 16, 2, stride=2, bias=False, indice_key="down1"),
        nn.BatchNorm1d(16), nn.ReLU(),
        spconv.SubMConv3d(16, 16, 3, bias=False, indice_key="subm1"),
        nn.BatchNorm1d(16), nn.ReLU(),
        spconv.SparseInverseConv3d(16, 8, 2, bias=False, indice_key="down1"),
        nn.BatchNorm1d(8), nn.ReLU(),
        spconv.SubMConv3d(8, 2, 1, bias=False, indice_key="subm0"),
    )


def test_sparse_unet_block_trains_one_step_on_cpu() -> None:
    torch.manual_seed(0)
    coords = torch.unique(torch.randint(0, 24, (800, 3)), dim=0).int()  # [N, 3]
    indices = torch.cat([torch.zeros(len(coords), 1, dtype=torch.int32), coords], dim=1)  # [N, 4]
    features = torch.randn(len(indices), 5)  # [N, 5]
    target = (coords[:, 0] > 12).long()  # [N]
    net = tiny_unet_block(5)
    use_convolution_algorithm(net, on_cuda=False)  # a CUDA build of spconv defaults to a GPU-only algorithm
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)

    def loss_now() -> torch.Tensor:
        out = net(spconv.SparseConvTensor(features, indices, [24, 24, 24], batch_size=1))
        assert out.features.shape == (len(indices), 2)
        return nn.functional.cross_entropy(out.features, target)

    loss = loss_now()
    loss.backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None, name
        assert parameter.grad.abs().sum() > 0, f"zero gradient for {name}"
    optimizer.step()
    assert torch.isfinite(loss)
    assert loss_now().item() < loss.item()  # the step moved the weights downhill
