"""Data flows one way, up the layers of the package (``abcmidi_bgpt/``, lowest first):

    core < formats < symbolic < checks < bgpt < engines < reports

then the corpus builder (``corpus/``, imported as ``abcmidi_bgpt.corpus``) and the TUI
(``tui/``, imported as ``abcmidi_bgpt.tui``), which use the library, and on top the interface
layer: the command line (``abcmidi_bgpt/cli/``, ``abcmidi_bgpt/__main__.py``). A module never imports a module of a higher layer, and
the modules import one another without a cycle, counting imports inside functions.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

from tests.support.paths import REPO

LAYERS = [
    "core",
    "formats",
    "symbolic",
    "checks",
    "bgpt",
    "engines",
    "reports",
    "corpus",
    "tui",
    "cli",
]
# typer modules: the cli layer
INTERFACE = {"abcmidi_bgpt.__main__"}
# Folder -> the package name it is imported under (pyproject.toml's package-dir).
PACKAGES = {
    "abcmidi_bgpt": "abcmidi_bgpt",
    "corpus": "abcmidi_bgpt.corpus",
    "tui": "abcmidi_bgpt.tui",
}


def module_files(root: Path = REPO) -> dict[str, Path]:
    """Every module of the three folders, by dotted name (a package by its own name)."""
    modules = {}
    for folder, package in PACKAGES.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = list(path.relative_to(root / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join([package, *parts])] = path
    return modules


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``name`` imports anywhere in its file (inside functions
    and ``if TYPE_CHECKING:`` too), relative imports resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            # ``from package import module`` imports the module; ``from module import name``
            # the module.
            targets = [
                f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:  # ``import a.b.c`` of a name inside a.b
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(root: Path = REPO) -> dict[str, set[str]]:
    modules = module_files(root)
    return {name: imported_modules(name, path, set(modules)) for name, path in modules.items()}


def layer_of(module: str) -> int | None:
    """The layer's rank; None for the front door (``abcmidi_bgpt``, which loads its names
    lazily, importing nothing) and for a module in no layer."""
    if module in INTERFACE:
        return LAYERS.index("cli")
    parts = module.split(".")
    layer = parts[1] if len(parts) > 1 else None
    return LAYERS.index(layer) if layer in LAYERS else None


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    offenders = []
    for module, imports in sorted(graph.items()):
        rank = layer_of(module)
        for target in sorted(imports):
            target_rank = layer_of(target)
            if rank is not None and target_rank is not None and target_rank > rank:
                offenders.append(
                    f"{module} ({LAYERS[rank]}) imports {target} ({LAYERS[target_rank]})"
                )
    return offenders


def import_cycle(graph: dict[str, set[str]]) -> list[str]:
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        return list(err.args[1])
    return []


def test_every_module_has_a_layer():
    assert [m for m in module_files() if layer_of(m) is None] == ["abcmidi_bgpt"]


def test_no_module_imports_a_higher_layer():
    assert upward_imports(import_graph()) == []


def test_no_import_cycle():
    assert import_cycle(import_graph()) == []


def test_the_checks_see_a_planted_violation(tmp_path):
    """Each check fails on what it must catch: a core module that imports an engine (upward),
    and that engine importing it back (a cycle, here inside a function)."""
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            copy = tmp_path / path.relative_to(REPO)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(path.read_text())
    (tmp_path / "abcmidi_bgpt/core/errors.py").write_text(
        "from ..engines import batch\n", encoding="utf-8"
    )
    batch = tmp_path / "abcmidi_bgpt/engines/batch.py"
    batch.write_text(batch.read_text() + "\ndef f():\n    from abcmidi_bgpt.core import errors\n")
    graph = import_graph(tmp_path)
    assert "abcmidi_bgpt.core.errors (core) imports abcmidi_bgpt.engines.batch (engines)" in (
        upward_imports(graph)
    )
    cycle = import_cycle(graph)
    assert {"abcmidi_bgpt.core.errors", "abcmidi_bgpt.engines.batch"} <= set(cycle)


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_nothing_imports_corpus_or_tui_as_top_level_names():
    """Installed, they exist only as abcmidi_bgpt.corpus and abcmidi_bgpt.tui; a top-level
    ``import corpus`` would find a user's folder of that name instead."""
    offenders = {}
    for folder in ("abcmidi_bgpt", "corpus", "tui", "tests", "scripts"):
        for path in sorted((REPO / folder).rglob("*.py")):
            bad = imported_packages(path) & {"corpus", "tui"}
            if bad:
                offenders[str(path.relative_to(REPO))] = sorted(bad)
    assert offenders == {}


