#!/usr/bin/env bash
# The researcher's path through the TUI under a real terminal (tmux, 120x40), typed key by key:
# build a corpus (o), start a training run and watch it (t, ctrl+n), quit while it runs, start
# the TUI again and reattach, then read a comparison (m) and open a row's tune.
#
#   scripts/tui_walkthrough.sh [WORK_DIR]     # default: a new folder under /tmp
#
# Needs tmux. Each step's screen is saved as WORK_DIR/screens/NN-name.txt, and the script stops
# with an error naming the step when the screen does not show what the step should give.
# About two minutes on two cores (the corpus: 50 O'Neill's tunes; the runs: the tiny model).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
APP="$ROOT/.venv/bin/abcmidi-bgpt"
WORK=${1:-$(mktemp -d /tmp/tui-walk.XXXXXX)}
SESSION=walk-$$
mkdir -p "$WORK/tunes" "$WORK/screens"
cp "$ROOT"/examples/*.abc "$WORK/tunes/"
TUNES=$("$ROOT/.venv/bin/python" -c \
  'import music21, pathlib; print(pathlib.Path(music21.__file__).parent / "corpus/oneills1850/0001-0050.abc")')
cp "$TUNES" "$WORK/oneills.abc"
command -v tmux >/dev/null || { echo "tmux is not installed: apt install tmux" >&2; exit 2; }

start_tui() {
  tmux new-session -d -s "$SESSION" -x 120 -y 40 "$APP tui $WORK/tunes"
  wait_screen "Files" 60
}
keys() { tmux send-keys -t "$SESSION" "$@"; sleep 0.4; }
text() { tmux send-keys -t "$SESSION" -l "$1"; sleep 0.4; }
screen() { tmux capture-pane -t "$SESSION" -p; }
# expect NAME PATTERN [SECONDS]: wait for PATTERN on the screen, save it as NAME.
step=0
expect() {
  local name=$1 pattern=$2 seconds=${3:-30} i
  step=$((step + 1))
  for ((i = 0; i < seconds * 2; i++)); do
    if screen | grep -qE "$pattern"; then
      screen >"$WORK/screens/$(printf %02d "$step")-$name.txt"
      echo "ok  $name"
      return
    fi
    sleep 0.5
  done
  screen >"$WORK/screens/$(printf %02d "$step")-$name.txt"
  echo "FAILED at $name: no /$pattern/ on the screen (saved in $WORK/screens)" >&2
  tmux kill-session -t "$SESSION" 2>/dev/null || true
  exit 1
}
# wait_screen PATTERN [SECONDS]: wait for the screen to show PATTERN (a screen or dialog is up).
wait_screen() {
  local i
  for ((i = 0; i < ${2:-20} * 2; i++)); do
    screen | grep -qE "$1" && return
    sleep 0.5
  done
  echo "FAILED: no /$1/ on the screen" >&2
  screen >&2
  exit 1
}
trap 'tmux kill-session -t "$SESSION" 2>/dev/null || true' EXIT

start_tui
# 1. Corpus: untick the music21 collections, one file of tunes, scales 10 and 20, build.
keys o
wait_screen "IrishMAN"
for _ in 1 2 3 4 5; do keys space Tab; done
text "$WORK/oneills.abc"
keys Tab Tab C-u; text "10 20"
keys Tab C-u; text none
keys Tab C-u; text 1
keys Tab C-u; text "$WORK/corpus"
keys C-b
expect corpus-building "converting tunes|naming tunes"
expect corpus-built "built $WORK/corpus: [0-9]+ pairs kept" 120
expect corpus-histograms "ABC bytes .*MIDI bytes" 5
keys Escape

# 2. Training: a run started from the screen and watched.
keys t
wait_screen "Run folder"
keys C-n
wait_screen "Start a training run"
text "$WORK/corpus"; keys Tab
text "$WORK/run"; keys Tab Tab Tab Tab Tab
text 2000
keys Enter
expect run-watched "tiny · abc2mid · split train · step [1-9][0-9]* of 2000" 120
# 3. Quit while it runs; it goes on; a new TUI attaches to it again.
keys Escape; keys q
for _ in $(seq 20); do tmux has-session -t "$SESSION" 2>/dev/null || break; sleep 0.5; done
tmux has-session -t "$SESSION" 2>/dev/null && { echo "FAILED: q did not quit" >&2; exit 1; }
pgrep -f "abcmidi_bgpt train .*--out $WORK/run" >/dev/null || { echo "FAILED: the run stopped with the app" >&2; exit 1; }
echo "ok  run-outlives-the-app"
start_tui
keys t
wait_screen "Run folder"
text "$WORK/run"; keys Enter
expect run-reattached "step [1-9][0-9]* of 2000" 60
pkill -f "abcmidi_bgpt train .*--out $WORK/run" || true
keys Escape

# 4. A comparison (rule-based engines and a short run's model: the long one was stopped before
# its first checkpoint), its table, a row opened.
"$APP" train --corpus "$WORK/corpus" --out "$WORK/short" --model tiny --max-steps 40 \
  >"$WORK/short.out" 2>&1 || { echo "FAILED: train (see $WORK/short.out)" >&2; exit 1; }
"$APP" compare --corpus "$WORK/corpus" --split validation --checkpoint "$WORK/short" \
  --out "$WORK/cmp" >"$WORK/cmp.out" 2>&1 || { echo "FAILED: compare (see $WORK/cmp.out)" >&2; exit 1; }
keys m
wait_screen "Comparison"
text "$WORK/cmp"; keys Enter
expect report-table "ABC → MIDI · symbolic: [0-9]+ tunes"
keys Tab Enter
expect row-opened "Compare .* (ABC → MIDI|MIDI → ABC)" 30
expect row-compared "note F1 1.000" 60
keys Escape; keys Escape; keys q
echo "walk-through passed; screens in $WORK/screens"
