"""Generated training data: scans from `scenes.generate`, cached as a SemanticKITTI folder.

Under `root`, sequence 00 holds the training scans (frames 0..train_scans-1 of seed `seed`)
and sequence 01 the validation scans (frames of seed `seed + VAL_SEED_OFFSET`, so they are
never training scenes). `root/synthetic.yaml` records the settings; a folder made with other
settings is refused rather than mixed. Missing or half-written frames (e.g. after an
interrupted run) are generated again, each from its own seed, so the files are the same
whenever they are made. The trainer then reads them with the SemanticKITTI reader, like
real data.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import yaml
from tqdm import tqdm

from clickenhance_model.config import config_to_dict
from clickenhance_model.scenes.generate import GeneratorConfig, generate_scan
from clickenhance_model.scenes.writer import scan_paths, write_scan
from clickenhance_model.training.config import SyntheticConfig

SPLIT_SEQUENCES = {"train": "00", "val": "01"}
VAL_SEED_OFFSET = 1_000_003
MANIFEST = "synthetic.yaml"


def generator_config(config: SyntheticConfig) -> GeneratorConfig:
    """The generator's settings, with the sensor size overridden where the config asks for it."""
    generator = GeneratorConfig()
    sensor = {k: v for k, v in (("beams", config.beams), ("azimuth_steps", config.azimuth_steps)) if v}
    if sensor:
        generator.lidar = dataclasses.replace(generator.lidar, **sensor)
    if config.angled_parking_prob is not None:
        generator.outdoor = dataclasses.replace(generator.outdoor, angled_parking_prob=config.angled_parking_prob)
    return generator


def _frame_complete(root: Path, sequence: int, frame: int) -> bool:
    """Whether a frame's scan and label files both exist and hold the same number of points."""
    bin_path, label_path, _ = scan_paths(root, sequence, frame)
    if not (bin_path.is_file() and label_path.is_file()):
        return False
    size = bin_path.stat().st_size
    return size > 0 and size % 16 == 0 and label_path.stat().st_size * 4 == size


def _check_manifest(root: Path, record: dict) -> None:
    """Write the settings record, or check that the folder was generated with the same settings."""
    path = root / MANIFEST
    if path.is_file():
        stored = yaml.safe_load(path.read_text())
        if stored != record:
            raise ValueError(
                f"{root} holds scenes generated with other settings ({path}); "
                "choose another data.root (or --data-root) or delete that folder"
            )
        return
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(record, sort_keys=False))


def _generate_frame(root: Path, domain: str, sequence: int, seed: int, frame: int, generator: GeneratorConfig) -> None:
    """Generate and write one frame (the unit of work of a worker process)."""
    write_scan(root, sequence, frame, generate_scan(domain, seed, frame, generator))


def generation_workers(requested: int, jobs: int) -> int:
    """Processes to generate `jobs` frames with: `requested`, or every CPU this process may use when 0."""
    if requested < 0:
        raise ValueError(f"workers must be >= 0, got {requested}")
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(requested or available, jobs))


def ensure_generated(root: Path, config: SyntheticConfig, show_progress: bool = True, workers: int = 0) -> Path:
    """Generate every missing train/val scan of `config` under `root`; returns `root`.

    Frames are independent and each is drawn from its own seed, so generating them in `workers`
    processes (0 = one per available CPU) writes the same files as one process does.
    """
    generator = generator_config(config)
    _check_manifest(root, {"synthetic": config_to_dict(config), "generator": config_to_dict(generator)})
    jobs = [
        (int(SPLIT_SEQUENCES[split]), seed, frame)
        for split, seed, count in (
            ("train", config.seed, config.train_scans),
            ("val", config.seed + VAL_SEED_OFFSET, config.val_scans),
        )  # fmt: skip
        for frame in range(count)
    ]
    missing = [job for job in jobs if not _frame_complete(root, job[0], job[2])]
    if not missing:
        return root
    progress = tqdm(total=len(missing), desc=f"generating {config.domain} scans", unit="scan",
                    disable=not show_progress)  # fmt: skip
    processes = generation_workers(workers, len(missing))
    with progress:
        if processes == 1:
            for sequence, seed, frame in missing:
                _generate_frame(root, config.domain, sequence, seed, frame, generator)
                progress.update()
        else:
            # forkserver: workers start from a clean process, not a fork of this (threaded, torch-holding) one
            context = multiprocessing.get_context("forkserver")
            with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
                futures = [pool.submit(_generate_frame, root, config.domain, *job, generator) for job in missing]
                for future in futures:
                    future.result()
                    progress.update()
    return root
