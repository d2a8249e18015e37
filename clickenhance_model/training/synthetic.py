"""Generated training data: scans from `scenes.generate`, cached as a SemanticKITTI folder.

Under `root`, sequence 00 holds the training scans (frames 0..train_scans-1 of seed `seed`)
and sequence 01 the validation scans (frames of seed `seed + VAL_SEED_OFFSET`, so they are
never training scenes). `root/synthetic.yaml` records the settings; a folder made with other
settings is refused rather than mixed (settings a newer generator added are compared at their defaults,
which reproduce the older generator's scans). A config with a `mix` splits each split into parts
(domain, sensor) by share, frames in part order. Missing or half-written frames (e.g. after an
interrupted run) are generated again, each from its own seed, so the files are the same
whenever they are made. The trainer then reads them with the SemanticKITTI reader, like
real data.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from collections.abc import Collection, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import yaml
from tqdm import tqdm

from clickenhance_model.config import config_from_dict, config_to_dict
from clickenhance_model.scenes.generate import GeneratorConfig, generate_scan
from clickenhance_model.scenes.sensors import sensor_preset
from clickenhance_model.scenes.writer import scan_paths, write_scan
from clickenhance_model.training.config import SyntheticConfig, SyntheticPart

SPLIT_SEQUENCES = {"train": "00", "val": "01"}
VAL_SEED_OFFSET = 1_000_003
MANIFEST = "synthetic.yaml"


def generator_config(config: SyntheticConfig) -> GeneratorConfig:
    """The generator's settings, with the sensor size overridden where the config asks for it."""
    generator = config_from_dict(GeneratorConfig, config.generator, where="data.synthetic.generator")
    sensor = {k: v for k, v in (("beams", config.beams), ("azimuth_steps", config.azimuth_steps)) if v}
    if sensor:
        generator.lidar = dataclasses.replace(generator.lidar, **sensor)
    if config.angled_parking_prob is not None:
        generator.outdoor = dataclasses.replace(generator.outdoor, angled_parking_prob=config.angled_parking_prob)
    return generator


def part_generator(base: GeneratorConfig, part: SyntheticPart) -> GeneratorConfig:
    """`base` with the part's sensor: an outdoor preset replaces the LiDAR, an indoor one picks the room scan."""
    if not part.sensor:
        return base
    if part.domain == "outdoor":
        return dataclasses.replace(base, lidar=sensor_preset(part.sensor))
    return dataclasses.replace(base, indoor=dataclasses.replace(base.indoor, sensor=part.sensor))


def part_counts(shares: list[float], total: int) -> list[int]:
    """Scans per part: `total` split by share, rounding by largest remainder (the counts sum to `total`)."""
    exact = np.asarray(shares, dtype=np.float64) / sum(shares) * total
    counts = np.floor(exact).astype(int)
    for k in np.argsort(counts - exact, kind="stable")[: total - counts.sum()]:
        counts[k] += 1
    return counts.tolist()


def frame_parts(config: SyntheticConfig, count: int) -> list[SyntheticPart]:
    """The mix part of each of frames 0..count-1 of a split (parts in order); one part of the config's domain
    and the generator's own sensor without a mix."""
    if not config.mix:
        return [SyntheticPart(config.domain, "", 1.0)] * count
    parts: list[SyntheticPart] = []
    for part, n in zip(config.mix, part_counts([p.share for p in config.mix], count), strict=True):
        parts += [part] * n
    return parts


def frame_plan(config: SyntheticConfig, count: int) -> list[tuple[str, GeneratorConfig]]:
    """(domain, generator settings) of frames 0..count-1 of a split: the mix's parts in order, else one part."""
    base = generator_config(config)
    settings = {part: part_generator(base, part) for part in dict.fromkeys(frame_parts(config, count))}
    return [(part.domain, settings[part]) for part in frame_parts(config, count)]


def split_parts(config: SyntheticConfig, split: str) -> dict[str, SyntheticPart]:
    """Scene name ("00/000123", the SemanticKITTI reader's) -> mix part of every frame of a generated split."""
    count = config.train_scans if split == "train" else config.val_scans
    return {f"{SPLIT_SEQUENCES[split]}/{frame:06d}": part for frame, part in enumerate(frame_parts(config, count))}


def split_domains(config: SyntheticConfig, split: str) -> dict[str, str]:
    """Scene name -> domain of every frame of a generated split."""
    return {name: part.domain for name, part in split_parts(config, split).items()}


def manifest_config(root: Path) -> SyntheticConfig | None:
    """The settings a generated folder was made with, from its record; None for any other folder."""
    path = Path(root) / MANIFEST
    record = yaml.safe_load(path.read_text()) if path.is_file() else None
    if not isinstance(record, dict) or not isinstance(record.get("synthetic"), dict):
        return None
    return config_from_dict(SyntheticConfig, record["synthetic"])


