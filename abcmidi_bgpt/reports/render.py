"""Hear and see a tune: an engraved score (SVG, PNG) and audio (WAV).

The work is done by well-kept tools, not here: verovio engraves the ABC (its own ABC reader;
a MIDI file is transcribed to ABC first by the symbolic converter), cairosvg turns an SVG page
into PNG where it is installed, and FluidSynth plays the MIDI (the input's, or the symbolic
converter's rendering of the ABC) through a General MIDI soundfont. Tools that are missing are
named with what to install (:class:`ToolMissing`).

Inputs are untrusted: :func:`render_in_worker` is the function the command runs in an
isolated worker (time and memory kept from outside, as for conversions), and FluidSynth runs
as a separate process with a time limit and a cap on the length of what it plays.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.core.isolation import Task, WorkerPool
from abcmidi_bgpt.formats.abc.text import AbcTune, read_abc_file, split_tunes
from abcmidi_bgpt.formats.midi import read_midi_file

FORMATS = ("svg", "png", "wav")
SOUNDFONTS = (  # Debian's fluid-soundfont-gm, then other usual places
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
)
SAMPLE_RATE = 44_100
MAX_AUDIO_S = 30 * 60  # a MIDI file that lasts longer is refused before it is played
FLUIDSYNTH_TIMEOUT_S = 120


class ToolMissing(ConversionError):
    """A tool a format needs is not installed; ``install`` says what to install."""

    def __init__(self, tool: str, install: str):
        super().__init__(f"{tool} is not installed: {install}")
        self.tool = tool
        self.install = install


@dataclass(frozen=True, slots=True)
class Rendered:
    """What one render made: the bytes of each format asked for, and the ABC engraved."""

    files: dict[str, list[bytes]]  # format -> pages (one for png per page, one wav)
    abc: str
    warnings: list[str]


def page_paths(path: Path, pages: int) -> list[Path]:
    """``score.svg`` for a one-page score; ``score.svg``, ``score-2.svg``, ... for more."""
    return [path] + [path.with_name(f"{path.stem}-{i}{path.suffix}") for i in range(2, pages + 1)]


def tune_of(path: Path, number: int | None) -> AbcTune:
    """The tune ``X:number`` of an ABC file, or its first tune."""
    tunes = split_tunes(read_abc_file(path), str(path))
    if not tunes:
        raise ConversionError("no tune in the file", str(path))
    if number is None:
        return tunes[0]
    for tune in tunes:
        if tune.number == str(number):
            return tune
    raise ConversionError(f"no tune X:{number} in the file", str(path))


def score_pages(abc: str, label: str = "") -> list[str]:
    """The SVG pages verovio engraves from one ABC tune (a page as tall as the tune needs)."""
    try:
        import verovio
    except ImportError:
        raise ToolMissing("verovio", "pip install verovio") from None
    # verovio prints its warnings ("Title field missing") to the console: one-line messages
    # are ours to give. It can also crash on garbage, hence the worker processes around it.
    verovio.enableLog(verovio.LOG_OFF)
    toolkit = verovio.toolkit()
    toolkit.setOptions(
        {"inputFrom": "abc", "pageHeight": 60000, "adjustPageHeight": True, "footer": "none"}
    )
    if not toolkit.loadData(abc) or toolkit.getPageCount() < 1:
        raise ConversionError("verovio cannot engrave it", label)
    return [toolkit.renderToSVG(page) for page in range(1, toolkit.getPageCount() + 1)]


ENGRAVE_TIMEOUT_S = 30.0


def engrave_isolated(abc_texts: list[str], timeout: float = ENGRAVE_TIMEOUT_S) -> list[str | None]:
    """The first SVG page of each ABC text, engraved in a worker process under a time and
    memory limit; None where verovio is missing, fails or runs out of its limits."""
    try:
        import verovio  # noqa: F401
    except ImportError:
        return [None] * len(abc_texts)
    pages: list[str | None] = [None] * len(abc_texts)
    with WorkerPool(1) as pool:
        tasks = [Task((text,), timeout) for text in abc_texts]
        for i, outcome in pool.run(score_pages, tasks):
            if outcome.ok and outcome.value:
                pages[i] = outcome.value[0]
    return pages


def png_of(svg: str) -> bytes:
    """One SVG page as PNG, through cairosvg (which needs the cairo library)."""
    try:
        import cairosvg
    except (ImportError, OSError):
        raise ToolMissing("cairosvg", "pip install cairosvg (and the cairo library)") from None
    return cairosvg.svg2png(bytestring=svg.encode("utf-8"), background_color="white")


def render_in_worker(path: str, kind: str, number: int | None, formats: tuple[str, ...]):
    """In an isolated worker: the ABC of the input (a tune, or a MIDI file's transcription),
    its score pages if asked, and the MIDI to play if a WAV is asked; or the ConversionError
    that says why not (returned: a raised error would read as a bug of ours)."""
    try:
        return _render(path, kind, number, formats)
    except ConversionError as err:
        return err


def _render(path: str, kind: str, number: int | None, formats: tuple[str, ...]):
    from abcmidi_bgpt.engines.base import SymbolicEngine

    engine = SymbolicEngine()
    warnings: list[str] = []
    midi = b""
    if kind == "mid":
        midi = read_midi_file(path)
        out = engine.midi_to_abc(midi, source=Path(path).name)
        abc, warnings = out.data.decode("utf-8"), out.warnings
    else:
        tune = tune_of(Path(path), number)
        abc = tune.text
        if "wav" in formats:
            out = engine.abc_to_midi(tune)
            midi, warnings = out.data, out.warnings
    files: dict[str, list[bytes]] = {}
    if "svg" in formats or "png" in formats:
        pages = score_pages(abc, path)
        if "svg" in formats:
            files["svg"] = [p.encode("utf-8") for p in pages]
        if "png" in formats:
            files["png"] = [png_of(p) for p in pages]
    # How long it plays, read here too: mido parses the untrusted MIDI in the worker, not in
    # the caller, who only gets a number to check against the audio limit.
    return Rendered(files, abc, warnings), midi, (midi_seconds(midi) if midi else 0.0)


def find_soundfont(given: str | Path | None = None) -> Path:
    """The soundfont to play with: ``given``, $ABCMIDI_SOUNDFONT, or a usual system one."""
    candidates = [given] if given else [os.environ.get("ABCMIDI_SOUNDFONT"), *SOUNDFONTS]
    for candidate in filter(None, candidates):
        if Path(candidate).is_file():
            return Path(candidate)
    if given:
        raise ConversionError("no such soundfont file", str(given))
    raise ToolMissing(
        "a General MIDI soundfont", "apt install fluid-soundfont-gm (or pass --soundfont FILE)"
    )


def midi_seconds(midi: bytes) -> float:
    """How long a MIDI file plays, tempo map included (mido reads it)."""
    import io

    import mido

    return mido.MidiFile(file=io.BytesIO(midi)).length


def wav_of(
    midi: bytes, seconds: float, soundfont: str | Path | None = None, label: str = ""
) -> bytes:
    """The MIDI (which plays for ``seconds``, see :func:`midi_seconds`) played by FluidSynth
    into a 16-bit stereo WAV at 44.1 kHz."""
    program = shutil.which("fluidsynth")
    if program is None:
        raise ToolMissing("FluidSynth", "apt install fluidsynth fluid-soundfont-gm")
    font = find_soundfont(soundfont)
    if seconds > MAX_AUDIO_S:
        raise ConversionError(
            f"plays for {seconds / 60:.0f} min, over the {MAX_AUDIO_S // 60} min audio limit",
            label,
        )
    with tempfile.TemporaryDirectory(prefix="abcmidi-render-") as tmp:
        midi_path, wav_path = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        midi_path.write_bytes(midi)
        command = [program, "-ni", "-q", "-g", "0.7", "-r", str(SAMPLE_RATE), "-F", str(wav_path),
                   "-T", "wav", "-O", "s16", str(font), str(midi_path)]  # fmt: skip
        try:
            proc = subprocess.run(
                command, capture_output=True, timeout=FLUIDSYNTH_TIMEOUT_S, cwd=tmp, check=False
            )
        except subprocess.TimeoutExpired:
            raise ConversionError(f"FluidSynth took over {FLUIDSYNTH_TIMEOUT_S} s", label) from None
        if proc.returncode != 0 or not wav_path.exists():
            why = (proc.stderr or proc.stdout).decode("utf-8", "replace").strip().splitlines()
            raise ConversionError(
                f"FluidSynth failed: {why[-1] if why else proc.returncode}", label
            )
        return wav_path.read_bytes()


def render_isolated(
    path: str | Path,
    formats: set[str] | tuple[str, ...],
    number: int | None = None,
    soundfont: str | Path | None = None,
    timeout: float | None = 60.0,
    memory_gib: float | None = 4.0,
) -> Rendered:
    """Render an .abc (tune ``X:number``, or the first) or .mid file into ``formats``: read,
    converted and engraved in a worker process under ``timeout`` and ``memory_gib``, then played
    by FluidSynth here if a WAV is asked. Raises ConversionError (ToolMissing for a missing
    tool) with a one-line reason."""
    path = Path(path)
    kind = "mid" if path.suffix.lower() in (".mid", ".midi") else "abc"
    task = Task((str(path), kind, number, tuple(sorted(formats))), timeout)
    with WorkerPool(1, memory_gib) as pool:
        _, outcome = next(pool.run(render_in_worker, [task]))
    if not outcome.ok:  # out of time or memory, or verovio crashed
        raise ConversionError(outcome.reason, str(path))
    if isinstance(outcome.value, ConversionError):
        raise outcome.value
    rendered, midi, seconds = outcome.value
    if "wav" in formats:
        rendered.files["wav"] = [wav_of(midi, seconds, soundfont, str(path))]
    return rendered


def check_tools(formats: set[str], soundfont: str | Path | None = None) -> None:
    """Raise ToolMissing for the first of ``formats`` whose tool is not installed."""
    if formats & {"svg", "png"}:
        try:
            import verovio  # noqa: F401
        except ImportError:
            raise ToolMissing("verovio", "pip install verovio") from None
    if "png" in formats:
        png_of('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>')
    if "wav" in formats:
        if shutil.which("fluidsynth") is None:
            raise ToolMissing("FluidSynth", "apt install fluidsynth fluid-soundfont-gm")
        find_soundfont(soundfont)
