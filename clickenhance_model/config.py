"""Plain dataclass configs loaded from YAML or dicts, rejecting unknown keys early."""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


def config_from_dict(cls: type[T], data: dict[str, Any] | None, where: str = "") -> T:
    """Build dataclass `cls` from `data`, recursing into nested dataclass fields.

    Unknown keys raise ValueError naming the key and its place, so a misspelt setting
    fails at load time instead of being silently ignored.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"{where or cls.__name__}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(
            f"{where or cls.__name__}: unknown key(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(fields))}"
        )
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _convert(hints[name], value, f"{where}.{name}" if where else name)
    return cls(**kwargs)


def _convert(hint: Any, value: Any, where: str) -> Any:
    """Convert one YAML value to the field's declared type (dataclass, tuple, scalar)."""
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return config_from_dict(hint, value, where)
    origin = typing.get_origin(hint)
    if origin is tuple and isinstance(value, (list, tuple)):
        args = typing.get_args(hint)
        item = args[0] if args else Any
        return tuple(_convert(item, v, where) for v in value)
    if origin in (typing.Union, types.UnionType):
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and not isinstance(value, hint):
        raise ValueError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


def config_to_dict(config: Any) -> dict[str, Any]:
    """Plain-dict form of a dataclass config (tuples become lists), for YAML and checkpoints."""

    def plain(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(dataclasses.asdict(config))


def load_config(cls: type[T], path: str | Path) -> T:
    """Load dataclass `cls` from a YAML file (unknown keys are an error)."""
    path = Path(path)
    with path.open() as stream:
        data = yaml.safe_load(stream)
    return config_from_dict(cls, data, where=str(path))


def save_config(config: Any, path: str | Path) -> None:
    """Write a dataclass config as YAML (the copy kept beside each checkpoint)."""
    Path(path).write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False))
