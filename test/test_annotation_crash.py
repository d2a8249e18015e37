"""Annotation saves after a crash: what a killed writer leaves is cleaned, and saves stay complete."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from clickenhance_model.annotation import Annotation, remove_stale_saves

# A writer saving a large annotation into argv[1] over and over, until it is killed.
WRITER = """
import sys
import numpy as np
from clickenhance_model.annotation import Annotation
n = int(sys.argv[2])
annotation = Annotation(np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32))
mask = np.zeros(n, bool)
mask[: n // 2] = True
annotation.accept(mask, [])
while True:
    annotation.save(sys.argv[1])
"""


def small_annotation(n: int = 300, objects: int = 2) -> Annotation:
    """An annotation of `n` points with `objects` accepted objects of 10 points each."""
    annotation = Annotation(np.random.default_rng(n).normal(size=(n, 3)).astype(np.float32))
    for k in range(objects):
        mask = np.zeros(n, bool)
        mask[10 * k:10 * k + 10] = True
        annotation.accept(mask, [], semantic_label=k + 1)
    return annotation


def dead_pid() -> int:
    """The id of a process that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def assert_complete(directory: Path, expected: Annotation) -> None:
    """The saved annotation loads and holds `expected`'s labels and objects."""
    loaded = Annotation.load(directory)
    np.testing.assert_array_equal(loaded.labels, expected.labels)
    assert [o.object_id for o in loaded.objects] == [o.object_id for o in expected.objects]
    for accepted in expected.objects:
        np.testing.assert_array_equal(Annotation.read_object(directory, accepted.object_id)["index"],
                                      np.flatnonzero(expected.object_mask(accepted.object_id)))


def kill_mid_save(target: Path, points: int, attempts: int = 5) -> Path:
    """Run WRITER and SIGKILL it while its staging folder exists; return that leftover folder."""
    for _ in range(attempts):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target), str(points)], env=os.environ.copy())
        staging = target.parent / f".{target.name}.tmp-{writer.pid}"
        deadline = time.monotonic() + 60
        while not staging.exists() and writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        if staging.exists():
            return staging
    pytest.fail(f"the writer never was killed while {target.name} was being staged ({attempts} attempts)")


@pytest.mark.slow
def test_a_writer_killed_mid_save_leaves_nothing_after_the_next_save(tmp_path: Path) -> None:
    target = tmp_path / "scan_000"
    staging = kill_mid_save(target, points=400_000)
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    assert staging.name in leftovers
    annotation = small_annotation()
    assert annotation.save(target) == target
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scan_000"]
    assert_complete(target, annotation)


def test_stale_staging_of_a_dead_writer_is_removed_when_the_directory_is_next_used(tmp_path: Path) -> None:
    kept = small_annotation()
    kept.save(tmp_path / "a")
    stale = tmp_path / f".a.tmp-{dead_pid()}"
    stale.mkdir()
    (stale / "scan.bin").write_bytes(b"\0" * 7)  # a partial file
    other = small_annotation(200, 1)
    other.save(tmp_path / "b")  # another scan: the output directory is used again
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
    assert_complete(tmp_path / "a", kept)
    assert_complete(tmp_path / "b", other)


def test_a_crash_between_the_renames_restores_the_previous_save(tmp_path: Path) -> None:
    kept = small_annotation()
    kept.save(tmp_path / "a")
    os.replace(tmp_path / "a", tmp_path / ".a.previous")  # killed after the first rename
    assert remove_stale_saves(tmp_path) == [tmp_path / ".a.previous"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]
    assert_complete(tmp_path / "a", kept)
    kept.save(tmp_path / "a")
    (tmp_path / ".a.previous").mkdir()  # killed before removing the old save
    assert remove_stale_saves(tmp_path) == [tmp_path / ".a.previous"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_folders_of_a_running_writer_are_left_alone(tmp_path: Path) -> None:
    other_writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        staging = tmp_path / f".a.tmp-{other_writer.pid}"
        previous = tmp_path / ".a.previous"
        staging.mkdir()
        previous.mkdir()  # that writer is between its two renames
        (tmp_path / "unrelated.tmp-1").mkdir()
        assert remove_stale_saves(tmp_path) == []
        small_annotation().save(tmp_path / "b")
        assert sorted(p.name for p in tmp_path.iterdir()) == [".a.previous", staging.name, "b", "unrelated.tmp-1"]
    finally:
        other_writer.kill()
        other_writer.wait()
