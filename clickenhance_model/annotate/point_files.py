"""Readers of the single-scan files the annotator opens: SemanticKITTI .bin, .pcd, .ply, .npy.

Each returns float32 xyz (N, 3) and intensity (N,) or None; a malformed file raises
DatasetError naming it and what is wrong.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clickenhance_model.datasets.ply import read_ply
from clickenhance_model.datasets.semantic_kitti import read_scan
from clickenhance_model.errors import DatasetError

SCAN_SUFFIXES = (".bin", ".pcd", ".ply", ".npy")
_PCD_TYPES = {("F", 4): "f4", ("F", 8): "f8", ("U", 1): "u1", ("U", 2): "u2", ("U", 4): "u4",
              ("I", 1): "i1", ("I", 2): "i2", ("I", 4): "i4", ("U", 8): "u8", ("I", 8): "i8"}
Points = tuple[np.ndarray, "np.ndarray | None"]


def read_points_file(path: Path) -> Points:
    """The xyz and intensity of one scan file, chosen by its suffix."""
    readers = {".bin": _read_bin, ".pcd": read_pcd, ".ply": _read_ply, ".npy": _read_npy}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise DatasetError(f"{path}: unknown scan type (expected one of {', '.join(SCAN_SUFFIXES)})")
    xyz, intensity = reader(path)
    return np.ascontiguousarray(xyz, dtype=np.float32), (
        None if intensity is None else np.ascontiguousarray(intensity, dtype=np.float32))


def _read_bin(path: Path) -> Points:
    scan = read_scan(path)
    return scan[:, :3], scan[:, 3]


def _read_ply(path: Path) -> Points:
    vertex = read_ply(path).get("vertex")
    if vertex is None or not all(k in vertex for k in "xyz"):
        raise DatasetError(f"{path}: a point PLY needs a 'vertex' element with x, y, z")
    xyz = np.stack([vertex[k] for k in "xyz"], axis=1)
    return xyz, vertex.get("intensity")


def _read_npy(path: Path) -> Points:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path}: cannot read the array ({error})") from error
    if array.ndim != 2 or array.shape[1] < 3:
        raise DatasetError(f"{path}: expected an (N, 3) or (N, 4+) array (x, y, z[, intensity]), got {array.shape}")
    return array[:, :3], (array[:, 3] if array.shape[1] > 3 else None)


def read_pcd(path: Path) -> Points:
    """A PCD v0.7 file in ascii or binary (binary_compressed is refused with a clear error)."""
    data = path.read_bytes()
    header: dict[str, list[str]] = {}
    offset = 0
    while "DATA" not in header:
        end = data.find(b"\n", offset)
        if end < 0:
            raise DatasetError(f"{path}: PCD header has no DATA line")
        words = data[offset:end].decode("ascii", "replace").split()
        offset = end + 1
        if words and not words[0].startswith("#"):
            header[words[0].upper()] = words[1:]
    dtype = _pcd_dtype(header, path)
    count = int(header.get("POINTS", header.get("WIDTH", ["0"]))[0])
    mode = header["DATA"][0].lower()
    if mode == "ascii":
        rows = np.loadtxt(data[offset:].decode("ascii").splitlines(), dtype=np.float64, ndmin=2)
        points = {name: rows[:, i] for i, name in enumerate(dtype.names)} if count else {}
    elif mode == "binary":
        if len(data) - offset < count * dtype.itemsize:
            raise DatasetError(f"{path}: binary PCD data is truncated ({count} points of {dtype.itemsize} bytes)")
        points = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    else:
        raise DatasetError(f"{path}: PCD DATA {mode} is not supported (save it as binary or ascii)")
    if not all(k in dtype.names for k in "xyz"):
        raise DatasetError(f"{path}: the PCD has no x, y, z fields (fields: {', '.join(dtype.names)})")
    xyz = np.stack([points[k] for k in "xyz"], axis=1) if count else np.zeros((0, 3))
    return xyz, (points["intensity"] if count and "intensity" in dtype.names else None)


def _pcd_dtype(header: dict[str, list[str]], path: Path) -> np.dtype:
    """Structured dtype of one PCD point from FIELDS, SIZE, TYPE and COUNT (count > 1 fields kept as '_')."""
    fields, sizes, types = header.get("FIELDS", []), header.get("SIZE", []), header.get("TYPE", [])
    counts = header.get("COUNT", ["1"] * len(fields))
    if not fields or not len(fields) == len(sizes) == len(types) == len(counts):
        raise DatasetError(f"{path}: PCD FIELDS, SIZE, TYPE and COUNT disagree")
    names, formats = [], []
    for number, (name, size, kind, count) in enumerate(zip(fields, sizes, types, counts, strict=True)):
        code = _PCD_TYPES.get((kind.upper(), int(size)))
        if code is None:
            raise DatasetError(f"{path}: field '{name}' has unsupported TYPE {kind} SIZE {size}")
        names.append(name if name not in names and name != "_" else f"_{number}")
        formats.append("<" + code if int(count) == 1 else ("<" + code, (int(count),)))
    return np.dtype({"names": names, "formats": formats})
