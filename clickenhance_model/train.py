"""`clickenhance-train`: iterative click training of ClickEnhance from a YAML config.

    python -m clickenhance_model.train --config synthetic --out runs/synthetic
    python -m clickenhance_model.train --config training/scannet40.yaml --data-root /data/scannet --out runs/sn40
    torchrun --nproc_per_node=4 -m clickenhance_model.train --config scannet40 --data-root /data/scannet

`--config` takes a YAML path or the name of a config shipped in `clickenhance_model/training/`
(scannet40, scannet20, kitti360, semantickitti, synthetic, synthetic_tiny). Rerunning the same
command continues an interrupted run from OUT/last.pt; `--with-starts` first trains the runs its `init_from`
names that are missing (a chain of stages, `training.start_runs`). The last stdout line is the summary:
`step=.. epochs_done=.. NoC@85=.. IoU@5=.. last=PATH best=PATH`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from clickenhance_model.errors import ClickEnhanceError
from clickenhance_model.training.config import TrainConfig, find_config_file, load_train_config
from clickenhance_model.training.start_runs import missing_starts


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the trainer; the optional ones override the YAML."""
    parser = argparse.ArgumentParser(prog="clickenhance-train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="training YAML, or a shipped config name (e.g. synthetic)")
    parser.add_argument("--out", type=Path, help="run folder (default: runs/<config name>)")
    parser.add_argument("--device", default="auto", help="torch device: auto (CUDA when present), cpu, cuda, cuda:1")
    parser.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="continue OUT/last.pt when present (--no-resume refuses to reuse a folder with a run)",
    )
    parser.add_argument("--data-root", help="dataset folder (synthetic: where generated scenes are cached)")
    parser.add_argument("--epochs", type=int, help="number of epochs")
    parser.add_argument("--steps", type=int, help="stop after this many optimizer steps in total (schedule unchanged)")
    parser.add_argument("--batch-size", type=int, help="samples per step and process")
    parser.add_argument("--samples-per-epoch", type=int, help="samples per epoch (0 = every training object once)")
    parser.add_argument("--lr", type=float, help="peak learning rate")
    parser.add_argument("--seed", type=int, help="seed of sampling, clicks and initial weights")
    parser.add_argument("--num-workers", type=int, help="data loader worker processes")
    parser.add_argument("--val-objects", type=int, help="validation objects per validation (0 = no validation)")
    parser.add_argument(
        "--amp", action=argparse.BooleanOptionalAction, default=None, help="mixed precision (used only on CUDA)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads on the CPU (default 1: fastest on a shared machine; 0 = torch's default)",
    )
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bars")
    parser.add_argument("--prepare-data", nargs="?", const="all", choices=("all", "train", "val"),
                        help="only open the config's train and val splits (synthetic: generate the scans) and exit; "
                             "'--prepare-data val' opens the validation split alone (the scans a ship gate reads, "
                             "seconds instead of the training set's minutes)")
    parser.add_argument("--with-starts", action="store_true",
                        help="first train the missing runs this config starts from (init_from runs/NAME/best.pt: "
                             "config NAME into runs/NAME, each with its own settings), oldest first")
    return parser


def apply_overrides(config: TrainConfig, args: argparse.Namespace) -> TrainConfig:
    """The config with every option given on the command line replacing its YAML value."""
    top = {"epochs": args.epochs, "max_steps": args.steps, "batch_size": args.batch_size,
           "samples_per_epoch": args.samples_per_epoch, "seed": args.seed, "num_workers": args.num_workers,
           "amp": args.amp}  # fmt: skip
    config = dataclasses.replace(config, **{k: v for k, v in top.items() if v is not None})
    if args.data_root is not None:
        config = dataclasses.replace(config, data=dataclasses.replace(config.data, root=str(args.data_root)))
    if args.lr is not None:
        config = dataclasses.replace(config, optimizer=dataclasses.replace(config.optimizer, lr=args.lr))
    if args.val_objects is not None:
        config = dataclasses.replace(config, val=dataclasses.replace(config.val, objects=args.val_objects))
    return config


def summary_line(result: dict) -> str:
    """One line with the final counters, validation figures and checkpoint paths."""
    metrics = result.get("metrics") or {}
    figures = " ".join(f"{k}={metrics[k]:.3f}" for k in ("NoC@85", "IoU@5") if k in metrics)
    return f"step={result['step']} epochs_done={result['epoch']} {figures} last={result['last']} best={result['best']}"


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, train, print the summary line; 2 on bad input or settings."""
    args = build_parser().parse_args(argv)
    try:
        config_path = find_config_file(args.config)
        config = apply_overrides(load_train_config(config_path), args)
    except (FileNotFoundError, ValueError) as error:
        print(f"clickenhance-train: {error}", file=sys.stderr)
        return 2
    out = args.out or Path("runs") / config_path.stem
    try:
        starts = missing_starts(config_path) if args.with_starts else []
    except (FileNotFoundError, ValueError, ClickEnhanceError) as error:
        print(f"clickenhance-train: {error}", file=sys.stderr)
        return 2
    start_missing = bool(config.init_from) and not Path(config.init_from).is_file()
    resuming = args.resume and (out / "last.pt").is_file()
    if start_missing and not (args.with_starts or args.prepare_data or resuming):
        print(f"clickenhance-train: init_from {config.init_from} does not exist; train that run first, or add "
              "--with-starts to train the missing runs this config starts from", file=sys.stderr)  # fmt: skip
        return 2
    stages = [*starts, (config, out, config_path.stem)]
    if args.prepare_data:
        from clickenhance_model.training.data import open_split

        for stage, _, name in stages:
            for split in ("train", "val") if args.prepare_data == "all" else (args.prepare_data,):
                dataset = open_split(stage.data, split, args.progress, alone=args.prepare_data != "all")
                print(f"{name} {split}: {len(dataset.scene_names())} scans under {stage.data.root or dataset.name}")
        return 0
    from clickenhance_model.training.loop import train  # torch and spconv only past argument checks

    for stage, run, name in stages:
        if run != out:
            print(f"start run {name}: training into {run} first")
        try:
            result = train(stage, run, args.device, args.resume, args.progress, args.threads)
        except (ClickEnhanceError, ValueError, FileNotFoundError) as error:
            print(f"clickenhance-train: {name}: {error}", file=sys.stderr)
            return 2
        print(summary_line(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
