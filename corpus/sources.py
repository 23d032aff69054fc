"""Where tunes come from: one interface over IrishMAN, the music21 folk collections and folders.

A source is named by a string, as on the command line:

- ``music21`` -- the folk ABC collections shipped inside the music21 package (O'Neill's 1850,
  Ryan's Mammoth, Aird's Airs, Essen, misc folk: ~13,000 tunes), the embedded default;
  ``music21:oneills1850,ryansMammoth`` picks collections;
- ``irishman`` -- IrishMAN from the Hugging Face hub (``sander-wood/irishman``, its ``train`` and
  ``validation`` files); ``irishman:PATH`` reads the same JSON files from a folder (or one file);
- any other string is a folder of ``.abc`` files (searched recursively) or one ``.abc`` file.

Every source yields :class:`SourceTune` objects in a stable order; unreadable files become
:class:`SourceProblem` records, never exceptions, so one bad file does not stop a build.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from abcmidi_bgpt.core.errors import ConversionError, reason_of
from abcmidi_bgpt.formats.abc.text import read_abc_file, split_tunes

MUSIC21_COLLECTIONS = ("oneills1850", "ryansMammoth", "airdsAirs", "essenFolksong", "miscFolk")
IRISHMAN_REPO = "sander-wood/irishman"
IRISHMAN_FILES = {"train": "train.json", "validation": "validation.json"}
IRISHMAN_ABC_FIELD = "abc notation"


class SourceError(ValueError):
    """A source that cannot be read at all (unknown name, missing folder, hub unreachable)."""


@dataclass(frozen=True, slots=True)
class SourceTune:
    """One tune of a source: where it is (``key``, unique in a build) and its ABC text."""

    key: str  # e.g. "music21/oneills1850/0001-0050.abc#3" or "irishman/train/1234"
    text: str  # the tune with its file header, as abc2xml should read it

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class SourceProblem:
    key: str
    reason: str


@dataclass(slots=True)
class SourceTunes:
    """A source read: its tunes, the files it could not read, and facts for the manifest."""

    spec: str
    tunes: list[SourceTune] = field(default_factory=list)
    problems: list[SourceProblem] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def describe(self) -> dict:
        digest = hashlib.sha256()
        for tune in self.tunes:
            digest.update(tune.content_hash.encode())
        return {
            "spec": self.spec,
            **self.info,
            "tunes": len(self.tunes),
            "unreadable": len(self.problems),
            "content_sha256": digest.hexdigest(),
        }


def read_source(spec: str, cache_dir: str | Path | None = None) -> SourceTunes:
    """Read every tune of the source named by ``spec`` (see the module notes)."""
    name, _, arg = spec.partition(":")
    if name == "music21" and not Path(spec).exists():
        return music21_tunes(arg.split(",") if arg else MUSIC21_COLLECTIONS, spec)
    if name == "irishman" and not Path(spec).exists():
        return irishman_tunes(arg or None, cache_dir=cache_dir, spec=spec)
    path = Path(spec)
    if not path.exists():
        raise SourceError(f"{spec}: no such folder or file (sources: music21, irishman, a folder)")
    return folder_tunes(path, spec)


def music21_corpus_dir() -> Path:
    import music21  # the package data, not the library, is what is needed here

    return Path(music21.__file__).parent / "corpus"


def music21_tunes(collections=MUSIC21_COLLECTIONS, spec: str = "music21") -> SourceTunes:
    """The folk collections inside the installed music21 package."""
    import music21

    root = music21_corpus_dir()
    unknown = [c for c in collections if not (root / c).is_dir()]
    if unknown:
        known = ", ".join(MUSIC21_COLLECTIONS)
        raise SourceError(f"{spec}: no music21 collection {', '.join(unknown)} (known: {known})")
    result = SourceTunes(spec, info={"kind": "music21", "version": music21.__version__})
    result.info["collections"] = list(collections)
    files = 0
    for collection in collections:
        for path in sorted((root / collection).rglob("*.abc")):
            files += 1
            _add_file(result, path, f"music21/{path.relative_to(root).as_posix()}")
    result.info["files"] = files
    return result


def folder_tunes(path: Path, spec: str) -> SourceTunes:
    """Every ``.abc`` file under a folder (hidden ones skipped), or one file."""
    result = SourceTunes(
        spec, info={"kind": "folder" if path.is_dir() else "file", "path": str(path)}
    )
    if path.is_file():
        _add_file(result, path, path.name)
        result.info["files"] = 1
        return result
    paths = [
        p
        for p in sorted(path.rglob("*"))
        if p.is_file()
        and p.suffix.lower() == ".abc"
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    ]
    for p in paths:
        _add_file(result, p, f"{path.name}/{p.relative_to(path).as_posix()}")
    result.info["files"] = len(paths)
    return result


def _add_file(result: SourceTunes, path: Path, key: str) -> None:
    try:
        tunes = split_tunes(read_abc_file(path), str(path))
    except (ConversionError, OSError) as err:
        result.problems.append(SourceProblem(key, reason_of(err)))
        return
    for tune in tunes:
        result.tunes.append(SourceTune(f"{key}#{tune.index + 1}", tune.full_text))


def irishman_tunes(
    location: str | Path | None = None,
    cache_dir: str | Path | None = None,
    spec: str = "irishman",
) -> SourceTunes:
    """IrishMAN through Hugging Face ``datasets``: from the hub when ``location`` is None, else
    from a folder holding its ``train.json`` and ``validation.json`` (or from one JSON file).

    Each row's ``abc notation`` is one tune; the control codes are not used. The tune's key
    records IrishMAN's own split and row (``irishman/validation/17``).
    """
    import datasets

    if location is None:
        data_files = dict(IRISHMAN_FILES)
        try:
            loaded = datasets.load_dataset(
                IRISHMAN_REPO, data_files=data_files, cache_dir=_str(cache_dir)
            )
        except Exception as err:  # no network, no such revision, hub errors of every kind
            raise SourceError(
                f"{spec}: cannot load {IRISHMAN_REPO} from the Hugging Face hub "
                f"({type(err).__name__}); download {' and '.join(IRISHMAN_FILES.values())} "
                "and use --source irishman:FOLDER"
            ) from None
        origin = f"hf://datasets/{IRISHMAN_REPO}"
    else:
        path = Path(location)
        if path.is_dir():
            data_files = {
                s: str(path / f) for s, f in IRISHMAN_FILES.items() if (path / f).exists()
            }
        elif path.is_file():
            data_files = {"train": str(path)}
        else:
            raise SourceError(f"{spec}: no such folder or file {path}")
        if not data_files:
            raise SourceError(
                f"{spec}: {path} holds neither {' nor '.join(IRISHMAN_FILES.values())}"
            )
        try:
            loaded = datasets.load_dataset("json", data_files=data_files, cache_dir=_str(cache_dir))
        except Exception as err:  # malformed JSON surfaces as several error types
            raise SourceError(f"{spec}: cannot read {path} as IrishMAN JSON: {err}") from None
        origin = str(path)
    result = SourceTunes(spec, info={"kind": "irishman", "location": origin})
    result.info["rows"] = {}
    for split in IRISHMAN_FILES:
        if split not in loaded:
            continue
        table = loaded[split]
        if IRISHMAN_ABC_FIELD not in table.column_names:
            raise SourceError(
                f"{spec}: the {split} split has no {IRISHMAN_ABC_FIELD!r} column "
                f"(has {', '.join(table.column_names)})"
            )
        result.info["rows"][split] = len(table)
        for i, text in enumerate(table[IRISHMAN_ABC_FIELD]):
            key = f"irishman/{split}/{i}"
            if not isinstance(text, str) or not text.strip():
                result.problems.append(SourceProblem(key, "empty 'abc notation'"))
                continue
            try:
                tunes = split_tunes(text.replace("\r\n", "\n"), key)
            except ConversionError as err:
                result.problems.append(SourceProblem(key, reason_of(err)))
                continue
            for tune in tunes:
                suffix = f"#{tune.index + 1}" if len(tunes) > 1 else ""
                result.tunes.append(SourceTune(key + suffix, tune.full_text))
    return result


def _str(path: str | Path | None) -> str | None:
    return None if path is None else str(path)
