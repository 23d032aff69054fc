"""The file tree: folders, ABC files (expanding to their tunes) and MIDI files under a folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from abcmidi_bgpt.core.errors import ConversionError, first_line, reason_of
from abcmidi_bgpt.engines.batch import ABC_SUFFIXES, MIDI_SUFFIXES
from abcmidi_bgpt.formats.abc.text import AbcTune, read_abc_file, split_tunes


@dataclass(frozen=True, slots=True)
class FolderEntry:
    path: Path


@dataclass(frozen=True, slots=True)
class AbcFileEntry:
    """An ABC file: its tunes, or why it could not be read."""

    path: Path
    tunes: tuple[AbcTune, ...] = ()
    error: str = ""


@dataclass(frozen=True, slots=True)
class TuneEntry:
    path: Path
    tune: AbcTune
    tunes_in_file: int

    @property
    def key(self) -> tuple[Path, int]:
        """Identifies the tune across reloads of its file (for unsaved edits)."""
        return self.path, self.tune.index


@dataclass(frozen=True, slots=True)
class MidiFileEntry:
    path: Path


Entry = FolderEntry | AbcFileEntry | TuneEntry | MidiFileEntry


def read_abc_entry(path: Path, root: Path) -> AbcFileEntry:
    """Read and split an ABC file; a file that cannot be read gives an entry with the error."""
    try:
        tunes = split_tunes(read_abc_file(path), relative_name(path, root))
    except ConversionError as err:
        where = relative_name(Path(err.where), root) if err.where else relative_name(path, root)
        return AbcFileEntry(path, (), f"{where}: {reason_of(err)}")
    except OSError as err:  # its message names the file as it was opened: absolute
        return AbcFileEntry(path, (), first_line(err).replace(str(path), relative_name(path, root)))
    return AbcFileEntry(path, tuple(tunes))


def relative_name(path: Path, root: Path) -> str:
    """How the app names a file: relative to the folder it was opened on."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def tune_label(tune: AbcTune) -> str:
    number = f"X:{tune.number}" if tune.number else f"#{tune.index + 1}"
    return f"{number} {tune.title}" if tune.title else number


