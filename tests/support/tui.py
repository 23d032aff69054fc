"""What the TUI tests share: running a pilot test, waiting for the app, selecting a file."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

from abcmidi_bgpt.formats.abc.text import read_abc_file, split_tunes
from abcmidi_bgpt.tui.app import AbcMidiApp
from abcmidi_bgpt.tui.widgets.library_tree import LibraryTree

SIZE = (120, 40)


def pilot_test(test):
    """Run an async test (the pilot's API is async) without an async pytest plugin."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        asyncio.run(test(*args, **kwargs))

    return run


def corpus() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


def oneills() -> dict:
    tunes = split_tunes(read_abc_file(corpus() / "oneills1850" / "0001-0050.abc"))
    return {t.number: t for t in tunes}


async def settle(pilot) -> None:
    """Wait until the ABC pane's delayed check and every worker are done, then for the
    screen (at most 30 s: a slow machine runs late, it does not fail)."""
    app = pilot.app
    pane = app.main.abc_pane
    for _ in range(300):
        await pilot.pause(0.1)
        if not pane.check_pending and not any(w.is_running for w in app.workers):
            break
    await app.workers.wait_for_complete()
    await pilot.pause()


async def select(pilot, *labels: str) -> None:
    """Move the tree's cursor to the node reached by label prefixes, opening on the way."""
    await pilot.pause()  # the main screen composes after the app is ready
    tree = pilot.app.query_one(LibraryTree)
    node = tree.root
    for label in labels:
        node.expand()
        await pilot.pause()
        node = next(c for c in node.children if str(c.label).startswith(label))
    tree.move_cursor(node)
    await settle(pilot)


async def save_where_proposed(pilot) -> None:
    """Ctrl+S, then Enter in the save dialog: save to the path it proposes."""
    await pilot.press("ctrl+s")
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()


def labels(node) -> list[str]:
    return [str(child.label) for child in node.children]


def status(app: AbcMidiApp) -> str:
    return str(app.query_one("#abc-status").render())


def facts(app: AbcMidiApp) -> str:
    return str(app.query_one("#midi-facts").render())


def notifications(app: AbcMidiApp) -> list[str]:
    return [n.message for n in app._notifications]


async def wait_for(pilot, condition, seconds: float = 60.0) -> None:
    """Wait until ``condition()`` holds, at most ``seconds`` (a busy machine runs late; it
    does not fail), then check it."""
    for _ in range(int(seconds * 10)):
        if condition():
            return
        await pilot.pause(0.1)
    assert condition()


async def open_screen(pilot, key: str, screen_type: type):
    """Press ``key`` on the main screen and return the screen it opened, of ``screen_type``."""
    await pilot.pause()  # the main screen composes after the app is ready
    await pilot.press(key)
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, screen_type)
    return screen
