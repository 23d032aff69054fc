#!/usr/bin/env bash
# The default model shipped in the package: the `small` config (bf16 weights under 60 MB) on
# the largest split, both directions; then its evaluation and comparison on the test set.
# Ship it (abcmidi_bgpt/models/default/) only if it clears the bar in docs/model-card.md.
source "$(dirname "$0")/common.sh"
MODEL=small
scale=${SCALE[-1]}
out="$RUNS/$MODEL-$scale"
train_split "$MODEL" "$scale" "${EPOCHS_DEFAULT:-$EPOCHS_3}"
mkdir -p "$RESULTS"
"$BIN/abcmidi-bgpt" evaluate "$out/best" --corpus "$CORPUS" --split test --direction both \
    --device "$DEVICE" --dtype "$DTYPE" --json "$RESULTS/evaluate-$MODEL-$scale.json"
"$BIN/abcmidi-bgpt" compare --corpus "$CORPUS" --split test --limit "$COMPARE_TUNES" \
    --checkpoint "$out/best" --device "$DEVICE" --dtype "$DTYPE" \
    --out "$RESULTS/compare-$MODEL-$scale"
