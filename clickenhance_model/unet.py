"""The ClickEnhance network: a sparse U-Net with a Click-Specific Encoder (CSE).

Main branch: input `[x, y, z, r, g, b, d_pos, d_neg]` per voxel, an encoder of
`len(channels)` resolution levels (stride-2 sparse convolutions between them), a decoder
of inverse convolutions with skip connections, a 2-class segmentation head and a
projection head for the click loss.

Click-Specific Encoder: a lighter second encoder fed `[x, y, z, d_current]` only. At every
level its features are projected to the main width (a linear layer, i.e. a 1x1 conv) and
added to the main encoder's features (residual fusion), so they reach the decoder through
the skip connections. Both branches live on exactly the same voxels at every level: the
CSE uses the main branch's sparse tensor structure (and its indice pairs), and one
stride-2 convolution downsamples both branches at once with block-diagonal weights, so the
branches share output voxels without mixing their features.

spconv conventions: features [N, C], int32 indices [N, 4] (batch, x, y, z); every
resolution level l has its own `subm{l}` key, the stride-2 convolution into level l the
key `spconv{l}`, reused by the inverse convolution out of level l. Convolutions have
`bias=False`, the bias lives in the BatchNorm after them (spconv's CPU path needs it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn
from torch.nn.utils import parametrize

from clickenhance_model.inference.network_input import CSE_FEATURES
from clickenhance_model.inference.point_features import (
    COLOUR_FEATURES,
    FLIP_FEATURES,
    GROWTH_FEATURES,
    MEMORY_FEATURES,
    POINT_FEATURES,
    SHAPE_FEATURES,
)
from clickenhance_model.model_config import ModelConfig, NetworkConfig
from clickenhance_model.spconv_backend import spconv, use_convolution_algorithm

SparseTensor = spconv.SparseConvTensor
PRIOR_SCALE_INIT = 4.0  # object logit of the geodesic prior alone (probability 0.98 in, 0.02 out)


def _norm(channels: int) -> nn.BatchNorm1d:
    """BatchNorm over voxel features; carries the bias the convolutions leave out."""
    return nn.BatchNorm1d(channels, eps=1e-3, momentum=0.1)


def _norm_relu(x: SparseTensor, norm: nn.Module) -> SparseTensor:
    """Apply norm + ReLU to the features of a sparse tensor."""
    return x.replace_feature(F.relu(norm(x.features)))


class SubmConvNormReLU(spconv.SparseModule):
    """3x3x3 submanifold convolution, BatchNorm, ReLU (keeps the voxels)."""

    def __init__(self, in_channels: int, out_channels: int, indice_key: str):
        super().__init__()
        self.conv = spconv.SubMConv3d(in_channels, out_channels, 3, padding=1, bias=False, indice_key=indice_key)
        self.norm = _norm(out_channels)

    def forward(self, x: SparseTensor) -> SparseTensor:
        """[N, C_in] -> [N, C_out] on the same voxels."""
        return _norm_relu(self.conv(x), self.norm)


class ResidualBlock(spconv.SparseModule):
    """Two 3x3x3 submanifold convolutions with an identity shortcut."""

    def __init__(self, channels: int, indice_key: str):
        super().__init__()
        self.conv1 = spconv.SubMConv3d(channels, channels, 3, padding=1, bias=False, indice_key=indice_key)
        self.norm1 = _norm(channels)
        self.conv2 = spconv.SubMConv3d(channels, channels, 3, padding=1, bias=False, indice_key=indice_key)
        self.norm2 = _norm(channels)

    def forward(self, x: SparseTensor) -> SparseTensor:
        """[N, C] -> [N, C] on the same voxels."""
        out = _norm_relu(self.conv1(x), self.norm1)
        out = self.conv2(out)
        return out.replace_feature(F.relu(self.norm2(out.features) + x.features))  # [N, C]


def _blocks(channels: int, count: int, indice_key: str) -> spconv.SparseSequential:
    """`count` residual blocks at one resolution."""
    return spconv.SparseSequential(*[ResidualBlock(channels, indice_key) for _ in range(count)])


class _BlockDiagonal(nn.Module):
    """Weight parametrization zeroing the cross-branch entries of a KRSC [out, k, k, k, in] weight."""

    def __init__(self, in_split: int, out_split: int, in_channels: int, out_channels: int):
        super().__init__()
        mask = torch.zeros(out_channels, 1, 1, 1, in_channels)
        mask[:out_split, ..., :in_split] = 1.0
        mask[out_split:, ..., in_split:] = 1.0
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        """Masked weight (the gradient of masked entries is zero)."""
        return weight * self.mask


class TwoBranchDown(spconv.SparseModule):
    """Stride-2 convolution of main and CSE features at once: same output voxels, no mixing.

    Input features are `[main (C_in) | cse (Q_in)]`, output `[main (C_out) | cse (Q_out)]`;
    with `cse_in == 0` it is a plain downsampling of the main branch.
    """

    def __init__(self, main_in: int, cse_in: int, main_out: int, cse_out: int, indice_key: str):
        super().__init__()
        self.conv = spconv.SparseConv3d(
            main_in + cse_in, main_out + cse_out, 2, stride=2, bias=False, indice_key=indice_key
        )
        if cse_in:
            if tuple(self.conv.weight.shape) != (main_out + cse_out, 2, 2, 2, main_in + cse_in):
                raise RuntimeError(f"unexpected spconv weight layout {tuple(self.conv.weight.shape)}; expected KRSC")
            mask = _BlockDiagonal(main_in, main_out, main_in + cse_in, main_out + cse_out)
            parametrize.register_parametrization(self.conv, "weight", mask)
        self.norm = _norm(main_out + cse_out)

    def forward(self, x: SparseTensor) -> SparseTensor:
        """[N, C_in + Q_in] -> [N', C_out + Q_out] on the voxels of the next level."""
        return _norm_relu(self.conv(x), self.norm)


class ClickEnhanceNet(nn.Module):
    """Sparse U-Net with Click-Specific Encoder, segmentation head and projection head.

    Call `forward(batch)` with a batch from `inference.network_input.collate` (one or several samples);
    it returns `(logits [V, 2], embeddings [V, D])` per input voxel, in the batch's order.
    Embeddings are L2-normalised (for the click loss) or None with `embeddings=False`.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.use_cse = config.network.use_cse
        self._convolutions_on_cuda: bool | None = None  # device the spconv algorithms were last chosen for
        self._build_encoders(config.network)
        self._build_decoder(config.network)
        if config.network.prior_fusion:  # see NetworkConfig.prior_fusion: starts as the geodesic prior alone
            self.prior_scale = nn.Parameter(torch.tensor(PRIOR_SCALE_INIT))
            self.network_gain = nn.Parameter(torch.tensor(0.0))
        if config.network.point_refiner:
            self.point_refiner = PointRefiner(colour=config.network.point_refiner_colour,
                                              flips=config.network.point_refiner_flips,
                                              growth=config.network.point_refiner_growth,
                                              memory=config.network.point_refiner_memory,
                                              shape=config.network.point_refiner_shape > 0)

    def _build_encoders(self, net: NetworkConfig) -> None:
        """Main encoder, CSE and the joint stride-2 convolutions between levels."""
        widths, levels = net.channels, net.levels
        main_features = self.config.input.main_features
        cse = [net.cse_channels[lv] if self.use_cse else 0 for lv in range(levels)]
        self.stem = SubmConvNormReLU(main_features, widths[0], "subm0")
        self.encoder = nn.ModuleList([_blocks(widths[lv], net.encoder_blocks, f"subm{lv}") for lv in range(levels)])
        self.down = nn.ModuleList(
            TwoBranchDown(widths[lv], cse[lv], widths[lv + 1], cse[lv + 1], f"spconv{lv + 1}")
            for lv in range(levels - 1)
        )
        if self.use_cse:
            self.cse_stem = SubmConvNormReLU(CSE_FEATURES, cse[0], "subm0")
            self.cse_encoder = nn.ModuleList(_blocks(cse[lv], net.encoder_blocks, f"subm{lv}") for lv in range(levels))
            self.cse_fusion = nn.ModuleList(nn.Linear(cse[lv], widths[lv]) for lv in range(levels))

    def _build_decoder(self, net: NetworkConfig) -> None:
        """Inverse convolutions, skip merges, decoder blocks and both heads."""
        widths, levels = net.channels, net.levels
        self.up = nn.ModuleList(
            spconv.SparseInverseConv3d(widths[lv + 1], widths[lv], 2, bias=False, indice_key=f"spconv{lv + 1}")
            for lv in range(levels - 1)
        )
        self.up_norm = nn.ModuleList(_norm(widths[lv]) for lv in range(levels - 1))
        self.merge = nn.ModuleList(
            SubmConvNormReLU(2 * widths[lv], widths[lv], f"subm{lv}") for lv in range(levels - 1)
        )
        self.decoder = nn.ModuleList(_blocks(widths[lv], net.decoder_blocks, f"subm{lv}") for lv in range(levels - 1))
        self.seg_head = nn.Sequential(nn.Linear(widths[0], widths[0]), nn.ReLU(), nn.Linear(widths[0], 2))
        self.projection_head = nn.Sequential(
            nn.Linear(widths[0], widths[0]), nn.ReLU(), nn.Linear(widths[0], net.embedding_dim)
        )

    def encode(self, batch: dict) -> tuple[list[SparseTensor], list[SparseTensor]]:
        """Run both encoders; returns the fused main features and the CSE features per level.

        The CSE list is empty when the CSE is off. Level l of both lists has the same indices.
        """
        on_cuda = batch["features"].is_cuda
        if self._convolutions_on_cuda is not on_cuda:  # the weights may have moved since the last call
            use_convolution_algorithm(self, on_cuda)
            self._convolutions_on_cuda = on_cuda
        x = SparseTensor(batch["features"], batch["indices"], batch["spatial_shape"], batch["batch_size"])
        main = self.stem(x)  # [N0, C0]
        main_levels: list[SparseTensor] = []
        cse_levels: list[SparseTensor] = []
        cse_features = batch["cse_features"]  # [N0, 4]
        for lv, blocks in enumerate(self.encoder):
            main = blocks(main)  # [Nl, Cl]
            if self.use_cse:
                cse = main.replace_feature(cse_features)  # same voxels and indice pairs as the main branch
                cse = self.cse_stem(cse) if lv == 0 else cse
                cse = self.cse_encoder[lv](cse)  # [Nl, Ql]
                main = main.replace_feature(main.features + self.cse_fusion[lv](cse.features))  # residual fusion
                cse_levels.append(cse)
            main_levels.append(main)
            if lv + 1 < len(self.encoder):
                joint = main.replace_feature(torch.cat([main.features, cse.features], 1)) if self.use_cse else main
                down = self.down[lv](joint)  # [N(l+1), C(l+1) + Q(l+1)]
                width = self.config.network.channels[lv + 1]
                main = down.replace_feature(down.features[:, :width])
                cse_features = down.features[:, width:]
        return main_levels, cse_levels

    def decode(self, main_levels: list[SparseTensor]) -> torch.Tensor:
        """U-Net decoder from the deepest level up; returns per-voxel features [N0, C0]."""
        x = main_levels[-1]
        for lv in range(len(main_levels) - 2, -1, -1):
            x = _norm_relu(self.up[lv](x), self.up_norm[lv])  # [Nl, Cl] on level l's voxels
            x = x.replace_feature(torch.cat([x.features, main_levels[lv].features], 1))  # [Nl, 2 Cl]
            x = self.decoder[lv](self.merge[lv](x))  # [Nl, Cl]
        return x.features

    def fuse(self, logits: torch.Tensor, prior: torch.Tensor, network_votes: bool = True) -> torch.Tensor:
        """Logits [V, 2] of the network's correction of the geodesic prior (0/1 per voxel or point, [V]).

        Object logit `prior_scale * (2 prior - 1) + network_gain * (object - background logit)`,
        returned as the pair (-half, +half) so that softmax gives its sigmoid. Without `network_votes` (a domain
        outside `NetworkConfig.network_gain_domains`) the gain is taken as 0: the prior's logit alone.
        """
        network = (logits[:, 1] - logits[:, 0]).float()  # [V]
        gain = self.network_gain if network_votes else 0.0
        half = 0.5 * (self.prior_logit(prior) + gain * network)  # [V]
        return torch.stack([-half, half], dim=1)

    def prior_logit(self, prior: torch.Tensor) -> torch.Tensor:
        """The prior's share of the fused object logit: `prior_scale * (2 prior - 1)`, [V]."""
        return self.prior_scale.to(prior.device) * (2.0 * prior.float() - 1.0)

    def forward(
        self, batch: dict, embeddings: bool = True, fuse: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits [V, 2] (background, object) and L2-normalised embeddings [V, D] (None if not asked).

        With `network.prior_fusion` the logits are fused with `batch["prior"]` (see `fuse`)
        unless `fuse` is False (the network's own logits, for a prior given per point).
        """
        main_levels, _ = self.encode(batch)
        features = self.decode(main_levels)  # [V, C0]
        logits = self.seg_head(features)  # [V, 2]
        if fuse and self.config.network.prior_fusion:
            logits = self.fuse(logits, batch["prior"])
        if not embeddings:
            return logits, None
        return logits, F.normalize(self.projection_head(features), dim=1)  # [V, D]


class PointRefiner(nn.Module):
    """A per-point correction of the fused object logit, from `inference.point_features` (an MLP of two
    hidden layers). Its last layer starts at zero, so a refiner not yet fitted changes nothing. Without `colour`
    it sees every cloud as colourless (`COLOUR_FEATURES` zero), in its fit as at inference. With `flips` it reads
    `FLIP_FEATURES` more columns: which way the latest click moved each point (`NetworkConfig.point_refiner_flips`);
    with `growth` `GROWTH_FEATURES` more: how large that move was (`NetworkConfig.point_refiner_growth`); with `shape`
    `SHAPE_FEATURES` more: the points' and the first click's local shape (`NetworkConfig.point_refiner_shape`); with
    `memory` `MEMORY_FEATURES` more: the answer shown after the click before (`NetworkConfig.point_refiner_memory`)."""

    def __init__(self, hidden: int = 32, colour: bool = True, flips: bool = False, growth: bool = False,
                 memory: bool = False, shape: bool = False):  # fmt: skip
        super().__init__()
        self.colour = colour
        width = (POINT_FEATURES + (FLIP_FEATURES if flips else 0) + (GROWTH_FEATURES if growth else 0)
                 + (SHAPE_FEATURES if shape else 0) + (MEMORY_FEATURES if memory else 0))  # fmt: skip
        self.layers = nn.Sequential(
            nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )
        nn.init.zeros_(self.layers[-1].weight)
        nn.init.zeros_(self.layers[-1].bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Correction [M] of the object logit of M points, from their features [M, POINT_FEATURES (+ FLIP_FEATURES
        (+ GROWTH_FEATURES)) (+ SHAPE_FEATURES) (+ MEMORY_FEATURES)]."""
        if not self.colour:
            features = features.clone()
            features[:, COLOUR_FEATURES] = 0.0
        return self.layers(features).squeeze(1)
