#!/usr/bin/env bash
# Builds the clickenhance_ros package (msg/srv + both Python packages) with colcon
# against the ROS 2 Jazzy wheels in .venv, into ./build and ./install.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "build: $*" >&2; exit 1; }
venv=$PWD/.venv
[[ -x $venv/bin/colcon ]] || die "no colcon in .venv: run tools/setup_env.sh first"

# The wheels' CMake exports name the wheel builder's paths for the Python and NumPy
# headers; point those paths at this interpreter's headers (see shared ENVIRONMENT.md).
py_inc=$("$venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
np_inc=$("$venv/bin/python" -c "import numpy, os; print(os.path.join(os.path.dirname(numpy.__file__), '_core', 'include'))")
link_path() {  # link_path TARGET LINK: create LINK -> TARGET unless LINK already resolves
  local target=$1 link=$2
  [[ -e $link ]] && return 0
  mkdir -p "$(dirname "$link")" 2>/dev/null && ln -sfn "$target" "$link" 2>/dev/null \
    || die "cannot create $link -> $target (needs write access to /opt/python: run once as root)"
}
link_path "$py_inc" /opt/python/cp311-cp311/include/python3.11
link_path "$np_inc" /opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include

# Stage the package sources under build/: CMake refuses include paths inside the
# source tree, and .venv (holding NumPy's headers) lives inside this repository.
stage=$PWD/build/src/clickenhance_ros
rm -rf "$stage" && mkdir -p "$stage"
cp -r CMakeLists.txt package.xml msg srv scripts launch config training "$stage"/
for pkg in clickenhance_ros clickenhance_model; do
  (tar -C . --exclude=__pycache__ -cf - "$pkg") | tar -C "$stage" -xf -
done

# The install step only adds and overwrites files: drop the installed Python packages first, so
# a file deleted from the sources (a module, shipped weights) does not linger in ./install.
for pkg in clickenhance_ros clickenhance_model; do
  rm -rf install/clickenhance_ros/lib/python3.11/site-packages/"$pkg"
done

log=$PWD/log/build.log
mkdir -p log
echo "build: colcon build (log: $log) ..."
if ! PATH="$venv/bin:$PATH" CMAKE_PREFIX_PATH="$venv" AMENT_PREFIX_PATH="$venv" \
     "$venv/bin/colcon" build --paths "$stage" --build-base build --install-base install \
     --event-handlers console_cohesion- summary- status- \
     --cmake-args -DPython3_EXECUTABLE="$venv/bin/python" -DBUILD_TESTING=OFF >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  die "colcon build failed (full log: $log)"
fi
echo "build: installed into ./install"
