"""tools/setup_env.sh stops with one line naming a missing prerequisite, not a stack trace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "setup_env.sh"
BASH = "/bin/bash"


def run_setup(env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run the set-up script with exactly `env` (plus HOME)."""
    env = {"HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run([BASH, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300)


def real_python311() -> str:
    """Path of a real CPython 3.11 binary (not a version-manager shim)."""
    base = Path(sys.base_prefix) / "bin" / "python3.11"
    return str(base if base.exists() else Path(sys.executable).resolve())


def test_missing_python311_is_named(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    result = run_setup({"PATH": str(empty)})
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("setup: python3.11 not found")


def test_missing_c_compiler_is_named(tmp_path: Path) -> None:
    only_python = tmp_path / "bin"
    only_python.mkdir()
    (only_python / "python3.11").symlink_to(real_python311())
    result = run_setup({"PATH": str(only_python)})
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("setup: no C compiler (cc) found")


def test_unreachable_package_index_is_named(tmp_path: Path) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "python3.11").symlink_to(real_python311())
    env = {
        "PATH": f"{tools}:/usr/bin:/bin",
        "CLICKENHANCE_VENV": str(tmp_path / "venv"),
        "PIP_CONFIG_FILE": os.devnull,  # ignore this machine's local wheel mirrors
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple",  # nothing listens on the discard port
        "PIP_RETRIES": "0",
        "PIP_DEFAULT_TIMEOUT": "2",
        "PIP_NO_CACHE_DIR": "1",
    }
    result = run_setup(env)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("setup: cannot reach the Python package index"), result.stderr


BROWSER_SCRIPT = SCRIPT.parent / "install_browser.sh"


def test_browser_setup_returns_silently_when_chromium_is_installed(tmp_path: Path) -> None:
    tool = tmp_path / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "CLICKENHANCE_CHROMIUM": str(tool), "CLICKENHANCE_CHROMEDRIVER": str(tool)}
    result = subprocess.run([BASH, str(BROWSER_SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_browser_setup_not_root_and_missing_says_so_in_one_line(tmp_path: Path) -> None:
    if os.getuid() == 0:
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BASH, str(BROWSER_SCRIPT)]
    else:
        command = [BASH, str(BROWSER_SCRIPT)]
    env = {"PATH": "/usr/bin:/bin", "CLICKENHANCE_CHROMIUM": str(tmp_path / "absent"),
           "CLICKENHANCE_CHROMEDRIVER": str(tmp_path / "absent")}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("setup: ") and "not root" in result.stderr, result.stderr
