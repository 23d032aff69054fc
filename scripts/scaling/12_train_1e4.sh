#!/usr/bin/env bash
# Train the model on the scale-2 training split (10^4 by default), both directions, for a
# fixed budget of EPOCHS_2 epochs. Resumable: run it again after a stop and it continues
# (--resume); STOP_AFTER=N stops after optimizer step N, to fit a run into time-limited calls.
source "$(dirname "$0")/common.sh"
train_split "$MODEL" "${SCALE[1]}" "$EPOCHS_2"
