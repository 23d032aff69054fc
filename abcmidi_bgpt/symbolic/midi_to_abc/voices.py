"""Voices of a transcription: which MIDI voices are read (drums left out), at most
:data:`MAX_PLAYED_VOICES` of them (an orchestra's instruments merged by family), a lone piano
track in two hands, and each voice's lines (a held note under moving ones is a line of its own).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction

from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.core.performance import Note
from abcmidi_bgpt.formats.midi import DRUM_CHANNEL, MidiContents
from abcmidi_bgpt.symbolic.midi_to_abc.hands import PIANO_PROGRAMS, plays_like_a_piano, split_hands
from abcmidi_bgpt.symbolic.midi_to_abc.quantise import Chord, TimedNote, absorb_graces, split_lines
from abcmidi_bgpt.symbolic.midi_to_abc.ticks import common_denominator, ticks_of

MAX_PLAYED_VOICES = 16  # ABC voices abc2midi plays (MIDI has 16 channels; one for drums)
BASS_CLEF_BELOW = 57  # A3: a voice whose median pitch is lower is written in the bass clef
MAX_LINES_PER_VOICE = 4  # a held note under moving ones: lines of one MIDI voice
MAX_LINES_PER_HAND = 2  # a piano hand: the two voices one staff shows


def pick_voices(
    contents: MidiContents, track, channel, where, warnings
) -> tuple[list[list[Note]], list[int | None]]:
    perf = contents.performance
    candidates = []
    drums = 0
    for v, tr in zip(perf.voices, contents.voice_tracks, strict=True):
        if not v.notes:
            continue
        if v.channel == DRUM_CHANNEL:
            drums += len(v.notes)
            continue
        candidates.append((tr, v))
    if not candidates:
        if drums:
            raise ConversionError("only drum notes (channel 10): no tune to transcribe", where)
        raise ConversionError("no notes in the MIDI file", where)
    if contents.file_format == 2:
        first = candidates[0][0]
        if any(tr != first for tr, _ in candidates):
            warnings.append("format 2 file (independent sequences): only the first one read")
        candidates = [(tr, v) for tr, v in candidates if tr == first]
    chosen = [
        (tr, v)
        for tr, v in candidates
        if (track is None or tr == track) and (channel is None or v.channel == channel)
    ]
    if not chosen:
        have = ", ".join(f"track {tr} channel {v.channel}" for tr, v in candidates)
        wanted = " ".join(
            x
            for x in (
                f"track {track}" if track is not None else "",
                f"channel {channel}" if channel is not None else "",
            )
            if x
        )
        raise ConversionError(f"no notes on {wanted} (notes are on: {have})", where)
    if drums and track is None and channel is None:
        warnings.append(f"{drums} drum note(s) (channel 10) left out")
    out = []
    for _, v in chosen:
        notes = [n for n in v.notes if n.duration > 0] or v.notes
        out.append(_by_onset_then_high(notes))
    return out, [v.program for _, v in chosen]


def _by_onset_then_high(notes: list[Note]) -> list[Note]:
    """Notes sorted by onset, the highest first at one onset (onsets in integer ticks: sorting
    by Fractions compares them in Python, a microsecond each)."""
    den = common_denominator(n.onset for n in notes)
    keys = zip(ticks_of((n.onset for n in notes), den), (-n.pitch for n in notes), strict=True)
    return [n for _, n in sorted(zip(keys, notes, strict=True), key=lambda kn: kn[0])]


def merge_by_family(
    voices: list[list[Note]], programs: list[int | None], warnings: list[str]
) -> tuple[list[list[Note]], list[int | None]]:
    """At most :data:`MAX_PLAYED_VOICES` voices: past that (an orchestra, a band file), the
    voices of one General MIDI instrument family (strings, brass, reeds...: programs in eights)
    become one, a note played by two of them (a doubling) once."""
    if len(voices) <= MAX_PLAYED_VOICES:
        return voices, programs
    families: dict[int, dict[tuple[Fraction, int], Note]] = {}
    for notes, program in zip(voices, programs, strict=True):
        family = families.setdefault((program or 0) // 8, {})
        for n in notes:
            kept = family.get((n.onset, n.pitch))
            if kept is None or n.duration > kept.duration:
                family[(n.onset, n.pitch)] = n
    merged = [_by_onset_then_high(list(family.values())) for _, family in sorted(families.items())]
    merged_programs: list[int | None] = [8 * f for f in sorted(families)]
    warnings.append(
        f"{len(voices)} voices merged into {len(merged)} by instrument family "
        f"(at most {MAX_PLAYED_VOICES} are played)"
    )
    return merged, merged_programs


def by_hand(
    notes_per_voice: list[list[TimedNote]], programs: list[int | None]
) -> tuple[list[list[TimedNote]], list[int]]:
    """A piano voice that plays like one becomes two, right hand and left hand, each with at
    most :data:`MAX_LINES_PER_HAND` lines (a staff's two voices); the voices, and the most
    lines each may have."""
    out: list[list[TimedNote]] = []
    limits: list[int] = []
    pianos = sum((program or 0) in PIANO_PROGRAMS for program in programs)
    for notes, program in zip(notes_per_voice, programs, strict=True):
        # one piano voice holds both hands; two or more are the hands (or pianos) already
        if pianos == 1 and (program or 0) in PIANO_PROGRAMS and plays_like_a_piano(notes):
            hands = [hand for hand in split_hands(notes) if hand]
            out += hands
            limits += [MAX_LINES_PER_HAND] * len(hands)
        else:
            out.append(notes)
            limits.append(MAX_LINES_PER_VOICE)
    return out, limits


def lines_within(
    notes_per_voice: list[list[TimedNote]],
    legato: Fraction,
    limits: list[int],
    ornament: Callable[[list[Chord]], list[Chord]] | None = None,
) -> tuple[list[list[Chord]], int]:
    """Each voice's notes as lines (a held note under moving ones is a second line), at most
    :data:`MAX_PLAYED_VOICES` lines in all: the voice with the most lines gives one up (its
    notes then cut short where they overlap) until they fit. The lines, and notes cut short.
    ``ornament`` (see ornaments) rewrites each line before its grace notes are found."""
    limits = list(limits)
    split = [
        split_lines(notes, legato, limit)
        for notes, limit in zip(notes_per_voice, limits, strict=True)
    ]
    while sum(len(lines) for lines, _ in split) > MAX_PLAYED_VOICES:
        i = max(range(len(split)), key=lambda k: (len(split[k][0]), -k))
        if len(split[i][0]) <= 1:
            break
        limits[i] = len(split[i][0]) - 1
        split[i] = split_lines(notes_per_voice[i], legato, limits[i])
    lines = [
        absorb_graces(ornament(line) if ornament else line)
        for voice_lines, _ in split
        for line in voice_lines
        if line
    ]
    return lines, sum(cut for _, cut in split)


def low(line: Sequence[Chord]) -> bool:
    """Whether a line sits below middle C's neighbourhood (median under A3): the bass clef."""
    pitches = sorted(p for c in line for p in c.pitches)
    return bool(pitches) and pitches[len(pitches) // 2] < BASS_CLEF_BELOW


def line_weight(line: Sequence[Chord]) -> float:
    return len(line) + 0.001 * (sum(max(c.pitches) for c in line) / max(1, len(line)))
