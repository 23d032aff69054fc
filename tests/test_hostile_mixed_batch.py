"""The whole defence at once, as a user meets it: one batch of hostile and good files, run by the
real command in a fresh process under a 6 GiB address-space limit with ``--timeout 20``.

Every bad file ends with one line naming it, with no traceback and no internal error; every
good file converts; nothing runs and nothing outside the inputs is read."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import mido

from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi
from tests.support.paths import EXAMPLES, REPO

ADDRESS_SPACE = 6 << 30
RUN_CODE = "__import__('os').system('touch CANARY')"
GOOD = "X:1\nT:Good\nM:4/4\nL:1/8\nK:G\nGABc d2e2|d2B2 G4|]\n"


def midi_bytes(*events: bytes, division: int = 1) -> bytes:
    """A type-0 file of one track holding ``events`` (each: delta time and message bytes)."""
    track = b"".join(events) + b"\x00\xff\x2f\x00"
    return (
        b"MThd" + (6).to_bytes(4, "big") + b"\x00\x00\x00\x01" + division.to_bytes(2, "big")
        + b"MTrk" + len(track).to_bytes(4, "big") + track
    )  # fmt: skip


def reel(size: int) -> str:
    bar = "|:GABc dedB|dedB dedB|c2ec B2dB|c2A2 A2BA:|\n"
    return "X:1\nT:Long reel\nM:4/4\nL:1/8\nK:G\n" + bar * (size // len(bar))


def hostile_files(folder: Path, fifo: Path) -> dict[str, str]:
    """Write the hostile inputs; {file name: what its one line must say}."""
    good_midi = abc_to_midi(GOOD).midi
    files: dict[str, bytes | str] = {
        "meter-runs-code.abc": f"X:1\nT:M\nM:{RUN_CODE}/4\nL:1/8\nK:C\nCDEF|\n",
        "inline-meter-runs-code.abc": f"X:1\nT:M\nM:4/4\nL:1/8\nK:C\nCDEF|[M:{RUN_CODE}/4]CDEF|\n",
        "part-order-bomb.abc": "X:1\nT:P\nP:((((((((A)9)9)9)9)9)9)9)9\nL:1/8\nK:C\nP:A\nCDEF|\n",
        "huge-reel.abc": reel(232 * 1024),
        "binary.abc": bytes(range(256)) * 4,
        ("n" * 246) + ".abc": "no tune here at all\n",
        "huge-note.mid": midi_bytes(b"\x00\x90\x3c\x40", b"\xff\xff\xff\x7f\x80\x3c\x00"),
        "huge-deltas.mid": midi_bytes(
            *[b"\xff\xff\xff\x7f\x90\x3c\x40" + b"\xff\xff\xff\x7f\x80\x3c\x00"] * 20
        ),
        "cut-short.mid": good_midi[:44],
        "garbage.mid": b"MThd" + b"\xff" * 60,
    }
    reasons = {
        "meter-runs-code.abc": "is not an ABC meter",
        "inline-meter-runs-code.abc": "is not an ABC meter",
        "part-order-bomb.abc": "P:",
        "huge-reel.abc": "tune too large",
        "binary.abc": "",
        ("n" * 246) + ".abc": "no ABC tune found",
        "huge-note.mid": "",
        "huge-deltas.mid": "",
        "cut-short.mid": "",
        "garbage.mid": "",
    }
    for name, data in files.items():
        path = folder / name
        if isinstance(data, str):
            path.write_text(data)
        else:
            path.write_bytes(data)
    # Inputs that convert, with a warning: a file read is refused, a tempo MIDI cannot hold.
    (folder / "includes-a-fifo.abc").write_text(
        f"%%abc-include {fifo}\nX:1\nT:Inc\nM:4/4\nL:1/8\nK:C\nCDEF GABc|\n"
    )
    (folder / "too-slow-tempo.abc").write_text("X:1\nT:Slow\nQ:1/4=3\nM:4/4\nL:1/4\nK:C\nCDEF|\n")
    (folder / "tempo-zero.mid").write_bytes(
        midi_bytes(
            b"\x00\xff\x51\x03\x00\x00\x00", b"\x00\x90\x3c\x40", b"\x60\x80\x3c\x00", division=96
        )
    )
    return reasons


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def convert(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "abcmidi_bgpt", "convert", *args, "--timeout", "20"],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "60", "PYTHONPATH": str(REPO)},
        preexec_fn=limited,
        timeout=600,
    )


def test_a_mixed_batch_of_hostile_and_good_files(tmp_path):
    inputs, scratch = tmp_path / "in", tmp_path / "cwd"
    inputs.mkdir()
    scratch.mkdir()
    fifo = tmp_path / "outside.fifo"  # reading it would block: nobody ever writes to it
    os.mkfifo(fifo)
    for example in EXAMPLES.glob("*.abc"):
        shutil.copy(example, inputs / example.name)
    reasons = hostile_files(inputs, fifo)
    (inputs / "good.mid").write_bytes(abc_to_midi(GOOD).midi)

    to_midi = convert(str(inputs), "--to", "mid", "--out", str(tmp_path / "mid"), cwd=scratch)
    to_abc = convert(str(inputs), "--to", "abc", "--out", str(tmp_path / "abc"), cwd=scratch)

    for run in (to_midi, to_abc):
        assert run.returncode == 1  # something failed, and the batch ran to its end
        assert "Traceback" not in run.stderr + run.stdout
        assert "internal error" not in run.stderr + run.stdout
    failed = [ln for ln in (to_midi.stderr + to_abc.stderr).splitlines() if ln.startswith("failed")]
    for name, reason in reasons.items():
        lines = [ln for ln in failed if f"{inputs / name}" in ln]
        assert len(lines) == 1, f"{name}: {lines}"
        assert reason in lines[0]
    assert len(failed) == len(reasons)
    # Every good input converted: the examples' tunes, the good MIDI, and the two with warnings.
    tunes = sum(
        p.read_text().count("\nX:") + p.read_text().startswith("X:") for p in EXAMPLES.glob("*.abc")
    )
    made = sorted(p.name for p in (tmp_path / "mid").iterdir())
    assert len(made) == tunes + 2
    assert {"includes-a-fifo.mid", "too-slow-tempo.mid"} <= set(made)
    assert sorted(p.name for p in (tmp_path / "abc").iterdir()) == ["good.abc", "tempo-zero.abc"]
    included = mido.MidiFile(tmp_path / "mid" / "includes-a-fifo.mid")
    assert sum(m.type == "note_on" and m.velocity > 0 for m in included) == 8  # its own notes
    # Nothing ran: the meters' commands would have made CANARY in the working folder.
    assert not any(p.name == "CANARY" for p in tmp_path.rglob("*"))
