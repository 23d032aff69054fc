#!/usr/bin/env bash
# Train the model on the scale-2 training split (10^4 by default), both directions, for a
# fixed budget of EPOCHS_2 epochs. Resumable: run it again after a stop and it continues
# (--resume); STOP_AFTER=N stops after optimizer step N, to fit a run into time-limited calls.
source "$(dirname "$0")/common.sh"
scale=${SCALE[1]}
out="$RUNS/$MODEL-$scale"
resume=()
[ -f "$out/last/train_state.json" ] && resume=(--resume)
"$BIN/abcmidi-bgpt" train --corpus "$CORPUS" --train-split "train-$scale" --model "$MODEL" \
    --direction both --epochs "$EPOCHS_2" --batch-patches "$BATCH_PATCHES" \
    --eval-every 200 --device "$DEVICE" --dtype "$DTYPE" --stop-after "${STOP_AFTER:-0}" \
    --out "$out" "${resume[@]}"
