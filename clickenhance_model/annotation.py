"""The annotation of one frozen scan: accepted objects, their clicks, and saving it safely.

An `Annotation` holds a scan's points, a SemanticKITTI label per point (lower 16 bits
the semantic class, upper 16 bits the instance = object id) and the clicks that made
each accepted object. `save` writes, into one folder:

- `scan.bin`: the points as SemanticKITTI velodyne float32 x, y, z, intensity;
- `scan.label`: uint32 per point, `semantic | object_id << 16` (0 = not annotated);
- `object_NNN.ply`: one binary PLY per object (x, y, z, intensity, index into the scan);
- `clicks.json`: frame, stamp and, per object, its id, class and clicks.

The folder is written next to its destination as `.<name>.tmp-<pid>`, every file and the
folder are flushed to disk, and it is moved into place with `os.replace`, so a crash leaves
either the previous save or the new one, never a mix. What a killed writer leaves behind (its
hidden staging folder, or `.<name>.previous` between the two renames) is cleaned by the next
save into the same output directory (`remove_stale_saves`).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clickenhance_model.datasets.ply import read_ply, write_ply
from clickenhance_model.errors import DatasetError
from clickenhance_model.inference.session import Click

FORMAT_NAME = "clickenhance-annotation"
FORMAT_VERSION = 1
SCAN_FILE, LABEL_FILE, CLICKS_FILE = "scan.bin", "scan.label", "clicks.json"
MAX_OBJECT_ID = 0xFFFF  # the instance half of a SemanticKITTI label
_STAGING = re.compile(r"\.(?P<name>.+)\.tmp-(?P<pid>\d+)")
_PREVIOUS = re.compile(r"\.(?P<name>.+)\.previous")


@dataclass(frozen=True)
class AnnotatedObject:
    """One accepted object: its id (1-based), SemanticKITTI class and the clicks that made it."""

    object_id: int
    semantic_label: int
    clicks: tuple[Click, ...]

    @property
    def ply_name(self) -> str:
        """File name of the object's PLY inside a saved annotation."""
        return f"object_{self.object_id:03d}.ply"


