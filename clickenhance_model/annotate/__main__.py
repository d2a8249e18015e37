"""`python -m clickenhance_model.annotate` (console script `clickenhance-annotate`): serve the page.

    python -m clickenhance_model.annotate PATH... --port 8080 --out DIR [--topic /points]
        [--method model|baseline|auto] [--device auto] [--host 127.0.0.1]

PATH: SemanticKITTI .bin (+ .label), .pcd, .ply, .npy, a folder of them, or a rosbag2 (folder,
.db3 or .mcap) with --topic naming its PointCloud2 topic. It prints the page's address and
serves until interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from clickenhance_model.errors import ClickEnhanceError

METHODS = ("model", "baseline", "auto")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module doc)."""
    parser = argparse.ArgumentParser(prog="clickenhance-annotate", description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="scans, folders or rosbag2s")
    parser.add_argument("--out", type=Path, required=True, help="folder of the labels (restored when present)")
    parser.add_argument("--port", type=int, default=8080,
                        help="TCP port of the page (0: any free port; if taken, the next free one, printed)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind; 0.0.0.0 serves the network")
    parser.add_argument("--topic", help="PointCloud2 topic of a rosbag2")
    parser.add_argument("--method", choices=METHODS, default="auto",
                        help="segmenter: the learned model, the training-free baseline, or the model if shipped")
    parser.add_argument("--checkpoint", help="model checkpoint (default: the shipped model)")
    parser.add_argument("--device", default="auto", help="torch device of the model (auto, cpu, cuda)")
    parser.add_argument("--point-size", type=float, default=0.05, help="drawn point size in metres")
    parser.add_argument("--camera", type=float, nargs=6, metavar=("X", "Y", "Z", "AX", "AY", "AZ"),
                        help="initial camera position and the point it looks at (default: framed on the scan)")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be in 0..65535, got {args.port}")
    return args


def load_method(method: str, checkpoint: str | None, device: str) -> Any:
    """The segmenter for `--method`; auto is the node's rule (`shipped_facts.auto_method`): a given checkpoint, or
    the shipped model while it beats today's baseline, else the baseline (also when the model cannot be loaded)."""
    from clickenhance_model import load_segmenter
    from clickenhance_model.errors import CheckpointError
    from clickenhance_model.shipped_facts import SHIPPED_CHECKPOINT, auto_method

    if method != "auto":
        return load_segmenter(method, checkpoint=checkpoint, device=device)
    chosen, reason = auto_method(SHIPPED_CHECKPOINT, "outdoor", checkpoint)  # the page's scans are LiDAR's
    print(f"annotate: {chosen} ({reason})", file=sys.stderr)
    if chosen == "baseline":
        return load_segmenter("baseline")
    try:
        return load_segmenter("model", checkpoint=checkpoint, device=device)
    except CheckpointError as error:
        print(f"annotate: no usable model ({error}); using the baseline", file=sys.stderr)
        return load_segmenter("baseline")


def main(argv: list[str] | None = None) -> int:
    """Serve the page until SIGINT/SIGTERM; exit 2 with one line when the input cannot be used."""
    args = parse_args(argv)
    from clickenhance_model.annotate.frame_annotator import FrameAnnotator
    from clickenhance_model.annotate.page import AnnotationPage
    from clickenhance_model.annotate.scan_sources import open_sources

    try:
        annotator = FrameAnnotator(open_sources(args.paths, args.topic),
                                   load_method(args.method, args.checkpoint, args.device), args.out)
    except (ClickEnhanceError, ValueError, OSError) as error:
        print(f"annotate: {error}", file=sys.stderr)
        return 2
    camera = None if args.camera is None else (tuple(args.camera[:3]), tuple(args.camera[3:]))
    page = AnnotationPage(annotator, args.host, args.port, args.point_size, camera=camera)
    print(f"annotate: {len(annotator.sources)} frame(s); open {page.url}", flush=True)
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    stop.wait()
    page.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
