#!/usr/bin/env bash
# Rebuild session 38's memory refiner and its served variants from nothing but this repository: the generated scans,
# the growth refiner whose answers the memory rows show (GR3, session 37), the memory rows (seed 0 and the every-4th-
# ring cut) and the fits on them (docs/default_model.md, sessions 37-42), then session 44's on-policy step (the
# simulated user clicks on ME1KRS's answers, 20 clicks) and its fits, and on request the further on-policy steps
# (DAgger: the user clicks on the last step's answers; ME3KRS of session 45, ME4KRS of session 46). Every step is
# skipped when its output exists, so the same command resumes after an interruption. Row collections run two at a
# time, one torch thread each (74 min on two cores to ME1KRS, 96 more for the on-policy rows; the fits take seconds
# to three minutes each).
#
#   bash training/memory_refiner.sh [OUT] [STOP]   # OUT defaults to runs/memory_refiner; STOP=me1 ends at ME1KRS,
#                                                  # me2 (the default) at ME2KRS and ME2RN800, meN at MENKRS
#   JOBS=8 bash training/memory_refiner.sh         # each collection in 8 worker processes (the same rows)
#   BASE=runs/edge_affinity/default_aff.pt bash training/memory_refiner.sh runs/memory_refiner_aff
#                                                  # the whole chain over another start: here the shipped network
#                                                  # with a learned edge affinity (training/edge_affinity.sh), so
#                                                  # every row is drawn over that model's prior
#
# Writes OUT/growth/refined.pt (GR3), OUT/memory/rows_{seed0,cut4}.npz, OUT/me1_s0c4.pt (session 38: the refiner
# alone, the network speaking only through it), OUT/me1krs.pt (session 42: served with the network's disputes and
# holds where it knows the object), OUT/on_policy/rows_{seed0,cut4}.npz and OUT/me2krs.pt, OUT/me2rn800.pt (session
# 44: ME1KRS's served options on the on-policy rows; the network's rules on regions of 200 or 800 points). Further
# variants are refits of the rows (minutes each): README's ME1KRS command with other served options. With STOP=meN
# (N >= 3), each step k = 2..N-1 writes OUT/on_policy_k/rows_{seed0,cut4}.npz (MEkKRS the answerer) and
# OUT/me<k+1>krs.pt (the same fit on them; about 60 min a step with JOBS=2 on two cores).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/memory_refiner}
STOP=${2:-me2}
if ! [[ "$STOP" =~ ^me[1-9][0-9]*$ ]]; then
  echo "memory_refiner.sh: STOP must be me1, me2, me3, ... (got '$STOP')" >&2
  exit 2
