"""Rendering pairs through the result cache, in worker processes, in the corpus's order.

A pass renders some rounds (round 0: tunes in their own key; round r >= 1: each tune's r-th
transposition) of a list of tunes in order, and hands every pair to a
:class:`corpus.selection.Selection` as soon as it and every pair before it in the corpus's order
are rendered (round by round, then the list's order). Work is handed to the workers in that
order too, so a pass asked to stop quits handing out work as soon as the selection is full:
the pairs after that point are never rendered (those already under way finish and are cached).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from abcmidi_bgpt.core.isolation import ERROR, Outcome, Task, WorkerPool

from .cache import ResultCache, result_key
from .folder import Candidate, Failure
from .pipeline import (
    PIPELINE_VERSION,
    PipelineSettings,
    Rendered,
    TuneOutcome,
    render_transpositions,
    render_tune,
)
from .selection import Selection
from .sources import SourceTune
from .splits import shift_order

PHASES = ("convert", "transpose")


@dataclass(slots=True)
class Renderer:
    """Everything a pass needs besides its tunes and rounds; keeps count of the work done."""

    tunes: Sequence[SourceTune]
    names: Sequence[str]  # each tune's name (corpus.naming)
    splits: Sequence[str]  # each tune's split
    seed: int
    pipeline: PipelineSettings
    cache: ResultCache
    workers: Workers
    code: str
    progress: Callable[[str, int, int | None], None]
    cached: int = 0  # results taken from the cache
    # per phase ('convert', 'transpose'): [results computed, CPU seconds]
    work: dict[str, list] = field(default_factory=lambda: {p: [0, 0.0] for p in PHASES})

    def shift(self, i: int, round_: int) -> int:
        """The semitones tune ``i`` is moved by in round ``round_``."""
        return shift_order(self.names[i], self.seed)[round_ - 1] if round_ else 0

    def key(self, i: int, round_: int) -> str:
        """The cache key of tune ``i`` in round ``round_``."""
        fields = {**self.pipeline.cache_fields(), "pipeline": PIPELINE_VERSION}
        kind = f"shift{self.shift(i, round_):+d}" if round_ else "tune"
        return result_key(self.code, fields, self.tunes[i].content_hash, kind)

    def run_pass(self, order: list[int], rounds: list[int], selection: Selection, stop: bool):
        """Render ``rounds`` (all 0, or all >= 1) of the tunes ``order``, feeding
        ``selection`` in the corpus's order; with ``stop``, no more work once it is full."""
        stage = "converting tunes" if rounds == [0] else "transposing"
        found: list[dict[int, dict]] = [{} for _ in order]
        todo: list[tuple[int, list[int]]] = []  # (place in order, rounds not in the cache)
        for k, i in enumerate(order):
            for r in rounds:
                key = self.key(i, r)
                meta = self.cache.get_meta(key)
                if meta is not None:
                    found[k][r] = {**meta, "cache_key": key}
            missing = [r for r in rounds if r not in found[k]]
            if missing:
                todo.append((k, missing))
        total = len(order) * len(rounds)
        done = total - sum(len(m) for _, m in todo)
        self.cached += done
        self.progress(stage, done, total)
        feed = _Feed(order, rounds, found, self._hand_over(selection))
        feed.advance()
        if stop and selection.full:
            return
        cancel = threading.Event()
        fn, args = self._tasks(order, todo)
        phase = self.work["convert" if rounds == [0] else "transpose"]
        for j, value in self.workers.run(fn, args, cancel, keys=lambda a: len(missing_of(a))):
            k, missing = todo[j]
            shifts = [self.shift(order[k], r) for r in missing]
            results = _results(value, shifts)
            for r, (rendered, tune_id, fifths) in zip(missing, results, strict=True):
                key = self.key(order[k], r)
                meta = _meta(rendered, tune_id, fifths)
                self.cache.put(key, meta, rendered)
                found[k][r] = {**meta, "cache_key": key}
                phase[0] += 1
                phase[1] += rendered.cpu_seconds
            done += len(missing)
            self.progress(stage, done, total)
            feed.advance()
            if stop and selection.full:
                cancel.set()

    def _tasks(self, order, todo) -> tuple[Callable, list[tuple]]:
        """The worker function and its arguments for the pairs not in the cache."""
        if todo and todo[0][1] == [0]:
            args = [(self.tunes[order[k]].text, self.pipeline, self.tunes[order[k]].key)
                    for k, _ in todo]  # fmt: skip
            return render_tune, args
        args = []
        for k, missing in todo:
            i = order[k]
            shifts = [self.shift(i, r) for r in missing]
            args.append((self.tunes[i].text, shifts, self.pipeline, self.tunes[i].key))
        return render_transpositions, args

    def _hand_over(self, selection: Selection) -> Callable[[int, int, dict], None]:
        def hand_over(i: int, round_: int, meta: dict) -> None:
            tune = self.tunes[i]
            if meta["stage"]:
                failure = Failure(tune.key, meta["stage"], meta["reason"], meta["transpose"])
                selection.take_failure(round_, failure)
            else:
                pair = _candidate(meta, i, tune.key, self.names[i], round_)
                selection.take(self.splits[i], pair)

        return hand_over


