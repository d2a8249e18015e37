"""ClickEnhance: interactive click-based 3D point cloud segmentation, without ROS.

    from clickenhance_model import Segmenter, load_segmenter
    seg = load_segmenter("model", checkpoint="model.pt")   # or load_segmenter("baseline")
    mask = seg.session(xyz).add_click(0)

`Segmenter` (and torch/spconv with it) is imported on first use, so importing this
package, its errors or `Click` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clickenhance_model.errors import CheckpointError, ClickEnhanceError, ClickError, CloudError, DatasetError
from clickenhance_model.inference.session import Click

if TYPE_CHECKING:
    from clickenhance_model.segmenter import ModelSession, Segmenter

__all__ = [
    "CheckpointError",
    "Click",
    "ClickEnhanceError",
    "ClickError",
    "CloudError",
    "DatasetError",
    "ModelSession",
    "Segmenter",
    "load_segmenter",
]

METHODS = ("model", "baseline")


def __getattr__(name: str) -> Any:
    """Import the torch-based API lazily (PEP 562)."""
    if name in ("Segmenter", "ModelSession"):
        from clickenhance_model import segmenter

        return getattr(segmenter, name)
    raise AttributeError(f"module 'clickenhance_model' has no attribute {name!r}")


def load_segmenter(method: str = "model", checkpoint: str | None = None, device: str = "auto", **options: Any) -> Any:
    """The learned `Segmenter` (method="model") or the training-free baseline (method="baseline").

    Both offer `session(xyz, rgb=None)` with the same click API. `options` go to the chosen
    segmenter (for the model: `SegmenterConfig` fields such as snap_distance, threshold).
    """
    if method == "model":
        from clickenhance_model.segmenter import Segmenter

        return Segmenter.load(checkpoint, device=device, **options)
    if method == "baseline":
        if checkpoint is not None:
            raise ValueError("the baseline is training-free: it takes no checkpoint")
        from clickenhance_model.baseline import BaselineSegmenter

        return BaselineSegmenter(**options)
    raise ValueError(f"unknown segmentation method {method!r}; choose one of {', '.join(METHODS)}")
