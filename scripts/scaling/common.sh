# Settings shared by the scaling-study scripts (issue: 10^3-10^5 scaling study on a GPU).
# Every value can be overridden from the environment, e.g. for a CPU smoke run:
#   MODEL=tiny SCALES="20 40" EPOCHS_1=2 ... scripts/scaling/00_build_corpus.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

BIN=${BIN:-.venv/bin}
CORPUS=${CORPUS:-corpora/music21}          # built by 00_build_corpus.sh
RUNS=${RUNS:-runs}                         # one folder per training run
RESULTS=${RESULTS:-runs/results}           # evaluation JSON and comparisons
MODEL=${MODEL:-paper}
DEVICE=${DEVICE:-auto}
DTYPE=${DTYPE:-auto}                       # bf16 on CUDA
JOBS=${JOBS:-$(nproc)}
# The three nested training splits (pairs, transpositions included) and the fixed budget of
# each, in epochs over its split; both directions, so each epoch reads every pair twice.
SCALES=${SCALES:-"1e3 1e4 1e5"}
read -r -a SCALE <<<"$SCALES"
EPOCHS_1=${EPOCHS_1:-32}                   # 10^3
EPOCHS_2=${EPOCHS_2:-8}                    # 10^4
EPOCHS_3=${EPOCHS_3:-2}                    # 10^5
BATCH_PATCHES=${BATCH_PATCHES:-16384}      # patches per micro-batch, padding included
COMPARE_TUNES=${COMPARE_TUNES:-200}
# Extra options for corpus build (e.g. BUILD_ARGS="--limit 300" for a smoke run).

# Train MODEL on the training split of SCALE pairs for EPOCHS epochs, both directions, into
# RUNS/MODEL-SCALE. Resumable: a run that stopped (STOP_AFTER=N stops after optimizer step N,
# to fit time-limited calls) continues from its last checkpoint when called again.
train_split() {
    local model=$1 scale=$2 epochs=$3
    local out="$RUNS/$model-$scale" resume=()
    [ -f "$out/last/train_state.json" ] && resume=(--resume)
    "$BIN/abcmidi-bgpt" train --corpus "$CORPUS" --train-split "train-$scale" --model "$model" \
        --direction both --epochs "$epochs" --batch-patches "$BATCH_PATCHES" \
        --eval-every 200 --device "$DEVICE" --dtype "$DTYPE" --stop-after "${STOP_AFTER:-0}" \
        --out "$out" "${resume[@]}"
}
