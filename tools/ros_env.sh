#!/usr/bin/env bash
# Runs a command with the built package and the ROS 2 wheels on the paths:
#   tools/ros_env.sh <command> [args...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pkg=$root/install/clickenhance_ros
export PATH=$root/.venv/bin:$PATH
export PYTHONPATH=$pkg/lib/python3.11/site-packages${PYTHONPATH:+:$PYTHONPATH}
export LD_LIBRARY_PATH=$pkg/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export AMENT_PREFIX_PATH=$root/install/clickenhance_ros:$root/.venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}
# Never let the source folders in the current directory shadow the built package.
export PYTHONSAFEPATH=1
export RMW_IMPLEMENTATION=${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}
exec "$@"
