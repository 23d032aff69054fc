"""The engine interface (:class:`Engine`, :class:`BatchEngine`, what goes in and comes out) and
the engines that need no model: the symbolic converter and the external abc2midi/midi2abc.

Each engine class declares what it is (music21's sub-converters do the same): ``name``,
``summary``, the ``directions`` it converts, whether it converts many inputs together in the
calling process (``batched``), whether it runs a model (``needs_model``) and which external
programs it runs (``programs``), and its settings as a frozen dataclass (``Options``: cheap
to compare and to pickle into worker processes). The registry (:mod:`abcmidi_bgpt.engines.registry`) lists them
for the CLI's help, the TUI, the comparison and the batch runner."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from abcmidi_bgpt.core.direction import Direction
from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.formats.abc.text import AbcTune

EXTERNAL_TIMEOUT_S = 60


@dataclass(slots=True)
class EngineOutput:
    """What an engine made of one input: the output file's bytes and any warnings."""

    data: bytes
    warnings: list[str] = field(default_factory=list)
    # Why the engine's own output was replaced by the symbolic converter's ('' when it was not).
    fallback: str = ""
    # Note F1 (onset, pitch) of the output against the symbolic converter, where the engine
    # checks it: ABC -> MIDI against its rendering of the input, MIDI -> ABC the output
    # rendered against the input MIDI.
    note_f1: float | None = None


class Engine(Protocol):
    Options: type  # a frozen dataclass of the engine's settings; Engine(options) builds one
    name: str
    summary: str
    directions: frozenset[Direction]
    batched: bool  # converts many inputs together, in the calling process (convert_many)
    needs_model: bool  # runs a trained model (a checkpoint, or the packaged one)
    programs: tuple[str, ...]  # external programs it runs

    def abc_to_midi(self, tune: AbcTune) -> EngineOutput: ...

    def midi_to_abc(self, data: bytes, source: str = "") -> EngineOutput: ...


@dataclass(frozen=True, slots=True)
class EngineInput:
    """One input of a batch: an ABC tune (to MIDI) or a MIDI file's bytes (to ABC)."""

    tune: AbcTune | None = None
    midi: bytes = b""
    source: str = ""  # how messages name the input

    @property
    def label(self) -> str:
        return self.source or (self.tune.label if self.tune is not None else "")


class BatchEngine(Engine, Protocol):
    def convert_many(
        self, inputs: Sequence[EngineInput], timeout: float | None = None
    ) -> Iterator[tuple[int, EngineOutput | Exception]]:
        """Convert every input; yields (input index, output or the error that stopped it) in
        the order conversions finish. ``timeout``: seconds allowed per input where the engine
        can bound them."""
        ...


@dataclass(frozen=True, slots=True)
class SymbolicOptions:
    chords: bool = False  # ABC -> MIDI: play chord symbols as an accompaniment track
    reader: str = ""  # ABC -> MIDI: "native" or "abc2xml" ('' the default, native)
    track: int | None = None  # MIDI -> ABC: take the melody from this track
    channel: int | None = None  # MIDI -> ABC: ... or from this channel
    drums: str = "voice"  # MIDI -> ABC: channel 10 as a percussion voice, or "drop"


class SymbolicEngine:
    """The rule-based converter of this package."""

    Options = SymbolicOptions
    name = "symbolic"
    summary = "the rule-based converter of this package"
    directions = frozenset(Direction)
    batched = False
    needs_model = False
    programs: tuple[str, ...] = ()

    def __init__(self, options: SymbolicOptions = SymbolicOptions()):
        self.chords = options.chords
        self.reader = options.reader
        self.track = options.track
        self.channel = options.channel
        self.drums = options.drums

    def abc_to_midi(self, tune: AbcTune) -> EngineOutput:
        from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi

        result = abc_to_midi(tune, chords=self.chords, reader=self.reader)
        return EngineOutput(result.midi, result.warnings)

    def midi_to_abc(self, data: bytes, source: str = "") -> EngineOutput:
        from abcmidi_bgpt.symbolic.midi_to_abc.transcribe import midi_to_abc

        result = midi_to_abc(
            data, source=source, track=self.track, channel=self.channel, drums=self.drums
        )
        return EngineOutput(result.abc.encode("utf-8"), result.warnings)


@dataclass(frozen=True, slots=True)
class Abc2MidiOptions:
    """abc2midi and midi2abc run with their own defaults."""


class Abc2MidiEngine:
    """James Allwright's and Seymour Shlien's abc2midi / midi2abc (Debian package ``abcmidi``),
    run as external programs for comparison; only available where they are installed."""

    Options = Abc2MidiOptions
    name = "abc2midi"
    summary = "abc2midi / midi2abc (Debian package abcmidi), for comparison"
    directions = frozenset(Direction)
    batched = False
    needs_model = False
    programs = ("abc2midi", "midi2abc")

    def __init__(self, options: Abc2MidiOptions = Abc2MidiOptions()):
        pass

    def abc_to_midi(self, tune: AbcTune) -> EngineOutput:
        with tempfile.TemporaryDirectory(prefix="abc2midi-") as tmp:
            src, out = Path(tmp, "tune.abc"), Path(tmp, "tune.mid")
            src.write_text(tune.full_text, encoding="utf-8")
            proc = _run(["abc2midi", str(src), "-o", str(out), "-silent"], tune.label, tmp)
            if not out.exists() or out.stat().st_size == 0:
                raise ConversionError(f"abc2midi wrote no MIDI: {_last_line(proc)}", tune.label)
            return EngineOutput(out.read_bytes(), _warnings(proc))

    def midi_to_abc(self, data: bytes, source: str = "") -> EngineOutput:
        with tempfile.TemporaryDirectory(prefix="midi2abc-") as tmp:
            # midi2abc titles the tune after its input file: give it the source's name.
            stem = re.sub(r"[^\w.+-]+", "_", Path(source.split(":")[0]).stem or "tune")
            src, out = Path(tmp, f"{stem}.mid"), Path(tmp, "out.abc")
            src.write_bytes(data)
            proc = _run(["midi2abc", str(src), "-o", str(out)], source, tmp)
            if not out.exists() or out.stat().st_size == 0:
                raise ConversionError(f"midi2abc wrote no ABC: {_last_line(proc)}", source)
            return EngineOutput(out.read_bytes(), _warnings(proc))


def _run(cmd: list[str], label: str, cwd: str) -> subprocess.CompletedProcess:
    """Run a tool in ``cwd``, a scratch folder: abc2midi writes barloc.txt into its working
    folder, which must not be the user's."""
    if shutil.which(cmd[0]) is None:
        raise ConversionError(f"{cmd[0]} is not installed (Debian package 'abcmidi')")
    try:
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=EXTERNAL_TIMEOUT_S, cwd=cwd
        )
    except subprocess.TimeoutExpired:
        raise ConversionError(f"{cmd[0]} ran over {EXTERNAL_TIMEOUT_S} s", label) from None


def _last_line(proc: subprocess.CompletedProcess) -> str:
    lines = (proc.stderr + proc.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit code {proc.returncode}"


def _warnings(proc: subprocess.CompletedProcess) -> list[str]:
    text = proc.stderr + proc.stdout
    return [ln.strip() for ln in text.splitlines() if ln.lower().startswith(("warning", "error"))]


def missing_programs(programs: Sequence[str]) -> list[str]:
    """The programs of ``programs`` not found on PATH."""
    return [p for p in programs if shutil.which(p) is None]


def external_tools_available() -> bool:
    return not missing_programs(Abc2MidiEngine.programs)
