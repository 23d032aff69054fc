#!/usr/bin/env bash
# BPB_abc and BPB_midi of each run's best checkpoint on the shared test set, both directions.
source "$(dirname "$0")/common.sh"
mkdir -p "$RESULTS"
for scale in "${SCALE[@]}"; do
    run="$RUNS/$MODEL-$scale"
    [ -d "$run/best" ] || { echo "skipping $run: no best/ checkpoint"; continue; }
    "$BIN/abcmidi-bgpt" evaluate "$run/best" --corpus "$CORPUS" --split test --direction both \
        --device "$DEVICE" --dtype "$DTYPE" --json "$RESULTS/evaluate-$MODEL-$scale.json"
done