def test_pyproject_installs_every_package_under_its_name():
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {package: REPO / folder for folder, package in PACKAGES.items()}
    assert {k: REPO / v for k, v in config["package-dir"].items()} == {
        k: v for k, v in folders.items() if k != "abcmidi_bgpt"
    }
    found = set()
    for package, folder in folders.items():
        for init in folder.rglob("__init__.py"):
            parts = init.parent.relative_to(folder).parts
            found.add(".".join([package, *parts]))
    assert sorted(config["packages"]) == sorted(found)


def test_cli_start_up_imports_no_heavy_library():
    import subprocess
    import sys

    code = (
        "import sys, abcmidi_bgpt.cli.app;"
        "print(sorted(m for m in ('torch', 'textual', 'music21', 'datasets', 'transformers')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_corpus_cache_key_covers_all_code_the_pipeline_runs():
    """Cached results are keyed by a hash of the code that makes them (corpus.cache): a module
    the pipeline reaches but the hash leaves out would let a changed converter reuse stale
    results."""
    from abcmidi_bgpt.corpus.cache import CODE_MODULES

    graph, files = import_graph(), module_files()
    reached, todo = set(), ["abcmidi_bgpt.corpus.pipeline"]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo += graph[module]
    paths = {str(files[m].relative_to(REPO)) for m in reached if files[m].name != "__init__.py"}
    assert sorted(paths - set(CODE_MODULES)) == []


def _imported_names(path: Path, root: Path = REPO) -> set[str]:
    """Every dotted name ``path`` imports (relative imports resolved), and each name it takes
    from a module as ``module.name``."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return names


def test_tests_share_code_through_conftest_and_support_only():
    """A test module never imports another test module, conftest, or a script: what tests
    share lives in tests/conftest.py (fixtures) and tests/support/ (helpers)."""
    offenders = sorted(
        (str(path.relative_to(REPO)), name)
        for path in (REPO / "tests").rglob("*.py")
        for name in _imported_names(path)
        if name.startswith(("scripts", "tests.conftest", "tests.test_"))
    )
    assert offenders == []


def test_scripts_import_without_path_hacks_or_circles():
    graph = {}
    for path in sorted((REPO / "scripts").glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        touches_path = any(
            isinstance(node, ast.Attribute)
            and node.attr == "path"
            and isinstance(node.value, ast.Name)
            and node.value.id == "sys"
            for node in ast.walk(tree)
        )
        assert not touches_path, f"{path.name} uses sys.path"
        graph[path.stem] = {
            name.split(".")[1]
            for name in _imported_names(path)
            if name.startswith("scripts.")
            and (REPO / "scripts" / f"{name.split('.')[1]}.py").exists()
        } - {path.stem}
    assert import_cycle(graph) == []


MAX_LINES = 400


def test_a_long_module_says_why_it_is_long():
    """A module past MAX_LINES lines either splits or gives the reason it is one at its top."""
    unexplained = []
    for name, path in module_files().items():
        text = path.read_text()
        doc = ast.get_docstring(ast.parse(text)) or ""
        if text.count("\n") > MAX_LINES and "Why one module" not in doc:
            unexplained.append(f"{name} ({text.count(chr(10))} lines)")
    assert unexplained == []