class Annotation:
    """Labels and accepted objects of one scan.

    Args:
        xyz: (N, 3) points in metres (non-finite points allowed; they are never labelled).
        intensity: optional (N,) intensity/remission, stored in `scan.bin` (zeros if absent).
        frame_id: frame of the points.
        stamp_ns: acquisition time of the scan in nanoseconds.
    """

    def __init__(self, xyz: np.ndarray, intensity: np.ndarray | None = None, frame_id: str = "",
                 stamp_ns: int = 0):
        xyz = np.asarray(xyz, dtype=np.float32)
        if xyz.ndim != 2 or xyz.shape[1] != 3:
            raise ValueError(f"xyz must have shape (N, 3), got {xyz.shape}")
        if intensity is not None and np.shape(intensity) != (len(xyz),):
            raise ValueError(f"intensity must have shape ({len(xyz)},), got {np.shape(intensity)}")
        self.xyz = xyz
        self.intensity = (np.zeros(len(xyz), np.float32) if intensity is None
                          else np.asarray(intensity, dtype=np.float32))
        self.frame_id = frame_id
        self.stamp_ns = int(stamp_ns)
        self.labels = np.zeros(len(xyz), dtype=np.uint32)
        self.objects: list[AnnotatedObject] = []
        self.saved = True  # nothing to lose yet

    @property
    def num_points(self) -> int:
        """Number of points of the scan."""
        return len(self.xyz)

    @property
    def next_object_id(self) -> int:
        """Id the next accepted object gets."""
        return self.objects[-1].object_id + 1 if self.objects else 1

    def accept(self, mask: np.ndarray, clicks: Sequence[Click], semantic_label: int = 0) -> AnnotatedObject:
        """Label the points of `mask` as a new object and return it; later objects win on overlap."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (self.num_points,):
            raise ValueError(f"mask must have shape ({self.num_points},), got {mask.shape}")
        if not mask.any():
            raise ValueError("the object has no point: click on it first")
        if not 0 <= int(semantic_label) <= 0xFFFF:
            raise ValueError(f"semantic_label must be in [0, 65535], got {semantic_label}")
        object_id = self.next_object_id
        if object_id > MAX_OBJECT_ID:
            raise ValueError(f"a scan holds at most {MAX_OBJECT_ID} objects")
        self.labels[mask] = np.uint32(int(semantic_label) | object_id << 16)
        accepted = AnnotatedObject(object_id, int(semantic_label), tuple(clicks))
        self.objects.append(accepted)
        self.saved = False
        return accepted

    def object_mask(self, object_id: int) -> np.ndarray:
        """Bool (N,) mask of the points that carry `object_id` now."""
        return (self.labels >> 16) == object_id

    # ------------------------------------------------------------------------ files
    def save(self, directory: str | Path) -> Path:
        """Write the annotation into `directory` atomically (see module doc); return its absolute path."""
        directory = Path(directory).expanduser().absolute()
        directory.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_saves(directory.parent)
        staging = directory.parent / f".{directory.name}.tmp-{os.getpid()}"
        previous = directory.parent / f".{directory.name}.previous"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            self._write_files(staging)
            _fsync_files(staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if directory.exists():
            shutil.rmtree(previous, ignore_errors=True)
            os.replace(directory, previous)
        os.replace(staging, directory)
        _fsync_directory(directory.parent)
        shutil.rmtree(previous, ignore_errors=True)
        self.saved = True
        return directory

    def _write_files(self, folder: Path) -> None:
        """Write every file of the annotation into `folder` and flush them to disk."""
        scan = np.concatenate([self.xyz, self.intensity[:, None]], axis=1).astype("<f4")
        _write_synced(folder / SCAN_FILE, scan.tobytes())
        _write_synced(folder / LABEL_FILE, self.labels.astype("<u4").tobytes())
        for accepted in self.objects:
            indices = np.flatnonzero(self.object_mask(accepted.object_id)).astype(np.uint32)
            vertices = {"x": self.xyz[indices, 0], "y": self.xyz[indices, 1], "z": self.xyz[indices, 2],
                        "intensity": self.intensity[indices], "index": indices}
            write_ply(folder / accepted.ply_name, {"vertex": vertices},
                      comments=(f"object {accepted.object_id} class {accepted.semantic_label}",))
        _write_synced(folder / CLICKS_FILE, json.dumps(self._clicks_document(), indent=1).encode())

    def _clicks_document(self) -> dict:
        """The JSON document of `clicks.json`."""
        return {
            "format": FORMAT_NAME, "version": FORMAT_VERSION, "frame_id": self.frame_id,
            "stamp_ns": self.stamp_ns, "num_points": self.num_points,
            "scan_file": SCAN_FILE, "label_file": LABEL_FILE,
            "objects": [{
                "id": o.object_id, "semantic_label": o.semantic_label,
                "point_count": int(self.object_mask(o.object_id).sum()), "ply": o.ply_name,
                "clicks": [{"index": c.index, "positive": c.positive, "position": list(c.position)}
                           for c in o.clicks],
            } for o in self.objects],
        }

    @classmethod
    def load(cls, directory: str | Path) -> Annotation:
        """Read an annotation written by `save`; DatasetError names the file that is wrong."""
        directory = Path(directory)
        document = _read_json(directory / CLICKS_FILE)
        if document.get("format") != FORMAT_NAME or document.get("version") != FORMAT_VERSION:
            raise DatasetError(f"{directory / CLICKS_FILE}: not a {FORMAT_NAME} v{FORMAT_VERSION} file")
        n = int(document["num_points"])
        scan = _read_array(directory / SCAN_FILE, "<f4", 4 * n).reshape(n, 4)
        annotation = cls(scan[:, :3], scan[:, 3], document["frame_id"], document["stamp_ns"])
        annotation.labels = _read_array(directory / LABEL_FILE, "<u4", n).astype(np.uint32)
        for entry in document["objects"]:
            clicks = tuple(Click(int(c["index"]), bool(c["positive"]), tuple(float(v) for v in c["position"]))
                           for c in entry["clicks"])
            annotation.objects.append(AnnotatedObject(int(entry["id"]), int(entry["semantic_label"]), clicks))
        annotation.saved = True
        return annotation

    @staticmethod
    def read_object(directory: str | Path, object_id: int) -> dict[str, np.ndarray]:
        """The saved PLY of one object as {property: array} (x, y, z, intensity, index)."""
        return read_ply(Path(directory) / AnnotatedObject(object_id, 0, ()).ply_name)["vertex"]


def remove_stale_saves(output_directory: str | Path) -> list[Path]:
    """Clean what killed writers left in `output_directory`; return the removed or restored paths.

    A staging folder `.<name>.tmp-<pid>` whose process is gone is deleted. A `.<name>.previous`
    is put back as `<name>` when a crash came between the two renames (no `<name>`), else deleted.
    Folders of writers still running are left alone.
    """
    root = Path(output_directory)
    cleaned: list[Path] = []
    entries = sorted(root.iterdir()) if root.is_dir() else []
    for entry in entries:
        staging, previous = _STAGING.fullmatch(entry.name), _PREVIOUS.fullmatch(entry.name)
        if staging and entry.is_dir() and not _process_alive(int(staging["pid"])):
            shutil.rmtree(entry, ignore_errors=True)
            cleaned.append(entry)
        elif previous and entry.is_dir() and not _being_saved(root, previous["name"]):
            target = root / previous["name"]
            if target.exists():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                os.replace(entry, target)
            cleaned.append(entry)
    return cleaned


def _being_saved(root: Path, name: str) -> bool:
    """True when a running process has a staging folder for `name` in `root` (it is between renames)."""
    for entry in root.glob(f".{glob.escape(name)}.tmp-*"):
        match = _STAGING.fullmatch(entry.name)
        if match and match["name"] == name and _process_alive(int(match["pid"])):
            return True
    return False


def _process_alive(pid: int) -> bool:
    """True when a process `pid` exists (this process included)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _write_synced(path: Path, data: bytes) -> None:
    """Write bytes to a new file (flushed to disk with the rest of the folder by `_fsync_files`)."""
    path.write_bytes(data)


def _fsync_files(folder: Path) -> None:
    """Flush every file of `folder`, then the folder's own entries, to disk."""
    for path in folder.iterdir():
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    _fsync_directory(folder)


def _fsync_directory(path: Path) -> None:
    """Flush a directory entry (the renames) to disk where the platform allows it."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _read_json(path: Path) -> dict:
    """Parse a JSON file, raising DatasetError naming it when missing or malformed."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path}: cannot read the annotation's clicks ({error})") from error


def _read_array(path: Path, dtype: str, count: int) -> np.ndarray:
    """Read exactly `count` values of `dtype` from a raw file, or raise DatasetError."""
    try:
        data = np.fromfile(path, dtype=dtype)
    except OSError as error:
        raise DatasetError(f"{path}: cannot read ({error.strerror})") from error
    if data.size != count:
        raise DatasetError(f"{path}: expected {count} values of {dtype}, found {data.size}")
    return data
