"""Checkpoint files: weights, full model config and a format version in one file.

A checkpoint is a `torch.save`d dict
`{"format": "clickenhance", "format_version": 1, "model_config": {...},
"state_dict": {...}, "extra": {...}}` whose values are tensors and plain Python data, so
it loads with `torch.load(weights_only=True)` (no arbitrary code runs). `extra` holds
whatever the caller adds, e.g. training metadata (epoch, optimizer state, metrics).
Every failure to load is a `CheckpointError` with one line naming the file and the reason.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from clickenhance_model.errors import CheckpointError
from clickenhance_model.model_config import ModelConfig

FORMAT_NAME = "clickenhance"
FORMAT_VERSION = 1


def _check_plain(value: Any, where: str) -> None:
    """Raise TypeError unless `value` is plain data or tensors (what weights_only loading accepts)."""
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"checkpoint extra: key {key!r} in {where} must be a str or int")
            _check_plain(item, f"{where}[{key!r}]")
    else:
        raise TypeError(f"checkpoint extra: {where} is a {type(value).__name__}; use plain data or tensors")


def save_checkpoint(path: str | Path, model: nn.Module, model_config: ModelConfig, extra: dict | None = None) -> Path:
    """Write weights + config (+ `extra`, plain data and tensors only) to `path` atomically; returns the path.

    The file is written to a temporary file in the same folder and renamed over `path`,
    so a crash mid-write never leaves a truncated checkpoint behind. An optimizer's
    `state_dict()` is plain data and tensors, so it fits in `extra`.
    """
    path = Path(path)
    _check_plain(extra, "extra")
    payload = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model_config": model_config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "extra": dict(extra or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            torch.save(payload, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def _one_line(error: BaseException) -> str:
    """Type and first line of an exception message, shortened, for one-line errors."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = f"{type(error).__name__}: {first}" if first else type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _read_payload(path: Path, device: torch.device | str) -> dict:
    """torch.load the file with weights_only=True; CheckpointError for missing, truncated, corrupted files."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # the unpickler raises many types (EOFError, IndexError, ...) on damaged bytes
        raise CheckpointError(f"{path}: truncated or corrupted checkpoint ({_one_line(error)})") from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{path}: not a ClickEnhance checkpoint (no '{FORMAT_NAME}' format marker)")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {payload.get('format_version')!r}, "
            f"this package reads version {FORMAT_VERSION}"
        )
    return payload


def _check_weights(path: Path, state_dict: Any, config: ModelConfig) -> None:
    """Compare parameter names and shapes with a network built from `config` (on the CPU, tens of ms)."""
    from clickenhance_model.unet import ClickEnhanceNet

    if not isinstance(state_dict, dict):
        raise CheckpointError(f"{path}: 'state_dict' is not a mapping of tensors")
    expected = {k: tuple(v.shape) for k, v in ClickEnhanceNet(config).state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state_dict.items() if isinstance(v, torch.Tensor)}
    missing, unexpected = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: weights do not match the stored model config "
            f"({len(missing)} missing, e.g. {missing[:2]}; {len(unexpected)} unexpected, e.g. {unexpected[:2]})"
        )
    wrong = [k for k in expected if expected[k] != got[k]]
    if wrong:
        raise CheckpointError(
            f"{path}: weights do not match the stored model config "
            f"({wrong[0]} has shape {got[wrong[0]]}, config expects {expected[wrong[0]]})"
        )


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> tuple[dict, ModelConfig, dict]:
    """Read a checkpoint; returns `(state_dict, model_config, extra)` with tensors on `device`.

    Raises CheckpointError (one line, naming the file) for a missing, truncated or corrupted
    file, a file that is not a ClickEnhance checkpoint, a different format version, an
    invalid model config or weights that do not fit that config.
    """
    path = Path(path)
    payload = _read_payload(path, device)
    try:
        config = ModelConfig.from_dict(payload.get("model_config"))
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"{path}: invalid model config ({_one_line(error)})") from error
    state_dict = payload.get("state_dict")
    _check_weights(path, state_dict, config)
    extra = payload.get("extra") or {}
    return state_dict, config, extra
