"""`make demo` as a test: the Makefile's own demo command (node process, generated scan over DDS,
simulated operator through the services, save, picture), checked on what it prints and writes."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clickenhance_model.annotation import Annotation

pytest.importorskip("rclpy", reason="rclpy (ROS 2 wheels) is not installed")
from clickenhance_model.evaluation.demo_operator import demo_objects  # noqa: E402
from clickenhance_ros.demo import DEFAULT_MIN_IOU, generated_scan  # noqa: E402
from clickenhance_ros.demo_figure import TRUE_POSITIVE  # noqa: E402

pytestmark = pytest.mark.ros
MAKEFILE = Path(__file__).resolve().parents[1] / "Makefile"
OBJECT_LINE = re.compile(r"^object (\d+): (.+), (\d+) points$", re.M)
CLICK_LINE = re.compile(r"^ {4}click (\d+) \(([+-])\) on point (\d+): IoU ([0-9.]+)", re.M)


def make_demo_command(*demo_args: str) -> list[str]:
    """The recipe of `make demo`, read from the Makefile, with this interpreter and DEMO_ARGS.

    The test runs without make so that it never rebuilds ./install under the running suite; the
    environment of tools/ros_env.sh ($(IN_ENV)) is the one pytest runs in already.
    """
    recipe = re.search(r"^demo:.*\n\t(.+)$", MAKEFILE.read_text(), flags=re.M)
    assert recipe, "the Makefile has no demo target"
    words = shlex.split(recipe.group(1))
    assert words[:2] == ["$(IN_ENV)", "$(VENV)/bin/python"] and words[-1] == "$(DEMO_ARGS)", words
    return [sys.executable, *words[2:-1], *demo_args]


def run_demo(out: Path, *options: str, timeout: float = 150.0) -> subprocess.CompletedProcess:
    """`make demo DEMO_ARGS="--out OUT OPTIONS"` (the last --out wins) in this test's ROS domain."""
    command = make_demo_command("--out", str(out), *options)
    assert command[1:3] == ["-m", "clickenhance_ros.demo"], command
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=os.environ.copy())


def printed_objects(stdout: str) -> list[list[tuple[int, bool, int, float]]]:
    """Per printed object, its click lines as (number, positive, point index, IoU)."""
    blocks = re.split(r"^object \d+: .*$", stdout, flags=re.M)[1:]
    return [[(int(n), sign == "+", int(point), float(value)) for n, sign, point, value in CLICK_LINE.findall(block)]
            for block in blocks]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


@pytest.mark.slow  # about 12 s: the shipped model in the node process, three objects
def test_the_demo_passes_and_its_printed_ious_match_the_saved_annotation(tmp_path: Path) -> None:
    result = run_demo(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "segmenter: learned ClickEnhance model" in result.stdout  # the demo runs the embedded default model
    assert f"demo passed: every object reached IoU >= {DEFAULT_MIN_IOU:.3f}" in result.stdout
    objects = printed_objects(result.stdout)
    assert len(objects) == len(OBJECT_LINE.findall(result.stdout)) == 3
    scan = generated_scan(0)
    targets = demo_objects(scan.instance, scan.semantic, 3, 200)
    saved = sorted((tmp_path / "annotations").iterdir())
    assert len(saved) == 1, saved
    annotation = Annotation.load(saved[0])
    document = json.loads((saved[0] / "clicks.json").read_text())
    for number, (clicks, (instance, semantic)) in enumerate(zip(objects, targets, strict=True), start=1):
        assert clicks and [c[0] for c in clicks] == list(range(1, len(clicks) + 1))
        assert clicks[-1][3] >= DEFAULT_MIN_IOU
        # The printed final IoU is the saved object's IoU against the generator's ground truth.
        saved_mask = annotation.labels >> 16 == number
        assert iou(saved_mask, scan.instance == instance) == pytest.approx(clicks[-1][3], abs=1e-3)
        np.testing.assert_array_equal(annotation.labels[saved_mask] & 0xFFFF, semantic)
        entry = document["objects"][number - 1]
        assert [(c["index"], c["positive"]) for c in entry["clicks"]] == [(c[2], c[1]) for c in clicks]
    np.testing.assert_array_equal(annotation.xyz, scan.xyz)
    _check_picture(tmp_path / "demo.png")


def _check_picture(path: Path) -> None:
    """A readable PNG of the figure's size that shows true-positive points."""
    from matplotlib.colors import to_rgb
    from matplotlib.image import imread

    image = imread(path)
    assert image.shape[:2] == (1320, 1980), image.shape
    near = np.abs(image[..., :3] - np.array(to_rgb(TRUE_POSITIVE))).max(axis=-1) < 0.02
    assert near.sum() > 5000, "the close-ups should show the objects' true positives"


def test_an_object_below_the_threshold_fails_the_demo_naming_it(tmp_path: Path) -> None:
    """An impossible --min-iou: exit 1 and a FAILED line naming the object; the rest still written.
    The baseline segmenter (the check does not depend on it) keeps this run short: no torch to load."""
    result = run_demo(tmp_path, "--objects", "1", "--max-clicks", "1", "--min-iou", "0.999", "--method", "baseline")
    assert result.returncode == 1, result.stdout + result.stderr
    failed = [line for line in result.stdout.splitlines() if line.startswith("demo FAILED:")]
    assert len(failed) == 1, result.stdout
    assert re.match(r"demo FAILED: object 1 \(other-vehicle, instance \d+\): final IoU 0\.\d{3} after 1 click "
                    r"is below --min-iou 0\.999$", failed[0]), failed[0]
    assert "demo passed" not in result.stdout
    assert (tmp_path / "demo.png").is_file() and any((tmp_path / "annotations").iterdir())


@pytest.mark.parametrize("option", [["--min-iou", "1.5"], ["--objects", "0"], ["--max-clicks", "0"]])
def test_bad_options_are_refused_before_anything_starts(tmp_path: Path, option: list[str]) -> None:
    result = run_demo(tmp_path, *option, timeout=60.0)
    assert result.returncode == 2 and option[0] in result.stderr, result.stderr
    assert not (tmp_path / "node.log").exists()
