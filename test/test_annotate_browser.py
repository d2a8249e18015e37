"""The annotation page in a real browser: headless Chromium, driven by selenium, against the CLI.

Chromium and its driver come from the project's set-up (tools/install_browser.sh); where they
are missing the test fails, naming the script, rather than skipping.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from cloud_factories import ground_and_box

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
CONTROLS = ("Positive", "Negative", "Undo", "Reset", "Accept", "Save", "Next", "Previous")
# The camera looks straight at the box's centre, so a click at the middle of the canvas hits it.
CAMERA = ("-5", "-5", "4.5", "0", "0", "1.35")


@pytest.fixture
def browser() -> Iterator:
    """Headless Chromium (software WebGL) through chromedriver."""
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.fail(f"{CHROMIUM} or {CHROMEDRIVER} missing: run tools/install_browser.sh as root (make test does)")
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--enable-unsafe-swiftshader",
                     "--window-size=1200,900"):
        options.add_argument(argument)
    options.binary_location = str(CHROMIUM)
    driver = webdriver.Chrome(service=webdriver.ChromeService(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def serve(arguments: list[str]) -> tuple[subprocess.Popen, str]:
    """Start the annotator CLI on a free port; return the process and the address it printed."""
    process = subprocess.Popen([sys.executable, "-m", "clickenhance_model.annotate", *arguments, "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy())
    deadline = time.monotonic() + 60
    for line in process.stdout:
        found = re.search(r"open (http://127\.0\.0\.1:\d+/)", line)
        if found:
            return process, found.group(1)
        if time.monotonic() > deadline:
            break
    process.kill()
    pytest.fail(f"the annotator printed no address: {process.communicate()[0]}")


def wait_for(condition, what: str, timeout: float = 60.0):
    """Poll `condition` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


def button(driver, label: str):
    from selenium.webdriver.common.by import By

    return next(b for b in driver.find_elements(By.TAG_NAME, "button") if b.text == label)


def test_click_on_the_box_and_save_writes_its_labels(browser, tmp_path: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    xyz, box = ground_and_box()
    scan = tmp_path / "scan_7.bin"
    np.concatenate([xyz, np.zeros((len(xyz), 1), np.float32)], axis=1).tofile(scan)
    out = tmp_path / "labels"
    process, url = serve([str(scan), "--out", str(out), "--method", "baseline", "--camera", *CAMERA])
    try:
        assert url.startswith("http://127.0.0.1:")  # loopback unless --host says otherwise
        browser.get(url)
        wait_for(lambda: {b.text for b in browser.find_elements(By.TAG_NAME, "button")} >= set(CONTROLS),
                 "the controls")
        canvas = max(browser.find_elements(By.TAG_NAME, "canvas"), key=lambda c: c.size["width"] * c.size["height"])
        body = browser.find_element(By.TAG_NAME, "body")
        mask_count = re.compile(r"Mask:\s*([1-9]\d*) points")
        for _ in range(3):  # the first click may land before the browser has sent its camera
            ActionChains(browser).move_to_element(canvas).click().perform()
            if wait_for(lambda: mask_count.search(body.text) or "no scan point" in body.text, "a click", 30) \
                    and mask_count.search(body.text):
                break
            time.sleep(1.0)
        assert mask_count.search(body.text), body.text
        button(browser, "Save").click()
        label_path = out / "scan_7.label"
        wait_for(label_path.is_file, "the saved labels")
    finally:
        process.terminate()
        process.wait(10)
    labels = np.fromfile(label_path, dtype="<u4")
    assert len(labels) == len(xyz)
    annotated = labels >> 16 == 1
    assert (annotated & box).sum() / (annotated | box).sum() > 0.9
    assert (out / "scan_7" / "object_001.ply").is_file() and (out / "scan_7" / "clicks.json").is_file()
