"""Unix conventions for ``convert``: ``-`` reads standard input, ``-o FILE`` writes one output
file (``-o -``: standard output), as abc2midi and midi2abc users expect.

Standard input is read once, at most one byte over the larger of the input size limits, into a
file of the same shape as any other input (a temporary folder), so that it is converted by the
same batch (a worker process, time and memory limits) and refused with the same messages.
"""

from __future__ import annotations

import sys
from pathlib import Path

from abcmidi_bgpt.cli.options import print_error, print_warning
from abcmidi_bgpt.core.io import write_atomic
from abcmidi_bgpt.engines.batch import BatchReport, convert_paths
from abcmidi_bgpt.formats.abc.text import MAX_ABC_FILE_BYTES
from abcmidi_bgpt.formats.midi import MAX_MIDI_FILE_BYTES

STDIO = "-"
MAX_STDIN_BYTES = max(MAX_ABC_FILE_BYTES, MAX_MIDI_FILE_BYTES)


def is_stdio(path: Path | str | None) -> bool:
    return path is not None and str(path) == STDIO


def stdin_to_file(folder: Path) -> Path:
    """Standard input as a file in ``folder``: ``stdin.mid`` when it starts as a MIDI file does
    (``MThd``, or a RIFF RMID wrapper), ``stdin.abc`` otherwise. One byte over the limit is kept,
    so that the batch refuses it as too large."""
    data = sys.stdin.buffer.read(MAX_STDIN_BYTES + 1)
    suffix = ".mid" if data[:4] in (b"MThd", b"RIFF") else ".abc"
    path = folder / f"stdin{suffix}"  # its name is what messages and a transcription show
    path.write_bytes(data)
    return path


def single_output(report: BatchReport) -> tuple[bytes | None, str]:
    """The one output of a conversion, or None and why there is not exactly one."""
    outputs = [r.output for r in report.results if r.status == "converted"]
    if len(outputs) != 1:
        failed = report.count("failed")
        reason = (
            f"{len(outputs)} outputs (a tune book?): -o takes one; use --out FOLDER"
            if len(outputs) > 1
            else f"nothing converted ({failed} failed)"
        )
        return None, reason
    return Path(outputs[0]).read_bytes(), ""


def deliver(data: bytes, output: Path, force: bool) -> str:
    """Write ``data`` to ``output`` (standard output for ``-``); '' when done, else why not."""
    if is_stdio(output):
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return ""
    if output.exists() and not force:
        return f"{output} exists; use --force to overwrite it"
    if output.is_dir():
        return f"{output} is a folder; -o names one file (use --out for a folder)"
    write_atomic(output, data)
    return ""


def convert_to_one(paths, to, out, output, spec, force, timeout, memory) -> int:
    """Convert into a temporary folder, then deliver its one output to ``output`` (a file, or
    standard output); failures and the summary on standard error. The exit code."""
    report = convert_paths(paths, to, out, spec, True, 1, timeout, memory_gib=memory)
    for r in report.failed:
        print_error(f"{r.label}: {r.reason}", prefix="failed")
    data, why = single_output(report)
    if data is None:
        print_error(why)
        return 1
    why = deliver(data, output, force)
    if why:
        print_error(why)
        return 1
    warned = [w for r in report.results for w in r.warnings]
    for w in warned:
        print_warning(w)
    return 1 if report.count("failed") else 0