class LibraryTree(Tree[Entry]):
    """Folders load when opened; an ABC file with several tunes opens to list them."""

    BINDINGS = [
        Binding("f5,ctrl+r", "reload", "Reload", show=False),
    ]

    def __init__(self, root: Path, *, id: str | None = None) -> None:
        self.folder = root
        super().__init__(Text(f"{root.name or root}/"), FolderEntry(root), id=id)
        self.modified: set[tuple[Path, int]] = set()
        self._loaded: set[Path] = set()

    def on_mount(self) -> None:
        self.load_folder(self.root)
        self.root.expand()

    def load_folder(self, node: TreeNode[Entry]) -> None:
        """List a folder's subfolders and music files under its node."""
        entry = node.data
        assert isinstance(entry, FolderEntry)
        node.remove_children()
        self._loaded.add(entry.path)
        try:
            children = sorted(entry.path.iterdir(), key=lambda p: (not p.is_dir(), p.name.lower()))
        except OSError as err:
            node.add_leaf(Text(f"⚠ {err.strerror or err}", style="red"))
            return
        for path in children:
            if path.name.startswith("."):
                continue
            suffix = path.suffix.lower()
            if path.is_dir():
                node.add(Text(f"{path.name}/"), FolderEntry(path))
            elif suffix in ABC_SUFFIXES:
                self._add_abc_file(node, read_abc_entry(path, self.folder))
            elif suffix in MIDI_SUFFIXES:
                node.add_leaf(Text(path.name, style="bold #87afd7"), MidiFileEntry(path))

    def _add_abc_file(self, parent: TreeNode[Entry], entry: AbcFileEntry) -> None:
        label = Text(entry.path.name, style="bold #d7af87")
        if entry.error:
            label = Text.assemble(("⚠ ", "bold red"), label)
            parent.add_leaf(label, entry)
        elif len(entry.tunes) == 1:
            parent.add_leaf(self._tune_file_label(label, entry), entry)
        else:
            label.append(f"  {len(entry.tunes)} tunes", style="dim")
            node = parent.add(label, entry)
            for tune in entry.tunes:
                tune_entry = TuneEntry(entry.path, tune, len(entry.tunes))
                node.add_leaf(self._tune_label(tune_entry), tune_entry)

    def _tune_file_label(self, label: Text, entry: AbcFileEntry) -> Text:
        if (entry.path, 0) in self.modified:
            label.append(" ●", style="bold yellow")
        return label

    def _tune_label(self, entry: TuneEntry) -> Text:
        label = Text(tune_label(entry.tune))
        if entry.key in self.modified:
            label.append(" ●", style="bold yellow")
        return label

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[Entry]) -> None:
        entry = event.node.data
        if isinstance(entry, FolderEntry) and entry.path not in self._loaded:
            self.load_folder(event.node)

    def mark_modified(self, key: tuple[Path, int], modified: bool) -> None:
        """Show or hide the unsaved-edits mark on a tune."""
        if modified == (key in self.modified):
            return
        if modified:
            self.modified.add(key)
        else:
            self.modified.discard(key)
        node = self.find_node(lambda e: _entry_key(e) == key)
        if node is None:
            return
        if isinstance(node.data, TuneEntry):
            node.set_label(self._tune_label(node.data))
        elif isinstance(node.data, AbcFileEntry):
            name = Text(node.data.path.name, style="bold #d7af87")
            node.set_label(self._tune_file_label(name, node.data))

    def find_node(self, match) -> TreeNode[Entry] | None:
        """The first loaded node whose entry satisfies ``match``."""
        stack = [self.root]
        while stack:
            node = stack.pop(0)
            if node.data is not None and match(node.data):
                return node
            stack.extend(node.children)
        return None

    def action_reload(self) -> None:
        """Read the folders again, keeping open folders open and the cursor where it was.

        The cursor passes over other nodes while the tree is rebuilt; those moves are not
        announced, so the panes keep showing (and converting) what they showed.
        """
        opened = {
            n.data.path
            for n in self._all_nodes()
            if isinstance(n.data, FolderEntry | AbcFileEntry) and n.is_expanded
        }
        cursor = self.cursor_node.data if self.cursor_node else None
        with self.prevent(Tree.NodeHighlighted):
            self._loaded.clear()
            self.load_folder(self.root)
            pending = [self.root]
            while pending:
                node = pending.pop(0)
                for child in node.children:
                    entry = child.data
                    if isinstance(entry, FolderEntry | AbcFileEntry) and entry.path in opened:
                        if isinstance(entry, FolderEntry):
                            self.load_folder(child)
                        child.expand()
                        pending.append(child)
            target = None
            self.last_line  # noqa: B018 - lays out the new lines, so that nodes know theirs
            if cursor is not None:
                target = self.find_node(lambda e: _same_place(e, cursor))
            if target is not None:
                self.move_cursor(target)
        if target is None or target.data != cursor:  # it moved or changed: show what is there
            self.call_after_refresh(self._announce_cursor)

    def _announce_cursor(self) -> None:
        if self.cursor_node is not None:
            self.post_message(Tree.NodeHighlighted(self.cursor_node))

    def _all_nodes(self) -> list[TreeNode[Entry]]:
        nodes, stack = [], [self.root]
        while stack:
            node = stack.pop()
            nodes.append(node)
            stack.extend(node.children)
        return nodes


def _entry_key(entry: Entry) -> tuple[Path, int] | None:
    if isinstance(entry, TuneEntry):
        return entry.key
    if isinstance(entry, AbcFileEntry) and len(entry.tunes) == 1:
        return entry.path, 0
    return None


def _same_place(a: Entry, b: Entry) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, TuneEntry):
        return a.key == b.key
    return a.path == b.path
