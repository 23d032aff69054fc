"""Ornaments of a transcription: a sequenced or rendered trill (a fast alternation of a note and
the next note of the scale above it) written as that note with a trill sign, ``TA2``, as a
musician writes it, not as a run of 32nd or 64th notes.

Only where the grid says so. A run of a line's notes is a trill when all of these hold:

- at least :data:`MIN_NOTES` single notes, one after the other with no gap, all of one
  length, strictly alternating two pitches a semitone or a whole tone apart, the upper one the
  next note of the key signature's scale above the lower one (what ``T`` plays: abc2midi plays
  the written note and the signature's next note above it, whatever accidentals the bar has);
- each of them a 16th note or shorter (:data:`MAX_EACH`), at most a quarter of the length the
  notes around it are written in (:data:`CONTEXT_RATIO`; the median length, weighted by
  time, of up to :data:`CONTEXT_CHORDS` notes either side that are no alternation themselves),
  and played fast (:data:`MAX_SECONDS` each); or at most half that length and played faster
  than any melody moves (:data:`FAST_SECONDS`). Eighth notes of a reel that step back and
  forth, sixteenths of a passage in sixteenths or eighths at a walking pace, are melody and
  stay as they are;
- together one written note (plain or dotted) of at least an eighth (:data:`MIN_TOTAL`),
  starting and ending on the sixteenth grid of its bar (:data:`GRID`) and not crossing a bar
  line, at one tempo (abc2midi plays a trill across an inline ``Q:``, ``TA-[Q:...]A``, out
  of time: on a Liszt score it moved every later note).

The run becomes one note of the lower pitch (the main note: a trill alternates a note with its
upper neighbour, whichever of the two it starts on) with the summed length, marked as a trill
(:attr:`~abcmidi_bgpt.symbolic.midi_to_abc.quantise.Chord.trill`); the writer puts ``T``
before it. A line without such a run comes back as it was (the same list), so transcriptions of
tunes without trills do not change.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import replace
from fractions import Fraction

from abcmidi_bgpt.symbolic.midi_to_abc.keys import LETTERS, NATURAL_PC, Key, key_alterations, spell
from abcmidi_bgpt.symbolic.midi_to_abc.meter import Meter
from abcmidi_bgpt.symbolic.midi_to_abc.quantise import Chord
from abcmidi_bgpt.symbolic.midi_to_abc.writer import single_length

MIN_NOTES = 4  # notes of the alternation: two of each pitch at least
MAX_EACH = Fraction(1, 4)  # quarter notes: a 16th note at most (sequencers trill in 32nds)
CONTEXT_RATIO = 4  # the notes around are at least this many times as long as each trill note
# ... or twice as long, where the trill notes are played as fast as this or faster (ten notes
# a second or more: abc2midi plays a trill in the longest notes that are this fast: 16ths from
# 150 quarter notes a minute, the speed of a jig or a reel, among eighth notes)
FAST_RATIO, FAST_SECONDS = 2, 0.1
CONTEXT_CHORDS = 8  # notes either side that give the length the passage is written in
MIN_CONTEXT = 2  # ... at least this many of them (a line of nothing but the run is no context)
MAX_SECONDS = 0.135  # each trill note played in at most this (abc2midi plays 50 to 100 ms)
MIN_TOTAL = Fraction(1, 2)  # quarter notes: the trilled note is an eighth or longer
GRID = Fraction(1, 4)  # quarter notes: the trilled note starts and ends on the sixteenth grid


class BarLines:
    """Where the bar lines fall, as the bars are cut (:func:`~abcmidi_bgpt.symbolic.midi_to_abc.
    bars.cut_bars`): at ``phase`` plus whole bars of the first meter, restarting at each meter
    change."""

    def __init__(self, meter_map: Sequence[tuple[Fraction, Meter]], phase: Fraction):
        self.times = [at for at, _ in meter_map]
        self.anchors = [phase] + [at for at, _ in meter_map[1:]]
        self.bars = [m.bar for _, m in meter_map]

    def place(self, t: Fraction) -> tuple[Fraction, Fraction]:
        """How far into its bar ``t`` is, and how long until the bar ends (a meter change
        included)."""
        i = max(bisect.bisect_right(self.times, t) - 1, 0)
        into = (t - self.anchors[i]) % self.bars[i]
        left = self.bars[i] - into
        if i + 1 < len(self.times):
            left = min(left, self.times[i + 1] - t)
        return into, left


def upper_neighbour(main: int, key: Key) -> int:
    """The pitch a trill on ``main`` alternates with: the next letter above it, as the key
    signature alters it."""
    letter, alter = spell(main, key.fifths, key.tonic_pc)
    upper = LETTERS[(LETTERS.index(letter) + 1) % 7]
    step = (NATURAL_PC[upper] - NATURAL_PC[letter]) % 12
    return main - alter + step + key_alterations(key.fifths)[upper]


def mark_trills(
    line: list[Chord],
    bar_lines: BarLines,
    key_at: Callable[[Fraction], Key],
    seconds: Callable[[Fraction, Fraction], float],
) -> list[Chord]:
    """The line with each trill (see the module notes) as one note marked as a trill; the line
    itself when it has none. ``key_at`` gives the key at a time, ``seconds`` how long a span
    (onset, length) plays."""
    runs = _alternations(line)
    if not runs:
        return line
    in_run = [False] * len(line)
    for i, j in runs:
        for k in range(i, j):
            in_run[k] = True
    others = [k for k in range(len(line)) if not in_run[k]]
    found: list[tuple[int, int]] = []
    for i, j in runs:
        if _is_trill(line, i, j, others, bar_lines, key_at, seconds):
            found.append((i, j))
    if not found:
        return line
    out: list[Chord] = []
    k = 0
    for i, j in found:
        out += line[k:i]
        first = line[i]
        total = line[j - 1].offset - first.onset
        main = min(first.pitches[0], line[i + 1].pitches[0])
        out.append(
            replace(
                first,
                length=total,
                pitches=(main,),
                velocity=max(c.velocity for c in line[i:j]),
                staccato=False,
                trill=True,
            )
        )
        k = j
    out += line[k:]
    return out


def _short(c: Chord) -> bool:
    return len(c.pitches) == 1 and not c.graces and not c.trill and c.length <= MAX_EACH


def _alternations(line: list[Chord]) -> list[tuple[int, int]]:
    """Maximal runs [i, j) of at least MIN_NOTES short single notes of one length, each
    starting where the one before ends, alternating two pitches a step apart."""
    runs = []
    n = len(line)
    i = 0
    while i < n - 1:
        a = line[i]
        if not _short(a):
            i += 1
            continue
        b = line[i + 1]
        if not (
            _short(b)
            and b.length == a.length
            and b.onset == a.offset
            and 1 <= abs(b.pitches[0] - a.pitches[0]) <= 2
        ):
            i += 1
            continue
        j = i + 2
        while (
            j < n
            and _short(line[j])
            and line[j].length == a.length
            and line[j].onset == line[j - 1].offset
            and line[j].pitches[0] == line[j - 2].pitches[0]
        ):
            j += 1
        if j - i >= MIN_NOTES:
            runs.append((i, j))
            i = j
        else:
            i += 1
    return runs


def _is_trill(
    line: list[Chord],
    i: int,
    j: int,
    others: list[int],
    bar_lines: BarLines,
    key_at: Callable[[Fraction], Key],
    seconds: Callable[[Fraction, Fraction], float],
) -> bool:
    first = line[i]
    each = first.length
    total = each * (j - i)
    if total < MIN_TOTAL or not single_length(total):
        return False
    into, left = bar_lines.place(first.onset)
    if into % GRID or total % GRID or total > left:
        return False
    # The length the passage around is written in: the notes either side that are no run.
    at = bisect.bisect_left(others, i)
    around = others[max(0, at - CONTEXT_CHORDS) : at + CONTEXT_CHORDS]
    if len(around) < MIN_CONTEXT:
        return False
    written_in = _written_in(sorted(line[k].length for k in around))
    if written_in < FAST_RATIO * each:
        return False
    low, high = sorted((first.pitches[0], line[i + 1].pitches[0]))
    if upper_neighbour(low, key_at(first.onset)) != high:
        return False
    played = seconds(first.onset, each)
    if any(abs(seconds(line[k].onset, each) - played) > 1e-6 for k in range(i + 1, j)):
        return False  # a tempo change inside: abc2midi plays "TA-[Q:...]A" out of time
    return played <= FAST_SECONDS or (played <= MAX_SECONDS and written_in >= CONTEXT_RATIO * each)


def _written_in(lengths: list[Fraction]) -> Fraction:
    """The note length a passage is written in: the median of its notes' lengths (sorted)
    weighted by their time, so a few short notes (a tuplet, a grace written out) among
    quarter notes leave it a quarter."""
    half, acc = sum(lengths) / 2, Fraction(0)
    for x in lengths:
        acc += x
        if acc >= half:
            return x
    return lengths[-1]


def trill_marker(
    meter_map: Sequence[tuple[Fraction, Meter]],
    phase: Fraction,
    key_map: Sequence[tuple[Fraction, Key]],
    seconds: Callable[[Fraction, Fraction], float],
) -> Callable[[list[Chord]], list[Chord]]:
    """:func:`mark_trills` for the lines of one tune: its bar lines (``meter_map`` and the bar
    ``phase``), keys (``key_map``: (time, key) in time order) and playing time."""
    bar_lines = BarLines(meter_map, phase)
    key_times = [at for at, _ in key_map]

    def key_at(t: Fraction) -> Key:
        return key_map[max(bisect.bisect_right(key_times, t) - 1, 0)][1]

    return lambda line: mark_trills(line, bar_lines, key_at, seconds)


__all__ = ["BarLines", "mark_trills", "trill_marker", "upper_neighbour"]
