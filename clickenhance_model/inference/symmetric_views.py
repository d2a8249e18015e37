"""Test-time views of a crop: the quarter turns and mirrors of its voxel lattice about the vertical axis.

The networks are trained on scenes under random yaw and mirroring, so every such view of a
crop is an input they know, yet their sparse 3x3x3 kernels answer each a little differently.
Averaging the network's object logit over views keeps what it says in every view (a car that a
negative click cut) and damps what it says in one view only. The views are exact on the lattice:
a voxel keeps its identity, only its integer x/y index moves (the padded spatial shape is a
multiple of every level's stride, so a mirror keeps the stride-2 pairs of every level), so the
per-voxel average needs no resampling. Only the crop's xyz features turn with it; colours,
click distances and the prior do not depend on the direction.
"""

from __future__ import annotations

import torch

from clickenhance_model.model_config import MAX_VIEWS

# (swap x and y, then negate x, negate y): the four quarter turns, then their mirror images
VIEWS = (
    (False, False, False),  # as given
    (True, True, False),  # 90 degrees: (x, y) -> (-y, x)
    (False, True, True),  # 180 degrees
    (True, False, True),  # 270 degrees: (x, y) -> (y, -x)
    (False, True, False),  # mirror x
    (False, False, True),  # mirror y
    (True, False, False),  # mirror about x = y
    (True, True, True),  # mirror about x = -y
)


def view_sample(sample: dict, swap: bool, negate_x: bool, negate_y: bool) -> dict:
    """A copy of an `encode_crop` sample seen turned or mirrored about z (same voxels in the same rows)."""
    coords = sample["coords"].clone()  # [V, 3] int32 x, y, z
    shape = list(sample["spatial_shape"])
    features = sample["features"].clone()  # [V, F], xyz first
    cse = sample["cse_features"].clone()  # [V, 4], xyz first
    if swap:
        coords[:, [0, 1]] = coords[:, [1, 0]]
        shape[0], shape[1] = shape[1], shape[0]
        features[:, [0, 1]] = features[:, [1, 0]]
        cse[:, [0, 1]] = cse[:, [1, 0]]
    for axis, negate in ((0, negate_x), (1, negate_y)):
        if negate:
            coords[:, axis] = shape[axis] - 1 - coords[:, axis]
            features[:, axis] = -features[:, axis]
            cse[:, axis] = -cse[:, axis]
    return {**sample, "coords": coords, "spatial_shape": shape, "features": features, "cse_features": cse}


def view_samples(sample: dict, views: int) -> list[dict]:
    """The first `views` (1 to 8) views of a sample in `VIEWS` order; the first is the sample itself."""
    if not 1 <= views <= MAX_VIEWS:
        raise ValueError(f"views must be in [1, {MAX_VIEWS}], got {views}")
    return [sample] + [view_sample(sample, *VIEWS[k]) for k in range(1, views)]


def mean_over_views(logits: torch.Tensor, views: int) -> torch.Tensor:
    """Per-voxel mean of a batch of `views` views' logits ([views * V, C], views one after another) -> [V, C]."""
    return logits.reshape(views, -1, logits.shape[-1]).mean(dim=0)

