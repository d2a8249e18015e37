"""Following an object clicked once: IoU per frame on real scans and on a 50-frame generated drive.

1. Real: ../shared/real_scans/semantickitti/seq00_frames frames 0-2 (0.1 s apart, instance ids
   kept across frames). Each of the 3 largest cars gets one click in frame 0 (the simulated
   user's first click) and is followed into frames 1 and 2; IoU and time per frame.
2. Generated: a street scene scanned from an ego car driving at --speed m/s, --frames frames
   0.1 s apart (64-beam ray-cast LiDAR, about 110k points). The largest nearby car is clicked
   once in frame 0 and followed: mean IoU, frames lost, time per frame, and the process's
   resident memory after the first and the last frames (flat = no growth per frame).

    python bench/bench_follow.py                  # the embedded default model (--method model)
    python bench/bench_follow.py --method baseline --frames 20

Time per frame is `ObjectFollower.follow` (carry, session, inference, judge), without ROS;
the node adds conversion and DDS transport (test/test_node_follow.py prints that path's
publish-to-answer time with `pytest -s`; a timed assertion there failed whenever training held
the cores, so timing lives here).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from clickenhance_model import load_segmenter
from clickenhance_model.evaluation.simulated_user import next_click
from clickenhance_model.object_following import ObjectFollower
from clickenhance_model.shipped_facts import SHIPPED_CHECKPOINT, auto_method

REAL = Path(__file__).resolve().parents[2] / "shared" / "real_scans" / "semantickitti" / "seq00_frames"
CARS = (10, 252)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def resident_mb() -> float:
    """Current resident memory of this process in MB (Linux /proc; 0 elsewhere)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20
    except OSError:
        return 0.0


def start(segmenter, xyz: np.ndarray, truth: np.ndarray, stamp: float) -> tuple[ObjectFollower, float]:
    """One click on the object (the simulated user's first); the follower and the click's IoU."""
    click = next_click(xyz, np.zeros(len(xyz), dtype=bool), truth)
    mask = segmenter.session(xyz).add_click(click.index)
    return ObjectFollower(segmenter, xyz[mask], stamp), iou(mask, truth)


def real_scans(segmenter) -> None:
    """Part 1: the 3 largest cars of frame 0 followed into frames 1 and 2."""
    if not REAL.is_dir():
        print(f"real scans: skipped ({REAL} absent)")
        return
    frames = []
    for k in range(3):
        points = np.fromfile(REAL / f"00000{k}.bin", dtype=np.float32).reshape(-1, 4)
        frames.append((points[:, :3], np.fromfile(REAL / f"00000{k}.label", dtype=np.uint32)))
    labels = frames[0][1]
    cars = labels[np.isin(labels & 0xFFFF, CARS) & (labels >> 16 > 0)]
    ids, counts = np.unique(cars, return_counts=True)
    all_ious = []
    for car in ids[np.argsort(-counts)][:3]:
        follower, first = start(segmenter, frames[0][0], labels == car, 0.0)
        line = f"  car {car >> 16} ({int((labels == car).sum())} points): frame 0 (clicked) {first:.3f}"
        for k in (1, 2):
            began = time.perf_counter()
            result = follower.follow(frames[k][0], None, 0.1 * k)
            seconds = time.perf_counter() - began
            all_ious.append(iou(result.mask, frames[k][1] == car))
            line += f"; frame {k} {all_ious[-1]:.3f} ({seconds:.2f} s{', LOST' if result.lost else ''})"
        print(line)
    print(f"real frames 1-2: mean IoU {np.mean(all_ious):.3f}, min {np.min(all_ious):.3f} over {len(all_ious)}")


def generated_drive(segmenter, args: argparse.Namespace) -> None:
    """Part 2: one car followed through a generated drive."""
    from clickenhance_model.scenes.sequence import SequenceConfig, generate_sequence, largest_car

    config = SequenceConfig(frames=args.frames, speed=args.speed)
    follower, car, ious, seconds, lost, memory = None, 0, [], [], 0, []
    for stamp, scan in generate_sequence(args.seed, config):
        if follower is None:
            car = largest_car(scan)
            follower, first = start(segmenter, scan.xyz, scan.instance == car, stamp)
            print(f"generated drive (seed {args.seed}, {args.speed} m/s, {len(scan)} points): car {car} "
                  f"({int((scan.instance == car).sum())} points), clicked IoU {first:.3f}")
            continue
        began = time.perf_counter()
        result = follower.follow(scan.xyz, None, stamp)
        seconds.append(time.perf_counter() - began)
        lost += result.lost
        ious.append(0.0 if result.lost else iou(result.mask, scan.instance == car))
        memory.append(resident_mb())
        if args.verbose:
            print(f"  {stamp:4.1f} s: IoU {ious[-1]:.3f} conf {result.confidence:.2f} {seconds[-1]:.2f} s "
                  f"{memory[-1]:.0f} MB {result.reason}")
    times = np.array(seconds)
    print(f"  {len(ious)} followed frames: mean IoU {np.mean(ious):.3f} (lost frames count 0), min "
          f"{np.min(ious):.3f}, frames lost {lost}")
    print(f"  time per frame: median {np.median(times):.2f} s, mean {times.mean():.2f} s, max {times.max():.2f} s")
    print(f"  resident memory: {memory[0]:.0f} MB after frame 1, {memory[len(memory) // 2]:.0f} MB mid-way, "
          f"{memory[-1]:.0f} MB after frame {len(memory)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--method", choices=["auto", "model", "baseline"], default="model",
                        help="the embedded default model, the node's own pick (auto) or the baseline")
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--speed", type=float, default=3.0, help="ego speed in m/s")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--verbose", action=argparse.BooleanOptionalAction, default=False)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    method = auto_method(SHIPPED_CHECKPOINT, "outdoor")[0] if args.method == "auto" else args.method  # the node's pick
    segmenter = load_segmenter(method)
    print(f"segmenter: {method}; torch threads {args.threads}")
    real_scans(segmenter)
    generated_drive(segmenter, args)


if __name__ == "__main__":
    main()
