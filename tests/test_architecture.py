"""The import graph of the first-party modules: no cycles, and the layers only import downwards.

Every module of the packages listed in ``pyproject.toml`` is parsed with ``ast``; all its imports
count, those inside functions and under ``TYPE_CHECKING`` included. Relative imports are resolved,
and ``from pkg import name`` counts as importing ``pkg.name`` when that is a module, else ``pkg``.
Importing ``a.b.c`` is an edge to ``a.b.c`` only, not to the packages ``a`` and ``a.b`` above it, so
a package ``__init__`` that re-exports its own modules is not a cycle.

Layers: ``embedbench`` core (the shared modules and the data layer) imports none of prep, train or
evalsuite; train and evalsuite never import prep; only the CLI itself (and ``__main__``) imports the CLI.
"""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = "embedbench.cli"
PIPELINES = ("embedbench.prep", "embedbench.train", "embedbench.evalsuite")


@dataclass(frozen=True)
class Import:
    """One import of a first-party module, with where it was written (``file:line``)."""

    source: str
    target: str
    where: str

    def __str__(self) -> str:
        return f"{self.source} imports {self.target} ({self.where})"


def package_folders() -> dict[str, Path]:
    """Each package of ``[tool.setuptools] packages`` and the folder ``package-dir`` maps it to."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    mapped = setuptools.get("package-dir", {})
    folders = {}
    for package in setuptools["packages"]:
        base = max((p for p in mapped if package == p or package.startswith(p + ".")), key=len, default=None)
        rest = package[len(base):].lstrip(".") if base else package
        folder = (ROOT / mapped[base]) if base else ROOT
        folders[package] = folder.joinpath(*rest.split(".")) if rest else folder
    return folders


@cache
def modules() -> dict[str, Path]:
    """Module name -> file, for every ``.py`` file of every installed package."""
    found = {}
    for package, folder in package_folders().items():
        for file in sorted(folder.glob("*.py")):
            found[package if file.stem == "__init__" else f"{package}.{file.stem}"] = file
    return found


def known(name: str, table: dict[str, Path]) -> str:
    """The longest module name of ``table`` that ``name`` starts with (``name`` itself when it is a module)."""
    parts = name.split(".")
    while parts and ".".join(parts) not in table:
        parts.pop()
    return ".".join(parts)


def imports_of(name: str, table: dict[str, Path]) -> list[Import]:
    """Every first-party import written anywhere in module ``name`` of ``table`` (module name -> file)."""
    file = table[name]
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]
    shown = file.relative_to(ROOT) if file.is_relative_to(ROOT) else file
    found = []
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), filename=str(file))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in table else base for a in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] == "embedbench" and (resolved := known(target, table)):
                found.append(Import(name, resolved, f"{shown}:{node.lineno}"))
    return found


@cache
def graph() -> dict[str, list[Import]]:
    table = modules()
    return {name: imports_of(name, table) for name in table}


def cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """One cycle (a closed path of module names) per strongly connected group of ``edges``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1 or v in edges[v]:
                groups.append(group)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return [closed_path(min(group), group, edges) for group in groups]


def closed_path(start: str, group: set[str], edges: dict[str, list[str]]) -> list[str]:
    """A shortest path from ``start`` back to itself inside ``group`` (breadth first)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in edges[v]:
                if w not in group:
                    continue
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if w not in previous:
                    previous[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no cycle through {start}")


def under(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def violations(sources: tuple[str, ...], forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    """Imports from modules under ``sources`` (minus ``allowed``) of modules under ``forbidden``."""
    return [
        str(i)
        for name, imps in graph().items()
        if under(name, *sources) and not under(name, *allowed)
        for i in imps
        if under(i.target, *forbidden)
    ]


def test_the_graph_sees_every_package_and_every_kind_of_import():
    names = modules()
    for package in ("embedbench", "embedbench.data", CLI, *PIPELINES):
        assert package in names, f"{package} not found; check [tool.setuptools] in pyproject.toml"
    missing = sorted(
        str(init.parent.relative_to(ROOT))
        for folder in ("embedbench", "prep", "train", "evalsuite")
        for init in (ROOT / folder).rglob("__init__.py")
        if init not in names.values()
    )
    assert not missing, f"packages missing from [tool.setuptools] packages in pyproject.toml: {missing}"
    assert any(i.target == CLI for i in graph()["embedbench.__main__"])


def test_relative_function_level_and_type_checking_imports_all_count(tmp_path):
    pkg = tmp_path / "embedbench" / "fake"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .b import x\n")
    (pkg / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import b\n"
        "def f():\n    from embedbench.fake import c, thing\n    import embedbench.fake.b.missing\n"
    )
    (pkg / "b.py").write_text("from ..fake import a\nimport numpy\n")
    (pkg / "c.py").write_text("")
    table = {"embedbench.fake" + ("" if p.stem == "__init__" else "." + p.stem): p for p in pkg.glob("*.py")}
    assert sorted(i.target for i in imports_of("embedbench.fake.a", table)) == [
        "embedbench.fake", "embedbench.fake.b", "embedbench.fake.b", "embedbench.fake.c",
    ]
    assert [i.target for i in imports_of("embedbench.fake", table)] == ["embedbench.fake.b"]
    assert [i.target for i in imports_of("embedbench.fake.b", table)] == ["embedbench.fake.a"]
    assert str(imports_of("embedbench.fake.b", table)[0]).endswith("b.py:1)")


def test_cycles_are_found_and_printed_as_closed_paths():
    edges = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": [], "e": ["e"], "f": ["a"]}
    assert cycles(edges) == [["a", "b", "c", "a"], ["e", "e"]]
    assert cycles({"a": ["b"], "b": []}) == []


def test_no_import_cycles():
    found = cycles({name: sorted({i.target for i in imps}) for name, imps in graph().items()})
    assert not found, "import cycles (function-level imports count):\n" + "\n".join(" -> ".join(c) for c in found)


def test_core_imports_no_pipeline():
    entry_points = (CLI, "embedbench.__main__", "embedbench.pytest_plugin")  # the user-facing ways in
    bad = violations(("embedbench",), PIPELINES, allowed=(*entry_points, *PIPELINES))
    assert not bad, "embedbench core must not import prep, train or evalsuite:\n" + "\n".join(bad)


def test_train_and_evalsuite_never_import_prep():
    bad = violations(("embedbench.train", "embedbench.evalsuite"), ("embedbench.prep",))
    assert not bad, "train and evalsuite must not import prep (shared code lives in embedbench):\n" + "\n".join(bad)


def test_nothing_imports_the_cli_but_the_cli():
    bad = violations(("embedbench",), (CLI,), allowed=(CLI, "embedbench.__main__"))
    assert not bad, "only embedbench.cli and embedbench.__main__ may import embedbench.cli:\n" + "\n".join(bad)
