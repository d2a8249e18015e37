#!/usr/bin/env bash
# Creates .venv (CPython 3.11) holding every pinned dependency of the project.
# Idempotent: returns at once when .venv already matches the requirements files.
# A missing prerequisite stops it with one line naming it. CLICKENHANCE_VENV overrides
# the venv folder (used by the tests of this script).
set -euo pipefail
cd "${BASH_SOURCE[0]%/*}/.."

die() { echo "setup: $*" >&2; exit 1; }

command -v python3.11 >/dev/null 2>&1 \
  || die "python3.11 not found: install CPython 3.11 with its venv module (Debian/Ubuntu: apt-get install python3.11 python3.11-venv)"
command -v cc >/dev/null 2>&1 || die "no C compiler (cc) found: install gcc (apt-get install build-essential)"
command -v c++ >/dev/null 2>&1 || die "no C++ compiler (c++) found: install g++ (apt-get install build-essential)"
command -v cmake >/dev/null 2>&1 || die "cmake not found: install cmake >= 3.8 (apt-get install cmake)"

# True when pip's index (PIP_INDEX_URL, pip config, or PyPI) answers over the network.
index_reachable() {
  "$venv"/bin/python - <<'PY'
import os, subprocess, sys, urllib.error, urllib.request
url = os.environ.get("PIP_INDEX_URL") or subprocess.run(
    [sys.executable, "-m", "pip", "config", "get", "global.index-url"],
    capture_output=True, text=True).stdout.strip() or "https://pypi.org/simple/"
try:
    urllib.request.urlopen(url.rstrip("/") + "/pip/", timeout=10)
except urllib.error.HTTPError:
    pass  # the server answered
except (OSError, ValueError):
    sys.exit(1)
PY
}

venv=${CLICKENHANCE_VENV:-.venv}
want=$(cat requirements/*.txt tools/setup_env.sh | sha256sum | cut -d' ' -f1)
stamp=$venv/.requirements.sha256
if [[ -f $stamp && "$(cat "$stamp")" == "$want" && -x $venv/bin/python ]]; then
  exit 0
fi

if [[ ! -x $venv/bin/python ]]; then
  python3.11 -m venv "$venv" >/dev/null 2>&1 \
    || die "python3.11 -m venv failed: install the venv module (apt-get install python3.11-venv)"
fi

log=$venv/setup.log
echo "setup: installing pinned dependencies into $venv (log: $log) ..."
if ! "$venv"/bin/python -m pip install --disable-pip-version-check --progress-bar off \
     -c requirements/constraints.txt -r requirements/all.txt >"$log" 2>&1; then
  if ! index_reachable; then
    die "cannot reach the Python package index (PyPI) to install the pinned dependencies: see $log"
  fi
  die "pip install failed: $(grep -E '^ERROR' "$log" | tail -n 1) (full log: $log)"
fi
echo "$want" >"$stamp"
echo "setup: $venv ready"
