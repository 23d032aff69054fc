"""Score and audio (p on the main screen): the selected tune or MIDI file engraved as a score
(SVG, or PNG when the path says .png) and played into a WAV, as ``abcmidi-bgpt render`` does,
and played aloud where the system has a command-line player.

The library does the work (:func:`~abcmidi_bgpt.reports.render.render_isolated`: verovio and
FluidSynth, in an isolated worker); the dialog runs it in a thread worker, shows each step and
says in one line what failed, or what to install. Outputs go beside the selected file by
default; an existing file is only replaced once the user says so.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, ProgressBar, Static

from abcmidi_bgpt.core.errors import ConversionError, first_line, reason_of
from abcmidi_bgpt.core.io import write_atomic
from abcmidi_bgpt.formats.abc.text import AbcTune
from abcmidi_bgpt.reports.render import ToolMissing, check_tools, page_paths, render_isolated

from ..files import render_output_path
from ..playback import PLAYER_NAMES, Playback, find_player, player_name
from ..widgets.library_tree import relative_name
from ..widgets.toggles import MarkedCheckbox
from .dialogs import ConfirmScreen


@dataclass(frozen=True, slots=True)
class RenderSubject:
    """What to engrave and play: a tune as the ABC pane holds it, or a MIDI file."""

    path: Path  # the .abc or .mid file it is in (outputs go beside it)
    name: str  # how the app names it
    tune: AbcTune | None = None  # None for a MIDI file
    tunes_in_file: int = 1

    def default_output(self, suffix: str) -> Path:
        return render_output_path(self.path, self.tune, suffix, self.tunes_in_file)


@dataclass(frozen=True, slots=True)
class RenderJob:
    """One press of Render: the files to write by format, and whether to play."""

    outputs: dict[str, Path]  # "svg" or "png" (score), "wav" (audio) -> path
    play: bool
    overwrite: bool = False

    @property
    def formats(self) -> set[str]:
        return set(self.outputs) | ({"wav"} if self.play else set())

    @property
    def steps(self) -> int:  # check the tools, render, write each output, play
        return 2 + len(self.outputs) + self.play


def score_format(path: Path) -> str:
    return "png" if path.suffix.lower() == ".png" else "svg"


class RenderScreen(ModalScreen[None]):
    """The score-and-audio dialog for one :class:`RenderSubject`."""

    BINDINGS = [Binding("escape", "close", "Close")]

    running: reactive[bool] = reactive(False)

    def __init__(self, subject: RenderSubject, root: Path) -> None:
        super().__init__()
        self.subject = subject
        self.root = root
        self.player = find_player()
        self.playback: Playback | None = None
        self.missing = ""  # what the ticked options need that is not installed
        self.existing = ""  # which of the outputs exist already
        self.closed = threading.Event()  # set when the dialog closes: the render writes nothing

    def compose(self) -> ComposeResult:
        subject = self.subject
        play_label = f"Play with {player_name(self.player)}" if self.player else "Play"
        with Vertical(id="dialog"):
            yield Label(Text(f"Score and audio · {subject.name}"), classes="dialog-title")
            with Horizontal(classes="render-row"):
                yield MarkedCheckbox("Score (SVG)", value=True, id="render-score")
                yield Input(self._shown(subject.default_output(".svg")), id="render-score-path")
            with Horizontal(classes="render-row"):
                yield MarkedCheckbox("Audio (WAV)", id="render-audio")
                yield Input(self._shown(subject.default_output(".wav")), id="render-audio-path")
            yield MarkedCheckbox(play_label, disabled=self.player is None, id="render-play")
            if self.player is None:
                yield Static(
                    Text(f"No audio player found ({PLAYER_NAMES}): write the WAV."),
                    id="render-no-player",
                )
            yield Static(id="render-note")
            yield ProgressBar(show_eta=False, id="render-progress")
            yield Static(id="render-status")
            with Horizontal(classes="buttons"):
                yield Button("Render", variant="primary", id="render-go")
                yield Button("Close", id="render-close")

    def on_mount(self) -> None:
        self.query_one("#render-progress").display = False
        self.query_one("#render-go", Button).focus()
        self._options_changed()

    def on_unmount(self) -> None:
        self.closed.set()
        if self.playback is not None:  # closing (or quitting) stops the sound
            self.playback.stop()

    # --- the options -----------------------------------------------------------------------

    def _shown(self, path: Path) -> str:
        return relative_name(path, self.root)

    def _path(self, input_id: str) -> Path | None:
        typed = self.query_one(f"#{input_id}", Input).value.strip()
        if not typed:
            return None
        path = Path(typed).expanduser()
        return path if path.is_absolute() else self.root / path

    def _job(self) -> RenderJob:
        """The job the options describe; a ticked output without a path is left out."""
        outputs: dict[str, Path] = {}
        score, audio = self._path("render-score-path"), self._path("render-audio-path")
        if self.query_one("#render-score", Checkbox).value and score is not None:
            outputs[score_format(score)] = score
        if self.query_one("#render-audio", Checkbox).value and audio is not None:
            outputs["wav"] = audio
        return RenderJob(outputs, self.query_one("#render-play", Checkbox).value)

    @on(Checkbox.Changed)
    @on(Input.Changed)
    def _options_changed(self) -> None:
        """Say what the options need that is missing, and which outputs exist already."""
        job = self._job()
        existing = [self._shown(p) for p in job.outputs.values() if p.exists()]
        verb = "exist" if len(existing) > 1 else "exists"
        self.existing = (
            f"⚠ {', '.join(existing)} {verb}: Render asks before replacing" if existing else ""
        )
        self._show_note()
        self.check(job.formats)

    @work(thread=True, exclusive=True, group="check", exit_on_error=False)
    def check(self, formats: set[str]) -> None:
        """The tools the formats need, checked in a thread (importing verovio takes a while)."""
        try:
            check_tools(formats)
            missing = ""
        except Exception as err:  # ToolMissing; anything else a broken install says itself
            missing = first_line(err)
        self._call(self._show_missing, missing)

    def _show_missing(self, missing: str) -> None:
        self.missing = missing
        self._show_note()

    def _show_note(self) -> None:
        note = Text()
        if self.missing:
            note.append(f"✗ {self.missing}", style="bold red")
        if self.missing and self.existing:
            note.append("\n")
        note.append(self.existing)
        widget = self.query_one("#render-note", Static)
        widget.update(note)
        widget.display = bool(note.plain)

    # --- rendering -------------------------------------------------------------------------

    @on(Button.Pressed, "#render-go")
    @on(Input.Submitted)
    def action_render(self) -> None:
        """Render, first asking before any existing output is replaced."""
        if self.running:
            return
        job = self._job()
        if not job.formats:
            self._status(Text("Tick Score, Audio or Play (with a path for each file).", "yellow"))
            return
        existing = [self._shown(p) for p in job.outputs.values() if p.exists()]
        if not existing:
            self._start(job)
            return
        names = " and ".join(existing)
        question = f"{names} exist{'' if len(existing) > 1 else 's'}. Replace with the new render?"

        def answered(replace: bool | None) -> None:
            if replace:
                self._start(RenderJob(job.outputs, job.play, overwrite=True))
            else:
                self._status(Text(f"Nothing written: {names} kept.", style="yellow"))

        self.app.push_screen(ConfirmScreen(question, yes="Replace", no="Keep"), answered)

    def _start(self, job: RenderJob) -> None:
        self.running = True
        self.playback = Playback(self.player) if job.play and self.player else None
        self.query_one(ProgressBar).update(total=job.steps, progress=0)
        self.run_render(job, self.playback)

    @work(thread=True, exclusive=True, group="render", exit_on_error=False)
    def run_render(self, job: RenderJob, playback: Playback | None) -> None:
        """Check the tools, render in the library's isolated worker, write, then play."""
        subject = self.subject
        wrote: list[Path] = []
        try:
            self._step("checking the tools…")
            check_tools(job.formats)
            with tempfile.TemporaryDirectory(prefix="abcmidi-tui-render-") as tmp:
                self._step(self._rendering_what(job))
                rendered = render_isolated(self._source(Path(tmp)), job.formats)
                if self.closed.is_set():
                    return
                for fmt, path in job.outputs.items():
                    self._step(f"writing {self._shown(path)}…")
                    pages = rendered.files[fmt]
                    for page_path, data in zip(page_paths(path, len(pages)), pages, strict=True):
                        self._write(page_path, data, job.overwrite)
                        wrote.append(page_path)
                if wrote:
                    self._call(self._wrote, wrote, rendered.warnings)
                if playback is not None:
                    wav = job.outputs.get("wav") or Path(tmp) / "play.wav"
                    if "wav" not in job.outputs:
                        wav.write_bytes(rendered.files["wav"][0])
                    self._step(f"▶ playing with {player_name(playback.player)} (escape stops)")
                    playback.play(wav)
        except ToolMissing as err:
            self._call(self._failed, first_line(err), wrote)
            return
        except (ConversionError, OSError) as err:
            self._call(self._failed, f"{subject.name}: {reason_of(err)}", wrote)
            return
        except Exception as err:  # a bug: one line, never a traceback on screen
            message = f"internal error: {type(err).__name__}: {first_line(err)}"
            self._call(self._failed, message, wrote)
            return
        self._call(self._done, wrote, playback is not None)

    def _write(self, path: Path, data: bytes, overwrite: bool) -> None:
        """Write one file; one that appeared since the question is kept unless ``overwrite``."""
        try:
            write_atomic(path, data, replace=overwrite)
        except FileExistsError:
            raise ConversionError(f"{self._shown(path)} exists: not replaced") from None

    def _source(self, tmp: Path) -> Path:
        """The file to render: the tune as the pane holds it (edits included), or the MIDI."""
        if self.subject.tune is None:
            return self.subject.path
        source = tmp / f"{self.subject.path.stem}.abc"
        source.write_text(self.subject.tune.full_text, encoding="utf-8")
        return source

    def _rendering_what(self, job: RenderJob) -> str:
        doing = []
        if job.formats & {"svg", "png"}:
            doing.append("engraving the score (verovio)")
        if "wav" in job.formats:
            doing.append("playing into a WAV (FluidSynth)")
        return " and ".join(doing) + "…"

    def _step(self, message: str) -> None:
        self._call(self._advance, message)

    def _advance(self, message: str) -> None:
        self.query_one(ProgressBar).advance(1)
        self._status(Text(message))

    def _wrote(self, wrote: list[Path], warnings: list[str]) -> None:
        self.app.notify(f"wrote {', '.join(self._shown(p) for p in wrote)}", markup=False)
        if warnings:
            first = warnings[0].splitlines()[0] if warnings[0] else ""
            more = f" (+{len(warnings) - 1} more)" if len(warnings) > 1 else ""
            self.app.notify(first + more, title="Warnings", severity="warning", markup=False)

    def _done(self, wrote: list[Path], played: bool) -> None:
        self.running = False
        said = [f"wrote {', '.join(self._shown(p) for p in wrote)}"] if wrote else []
        said += ["played"] if played else []
        self._status(Text(f"✓ {'; '.join(said)}", style="bold green"))
        self._options_changed()

    def _failed(self, message: str, wrote: list[Path]) -> None:
        self.running = False
        if wrote:
            message += f" (wrote {', '.join(self._shown(p) for p in wrote)})"
        self._status(Text(f"✗ {message}", style="bold red"))

    def watch_running(self, running: bool) -> None:
        if not self.is_mounted:
            return
        self.query_one(ProgressBar).display = running
        self.query_one("#render-go", Button).disabled = running
        for widget in self.query("#dialog Checkbox, #dialog Input"):
            widget.disabled = running or (widget.id == "render-play" and self.player is None)

    # --- helpers ---------------------------------------------------------------------------

    @on(Button.Pressed, "#render-close")
    def action_close(self) -> None:
        self.dismiss(None)  # unmounting stops the render's writing and playing

    def _call(self, callback: Callable, *args) -> None:
        """Run ``callback`` on the app's thread from a worker, while this dialog is open."""

        def on_screen() -> None:
            if self.is_attached:
                callback(*args)

        with contextlib.suppress(RuntimeError):  # the app is shutting down
            self.app.call_from_thread(on_screen)

    def _status(self, text: Text) -> None:
        self.query_one("#render-status", Static).update(text)
