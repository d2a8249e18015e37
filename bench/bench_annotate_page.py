"""Figures of the browser annotator on a real scan, in headless Chromium (software WebGL).

    python bench/bench_annotate_page.py                    # ../shared/real_scans 000000.bin, --method model
    python bench/bench_annotate_page.py --scan GENERATED.bin --screenshot docs/annotate_page.png   # README picture

The README's picture is of a generated scan: the real scans' licence keeps renders of them out of the
repository.

It starts Chromium first (not counted), then runs `python -m clickenhance_model.annotate SCAN`
and prints: the time from the command to the printed address, and to a drawn page (the first
screenshot whose 3D view is mostly covered by points); then, for each click, the time from the
click in the browser to the first screenshot showing the mask colour (screenshots are polled,
so this is an upper bound by one screenshot's time, printed too) beside the segmenter's own
time from the page. The camera is aimed at the largest car of the scan's .label, so the click
at the centre of the view lands on it; the labels only aim the camera.
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REAL_SCANS = Path(__file__).resolve().parents[2] / "shared" / "real_scans" / "semantickitti"
DEFAULT_SCAN = REAL_SCANS / "seq00_frames" / "000000.bin"
MASK_COLOUR = np.array([255, 64, 32])
CARS = (10, 252)


def camera_on_largest_car(scan: Path) -> list[str]:
    """--camera values: 9 m before the largest car (towards the sensor) and 6 m up, looking at its centre."""
    xyz = np.fromfile(scan, dtype="<f4").reshape(-1, 4)[:, :3]
    labels = np.fromfile(scan.with_suffix(".label"), dtype="<u4")
    car = np.isin(labels & 0xFFFF, CARS) & (labels >> 16 > 0)
    ids, counts = np.unique(labels[car], return_counts=True)
    centre = xyz[labels == ids[np.argmax(counts)]].mean(axis=0)
    towards_sensor = -centre[:2] / np.linalg.norm(centre[:2])
    position = centre + np.array([*(9.0 * towards_sensor), 6.0])
    return [f"{v:.3f}" for v in (*position, *centre)]


def pixels(driver) -> np.ndarray:
    """The page as an RGB array (one screenshot)."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")).astype(np.int16)


def drawn(image: np.ndarray) -> bool:
    """True when points cover a fifth of the 3D view's left half (the panel is on the right)."""
    view = image[:, : image.shape[1] // 2]
    return float((view.min(axis=2) < 235).mean()) > 0.2


def mask_pixels(image: np.ndarray) -> int:
    """Pixels of the mask colour."""
    return int((np.abs(image - MASK_COLOUR).max(axis=2) < 40).sum())


def poll(condition, timeout: float = 120.0) -> float:
    """Seconds until `condition()` is true (polled back to back)."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"nothing after {timeout} s")
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scan", type=Path, default=DEFAULT_SCAN)
    parser.add_argument("--method", default="model", choices=("auto", "model", "baseline"),
                        help="the page's segmenter (default: the embedded default model)")
    parser.add_argument("--clicks", type=int, default=3)
    parser.add_argument("--screenshot", type=Path, help="save the page after the last click here (PNG)")
    args = parser.parse_args()
    if not args.scan.is_file():
        print(f"no scan at {args.scan} (the real scans are only on development machines)", file=sys.stderr)
        return 1
    from selenium import webdriver
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--enable-unsafe-swiftshader",
                     "--window-size=1400,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=webdriver.ChromeService("/usr/bin/chromedriver"), options=options)
    out = tempfile.mkdtemp(prefix="annotate-bench-")
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "clickenhance_model.annotate", str(args.scan), "--port", "0",
                                "--out", out, "--method", args.method, "--camera", *camera_on_largest_car(args.scan)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = next(m.group(1) for line in process.stdout if (m := re.search(r"open (http://\S+)", line)))
        served = time.perf_counter() - start
        driver.get(url)
        poll(lambda: drawn(pixels(driver)))
        page = time.perf_counter() - start
        print(f"scan {args.scan.name}: {np.fromfile(args.scan, '<f4').size // 4} points, method {args.method}")
        print(f"command -> address printed: {served:.1f} s; command -> drawn page: {page:.1f} s")
        canvas = max(driver.find_elements(By.TAG_NAME, "canvas"), key=lambda c: c.size["width"] * c.size["height"])
        body = driver.find_element(By.TAG_NAME, "body")
        shot = statistics.median(timed(lambda: pixels(driver)) for _ in range(3))
        repaint, segmenter = [], []
        before = mask_pixels(pixels(driver))  # the axes gizmo's red, before any mask
        for number in range(args.clicks):
            time.sleep(1.0)
            ActionChains(driver).move_to_element(canvas).click().perform()
            repaint.append(poll(lambda: mask_pixels(pixels(driver)) > before + 50))
            found = re.search(r"segmenter (\d+) ms", body.text)
            segmenter.append(float(found.group(1)) if found else float("nan"))
            if number < args.clicks - 1:
                next(b for b in driver.find_elements(By.TAG_NAME, "button") if b.text == "Undo").click()
                poll(lambda: mask_pixels(pixels(driver)) <= before + 10)
        print(f"click -> mask drawn in the browser: median {statistics.median(repaint) * 1e3:.0f} ms "
              f"(each: {', '.join(f'{r * 1e3:.0f}' for r in repaint)}; one screenshot takes {shot * 1e3:.0f} ms); "
              f"segmenter: median {statistics.median(segmenter):.0f} ms")
        if args.screenshot:
            driver.save_screenshot(str(args.screenshot))
            print(f"screenshot: {args.screenshot}")
    finally:
        driver.quit()
        process.terminate()
        process.wait(10)
    return 0


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


if __name__ == "__main__":
    sys.exit(main())