@dataclass(slots=True)
class _Feed:
    """Hands pairs over in the corpus's order, as far as every earlier one is rendered."""

    order: list[int]
    rounds: list[int]
    found: list[dict[int, dict]]
    hand_over: Callable[[int, int, dict], None]
    _next: int = 0  # place in (round, place in order)

    def advance(self) -> None:
        n = len(self.order)
        while self._next < n * len(self.rounds):
            r, k = self.rounds[self._next // n], self._next % n
            meta = self.found[k].get(r)
            if meta is None:
                return
            self.hand_over(self.order[k], r, meta)
            self._next += 1


def missing_of(args: tuple) -> list:
    """The keys a task renders: its shifts (render_transpositions), or the tune's own key."""
    return args[1] if isinstance(args[1], list) else [0]


def _results(value, shifts: list[int]) -> list[tuple[Rendered, str, int | None]]:
    """A worker's value as (rendered, normalised tune_id, fifths) per shift it was asked for
    (``[0]``: render_tune's value)."""
    if shifts == [0]:
        outcome = value if isinstance(value, TuneOutcome) else TuneOutcome(value)
        return [(outcome.rendered, outcome.tune_id, outcome.fifths)]
    if isinstance(value, Rendered):  # the worker did not finish them
        return [(Rendered(s, stage=value.stage, reason=value.reason), "", None) for s in shifts]
    return [(rendered, "", None) for rendered in value]


def _meta(rendered: Rendered, tune_id: str, fifths: int | None) -> dict:
    shift = rendered.transpose
    abc = rendered.abc.encode("utf-8")
    meta = {
        "stage": rendered.stage,
        "reason": rendered.reason,
        "tune_id": tune_id,  # the normalised notes' name; the corpus names tunes as written
        "transpose": shift,
        "key": rendered.key,
        "meter": rendered.meter,
        "abc_sha": hashlib.sha256(abc).hexdigest(),
        "abc_bytes": len(abc),
        "midi_bytes": len(rendered.midi),
    }
    if fifths is not None:
        meta["fifths"] = fifths
    return meta


def _candidate(meta: dict, index: int, source: str, name: str, round_: int) -> Candidate:
    return Candidate(
        meta["cache_key"], index, source, name, meta["transpose"], round_, meta["abc_sha"],
        meta["abc_bytes"], meta["midi_bytes"], meta["key"], meta["meter"],
    )  # fmt: skip


class Workers:
    """Runs a pipeline function over argument tuples in worker processes, yielding (index,
    result) as results arrive (:class:`abcmidi_bgpt.core.isolation.WorkerPool`, whatever ``jobs``).

    Each unit is killed at its time limit (the per-tune limit once per key it renders) and
    each worker held to the memory limit. A unit that does not finish comes back as a
    ``Rendered`` failure -- stage 'timeout', 'memory' or 'crash', never cached -- and the next
    one goes to a fresh worker; workers that die as they start fail the rest (no endless
    restarts)."""

    def __init__(self, jobs: int, settings: PipelineSettings, preload: Sequence[str]):
        self.timeout = settings.timeout_s or None
        self.pool = WorkerPool(jobs, settings.memory_gib, preload)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc) -> None:
        self.pool.close()

    def run(self, fn, args: list[tuple], cancel: threading.Event, keys: Callable[[tuple], int]):
        """``keys(args)``: how many keys a unit renders, each allowed the per-tune limit."""
        tasks = [Task(a, self.timeout * keys(a) if self.timeout else None) for a in args]
        for index, outcome in self.pool.run(fn, tasks, cancel):
            yield index, outcome.value if outcome.ok else _unfinished(outcome)


def _unfinished(outcome: Outcome) -> Rendered:
    """The failure of a unit whose worker did not return its result."""
    stage = "internal" if outcome.failure == ERROR else outcome.failure
    return Rendered(0, stage=stage, reason=outcome.reason)
