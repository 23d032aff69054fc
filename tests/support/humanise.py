"""Seeded "real-world" MIDI made from a tune's notes, for testing and benchmarking the MIDI ->
ABC transcription on input it was not written for.

There is no internet here, so no collection of real performances: this module plays a tune the
way a recorded performance or another sequencer would, with every deviation seeded:
- timing jitter (Gaussian, in milliseconds), swing of eighth pairs, rubato (a slow tempo curve
  and a ritardando at the end) written into the ticks while the file's tempo stays constant;
- articulation: staccato to legato note lengths, the odd overlap;
- velocity: a base level, accents on downbeats, noise;
- the file's own choices: ticks per beat, a leading silence, with or without time and key
  signatures (:func:`strip_meta` takes them out of any file).
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass
from fractions import Fraction

import mido

from abcmidi_bgpt.core.performance import Performance, key_name
from abcmidi_bgpt.formats.musicxml import abc_to_musicxml


@dataclass(frozen=True, slots=True)
class Humanise:
    jitter_ms: float = 12.0
    swing: float = 0.5  # off-beat eighth position within the beat (0.5: straight)
    rubato: float = 0.04  # depth of the slow tempo curve (0.04: +-4 %)
    ritardando: float = 0.15  # slowing over the last two bars
    articulation: tuple[float, float] = (0.55, 1.02)  # note length / time to the next note
    velocity: tuple[int, int] = (64, 90)  # base velocity range
    accent: int = 14  # added on downbeats
    ticks_per_beat: int = 480
    leading_silence_s: float = 0.4
    meta: bool = True  # write time and key signatures


def humanise(
    perf: Performance,
    seed: int,
    style: Humanise = Humanise(),
    meter: tuple[int, int] = (4, 4),
    pickup: Fraction = Fraction(0),
) -> bytes:
    """A performed MIDI file (format 0, or 1 for several voices) of ``perf``'s notes, whose
    first bar line falls ``pickup`` beats after the first note."""
    rng = random.Random(seed)
    qpm = perf.tempos[0].qpm if perf.tempos else 120.0
    seconds_per_beat = 60.0 / qpm
    end = float(perf.end)
    bar = 4 * meter[0] / meter[1]
    phase = rng.uniform(0, 2 * math.pi)
    period = rng.uniform(12.0, 24.0)  # beats per rubato cycle

    def tempo_factor(beat: float) -> float:
        f = 1.0 + style.rubato * math.sin(2 * math.pi * beat / period + phase)
        to_end = end - beat
        if to_end < 2 * bar:
            f *= 1.0 + style.ritardando * (1 - to_end / (2 * bar))
        return f

    # Performed time in seconds of each score beat, integrated on a fine grid.
    step = 1 / 48
    times = [style.leading_silence_s]
    for i in range(int(end / step) + 2):
        times.append(times[-1] + step * seconds_per_beat * tempo_factor(i * step))

    def performed(beat: float) -> float:
        i = min(int(beat / step), len(times) - 2)
        frac = beat / step - i
        return times[i] + frac * (times[i + 1] - times[i])

    base = rng.randint(*style.velocity)
    tpq = style.ticks_per_beat
    ticks_per_second = tpq / seconds_per_beat
    mid = mido.MidiFile(type=0 if len(perf.voices) <= 1 else 1, ticks_per_beat=tpq)
    simple = not (meter[0] % 3 == 0 and meter[0] > 3)
    for vi, voice in enumerate(perf.voices):
        notes = sorted(voice.notes)
        onsets = sorted({n.onset for n in notes})
        events: list[tuple[int, int, mido.Message]] = []
        for n in notes:
            beat = float(n.onset)
            if style.swing != 0.5 and simple and (n.onset - pickup) % 1 == Fraction(1, 2):
                beat = float(pickup) + math.floor(beat - float(pickup)) + style.swing
            start = performed(beat) + rng.gauss(0.0, style.jitter_ms / 1000)
            later = [t for t in onsets if t > n.onset]
            gap_to_next = float((later[0] if later else n.offset) - n.onset)
            sounding = min(float(n.duration), gap_to_next) * rng.uniform(*style.articulation)
            stop = performed(float(n.onset) + max(sounding, 0.05))
            if stop <= start:
                stop = start + 0.03
            vel = base + rng.randint(-8, 8)
            if (n.onset - pickup) % Fraction(bar).limit_denominator(64) == 0:
                vel += style.accent
            vel = max(1, min(127, vel))
            on_tick = max(0, round(start * ticks_per_second))
            off_tick = max(on_tick + 1, round(stop * ticks_per_second))
            ch = voice.channel
            events.append(
                (on_tick, 1, mido.Message("note_on", channel=ch, note=n.pitch, velocity=vel))
            )
            events.append(
                (off_tick, 0, mido.Message("note_off", channel=ch, note=n.pitch, velocity=0))
            )
        track = mido.MidiTrack()
        if vi == 0:
            if perf.title:
                track.append(mido.MetaMessage("track_name", name=perf.title))
            track.append(mido.MetaMessage("set_tempo", tempo=round(60_000_000 / qpm)))
            if style.meta:
                track.append(
                    mido.MetaMessage("time_signature", numerator=meter[0], denominator=meter[1])
                )
                if perf.keys:
                    k = perf.keys[0]
                    track.append(mido.MetaMessage("key_signature", key=key_name(k.fifths, k.minor)))
        events.sort(key=lambda e: (e[0], e[1]))
        now = 0
        for tick, _, msg in events:
            track.append(msg.copy(time=tick - now))
            now = tick
        mid.tracks.append(track)
    out = io.BytesIO()
    mid.save(file=out)
    return out.getvalue()


def written_pickup(abc: str) -> Fraction:
    """The length in beats of a tune's first bar when it is shorter than the meter (its
    pickup), else 0, as abc2xml reads the ABC."""
    root = abc_to_musicxml(abc).root
    part = root.find("part")
    divisions = int(next(root.iter("divisions")).text)
    first = part.find("measure")
    pos = length = 0
    for el in first:
        if el.tag == "note" and el.find("chord") is None and el.find("grace") is None:
            pos += int(el.findtext("duration"))
            length = max(length, pos)
        elif el.tag == "backup":
            pos -= int(el.findtext("duration"))
        elif el.tag == "forward":
            pos += int(el.findtext("duration"))
            length = max(length, pos)
    time = root.find(".//time")
    beats = time.findtext("beats") if time is not None else None
    if not beats or not beats.isdigit():
        return Fraction(0)
    bar = Fraction(4 * int(beats), int(time.findtext("beat-type")))
    played = Fraction(length, divisions)
    return played if played < bar else Fraction(0)


def strip_meta(data: bytes, kinds=("time_signature", "key_signature")) -> bytes:
    """The MIDI file without some kinds of meta events (their delta times kept)."""
    midi = mido.MidiFile(file=io.BytesIO(data))
    for track in midi.tracks:
        kept, carry = [], 0
        for msg in track:
            if msg.type in kinds:
                carry += msg.time
                continue
            kept.append(msg.copy(time=msg.time + carry))
            carry = 0
        track[:] = kept
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()
