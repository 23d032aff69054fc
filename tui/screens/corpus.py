"""The corpus screen: build an ABC/MIDI pair corpus, watch it being built, look at one built.

The sources (the folk collections inside music21, a folder or one ``.abc`` file, an IrishMAN
export), the scales, the transposition, the number of worker processes and the output folder
are typed or ticked; Ctrl+B calls :func:`abcmidi_bgpt.corpus.build.build_corpus` in a thread
worker, which shows each stage's progress as it comes (converting, naming, writing...).
Cancelling is cooperative: the progress callback raises :class:`BuildCancelled` on the next
step, the build's own clean-up kills the worker processes and commits the result cache, and
the folder's manifest keeps saying the build did not finish (``build_corpus`` marks it so
before it touches anything), so building again with the same sources resumes from the cache.

A built corpus (the output folder, read again after every build and whenever Enter is pressed
in its field) is shown from what the library reads back: its manifest (counts, what was left
out and why, the splits) and histograms of ABC bytes, MIDI bytes and patches per pair
(:func:`abcmidi_bgpt.corpus.stats.split_lengths`) drawn with textual-plotext. Reading runs in
a thread worker too; nothing long runs on the interface's thread.

Why one module of over 400 lines: the form, the build's progress and the corpus view are one
screen sharing its state (the output folder, the build under way), read together.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from datasets import DatasetDict
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Button, DataTable, Header, Input, Label, ProgressBar, Static
from textual.worker import Worker, WorkerState

from abcmidi_bgpt.bgpt.dataset import MANIFEST, MAX_MANIFEST_BYTES, load_corpus, load_manifest
from abcmidi_bgpt.bgpt.patches import PatchLayout
from abcmidi_bgpt.core.errors import first_line
from abcmidi_bgpt.corpus.build import BuildReport, BuildSettings, build_corpus
from abcmidi_bgpt.corpus.manifest import SPLIT_COLUMNS, Tally, split_rows
from abcmidi_bgpt.corpus.sources import MUSIC21_COLLECTIONS
from abcmidi_bgpt.corpus.splits import SPLITS, parse_scale
from abcmidi_bgpt.corpus.stats import split_lengths

from ..widgets.histogram import LengthHistogram
from ..widgets.key_footer import KeyFooter
from ..widgets.toggles import MarkedCheckbox
from .batch import batch_workers

DEFAULT_OUT = Path("corpora") / "music21"  # as the command line's default, from the cwd
DEFAULT_SCALES = "1e3 1e4"
POST_S = 0.1  # the build's progress reaches the screen at most this often per stage
HISTOGRAMS = (("abc_bytes", "ABC bytes"), ("midi_bytes", "MIDI bytes"), ("patches", "Patches"))
READ_ERRORS = (OSError, ValueError, TypeError, KeyError, AttributeError)  # one line each
HELP = (
    "Ctrl+B builds into the output folder; Esc cancels a build, then leaves. A build cancelled "
    "or stopped resumes from the folder's cache (cache/results.sqlite): build again with the "
    "same sources. Enter in the output field reads the corpus there."
)


def tally_text(counts: Tally) -> Text:
    """What a build under way has decided: converted, kept, left out and why."""
    text = Text(f"{counts.converted} converted · {counts.kept} pairs kept · ", style="bold")
    text.append(f"{counts.duplicates} duplicates · {counts.too_long} too long · ")
    failed = sorted(counts.failed.items(), key=lambda kv: (-kv[1], kv[0]))
    text.append(f"{sum(n for _, n in failed)} failed")
    for (stage, reason), n in failed[:3]:
        text.append(f"\n  {stage}: {reason} ×{n}", style="dim")
    return text


class BuildCancelled(Exception):
    """Raised by the progress callback once the user has cancelled the build."""


@dataclass(frozen=True)
class CorpusView:
    """What the screen shows of a built corpus, as read from its folder."""

    folder: Path
    manifest: dict
    lengths: dict[str, dict[str, list[int]]]  # split -> column (HISTOGRAMS) -> one per row
    max_patches: int
    summary: Text  # made in the reading worker: a manifest it cannot read fails there
    split_rows: list[tuple[str, ...]]


def folder_state(folder: Path) -> str:
    """'absent', 'empty', 'complete', 'incomplete' (a build that did not finish) or 'other'
    (a folder that is not a corpus)."""
    if not folder.exists():
        return "absent"
    if not folder.is_dir():
        return "other"
    path = folder / MANIFEST
    if path.is_file():
        try:  # (the builder writes its manifest whole, at once: an unreadable one is not its)
            if path.stat().st_size > MAX_MANIFEST_BYTES:
                return "other"
            manifest = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return "other"
        if not isinstance(manifest, dict):
            return "other"
        return "complete" if manifest.get("complete") else "incomplete"
    return "other" if any(folder.iterdir()) else "empty"


def read_corpus(folder: Path) -> CorpusView:
    """A built corpus read back with the library: its manifest and the lengths of the rows of
    train, validation and test (the nested scales are prefixes of train)."""
    manifest = load_manifest(folder)
    layout = PatchLayout(manifest["settings"]["patch_size"], manifest["settings"]["max_patches"])
    corpus = load_corpus(folder)
    held = DatasetDict({s: corpus[s] for s in SPLITS if s in corpus})
    return CorpusView(
        folder,
        manifest,
        split_lengths(held, layout),
        layout.max_patches,
        summary_text(manifest),
        split_rows(manifest),
    )


def chosen_sources(collections: list[str], folder: str, irishman: str) -> list[str]:
    """The source strings of :mod:`corpus.sources` for what is ticked and typed."""
    sources = []
    if collections:
        everything = list(collections) == list(MUSIC21_COLLECTIONS)
        sources.append("music21" if everything else "music21:" + ",".join(collections))
    if folder.strip():
        sources.append(folder.strip())
    if irishman.strip():
        text = irishman.strip()
        sources.append("irishman" if text == "hub" else f"irishman:{text}")
    if not sources:
        raise ValueError("no source: tick a music21 collection or type a folder")
    return sources


def source_label(source: dict) -> str:
    """A manifest's source, named without the folders above it (as typed, or the export)."""
    kind = source.get("kind", "")
    if kind in ("folder", "file"):
        return f"{Path(source.get('path', source['spec'])).name} ({kind})"
    return source["spec"] if kind == "music21" else kind or source["spec"]


