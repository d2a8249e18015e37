#!/usr/bin/env bash
# Installs headless Chromium and its driver (Debian 12: apt packages chromium, chromium-driver)
# for the browser test of the annotation page (test/test_annotate_browser.py).
# Idempotent: returns at once, silently, when both are installed. Missing and not root (or no
# apt-get), it stops with one line saying what to run. CLICKENHANCE_CHROMIUM and
# CLICKENHANCE_CHROMEDRIVER override the paths checked (used by the tests of this script).
set -euo pipefail

die() { echo "setup: $*" >&2; exit 1; }

chromium=${CLICKENHANCE_CHROMIUM:-/usr/bin/chromium}
driver=${CLICKENHANCE_CHROMEDRIVER:-/usr/bin/chromedriver}
if [[ -x $chromium && -x $driver ]]; then
  exit 0
fi
[[ $(id -u) == 0 ]] \
  || die "$chromium or $driver missing and not root: run 'sudo apt-get install -y chromium chromium-driver' (needed by the browser test)"
command -v apt-get >/dev/null 2>&1 \
  || die "$chromium or $driver missing and no apt-get: install Chromium and chromedriver at those paths"

log=$(mktemp -t clickenhance-browser.XXXXXX.log)
echo "setup: installing chromium and chromium-driver with apt-get (log: $log) ..."
if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; } >"$log" 2>&1; then
  die "apt-get install chromium chromium-driver failed: $(grep -E '^E:' "$log" | tail -n 1) (full log: $log)"
fi
[[ -x $chromium && -x $driver ]] || die "apt-get installed chromium but $chromium or $driver is still missing"
echo "setup: chromium ready"
