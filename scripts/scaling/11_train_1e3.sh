#!/usr/bin/env bash
# Train the model on the scale-1 training split (10^3 by default), both directions, for a
# fixed budget of EPOCHS_1 epochs. Resumable: run it again after a stop and it continues
# (--resume); STOP_AFTER=N stops after optimizer step N, to fit a run into time-limited calls.
source "$(dirname "$0")/common.sh"
train_split "$MODEL" "${SCALE[0]}" "$EPOCHS_1"
