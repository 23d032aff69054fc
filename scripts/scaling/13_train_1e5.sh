#!/usr/bin/env bash
# Train the model on the scale-3 training split (10^5 by default), both directions, for a
# fixed budget of EPOCHS_3 epochs. Resumable: run it again after a stop and it continues
# (--resume); STOP_AFTER=N stops after optimizer step N, to fit a run into time-limited calls.
source "$(dirname "$0")/common.sh"
train_split "$MODEL" "${SCALE[2]}" "$EPOCHS_3"