def manifest_domains(root: Path) -> dict[str, str]:
    """Scene -> domain of a generated folder, from its settings record; empty for any other folder.

    A mix puts streets and rooms in one folder; the evaluation clicks each with its domain's preset.
    """
    config = manifest_config(root)
    if config is None:
        return {}
    return {**split_domains(config, "train"), **split_domains(config, "val")}


def manifest_sensors(root: Path) -> dict[str, str]:
    """Scene -> "domain sensor" (e.g. "outdoor vlp16") of a generated mix, from its settings record; empty for a
    folder without a mix (one sensor) and for any other folder.

    The evaluation reports each part on its own, because the ship rule judges each kind of real set on its own:
    a candidate's mean over all generated scans can be won in the rooms alone.
    """
    config = manifest_config(root)
    if config is None or not config.mix:
        return {}
    parts = {**split_parts(config, "train"), **split_parts(config, "val")}
    return {name: f"{part.domain} {part.sensor or 'default sensor'}" for name, part in parts.items()}


def scans_of_sensors(root: Path, names: Sequence[str], sensors: Collection[str]) -> list[str]:
    """The scans among `names` that a generated mix under `root` records as seen by one of `sensors` (e.g.
    "hdl64"; `manifest_sensors`), in their order. Raises ValueError for a sensor the folder records no scan of
    (every sensor, for a folder without a mix), so a misspelt name is an error, not an empty selection."""
    sensor_of = {name: recorded.split(" ", 1)[1] for name, recorded in manifest_sensors(root).items()}
    if unknown := sorted(set(sensors) - set(sensor_of.values())):
        raise ValueError(f"{root} records no scan of {', '.join(unknown)} (its sensors: "
                         f"{', '.join(sorted(set(sensor_of.values()))) or 'none recorded'})")  # fmt: skip
    return [name for name in names if sensor_of.get(name) in sensors]


def _frame_complete(root: Path, sequence: int, frame: int) -> bool:
    """Whether a frame's scan and label files both exist and hold the same number of points."""
    bin_path, label_path, _ = scan_paths(root, sequence, frame)
    if not (bin_path.is_file() and label_path.is_file()):
        return False
    size = bin_path.stat().st_size
    return size > 0 and size % 16 == 0 and label_path.stat().st_size * 4 == size


def _with_defaults(record: dict) -> dict:
    """A settings record with the fields it lacks filled in at their defaults (records of older versions).

    A record this version cannot read (unknown or invalid settings) is returned as it is, so it
    compares as other settings.
    """
    filled = dict(record)
    try:
        if isinstance(record.get("synthetic"), dict):
            filled["synthetic"] = config_to_dict(config_from_dict(SyntheticConfig, record["synthetic"]))
        if isinstance(record.get("generator"), dict):
            filled["generator"] = config_to_dict(config_from_dict(GeneratorConfig, record["generator"]))
    except (TypeError, ValueError):
        return record
    return filled


def _check_manifest(root: Path, record: dict) -> None:
    """Write the settings record, or check that the folder was generated with the same settings."""
    path = root / MANIFEST
    if path.is_file():
        stored = yaml.safe_load(path.read_text())
        if not isinstance(stored, dict) or _with_defaults(stored) != record:
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


def ensure_generated(root: Path, config: SyntheticConfig, show_progress: bool = True, workers: int = 0,
                     splits: Collection[str] = ("train", "val")) -> Path:  # fmt: skip
    """Generate every missing scan of `splits` ("train", "val") of `config` under `root`; returns `root`.

    Frames are independent and each is drawn from its own seed, so generating them in `workers`
    processes (0 = one per available CPU) writes the same files as one process does, and a split
    generated alone (the validation scans a ship gate reads) holds the same scans as one generated
    beside the other.
    """
    if unknown := sorted(set(splits) - set(SPLIT_SEQUENCES)):
        raise ValueError(f"splits must be among {sorted(SPLIT_SEQUENCES)}, got {unknown}")
    generator = generator_config(config)
    _check_manifest(root, {"synthetic": config_to_dict(config), "generator": config_to_dict(generator)})
    plans = (("train", config.seed, config.train_scans), ("val", config.seed + VAL_SEED_OFFSET, config.val_scans))
    jobs = [
        (root, domain, int(SPLIT_SEQUENCES[split]), seed, frame, settings)
        for split, seed, count in plans
        if split in splits
        for frame, (domain, settings) in enumerate(frame_plan(config, count))
    ]
    missing = [job for job in jobs if not _frame_complete(root, job[2], job[4])]
    if not missing:
        return root
    what = "mixed" if config.mix else config.domain
    progress = tqdm(total=len(missing), desc=f"generating {what} scans", unit="scan", disable=not show_progress)
    processes = generation_workers(workers, len(missing))
    with progress:
        if processes == 1:
            for job in missing:
                _generate_frame(*job)
                progress.update()
        else:
            # forkserver: workers start from a clean process, not a fork of this (threaded, torch-holding) one
            context = multiprocessing.get_context("forkserver")
            with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
                futures = [pool.submit(_generate_frame, *job) for job in missing]
                for future in futures:
                    future.result()
                    progress.update()
    return root