def summary_text(manifest: dict) -> Text:
    """The manifest's sources, counts, what was left out and why, and scales not made."""
    c, settings = manifest.get("counts", {}), manifest.get("settings", {})
    text = Text(", ".join(source_label(s) for s in manifest.get("sources", [])), style="bold")
    text.append(f" · scales {' '.join(map(str, settings.get('scales', [])))}")
    text.append(f" · transpose {settings.get('transpose', '?')}")
    text.append(f" · {manifest.get('content_hash', '')[:19]}\n")
    # An older corpus's manifest lacks some counts: those it has are shown.
    counts = [
        (c.get(key), label)
        for key, label in (
            ("tunes_found", "tunes found"), ("tunes_converted", "converted"),
            ("tunes_failed", "failed"), ("tunes_not_needed", "not needed (scales filled)"),
            ("duplicates", "duplicates"), ("too_long", "too long"), ("pairs_kept", "pairs kept"),
        )
    ]  # fmt: skip
    text.append(" · ".join(f"{n} {label}" for n, label in counts if n is not None) + "\n")
    reasons = [
        f"{stage}: {reason} ×{n}"
        for stage, by_reason in manifest.get("failure_reasons", {}).items()
        for reason, n in by_reason.items()
    ]
    text.append("left out: " + ("; ".join(reasons[:4]) if reasons else "nothing"), style="dim")
    for name, u in manifest.get("unfilled_scales", {}).items():
        text.append(f"\n{name} not made: {u['requested']} pairs asked, {u['available']} built")
    return text


