# ClickEnhance for ROS 2. Each target does all of its own set-up on a fresh machine
# (a .venv with pinned dependencies, a colcon build of the package) and skips what is
# already up to date.
SHELL := /bin/bash
VENV := .venv
PYTEST_ARGS ?=
ABLATION_ARGS ?=
DEMO_ARGS ?=
SOURCES := CMakeLists.txt package.xml $(shell find clickenhance_ros clickenhance_model msg srv launch config scripts training \
             -name __pycache__ -prune -o -type f -print 2>/dev/null)
REQUIREMENTS := $(wildcard requirements/*.txt) tools/setup_env.sh
DEPS_STAMP := $(VENV)/.requirements.sha256
BUILD_STAMP := install/.clickenhance-build-stamp
IN_ENV := tools/ros_env.sh

.PHONY: test browser demo follow-demo setup build lint bench ablation clean help

## test: set up, build, and run the whole test suite
test: $(BUILD_STAMP) browser
	$(IN_ENV) $(VENV)/bin/pytest $(PYTEST_ARGS)

## demo: the main job on the embedded default (node + generated LiDAR scan + simulated operator; exit 1 below --min-iou; DEMO_ARGS="--seed 3")
demo: $(BUILD_STAMP)
	$(IN_ENV) $(VENV)/bin/python -m clickenhance_ros.demo --out out/demo $(DEMO_ARGS)

## browser: only install headless Chromium and chromedriver for the browser test (apt, as root; skipped when present)
browser:
	@bash tools/install_browser.sh

## follow-demo: the node follows a car clicked once through a generated drive, IoU per frame (DEMO_ARGS="--rate 10")
follow-demo: $(BUILD_STAMP)
	$(IN_ENV) $(VENV)/bin/python -m clickenhance_ros.follow_demo --out out/follow_demo $(DEMO_ARGS)

## setup: only create .venv with the pinned dependencies
setup: $(DEPS_STAMP)

## build: only build the ROS package into ./install
build: $(BUILD_STAMP)

## lint: ruff over the whole tree
lint: $(DEPS_STAMP)
	$(VENV)/bin/ruff check .

## bench: the benchmarks (print their figures; minutes, not seconds)
bench: $(BUILD_STAMP)
	$(IN_ENV) $(VENV)/bin/python bench/bench_click_latency.py
	$(IN_ENV) $(VENV)/bin/python bench/bench_node.py
	$(IN_ENV) $(VENV)/bin/python bench/bench_cloud_reliability.py

## ablation: the ablation study from scratch into runs/ablation, report docs/ablation.md (about 2 h; ABLATION_ARGS="--seeds 0": 1 h)
ablation: $(DEPS_STAMP)
	$(VENV)/bin/python -m clickenhance_model.ablation $(ABLATION_ARGS)

$(DEPS_STAMP): $(REQUIREMENTS)
	@bash tools/setup_env.sh
	@touch $@

$(BUILD_STAMP): $(DEPS_STAMP) $(SOURCES) tools/build_ros.sh
	@bash tools/build_ros.sh
	@touch $@

clean:
	rm -rf build install log

help:
	@grep -E '^## ' Makefile | sed 's/^## /  make /'
