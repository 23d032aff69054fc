"""Voices of a transcription: which MIDI voices are read (drums, channel 10, as one percussion
voice or left out), at most :data:`MAX_PLAYED_VOICES` of them, the drums included (an
orchestra's instruments merged by family), a lone piano track in two hands, and each voice's
lines (a held note under moving ones is a line of its own).
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
MAX_DRUM_HIT = Fraction(1)  # beats: how long a drum hit sounds at most, for the timing


def pick_voices(
    contents: MidiContents, track, channel, where, warnings, drums: str = "drop"
) -> tuple[list[list[Note]], list[int | None], list[Note]]:
    """The MIDI voices to transcribe (those of ``track`` and ``channel`` when given), their
    programs, and the drum notes (channel 10) of those voices, all in one list: none when
    ``drums`` is "drop" (they are left out, with a note in ``warnings``), else (``drums`` is
    "voice") the notes of one percussion voice."""
    perf = contents.performance
    candidates = []
    beaten = []  # (track, voice) of the drum voices
    count = 0
    for v, tr in zip(perf.voices, contents.voice_tracks, strict=True):
        if not v.notes:
            continue
        if v.channel == DRUM_CHANNEL:
            count += len(v.notes)
            beaten.append((tr, v))
            continue
        candidates.append((tr, v))
    kept = drums == "voice"
    if not kept:
        beaten = []
    if not candidates and not beaten:
        if count:
            raise ConversionError("only drum notes (channel 10): no tune to transcribe", where)
        raise ConversionError("no notes in the MIDI file", where)
    if contents.file_format == 2:
        first = (candidates or beaten)[0][0]
        if any(tr != first for tr, _ in candidates + beaten):
            warnings.append("format 2 file (independent sequences): only the first one read")
        candidates = [(tr, v) for tr, v in candidates if tr == first]
        beaten = [(tr, v) for tr, v in beaten if tr == first]

    def wanted_voice(tr: int, v) -> bool:
        return (track is None or tr == track) and (channel is None or v.channel == channel)

    chosen = [(tr, v) for tr, v in candidates if wanted_voice(tr, v)]
    chosen_drums = [(tr, v) for tr, v in beaten if wanted_voice(tr, v)]
    if not chosen and not chosen_drums:
        have = ", ".join(f"track {tr} channel {v.channel}" for tr, v in candidates + beaten)
        wanted = " ".join(
            x
            for x in (
                f"track {track}" if track is not None else "",
                f"channel {channel}" if channel is not None else "",
            )
            if x
        )
        raise ConversionError(f"no notes on {wanted} (notes are on: {have})", where)
    if count and not kept and track is None and channel is None:
        warnings.append(f"{count} drum note(s) (channel 10) left out")
    out = []
    for _, v in chosen:
        notes = [n for n in v.notes if n.duration > 0] or v.notes
        out.append(_by_onset_then_high(notes))
    return out, [v.program for _, v in chosen], drum_hits([v.notes for _, v in chosen_drums])


def drum_hits(voices: list[list[Note]]) -> list[Note]:
    """The drum notes of several MIDI voices as one voice: a drum struck twice at once (two
    tracks doubling it) once; each hit sounding until the next one, at most
    :data:`MAX_DRUM_HIT` (a drum's note-off says nothing of the music: most are a tick long, so
    the timing reads them as the hits they are, not as grace notes)."""
    hits: dict[tuple[Fraction, int], Note] = {}
    for notes in voices:
        for n in notes:
            kept = hits.get((n.onset, n.pitch))
            if kept is None or n.velocity > kept.velocity:
                hits[(n.onset, n.pitch)] = n
    if not hits:
        return []
    ordered = _by_onset_then_high(list(hits.values()))
    onsets = sorted({n.onset for n in ordered})
    following = dict(zip(onsets, onsets[1:], strict=False))
    out = []
    for n in ordered:
        nxt = following.get(n.onset)
        length = MAX_DRUM_HIT if nxt is None else min(nxt - n.onset, MAX_DRUM_HIT)
        out.append(Note(n.onset, n.pitch, length, n.velocity, n.voice))
    return out


def _by_onset_then_high(notes: list[Note]) -> list[Note]:
    """Notes sorted by onset, the highest first at one onset (onsets in integer ticks: sorting
    by Fractions compares them in Python, a microsecond each)."""
    den = common_denominator(n.onset for n in notes)
    keys = zip(ticks_of((n.onset for n in notes), den), (-n.pitch for n in notes), strict=True)
    return [n for _, n in sorted(zip(keys, notes, strict=True), key=lambda kn: kn[0])]


def merge_by_family(
    voices: list[list[Note]],
    programs: list[int | None],
    warnings: list[str],
    most: int = MAX_PLAYED_VOICES,
) -> tuple[list[list[Note]], list[int | None]]:
    """At most ``most`` voices (:data:`MAX_PLAYED_VOICES`, one fewer beside a percussion
    voice): past that (an orchestra, a band file), the voices of one General MIDI instrument
    family (strings, brass, reeds...: programs in eights) become one, a note played by two of
    them (a doubling) once."""
    if len(voices) <= most:
        return voices, programs
    families: dict[int, dict[tuple[Fraction, int], Note]] = {}
    for notes, program in zip(voices, programs, strict=True):
        family = families.setdefault((program or 0) // 8, {})
        for n in notes:
            kept = family.get((n.onset, n.pitch))
            if kept is None or n.duration > kept.duration:
                family[(n.onset, n.pitch)] = n
    groups = [family for _, family in sorted(families.items())]
    merged_programs: list[int | None] = [8 * f for f in sorted(families)]
    if len(groups) > most:  # more families than voices (beside drums): the last ones as one
        tail: dict[tuple[Fraction, int], Note] = {}
        for family in groups[most - 1 :]:
            for at, n in family.items():
                kept = tail.get(at)
                if kept is None or n.duration > kept.duration:
                    tail[at] = n
        groups, merged_programs = [*groups[: most - 1], tail], merged_programs[:most]
    merged = [_by_onset_then_high(list(family.values())) for family in groups]
    beside = " beside the drums" if most < MAX_PLAYED_VOICES else ""
    warnings.append(
        f"{len(voices)} voices merged into {len(merged)} by instrument family "
        f"(at most {most} are played{beside})"
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
    most: int = MAX_PLAYED_VOICES,
) -> tuple[list[list[Chord]], int]:
    """Each voice's notes as lines (a held note under moving ones is a second line), at most
    ``most`` lines in all (:data:`MAX_PLAYED_VOICES`, one fewer beside drums): the voice with
    the most lines gives one up (its notes then cut short where they overlap) until they fit. The lines, and notes cut short.
    ``ornament`` (see ornaments) rewrites each line before its grace notes are found."""
    limits = list(limits)
    split = [
        split_lines(notes, legato, limit)
        for notes, limit in zip(notes_per_voice, limits, strict=True)
    ]
    while sum(len(lines) for lines, _ in split) > most:
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