fi
LAST=${STOP#me}
PY=${PYTHON:-.venv/bin/python}
JOBS=${JOBS:-1}
BASE=${BASE:-clickenhance_model/weights/default.pt}
SCENES=runs/scenes/any_object_rgbd_colour
FIT=("$PY" -m clickenhance_model.training.point_refiner_fit --checkpoint "$BASE"
     --as-fusion --views 1 --root "$SCENES" --ground-prior --no-ground-gate --no-progress --threads 1 --jobs "$JOBS")
COLLECT=(--objects-per-scene 5 --states-per-object 4 --scene-stride 2 --weighting iou --refiner-flips
         --refiner-column 0.1 --collapse-states --refiner-growth)
mkdir -p "$OUT/growth" "$OUT/memory"
log() { echo "[$(date +%H:%M:%S)] $*"; }

if [ ! -f "$SCENES/.complete" ]; then
  log "generating $SCENES"
  "$PY" -m clickenhance_model.train --config any_object_rgbd_colour --prepare-data
  touch "$SCENES/.complete"
fi

# collect NAME DIR EXTRA...: one rows file, skipped when it exists (the fit writes it only once collected in full)
collect() {
  local name=$1 dir=$2; shift 2
  if [ -f "$dir/rows_$name.npz" ]; then return; fi
  log "collecting $dir/rows_$name.npz"
  "${FIT[@]}" "${COLLECT[@]}" "$@" --rows "$dir/rows_$name.npz" --out "$dir/$name.pt" > "$dir/$name.log" 2>&1
  log "done $dir/rows_$name.npz"
}

# wait_all PID...: every job, failing when one failed (a plain `wait` returns 0 whatever its jobs did)
wait_all() {
  local status=0 job
  for job in "$@"; do wait "$job" || status=1; done
  return "$status"
}

# GR3: three growth collections, then one fit on them
collect seed0 "$OUT/growth" --seed 0 & first=$!
collect seed1 "$OUT/growth" --seed 1 & second=$!
wait_all "$first" "$second"
collect cut4 "$OUT/growth" --ring-cuts 4
if [ ! -f "$OUT/growth/refined.pt" ]; then
  log "fitting GR3"
  "${FIT[@]}" --refiner-flips --refiner-column 0.1 --refiner-growth --weighting iou \
      --rows "$OUT"/growth/rows_{seed0,seed1,cut4}.npz --out "$OUT/growth/refined.pt" > "$OUT/growth/fit.log" 2>&1
fi

# the memory rows: GR3's answers shown before each click state
collect seed0 "$OUT/memory" --refiner-memory --memory-from "$OUT/growth/refined.pt" --seed 0 & first=$!
collect cut4 "$OUT/memory" --refiner-memory --memory-from "$OUT/growth/refined.pt" --ring-cuts 4 & second=$!
wait_all "$first" "$second"

MEMORY_FIT=("${FIT[@]}" --refiner-flips --refiner-column 0.1 --refiner-growth --refiner-memory --weighting iou
            --rows "$OUT"/memory/rows_{seed0,cut4}.npz)
if [ ! -f "$OUT/me1_s0c4.pt" ]; then
  log "fitting me1_s0c4"
  "${MEMORY_FIT[@]}" --out "$OUT/me1_s0c4.pt" > "$OUT/me1_s0c4.log" 2>&1
fi
SERVED=(--network-gain-domains outdoor --served-disagree 6 --served-disagree-first --network-keep 4
        --network-keep-yield 1 --network-keep-out 12 --network-keep-overruled 4 --network-disagree-overruled
        --network-recognised 4 --network-min-share 0.2)
if [ ! -f "$OUT/me1krs.pt" ]; then
  log "fitting ME1KRS"
  "${MEMORY_FIT[@]}" "${SERVED[@]}" --network-min-region 200 --out "$OUT/me1krs.pt" > "$OUT/me1krs.log" 2>&1
fi
if [ "$LAST" = 1 ]; then
  log "done: $OUT/me1_s0c4.pt $OUT/me1krs.pt"
  exit 0
fi

# the on-policy steps (DAgger; sessions 44-46): the simulated user clicks on the answers the rows show, MEkKRS's
# (20 clicks), and the memory fit with ME1KRS's served options on those rows alone gives ME<k+1>KRS; the first step
# (session 44, rows in on_policy/) also ME2RN800, the network's rules on regions of 800 points or more
ON_POLICY_FIT=("${FIT[@]}" --refiner-flips --refiner-column 0.1 --refiner-growth --refiner-memory --weighting iou
               "${SERVED[@]}")
for ((k = 1; k < LAST; k++)); do
  dir="$OUT/on_policy"
  if [ "$k" -gt 1 ]; then dir="$OUT/on_policy_$k"; fi
  mkdir -p "$dir"
  STEP=(--refiner-memory --memory-from "$OUT/me${k}krs.pt" --user answerer --clicks 20)
  collect seed0 "$dir" "${STEP[@]}" --seed 0 & first=$!
  collect cut4 "$dir" "${STEP[@]}" --ring-cuts 4 & second=$!
  wait_all "$first" "$second"
  regions=(200)
  if [ "$k" = 1 ]; then regions=(200 800); fi
  for region in "${regions[@]}"; do
    name="me$((k + 1))$([ "$region" = 200 ] && echo krs || echo rn800)"
    if [ ! -f "$OUT/$name.pt" ]; then
      log "fitting $name"
      "${ON_POLICY_FIT[@]}" --rows "$dir"/rows_{seed0,cut4}.npz --network-min-region "$region" \
          --out "$OUT/$name.pt" > "$OUT/$name.log" 2>&1
    fi
  done
done
log "done: $(cd "$OUT" && ls me*.pt | tr '\n' ' ')"
