"""Write scans in the SemanticKITTI layout, so dataset readers for the real data load them unchanged.

`ROOT/sequences/NN/velodyne/FFFFFF.bin` holds float32 rows (x, y, z, remission) and
`ROOT/sequences/NN/labels/FFFFFF.label` uint32 rows `semantic | instance << 16` (little endian).
Scans with colour (indoor) also get `ROOT/sequences/NN/rgb/FFFFFF.bin`, uint8 rows (r, g, b), which
standard SemanticKITTI tools ignore and `datasets.semantic_kitti` reads as colour.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clickenhance_model.errors import DatasetError
from clickenhance_model.scenes.lidar import LidarScan


def encode_labels(semantic: np.ndarray, instance: np.ndarray) -> np.ndarray:
    """Pack per-point semantic ids (low 16 bits) and instance ids (high 16 bits) into uint32."""
    semantic = np.asarray(semantic)
    instance = np.asarray(instance)
    if semantic.shape != instance.shape or semantic.ndim != 1:
        raise ValueError(f"semantic and instance must be 1-D of equal length, got {semantic.shape}, {instance.shape}")
    for name, values in (("semantic", semantic), ("instance", instance)):
        if values.size and (values.min() < 0 or values.max() >= 1 << 16):
            raise ValueError(f"{name} ids must be in [0, 65535], got range [{values.min()}, {values.max()}]")
    return semantic.astype(np.uint32) | (instance.astype(np.uint32) << np.uint32(16))


def decode_labels(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split uint32 SemanticKITTI labels into (semantic, instance)."""
    labels = np.asarray(labels, dtype=np.uint32)
    return labels & np.uint32(0xFFFF), labels >> np.uint32(16)


def scan_paths(root: str | Path, sequence: int, frame: int) -> tuple[Path, Path, Path]:
    """(velodyne .bin, .label, rgb .bin) paths of one frame under a SemanticKITTI root."""
    if not 0 <= sequence <= 99:
        raise ValueError(f"sequence must be in [0, 99] (two digits), got {sequence}")
    if not 0 <= frame <= 999999:
        raise ValueError(f"frame must be in [0, 999999] (six digits), got {frame}")
    seq = Path(root) / "sequences" / f"{sequence:02d}"
    name = f"{frame:06d}"
    return seq / "velodyne" / f"{name}.bin", seq / "labels" / f"{name}.label", seq / "rgb" / f"{name}.bin"


def write_scan(root: str | Path, sequence: int, frame: int, scan: LidarScan) -> tuple[Path, Path]:
    """Write one scan (and its colours, if any) and return the (.bin, .label) paths."""
    n = len(scan.xyz)
    xyz = np.asarray(scan.xyz)
    if xyz.shape != (n, 3):
        raise ValueError(f"scan.xyz must be [N, 3], got {xyz.shape}")
    for name in ("remission", "semantic", "instance"):
        if len(getattr(scan, name)) != n:
            raise ValueError(f"scan.{name} has {len(getattr(scan, name))} entries for {n} points")
    if not np.all(np.isfinite(xyz)) or not np.all(np.isfinite(scan.remission)):
        raise ValueError("scan.xyz and scan.remission must be finite")
    labels = encode_labels(scan.semantic, scan.instance)
    bin_path, label_path, rgb_path = scan_paths(root, sequence, frame)
    points = np.empty((n, 4), dtype="<f4")
    points[:, :3] = xyz
    points[:, 3] = scan.remission
    bin_path.parent.mkdir(parents=True, exist_ok=True)
    label_path.parent.mkdir(parents=True, exist_ok=True)
    points.tofile(bin_path)
    labels.astype("<u4").tofile(label_path)
    if scan.rgb is not None:
        rgb = np.asarray(scan.rgb)
        if rgb.shape != (n, 3):
            raise ValueError(f"scan.rgb must be [N, 3], got {rgb.shape}")
        rgb_path.parent.mkdir(parents=True, exist_ok=True)
        rgb.astype(np.uint8).tofile(rgb_path)
    return bin_path, label_path


def read_scan(bin_path: str | Path) -> LidarScan:
    """Read one frame written by `write_scan` (labels from ../labels/, or a .label beside the .bin)."""
    bin_path = Path(bin_path)
    if not bin_path.is_file():
        raise DatasetError(f"{bin_path}: no such scan file")
    seq = bin_path.parent.parent
    raw = np.fromfile(bin_path, dtype="<f4")
    if raw.size % 4:
        raise DatasetError(f"{bin_path}: size {raw.size * 4} bytes is not a multiple of 16")
    points = raw.reshape(-1, 4)
    label_path = seq / "labels" / (bin_path.stem + ".label")
    if not label_path.is_file() and bin_path.with_suffix(".label").is_file():
        label_path = bin_path.with_suffix(".label")  # flat folders keep the .label beside the .bin
    if not label_path.is_file():
        raise DatasetError(f"{label_path}: missing label file for {bin_path}")
    labels = np.fromfile(label_path, dtype="<u4")
    if len(labels) != len(points):
        raise DatasetError(f"{label_path}: {len(labels)} labels for {len(points)} points in {bin_path}")
    semantic, instance = decode_labels(labels)
    rgb_path = seq / "rgb" / bin_path.name
    rgb = np.fromfile(rgb_path, dtype=np.uint8).reshape(-1, 3) if rgb_path.is_file() else None
    if rgb is not None and len(rgb) != len(points):
        raise DatasetError(f"{rgb_path}: {len(rgb)} colours for {len(points)} points")
    return LidarScan(points[:, :3].copy(), points[:, 3].copy(), semantic, instance, rgb)
