"""The runs a training config starts from, oldest first, so one command can train a whole chain of stages.

A stage names its start as `init_from: runs/NAME/best.pt` (or `last.pt`): the checkpoint of the run of
config NAME (beside the stage's own YAML, else a shipped one) trained into `runs/NAME`. On a fresh machine
those runs do not exist yet; `clickenhance-train --with-starts` trains the missing ones first, each with its
own config, and the stage after them. A start run that stopped before its last epoch (a closed session, a
killed job) is resumed first, not taken half-trained. A finished start, or no start, ends the chain; a
missing start that is not such a run is an error, named before any training begins.
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


def run_unfinished(run: Path, config: TrainConfig) -> bool:
    """Whether run folder `run` holds a stopped run of `config`: its last.pt is short of the config's epochs
    (and of its max_steps), so the chain must resume it rather than start the next stage from it."""
    last = run / "last.pt"
    if not last.is_file():
        return False  # a lone best.pt (copied, or a run trained elsewhere): a given start
    from clickenhance_model.checkpoint import load_checkpoint  # torch only when there is a checkpoint to read

    state = load_checkpoint(last)[2].get("state") or {}
    if config.max_steps and state.get("step", 0) >= config.max_steps:
        return False
    return state.get("epoch", 0) < config.epochs


def missing_starts(config_path: Path) -> list[tuple[TrainConfig, Path, str]]:
    """(config, run folder, config name) of every start run `config_path` needs that is not there yet, or that
    stopped before its last epoch (the trainer resumes it), oldest first.

    Paths are relative to the working directory, as `init_from` is. Raises FileNotFoundError for a missing
    start that is not the run of a config, ValueError for a cycle of starts, CheckpointError for a start
    run whose last.pt cannot be read.
    """
    chain: list[tuple[TrainConfig, Path, str]] = []
    path, seen = Path(config_path), {Path(config_path).resolve()}
    config = load_train_config(path)
    while True:
        start = config.init_from
        if not start:
            return chain[::-1]
        present = Path(start).is_file()
        match = RUN_START.match(Path(start).as_posix())
        if match is None:
            if present:
                return chain[::-1]
            raise FileNotFoundError(f"{path}: init_from {start} does not exist, and it is not the checkpoint of a "
                                    f"config's run (runs/NAME/best.pt) that --with-starts could train")  # fmt: skip
        try:
            parent = start_config(match["name"], path.parent)
        except FileNotFoundError:
            if present:
                return chain[::-1]  # a run of no known config: taken as it is
            raise
        if parent.resolve() in seen or len(chain) >= MAX_CHAIN:
            raise ValueError(f"{path}: the init_from starts make a cycle through {parent}")
        seen.add(parent.resolve())
        parent_config = load_train_config(parent)
        if present and not run_unfinished(Path(start).parent, parent_config):
            return chain[::-1]
        path, config = parent, parent_config
        chain.append((config, Path(start).parent, parent.stem))
