#!/usr/bin/env bash
# The default model shipped in the package: the `small` config (bf16 weights under 60 MB) on
# the largest split, both directions; then its evaluation and comparison on the test set.
# Ship it (abcmidi_bgpt/models/default/) only if it clears the bar in docs/model-card.md.
source "$(dirname "$0")/common.sh"
MODEL=small
scale=${SCALE[-1]}
out="$RUNS/small-$scale"
resume=()
[ -f "$out/last/train_state.json" ] && resume=(--resume)
"$BIN/abcmidi-bgpt" train --corpus "$CORPUS" --train-split "train-$scale" --model small \
    --direction both --epochs "${EPOCHS_DEFAULT:-$EPOCHS_3}" --batch-patches "$BATCH_PATCHES" \
    --eval-every 200 --device "$DEVICE" --dtype "$DTYPE" --stop-after "${STOP_AFTER:-0}" \
    --out "$out" "${resume[@]}"
mkdir -p "$RESULTS"
"$BIN/abcmidi-bgpt" evaluate "$out/best" --corpus "$CORPUS" --split test --direction both \
    --device "$DEVICE" --dtype "$DTYPE" --json "$RESULTS/evaluate-small-$scale.json"
"$BIN/abcmidi-bgpt" compare --corpus "$CORPUS" --split test --limit "$COMPARE_TUNES" \
    --checkpoint "$out/best" --device "$DEVICE" --dtype "$DTYPE" --out "$RESULTS/compare-small-$scale"
