#!/usr/bin/env bash
# The corpus of the scaling study: the music21 folk collections, nested training splits
# 10^3, 10^4 and 10^5 (the last reached with transpositions), one shared validation and test set.
source "$(dirname "$0")/common.sh"
"$BIN/abcmidi-bgpt" corpus build --source music21 --scales "${SCALE[@]}" \
    --transpose auto --jobs "$JOBS" --out "$CORPUS" ${BUILD_ARGS:-}
"$BIN/abcmidi-bgpt" corpus stats "$CORPUS"
