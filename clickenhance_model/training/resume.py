"""Whether a run folder's last checkpoint can be continued under the current settings.

A resumed run must follow the same trajectory: the same network, optimizer, schedule,
epoch length, click simulation, seed and number of processes. Only settings that do not
change what is trained may differ (where the data lives, the step limit, worker count,
logging and checkpoint intervals, validation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clickenhance_model.errors import CheckpointError
from clickenhance_model.model_config import ModelConfig
from clickenhance_model.training.config import TrainConfig, train_config_from_dict

MAY_CHANGE = ("max_steps", "num_workers", "checkpoint_every_steps", "log_every_steps", "val.", "data.root",
              "data.train.root", "data.val.root")  # fmt: skip


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict -> {"a.b.c": value}."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def changed_settings(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Setting names (dotted) whose values differ and that a resumed run may not change."""
    old, new = flatten(stored), flatten(current)
    return sorted(
        key for key in set(old) | set(new)
        if old.get(key) != new.get(key) and not any(key == m or key.startswith(m) for m in MAY_CHANGE)
    )  # fmt: skip


def stored_settings(stored: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's training settings with the defaults of settings added since it was written filled in (a
    new setting's default keeps the old behaviour, so it does not stop a resume); as stored when they no
    longer parse."""
    try:
        return train_config_from_dict(stored).to_dict()
    except (ValueError, TypeError, KeyError):
        return stored


def check_resumable(path: Path, config: TrainConfig, model_config: ModelConfig, extra: dict, world_size: int) -> None:
    """Raise CheckpointError naming what differs when `path` cannot be continued with `config`."""
    if "state" not in extra or "train_config" not in extra:
        raise CheckpointError(f"{path}: not a training checkpoint (no training state to resume from)")
    if model_config != config.model:
        raise CheckpointError(f"{path}: was trained with another model config; use another --out")
    differ = changed_settings(stored_settings(extra["train_config"]), config.to_dict())
    if differ:
        raise CheckpointError(f"{path}: the run was started with other settings ({', '.join(differ[:6])}); "
                              "resume with the same config or use another --out")  # fmt: skip
    if int(extra.get("world_size", 1)) != world_size:
        raise CheckpointError(f"{path}: the run used {extra.get('world_size')} processes, this one {world_size}; "
                              "resume with the same number of processes")  # fmt: skip
