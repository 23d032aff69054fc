"""The calls behind the app's actions, tested without Textual: the TUI's own helpers
(``tui/engines.py``, ``tui/midi_view.py``, ``tui/files.py``) and the library calls it makes for
the compare view and the round trip (:mod:`abcmidi_bgpt.reports.one_tune`,
:mod:`abcmidi_bgpt.reports.round_trip`)."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

import pytest

from abcmidi_bgpt.checks.metrics import note_f1
from abcmidi_bgpt.core.direction import Direction
from abcmidi_bgpt.core.errors import ConversionError
from abcmidi_bgpt.core.performance import MeterChange, Note, Performance, Voice
from abcmidi_bgpt.engines import registry
from abcmidi_bgpt.engines.registry import EngineSpec
from abcmidi_bgpt.formats.abc.text import read_abc_file, split_tunes
from abcmidi_bgpt.formats.midi import read_performance
from abcmidi_bgpt.reports.compare import CompareTune
from abcmidi_bgpt.reports.one_tune import compare_one, rendered_tune
from abcmidi_bgpt.reports.round_trip import round_trip
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from abcmidi_bgpt.tui import engines, files, midi_view


def oneills() -> list:
    import music21

    path = Path(music21.__file__).parent / "corpus" / "oneills1850" / "0001-0050.abc"
    return split_tunes(read_abc_file(path), "0001-0050.abc")


@pytest.fixture(scope="module")
def tune():
    return next(t for t in oneills() if t.number == "38")  # Good Morning Fair Maid, 3/4


@pytest.fixture(scope="module")
def midi(tune) -> bytes:
    return abc_to_midi(tune).midi


def test_available_engines_leave_out_external_tools_that_are_missing(monkeypatch):
    monkeypatch.setattr(registry, "missing_programs", lambda programs: list(programs))
    assert "abc2midi" not in registry.available_engines()
    assert "symbolic" in registry.available_engines()
    offered = {
        name: (spec, reason) for name, spec, reason in engines.engines_to_compare(EngineSpec())
    }
    assert offered["abc2midi"][0] is None and "not installed" in offered["abc2midi"][1]
    assert offered["symbolic"] == (EngineSpec(), "")


def test_engine_cache_builds_each_engine_once_and_asks_bgpt_for_a_model():
    cache = engines.EngineCache()
    assert cache.get(EngineSpec("symbolic")) is cache.get(EngineSpec("symbolic"))
    assert cache.get(EngineSpec.of("symbolic", chords=True)) is not cache.get(EngineSpec())
    with pytest.raises(ConversionError, match="no bGPT model is packaged yet"):
        cache.get(EngineSpec("bgpt"))  # no checkpoint chosen, and none packaged
    with pytest.raises(ConversionError, match="no such checkpoint"):
        cache.get(EngineSpec.of("bgpt", checkpoint="/nonexistent/model"))


def test_midi_view_reads_the_header_facts(midi, tune):
    view = midi_view.read_midi_view(midi, "good-morning.mid")
    facts = view.facts
    notes = read_performance(midi).notes()
    assert (facts.format, facts.tracks, facts.ticks_per_beat) == (0, 1, 120)
    assert (facts.meter, facts.key, facts.tempo) == ("3/4", "G", "♩=120")
    assert facts.notes == len(notes) and facts.voices == 1
    last_offset = max(n.offset for n in notes)
    assert facts.bars == -(-last_offset // 3)  # 3/4: three beats a bar, the last one partial
    assert facts.seconds == pytest.approx(float(last_offset) / 2, abs=0.01)  # 120 beats/min
    assert "3/4 · G · " in facts.summary()


def test_midi_view_of_a_truncated_file_is_a_conversion_error(midi):
    with pytest.raises(ConversionError, match="corrupt.mid"):
        midi_view.read_midi_view(midi[:30], "corrupt.mid")


def test_bar_starts_follow_meter_changes():
    notes = [Note(Fraction(0), 60, Fraction(10))]
    perf = Performance(
        [Voice(notes)],
        meters=[MeterChange(Fraction(0), 3, 4), MeterChange(Fraction(6), 6, 8)],
    )
    assert midi_view.bar_starts(perf) == [0, 3, 6, 9]
    assert midi_view.bar_starts(Performance([Voice(notes)])) == [0, 4, 8]  # 4/4 when none


def test_tune_from_text_keeps_the_file_header_and_refuses_two_tunes(tune):
    original = dataclasses.replace(tune, header="%%MIDI program 73")
    edited = files.tune_from_text(tune.text.replace("G2 D", "G2 E"), original, "book.abc")
    assert edited.header == "%%MIDI program 73" and edited.line == tune.line
    with pytest.raises(ConversionError, match="2 tunes"):
        files.tune_from_text(tune.text + "\n" + tune.text, original, "book.abc")


def test_suggested_output_names_follow_the_batch_naming(tune, tmp_path):
    assert files.suggest_output_path(tmp_path / "book.abc", tune, ".mid", 3).name == "book_38.mid"
    assert files.suggest_output_path(tmp_path / "reel.abc", tune, ".mid", 1).name == "reel.mid"


def test_save_output_keeps_an_existing_file_unless_asked(tmp_path):
    path = tmp_path / "tune.mid"
    path.write_bytes(b"old")
    with pytest.raises(ConversionError, match="exists"):
        files.save_output(path, b"new")
    assert path.read_bytes() == b"old"
    files.save_output(path, b"new", overwrite=True)
    assert path.read_bytes() == b"new"
    assert not list(tmp_path.glob("*.part"))


def test_compare_symbolic_with_itself_is_a_perfect_score(tune):
    engine = EngineSpec("symbolic").build()
    subject = rendered_tune("book.abc", tune)  # the reference: the symbolic rendering
    out = compare_one("symbolic", engine, Direction.ABC_TO_MIDI, subject)
    assert out.validity and not out.error
    # notes read back from the MIDI file are on its tick grid: onsets agree within tolerance
    assert out.score.f1 == 1.0 and not out.missing and not out.extra


def test_compare_reports_an_engine_failure_as_its_error(tune):
    class Failing:
        def abc_to_midi(self, tune):
            raise ConversionError("no output today")

    out = compare_one("failing", Failing(), Direction.ABC_TO_MIDI, rendered_tune("book", tune))
    assert out.error == "no output today" and out.score is None


def test_round_trip_scores_agree_with_its_differences(midi):
    trip = round_trip(EngineSpec("symbolic").build(), midi, "good-morning.mid")
    assert trip.abc.startswith("X:")
    assert trip.score == note_f1(trip.reference, trip.output)
    assert trip.score.matched == len(trip.reference) - len(trip.missing)
    assert trip.score.matched == len(trip.output) - len(trip.extra)
    assert trip.output == read_performance(trip.midi).notes()


def test_compare_midi_to_abc_validates_and_rerenders(midi):
    reference = read_performance(midi).notes()
    subject = CompareTune("good-morning.mid", midi)
    out = compare_one("symbolic", EngineSpec("symbolic").build(), Direction.MIDI_TO_ABC, subject)
    assert out.text.startswith("X:") and out.validity is not None
    rendered = abc_to_midi(split_tunes(out.text)[0]).performance.notes()
    assert out.score == note_f1(reference, rendered)
