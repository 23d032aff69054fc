#!/usr/bin/env bash
# The CPU model and Table 5 at CPU size: the recipe of cpu.toml on the nested splits 10^4 and
# 10^3 (CPU_SCALES), the same budget of STEPS optimizer steps each (about 95 minutes here), the
# two runs side by side, one thread each (two one-thread runs do more than one two-thread run).
# The 10^4 run is the candidate model. Resumable: run it again after a kill and each run
# continues from its last checkpoint (saved every 50 steps).
source "$(dirname "$0")/common.sh"
pids=()
for scale in ${CPU_SCALES:-1e4 1e3}; do
    out="$RUNS/cpu-$scale" resume=()
    [ -f "$out/last/train_state.json" ] && resume=(--resume)
    mkdir -p "$out"
    OMP_NUM_THREADS=${THREADS:-1} "$BIN/abcmidi-bgpt" train --config scripts/scaling/cpu.toml \
        --corpus "$CORPUS" --train-split "train-$scale" --max-steps "${STEPS:-3000}" --stop-after "${STOP_AFTER:-0}" \
        --out "$out" "${resume[@]}" >>"$out.out" 2>&1 &
    pids+=($!)
done
wait "${pids[@]}"
