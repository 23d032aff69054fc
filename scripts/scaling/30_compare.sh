#!/usr/bin/env bash
# Neural against symbolic on COMPARE_TUNES test tunes, both directions: validity and note F1.
source "$(dirname "$0")/common.sh"
for scale in "${SCALE[@]}"; do
    run="$RUNS/$MODEL-$scale"
    [ -d "$run/best" ] || { echo "skipping $run: no best/ checkpoint"; continue; }
    "$BIN/abcmidi-bgpt" compare --corpus "$CORPUS" --split test --limit "$COMPARE_TUNES" \
        --checkpoint "$run/best" --direction both --device "$DEVICE" --dtype "$DTYPE" \
        --out "$RESULTS/compare-$MODEL-$scale"
done
