"""What the benchmarks share: abc2midi as a reference renderer (bench_symbolic and its MIDI ->
ABC half, bench_transcribe) and waiting for a GPU before reading the clock (bench_train and
bench_generate). Torch is imported only where a GPU is waited for, so that the symbolic
benchmarks do not load it."""

from __future__ import annotations

import subprocess
from pathlib import Path


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


def synchronize(device) -> None:
    """Wait for the work queued on a CUDA ``torch.device``; nothing on the CPU."""
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)
