"""Playing a WAV through a command-line player, the first of :data:`PLAYERS` the system has.
Nothing here imports Textual: the score-and-audio dialog plays from its worker thread and stops
the player when it closes."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

from abcmidi_bgpt.core.errors import ConversionError

PLAYERS = (  # program and options, in the order they are looked for
    ("paplay",),  # PulseAudio and PipeWire
    ("aplay",),  # ALSA
    ("ffplay", "-nodisp", "-autoexit"),  # FFmpeg: no window, exit at the end
    ("afplay",),  # macOS
)
PLAYER_NAMES = ", ".join(name for name, *_ in PLAYERS)


def find_player() -> list[str] | None:
    """The first installed player of :data:`PLAYERS` (its full path, then its options), or
    None when there is none."""
    for name, *options in PLAYERS:
        program = shutil.which(name)
        if program:
            return [program, *options]
    return None


def play_command(player: list[str], wav: Path) -> list[str]:
    """The command line that plays ``wav`` with ``player`` (from :func:`find_player`)."""
    return [*player, str(wav)]


def player_name(player: list[str]) -> str:
    return Path(player[0]).name


class Playback:
    """One playing of a WAV: :meth:`play` waits for its end, :meth:`stop` (from any thread)
    ends it early, and also any play not yet started."""

    def __init__(self, player: list[str]) -> None:
        self.player = player
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self.stopped = False

    def play(self, wav: Path) -> None:
        """Play ``wav`` to its end; raises ConversionError when the player fails (not when it
        was stopped)."""
        with self._lock:
            if self.stopped:
                return
            self._process = subprocess.Popen(
                play_command(self.player, wav),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        _, err = self._process.communicate()
        code = self._process.returncode
        if code != 0 and not self.stopped:
            why = err.decode("utf-8", "replace").strip().splitlines()
            name = player_name(self.player)
            raise ConversionError(f"{name} failed: {why[-1] if why else f'exit status {code}'}")

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            if self._process is not None and self._process.poll() is None:
                self._process.terminate()
