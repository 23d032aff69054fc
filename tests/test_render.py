"""``render``: scores read back as SVG, audio by its content, missing tools named."""

from __future__ import annotations

import array
import shutil
import wave
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from abcmidi_bgpt.cli.app import app
from abcmidi_bgpt.engines.base import SymbolicEngine
from abcmidi_bgpt.formats.abc.text import split_tunes

SVG = "{http://www.w3.org/2000/svg}"
# Eight quarter notes at 120 beats a minute: four seconds.
SCALE = "X:1\nT:Scale Test\nM:4/4\nL:1/4\nQ:1/4=120\nK:C\nCDEF|GABc|]\n"
BOOK = SCALE + "\nX:2\nT:Second Tune\nM:3/4\nL:1/8\nK:G\nGAB cde|d6|]\n"

needs_fluidsynth = pytest.mark.skipif(
    shutil.which("fluidsynth") is None
    or not any(Path(p).exists() for p in ("/usr/share/sounds/sf2/default-GM.sf2",)),
    reason="FluidSynth or a GM soundfont is not installed (apt install fluidsynth fluid-soundfont-gm)",
)


def notes_and_text(svg_path: Path) -> tuple[int, str]:
    """Engraved notes (verovio's note groups) and every text of an SVG page."""
    root = ET.parse(svg_path).getroot()
    assert root.tag == f"{SVG}svg"
    notes = [g for g in root.iter(f"{SVG}g") if "note" in (g.get("class") or "").split()]
    text = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))
    return len(notes), text


def render(*args: str):
    return CliRunner().invoke(app, ["render", *args])


def test_an_abc_tune_is_engraved_with_its_notes_and_title(tmp_path):
    book = tmp_path / "book.abc"
    book.write_text(BOOK)
    result = render(str(book), "-o", str(tmp_path / "first.svg"))
    assert result.exit_code == 0, result.output
    assert notes_and_text(tmp_path / "first.svg") == (8, notes_and_text(tmp_path / "first.svg")[1])
    assert "Scale Test" in notes_and_text(tmp_path / "first.svg")[1]
    result = render(str(book), "--tune", "2", "-o", str(tmp_path / "second.svg"))
    assert result.exit_code == 0, result.output
    count, text = notes_and_text(tmp_path / "second.svg")
    assert count == 7 and "Second Tune" in text
    result = render(str(book), "--tune", "9", "-o", str(tmp_path / "none.svg"))
    assert result.exit_code == 1 and "no tune X:9" in result.output


def test_a_midi_file_is_engraved_through_its_transcription(tmp_path):
    midi = SymbolicEngine().abc_to_midi(split_tunes(SCALE)[0]).data
    (tmp_path / "scale.mid").write_bytes(midi)
    result = render(str(tmp_path / "scale.mid"), "-o", str(tmp_path / "scale.svg"))
    assert result.exit_code == 0, result.output
    count, _ = notes_and_text(tmp_path / "scale.svg")
    assert count == 8


def test_outputs_are_not_overwritten_without_force_and_formats_are_checked(tmp_path):
    (tmp_path / "t.abc").write_text(SCALE)
    (tmp_path / "t.svg").write_text("mine")
    result = render(str(tmp_path / "t.abc"), "-o", str(tmp_path / "t.svg"))
    assert result.exit_code == 1 and "exists; use --force" in result.output
    assert (tmp_path / "t.svg").read_text() == "mine"
    assert render(str(tmp_path / "t.abc"), "-o", str(tmp_path / "t.svg"), "--force").exit_code == 0
    assert notes_and_text(tmp_path / "t.svg")[0] == 8
    result = render(str(tmp_path / "t.abc"), "-o", str(tmp_path / "t.pdf"))
    assert result.exit_code == 2 and "unknown output format .pdf" in result.output


def test_a_missing_player_is_named_with_what_to_install(tmp_path, monkeypatch):
    (tmp_path / "t.abc").write_text(SCALE)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = render(str(tmp_path / "t.abc"), "-o", str(tmp_path / "t.wav"))
    assert result.exit_code == 1
    assert "FluidSynth is not installed: apt install fluidsynth fluid-soundfont-gm" in result.output
    assert not (tmp_path / "t.wav").exists()


@needs_fluidsynth
def test_audio_lasts_as_long_as_the_tune_and_is_not_silent(tmp_path):
    (tmp_path / "t.abc").write_text(SCALE)
    result = render(str(tmp_path / "t.abc"), "-o", str(tmp_path / "t.wav"))
    assert result.exit_code == 0, result.output
    with wave.open(str(tmp_path / "t.wav")) as w:
        rate, channels, frames = w.getframerate(), w.getnchannels(), w.getnframes()
        samples = array.array("h", w.readframes(frames))
    assert rate == 44_100 and channels == 2
    assert 4.0 <= frames / rate <= 7.0  # four seconds of notes, and the last one's release tail

    def loudness(start_s: float, end_s: float) -> float:
        part = samples[int(start_s * rate) * channels : int(end_s * rate) * channels]
        return (sum(s * s for s in part) / len(part)) ** 0.5

    assert all(loudness(t, t + 0.5) > 300 for t in (0.0, 1.0, 2.0, 3.0, 3.5))  # each note sounds
    assert loudness(frames / rate - 0.2, frames / rate) < loudness(0.0, 0.5) / 5  # then it ends


def test_hostile_input_is_one_line_and_nothing_is_written(tmp_path):
    # A tune that crashes verovio (SIGSEGV in its ABC reader, 6.4.1): the worker dies, we do not.
    (tmp_path / "crash.abc").write_text("X:1\ngarbage [[[ \n")
    result = render(str(tmp_path / "crash.abc"), "-o", str(tmp_path / "crash.svg"))
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "crash.abc" in result.output and not (tmp_path / "crash.svg").exists()
    (tmp_path / "none.abc").write_text("no tune here at all\n")
    result = render(str(tmp_path / "none.abc"), "-o", str(tmp_path / "none.svg"))
    assert result.exit_code == 1 and "no ABC tune found" in result.output
    assert "internal error" not in result.output and not (tmp_path / "none.svg").exists()
