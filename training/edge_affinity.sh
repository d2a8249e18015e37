#!/usr/bin/env bash
# Fit the learned edge affinity of a prior-fusion model's outdoor prior (session 53; docs/default_model.md) and attach
# it to a checkpoint: the off-ground edges of 2 x 100 generated training streets of any_object_rgbd_colour (half of
# the 64- and 128-ring scans cut to every 4th ring), labelled by whether they join two objects, then one seeded fit
# on one thread (the same rows give the same weights). The rows take about 15 min per file on one core and are kept,
# so the command resumes; the fit takes about 3 min.
#
#   bash training/edge_affinity.sh [CHECKPOINT] [OUT]   # defaults: runs/memory_refiner/me1krs.pt (ME1KRS,
#                                                       # training/memory_refiner.sh me1), runs/edge_affinity/m1a.pt
set -euo pipefail
cd "$(dirname "$0")/.."
CHECKPOINT=${1:-runs/memory_refiner/me1krs.pt}
OUT=${2:-runs/edge_affinity/m1a.pt}
PY=${PYTHON:-.venv/bin/python}
ROWS=runs/edge_affinity
mkdir -p "$ROWS"
FIT=("$PY" -m clickenhance_model.training.edge_affinity_fit --config any_object_rgbd_colour --frames 100)
"${FIT[@]}" --rows "$ROWS/rows_a.npz" --first-frames 0 --rows-only & first=$!  # the two rows files at once
"${FIT[@]}" --rows "$ROWS/rows_b.npz" --first-frames 2 --rows-only & second=$!
wait "$first" && wait "$second"
"${FIT[@]}" --rows "$ROWS/rows_a.npz" "$ROWS/rows_b.npz" --first-frames 0 2 --weight 20 \
    --checkpoint "$CHECKPOINT" --out "$OUT"
