"""What the benchmarks share: abc2midi as a reference renderer (bench_symbolic and its MIDI ->
ABC half, bench_transcribe), midi2abc and music21 as the MIDI -> ABC converters compared with, and waiting for a GPU before reading the clock (bench_train and
bench_generate). Torch is imported only where a GPU is waited for, so that the symbolic
benchmarks do not load it."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from abcmidi_bgpt.core.errors import ConversionError


def abc2midi_render(text: str, tmp: Path, *options: str) -> bytes | None:
    """abc2midi's MIDI of an ABC text (``-silent``, then ``options``); None when it writes
    nothing or runs over 30 s. Runs in ``tmp``, where it writes barloc.txt for tunes of
    several voices."""
    src, out = tmp / "t.abc", tmp / "t.mid"
    src.write_text(text, encoding="utf-8")
    out.unlink(missing_ok=True)
    try:
        subprocess.run(
            ["abc2midi", str(src), "-o", str(out), "-silent", *options],
            capture_output=True,
            timeout=30,
            check=False,
            cwd=tmp,
        )
    except subprocess.TimeoutExpired:
        return None
    return out.read_bytes() if out.exists() and out.stat().st_size else None


def midi2abc_text(data: bytes, label: str) -> str:
    """midi2abc's ABC of MIDI bytes (the classic C converter, Debian package abcmidi)."""
    with tempfile.TemporaryDirectory(prefix="bench-midi2abc-") as tmp:
        src, dst = Path(tmp, "in.mid"), Path(tmp, "out.abc")
        src.write_bytes(data)
        subprocess.run(
            ["midi2abc", str(src), "-o", str(dst)], capture_output=True, timeout=60, check=False
        )
        if not dst.exists() or not dst.stat().st_size:
            raise ConversionError("midi2abc wrote nothing", label)
        return dst.read_text(encoding="utf-8", errors="replace")


def music21_abc(data: bytes) -> str:
    """music21 reads the MIDI and writes MusicXML; xml2abc makes ABC of that."""
    import warnings
    import xml.etree.ElementTree as ET

    import music21

    from abcmidi_bgpt.formats.musicxml import musicxml_to_abc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = music21.converter.parse(data, format="midi")
        xml = music21.musicxml.m21ToXml.GeneralObjectExporter(score).parse()
    return musicxml_to_abc(ET.fromstring(xml), unit_length=0, line_breaks=True)


def synchronize(device) -> None:
    """Wait for the work queued on a CUDA ``torch.device``; nothing on the CPU."""
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)