class CorpusScreen(Screen[None]):
    """Build a corpus in a worker, with progress per stage and cancel; show a built one."""

    CSS_PATH = "corpus.tcss"
    BINDINGS = [
        Binding("ctrl+b", "build", "Build"),
        Binding("escape", "cancel_or_close", "Cancel / back"),
    ]

    running: reactive[bool] = reactive(False)

    def __init__(
        self,
        out: Path = DEFAULT_OUT,
        collections: tuple[str, ...] = MUSIC21_COLLECTIONS,
        folder: str = "",
        scales: str = DEFAULT_SCALES,
        jobs: int | None = None,
    ) -> None:
        super().__init__()
        self.start = (out, collections, folder, scales, jobs or batch_workers())
        self.cancel_event = threading.Event()
        self.stages: dict[str, tuple[int, int | None]] = {}  # the build's, as last shown
        self.tallies: list[Tally] = []  # the build's decisions so far, as shown
        self.confirmed: Path | None = None  # a finished corpus the user chose to rebuild
        self.shown: Path | None = None  # the folder read last

    def compose(self) -> ComposeResult:
        out, collections, folder, scales, jobs = self.start
        yield Header()
        with Vertical(id="corpus-form"):
            with Horizontal(classes="corpus-row"):
                yield Label("music21", classes="corpus-label")
                for name in MUSIC21_COLLECTIONS:
                    yield MarkedCheckbox(name, name in collections, id=f"m21-{name}")
            with Horizontal(classes="corpus-row"):
                yield Label("Folder", classes="corpus-label")
                yield Input(folder, placeholder="a folder of .abc files, or one", id="folder")
                yield Label("IrishMAN", classes="corpus-label")
                yield Input(placeholder="export folder (train.json), or hub", id="irishman")
            with Horizontal(classes="corpus-row"):
                yield Label("Scales", classes="corpus-label")
                yield Input(scales, id="scales")
                yield Label("Transpose", classes="corpus-label")
                yield Input("none", id="transpose")
                yield Label("Jobs", classes="corpus-label")
                yield Input(str(jobs), type="integer", id="jobs")
                yield Label("Output", classes="corpus-label")
                yield Input(str(out), id="out")
                yield Button("Build", variant="primary", id="build")
                yield Button("Cancel", variant="error", id="cancel", disabled=True)
        with Horizontal(id="corpus-status-row"):
            yield Static(Text(HELP, style="dim"), id="corpus-status")
            yield ProgressBar(total=1, show_eta=False, id="corpus-progress")
        with Horizontal(id="corpus-tables"):
            yield DataTable(id="corpus-stages", cursor_type="none", show_cursor=False)
            yield DataTable(id="corpus-splits", cursor_type="none", show_cursor=False)
        yield Static("", id="corpus-summary")
        with Horizontal(id="corpus-plots"):
            for column, title in HISTOGRAMS:
                yield LengthHistogram(title, id=f"hist-{column}")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#corpus-stages", DataTable).add_columns("stage", "done", "of")
        self.query_one("#corpus-splits", DataTable).add_columns(*SPLIT_COLUMNS)
        self.query_one(MarkedCheckbox).focus()  # the form from its top; ctrl+b builds from anywhere
        self.show_corpus(self.out_dir())

    def on_unmount(self) -> None:
        self.cancel_event.set()  # leaving (or quitting) stops the build at its next step

    def value(self, id: str) -> str:
        return self.query_one(f"#{id}", Input).value.strip()

    def out_dir(self) -> Path:
        return Path(self.value("out") or str(DEFAULT_OUT)).expanduser()

    def say(self, message: str, style: str = "") -> None:
        self.query_one("#corpus-status", Static).update(Text(message, style=style))

    def watch_running(self, running: bool) -> None:
        self.query_one(ProgressBar).display = running  # a bar, idle, would only say 0%
        self.query_one("#build", Button).disabled = running
        self.query_one("#cancel", Button).disabled = not running
        for widget in self.query("#corpus-form Input, #corpus-form MarkedCheckbox"):
            widget.disabled = running

    @on(Button.Pressed, "#build")
    def action_build(self) -> None:
        if self.running:
            return
        out = self.out_dir()
        ticked = [n for n in MUSIC21_COLLECTIONS if self.query_one(f"#m21-{n}").value]
        try:
            sources = chosen_sources(ticked, self.value("folder"), self.value("irishman"))
            scales = tuple(sorted({parse_scale(s) for s in self.value("scales").split()}))
            settings = BuildSettings(scales=scales, transpose=self.value("transpose"))
            jobs = int(self.value("jobs") or 1)
            if jobs < 1:
                raise ValueError("jobs: at least 1")
        except ValueError as err:
            return self.say(f"✗ {first_line(err)}", "bold red")
        state = folder_state(out)
        if state == "other":
            return self.say(f"✗ {out} is not a corpus folder: choose another output", "bold red")
        if state == "complete" and self.confirmed != out:
            # Rebuilding replaces the corpus there (as the command line does): ask once.
            self.confirmed = out
            return self.say(
                f"{out} holds a finished corpus: Ctrl+B again rebuilds it in place "
                "(unchanged tunes come from its cache)",
                "bold yellow",
            )
        self.confirmed = None
        self.cancel_event = threading.Event()
        self.stages, self.tallies = {}, []
        self.show_stages({}, "")
        self.say(f"building {out} from {', '.join(sources)} …")
        self.running = True
        self.build(sources, out, settings, jobs)

    @on(Button.Pressed, "#cancel")
    def cancel(self) -> None:
        if self.running and not self.cancel_event.is_set():
            self.cancel_event.set()
            self.say("cancelling: stopping at the next step…", "yellow")

    def action_cancel_or_close(self) -> None:
        if self.running:
            self.cancel()
        else:
            self.dismiss()

    @work(thread=True, exclusive=True, group="corpus-build", exit_on_error=False)
    def build(self, sources: list[str], out: Path, settings: BuildSettings, jobs: int) -> None:
        """build_corpus in a worker thread; its progress callback posts each stage to the
        screen (at most every POST_S per stage) and raises BuildCancelled once cancelled."""
        cancel, stages, posted = self.cancel_event, {}, {}

        def post(callback, *args) -> None:
            with contextlib.suppress(RuntimeError):  # the app closed while the build ran
                self.app.call_from_thread(callback, *args)

        def progress(stage: str, done: int, total: int | None) -> None:
            if cancel.is_set():
                raise BuildCancelled
            stages[stage] = (done, total)
            now = time.monotonic()
            if now - posted.get(stage, 0.0) >= POST_S or done == total:
                posted[stage] = now
                post(self.show_stages, dict(stages), stage)

        last: list[Tally] = []

        def tally(counts: Tally) -> None:
            last[:] = [counts]
            now = time.monotonic()
            if now - posted.get("tally", 0.0) >= POST_S:
                posted["tally"] = now
                post(self.show_tally, counts)

        try:
            report = build_corpus(sources, out, settings, jobs=jobs, progress=progress, tally=tally)
        except BuildCancelled:
            if last:
                post(self.show_tally, last[0])
            return post(self.ended, stages, out, None, "")
        except Exception as err:  # a bad source, an unwritable folder, the builder's bug
            return post(self.ended, stages, out, None, first_line(err))
        if last:  # the final counts, whatever the last one posted
            post(self.show_tally, last[0])
        post(self.ended, stages, out, report, "")

    def show_tally(self, counts: Tally) -> None:
        if self.running:  # a late one after the end would hide the corpus's summary
            self.tallies.append(counts)
            self.query_one("#corpus-summary", Static).update(tally_text(counts))

    def show_stages(self, stages: dict[str, tuple[int, int | None]], current: str) -> None:
        self.stages = stages
        table = self.query_one("#corpus-stages", DataTable)
        table.clear()
        for stage, (done, total) in stages.items():
            table.add_row(stage, str(done), "?" if total is None else str(total))
        if current:
            done, total = stages[current]
            self.query_one(ProgressBar).update(total=total, progress=done)

    def ended(self, stages: dict, out: Path, report: BuildReport | None, error: str) -> None:
        """The build's end: finished (``report``), failed (``error``) or cancelled."""
        self.running = False
        self.show_stages(stages, "")
        if report is not None:
            c = report.manifest["counts"]
            self.say(
                f"built {out}: {c['pairs_kept']} pairs kept · {report.computed} results "
                f"computed, {report.cached} from the cache",
                "bold green",
            )
        elif error:
            self.say(f"✗ build stopped: {error}", "bold red")
        else:
            self.say("cancelled; build again to resume from the cache", "bold yellow")
        self.show_corpus(out, keep_status=True)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "out":
            self.show_corpus(self.out_dir())

    def show_corpus(self, folder: Path, keep_status: bool = False) -> None:
        """Read this folder's corpus; the tables and plots are emptied until it is read."""
        self.shown = folder
        self.query_one("#corpus-splits", DataTable).clear()
        self.query_one("#corpus-summary", Static).update("")
        for plot in self.query(LengthHistogram):
            plot.show({})
        if not keep_status:
            self.say(f"reading {folder} …", "dim")
        self.read(folder, keep_status)

    @work(thread=True, exclusive=True, group="corpus-read")
    def read(self, folder: Path, keep_status: bool) -> tuple[Path, CorpusView | str, bool]:
        """The corpus in ``folder``, or why there is none (one line)."""
        state = folder_state(folder)
        if state in ("absent", "empty"):
            return folder, f"no corpus in {folder} yet: Ctrl+B builds one", keep_status
        if state == "incomplete":
            why = f"{folder}: its build did not finish; build again to resume from the cache"
            return folder, why, keep_status
        try:
            return folder, read_corpus(folder), keep_status
        except READ_ERRORS as err:
            return folder, f"cannot read the corpus in {folder}: {first_line(err)}", keep_status

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "corpus-read" or event.state != WorkerState.SUCCESS:
            return
        folder, view, keep_status = event.worker.result
        if folder != self.shown:  # another folder was asked for since
            return
        if isinstance(view, str):
            if not keep_status:
                self.say(view, "bold red" if "cannot" in view else "")
            return
        if not keep_status:
            self.say(f"{folder}: a finished corpus", "bold")
        self.query_one("#corpus-summary", Static).update(view.summary)
        table = self.query_one("#corpus-splits", DataTable)
        for row in view.split_rows:
            table.add_row(*row)
        for column, _ in HISTOGRAMS:
            data = {split: lengths[column] for split, lengths in view.lengths.items()}
            limit = view.max_patches if column == "patches" else None
            self.query_one(f"#hist-{column}", LengthHistogram).show(data, limit)
