"""Generate labelled synthetic scans in the SemanticKITTI layout (command line and library entry points).

    python -m clickenhance_model.scenes.generate --out DIR --kind outdoor --scenes 100 --seed 0 --sequence 0
    python -m clickenhance_model.scenes.generate --out DIR --kind outdoor --sensor vlp16 --scenes 10 --sequence 1

Frame i of a sequence is drawn from numpy's Generator seeded with (seed, i) alone, so any frame can be
regenerated on its own, and runs with --start continue a sequence reproducibly. The sequence folder
gets a `generation.yaml` recording the kind, seed and full generator config.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from tqdm import tqdm

from clickenhance_model.config import config_from_dict, config_to_dict, load_config
from clickenhance_model.scenes.annotation_noise import bleed_ground_labels
from clickenhance_model.scenes.indoor import IndoorConfig, generate_indoor, scan_room
from clickenhance_model.scenes.lidar import LidarConfig, LidarScan, simulate_scan
from clickenhance_model.scenes.outdoor import OutdoorConfig, generate_outdoor
from clickenhance_model.scenes.sensors import INDOOR_SENSORS, OUTDOOR_SENSORS, sensor_preset
from clickenhance_model.scenes.writer import write_scan

KINDS = ("outdoor", "indoor")
LABEL_SETS = {"outdoor": "semantickitti", "indoor": "nyu40"}


@dataclass
class GeneratorConfig:
    """All generator settings: the outdoor LiDAR, the street generator and the indoor room generator."""

    lidar: LidarConfig = field(default_factory=LidarConfig)
    outdoor: OutdoorConfig = field(default_factory=OutdoorConfig)
    indoor: IndoorConfig = field(default_factory=IndoorConfig)


def generate_scan(kind: str, seed: int, frame: int, config: GeneratorConfig | None = None) -> LidarScan:
    """One labelled scan: a street scene seen by the roof LiDAR (sensor frame) or a fused room scan (room frame)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    config = config or GeneratorConfig()
    rng = np.random.default_rng([seed, frame])
    if kind == "outdoor":
        street = generate_outdoor(rng, config.outdoor, sensor_height=config.lidar.height)
        scan = simulate_scan(street.scene, street.pose, config.lidar, rng)
        bleed, height = config.outdoor.ground_label_bleed, config.outdoor.ground_label_bleed_height
        return bleed_ground_labels(scan, street.pose, street.scene.ground, bleed, height, rng)
    return scan_room(generate_indoor(rng, config.indoor), config.indoor, rng)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Generate labelled synthetic LiDAR/RGB-D scans (SemanticKITTI layout)."
    )
    parser.add_argument("--out", type=Path, required=True, help="dataset root; scans go to OUT/sequences/NN/")
    parser.add_argument("--kind", choices=KINDS, default="outdoor", help="street LiDAR scans or indoor room scans")
    parser.add_argument("--scenes", type=int, default=1, help="number of scans to write")
    parser.add_argument("--seed", type=int, default=0, help="base seed; frame i uses the seed (seed, i)")
    parser.add_argument("--sequence", type=int, default=0, help="sequence number NN (0-99)")
    parser.add_argument("--start", type=int, default=0, help="index of the first frame to write")
    parser.add_argument("--config", type=Path, help="YAML with lidar/outdoor/indoor sections overriding the defaults")
    parser.add_argument(
        "--sensor",
        choices=OUTDOOR_SENSORS + INDOOR_SENSORS,
        help="sensor preset (outdoor: replaces the config's lidar; indoor: fused room scan or rgbd camera frames)",
    )
    parser.add_argument(
        "--stuff-instances",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also give poles, signs, trunks, ... instance ids (outdoor; overrides the config)",
    )
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar")
    return parser


def _record(seq_dir: Path, kind: str, seed: int, first: int, last: int, config: GeneratorConfig) -> None:
    """Write or extend generation.yaml; refuse to mix scans of another kind, seed or config in one sequence."""
    path = seq_dir / "generation.yaml"
    record = {"kind": kind, "labels": LABEL_SETS[kind], "seed": seed, "config": config_to_dict(config)}
    frames = [first, last]
    if path.is_file():
        old = yaml.safe_load(path.read_text()) or {}
        if isinstance(old.get("config"), dict):  # settings added since are compared at their defaults
            old["config"] = config_to_dict(config_from_dict(GeneratorConfig, old["config"]))
        if {k: old.get(k) for k in record} != record:
            raise ValueError(f"{path} records scans of another kind, seed or config; use another --sequence or --out")
        frames = [min(first, old["frames"][0]), max(last, old["frames"][1])]
    seq_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({**record, "frames": frames}, sort_keys=False))


def _apply_sensor(parser: argparse.ArgumentParser, config: GeneratorConfig, kind: str, sensor: str | None) -> None:
    """Put the named sensor preset into `config` (an error when it does not fit the kind)."""
    if sensor is None:
        return
    if kind == "outdoor" and sensor in OUTDOOR_SENSORS:
        config.lidar = sensor_preset(sensor)
    elif kind == "indoor" and sensor in INDOOR_SENSORS:
        config.indoor.sensor = sensor
    else:
        parser.error(f"--sensor {sensor} does not fit --kind {kind}")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point (clickenhance-generate-scenes)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.scenes < 1:
        parser.error(f"--scenes must be >= 1, got {args.scenes}")
    if not 0 <= args.sequence <= 99:
        parser.error(f"--sequence must be in [0, 99], got {args.sequence}")
    if args.start < 0 or args.start + args.scenes > 1_000_000:
        parser.error("frames must lie in [0, 999999] (six digits)")
    try:
        config = load_config(GeneratorConfig, args.config) if args.config else config_from_dict(GeneratorConfig, {})
        if args.stuff_instances is not None:
            config.outdoor.stuff_instances = args.stuff_instances
        _apply_sensor(parser, config, args.kind, args.sensor)
        seq_dir = args.out / "sequences" / f"{args.sequence:02d}"
        _record(seq_dir, args.kind, args.seed, args.start, args.start + args.scenes - 1, config)
    except (OSError, ValueError) as err:
        parser.error(str(err))
    began, points = time.perf_counter(), 0
    frames = range(args.start, args.start + args.scenes)
    for frame in tqdm(frames, desc=f"{args.kind} scans", unit="scan", disable=not args.progress):
        scan = generate_scan(args.kind, args.seed, frame, config)
        write_scan(args.out, args.sequence, frame, scan)
        points += len(scan)
    took = time.perf_counter() - began
    print(
        f"wrote {args.scenes} {args.kind} scans ({points / args.scenes:.0f} points each on average) to {seq_dir} "
        f"in {took:.1f} s ({took / args.scenes:.2f} s per scan)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
