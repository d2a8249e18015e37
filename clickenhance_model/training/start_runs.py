"""The runs a training config starts from, oldest first, so one command can train a whole chain of stages.

A stage names its start as `init_from: runs/NAME/best.pt` (or `last.pt`): the checkpoint of the run of
config NAME (beside the stage's own YAML, else a shipped one) trained into `runs/NAME`. On a fresh machine
those runs do not exist yet; `clickenhance-train --with-starts` trains the missing ones first, each with its
own config, and the stage after them. A start that exists, or no start, ends the chain; a missing start that
is not such a run is an error, named before any training begins.
"""

from __future__ import annotations

import re
from pathlib import Path

from clickenhance_model.training.config import TrainConfig, find_config_file, load_train_config

RUN_START = re.compile(r"^runs/(?P<name>[A-Za-z0-9_.-]+)/(best|last)\.pt$")
MAX_CHAIN = 16


def start_config(name: str, beside: Path) -> Path:
    """The YAML of the run `name`: `beside/name.yaml` when there is one, else the shipped config `name`."""
    local = beside / f"{name}.yaml"
    return local if local.is_file() else find_config_file(name)


def missing_starts(config_path: Path) -> list[tuple[TrainConfig, Path, str]]:
    """(config, run folder, config name) of every start run `config_path` needs and that is not there yet, oldest first.

    Paths are relative to the working directory, as `init_from` is. Raises FileNotFoundError for a missing
    start that is not the run of a config, ValueError for a cycle of starts.
    """
    chain: list[tuple[TrainConfig, Path, str]] = []
    path, seen = Path(config_path), {Path(config_path).resolve()}
    config = load_train_config(path)
    while True:
        start = config.init_from
        if not start or Path(start).is_file():
            return chain[::-1]
        match = RUN_START.match(Path(start).as_posix())
        if match is None:
            raise FileNotFoundError(f"{path}: init_from {start} does not exist, and it is not the checkpoint of a "
                                    f"config's run (runs/NAME/best.pt) that --with-starts could train")  # fmt: skip
        parent = start_config(match["name"], path.parent)
        if parent.resolve() in seen or len(chain) >= MAX_CHAIN:
            raise ValueError(f"{path}: the init_from starts make a cycle through {parent}")
        seen.add(parent.resolve())
        path, config = parent, load_train_config(parent)
        chain.append((config, Path(start).parent, parent.stem))
