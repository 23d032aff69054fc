"""Naming every tune before any is converted: the name decides its split and its place in the
order, so the builder knows which tunes it needs before it spends time on them.

A tune's name is :func:`corpus.pipeline.tune_id` of its notes *as written*, read by the
symbolic converter's native reader with chord symbols off (a few milliseconds a tune, against
a few hundred for normalising and validating it): every copy of a tune in another key or
another notation gets the same name, so it lands in the same split. A tune the converter cannot
read, or that has no notes, is named by a hash of its text instead (without its ``X:`` line
and blank lines). The name depends neither on the build's settings nor on the other tunes.

Names are cached by the tune's text and the code that reads it. A tune whose naming is stopped
at the time limit, runs out of memory or crashes its worker is named by its text and not
cached (the only way the same tune could be named otherwise on another run).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from abcmidi_bgpt.core.isolation import Task, WorkerPool

from .cache import CODE_MODULES, ResultCache, code_fingerprint, result_key
from .pipeline import tune_id
from .sources import SourceTune

NAMING_MODULES = (*CODE_MODULES, "corpus/naming.py")
CHUNK = 64  # tunes per worker task: naming is quick, a task per tune would cost more than it


def notes_name(text: str) -> str:
    """The name of a tune from its notes as written; '' when it has none or cannot be read."""
    from abcmidi_bgpt.symbolic.abc_to_midi.render import abc_to_midi

    try:
        performance = abc_to_midi(text, chords=False, reader="native").performance
    except MemoryError:
        raise
    except Exception:  # any failure to read: the tune is named by its text
        return ""
    if not any(v.notes for v in performance.voices):
        return ""
    return tune_id(performance)


def notes_names(texts: Sequence[str]) -> list[str]:
    """:func:`notes_name` of each text (one worker task)."""
    return [notes_name(t) for t in texts]


def text_name(text: str) -> str:
    """The name of a tune from its text: its lines without the ``X:`` field or blank lines."""
    lines = [line.strip() for line in text.splitlines()]
    kept = [line for line in lines if line and not line.startswith("X:")]
    return hashlib.sha256("\n".join(kept).encode("utf-8")).hexdigest()[:16]


def name_tunes(
    tunes: Sequence[SourceTune],
    cache: ResultCache,
    pool: WorkerPool,
    timeout_s: float | None,
    progress: Callable[[str, int, int | None], None],
) -> tuple[list[str], int, int]:
    """Every tune's name, from the cache or worked out in ``pool``; also how many were named
    by their text and how many were worked out in this run."""
    code = code_fingerprint(NAMING_MODULES)
    keys = [result_key(code, {}, t.content_hash, "name") for t in tunes]
    found = [cache.get_name(k) for k in keys]
    todo = [i for i, name in enumerate(found) if name is None]
    stage = "naming tunes"
    done = len(tunes) - len(todo)
    progress(stage, done, len(tunes))
    chunks = [todo[start : start + CHUNK] for start in range(0, len(todo), CHUNK)]
    while chunks:
        retry: list[list[int]] = []
        # A chunk gets one tune's time: past it, one of its tunes is slow, and each tune of
        # the chunk is tried again alone with the same limit.
        tasks = [Task(([tunes[i].text for i in c],), timeout_s or None) for c in chunks]
        for j, outcome in pool.run(notes_names, tasks):
            chunk = chunks[j]
            if not outcome.ok and len(chunk) > 1:
                retry.extend([i] for i in chunk)  # one tune stopped the chunk: find which
                continue
            names = outcome.value if outcome.ok else [""]
            for i, name in zip(chunk, names, strict=True):
                found[i] = name
                if outcome.ok:
                    cache.put_name(keys[i], name)
            done += len(chunk)
            progress(stage, done, len(tunes))
        chunks = retry
    cache.commit()
    by_text = sum(1 for name in found if not name)
    names = [name or text_name(t.text) for name, t in zip(found, tunes, strict=True)]
    return names, by_text, len(todo)
