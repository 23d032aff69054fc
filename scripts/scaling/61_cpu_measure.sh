#!/usr/bin/env bash
# Measure the CPU runs on the whole test split: BPB per direction (evaluate), and neural against
# symbolic conversion (compare) at batch 32, and at batch 1 on the first BATCH1_TUNES tunes.
source "$(dirname "$0")/common.sh"
mkdir -p "$RESULTS"
for run in ${CPU_RUNS:-cpu-1e4 cpu-1e3}; do
    [ -d "$RUNS/$run/${MODEL_DIR:-best}" ] || { echo "skipping $run: no best/ checkpoint"; continue; }
    "$BIN/abcmidi-bgpt" evaluate "$RUNS/$run/${MODEL_DIR:-best}" --corpus "$CORPUS" --split test --direction both \
        --json "$RESULTS/evaluate-$run.json"
done
run="$RUNS/cpu-1e4/${MODEL_DIR:-best}"
"$BIN/abcmidi-bgpt" compare --corpus "$CORPUS" --split test --checkpoint "$run" \
    --direction "${COMPARE_DIRECTION:-both}" --engine bgpt --engine symbolic --batch-size 32 \
    --out "$RESULTS/compare-cpu-1e4"
"$BIN/abcmidi-bgpt" compare --corpus "$CORPUS" --split test --limit "${BATCH1_TUNES:-16}" \
    --checkpoint "$run" --direction abc2mid --engine bgpt --batch-size 1 \
    --out "$RESULTS/compare-cpu-1e4-batch1"
