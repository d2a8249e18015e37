"""`make follow-demo` as a test: the Makefile's command, a short drive with the baseline, checked on what it prints."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("rclpy", reason="rclpy (ROS 2 wheels) is not installed")

pytestmark = pytest.mark.ros
MAKEFILE = Path(__file__).resolve().parents[1] / "Makefile"
FRAME_LINE = re.compile(r"^frame +(\d+): IoU ([0-9.]+), (\d+) points \((\d+) true\), confidence ([0-9.]+)", re.M)


def follow_demo_command(*demo_args: str) -> list[str]:
    """The recipe of `make follow-demo`, with this interpreter and DEMO_ARGS (no make: no rebuild mid-suite)."""
    recipe = re.search(r"^follow-demo:.*\n\t(.+)$", MAKEFILE.read_text(), flags=re.M)
    assert recipe, "the Makefile has no follow-demo target"
    words = shlex.split(recipe.group(1))
    assert words[:2] == ["$(IN_ENV)", "$(VENV)/bin/python"] and words[-1] == "$(DEMO_ARGS)", words
    return [sys.executable, *words[2:-1], *demo_args]


def test_the_follow_demo_follows_the_car_in_every_frame(tmp_path: Path) -> None:
    command = follow_demo_command("--out", str(tmp_path), "--frames", "4", "--beams", "16", "--method", "baseline")
    result = subprocess.run(command, capture_output=True, text=True, timeout=150, env=os.environ.copy())
    assert result.returncode == 0, result.stdout + result.stderr
    frames = FRAME_LINE.findall(result.stdout)
    assert [int(f[0]) for f in frames] == [1, 2, 3], result.stdout
    ious = [float(f[1]) for f in frames]
    assert min(ious) >= 0.7, result.stdout
    mean = re.search(r"^followed 3 of 3 frames; mean IoU ([0-9.]+)$", result.stdout, re.M)
    assert mean and abs(float(mean.group(1)) - sum(ious) / 3) <= 1e-3, result.stdout  # the mean of its lines
    assert (tmp_path / "node.log").is_file()


@pytest.mark.parametrize("option", [["--frames", "1"], ["--period", "0"], ["--rate", "-1"]])
def test_bad_options_are_refused_before_anything_starts(tmp_path: Path, option: list[str]) -> None:
    result = subprocess.run(follow_demo_command("--out", str(tmp_path), *option), capture_output=True, text=True,
                            timeout=60, env=os.environ.copy())
    assert result.returncode == 2 and "--frames >= 2" in result.stderr
    assert not (tmp_path / "node.log").exists()
