"""The package's shape: no import cycles, short modules and functions, and folders that tell the trust boundary.

Everything here reads the source with ``ast``; nothing is imported or run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograder.sandbox import CONTAINER_PACKAGES
from tests.conftest import ROOT

PACKAGE = ROOT / "autograder"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50

# Code over the limits, each with the most lines it may have: it may shrink, never grow.
LONG_MODULES: dict[str, int] = {}
"""Module -> the most lines it may have (over MAX_MODULE_LINES)."""
LONG_FUNCTIONS: dict[str, int] = {}
"""'module:function' -> the most lines it may have (over MAX_FUNCTION_LINES)."""


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The package's modules that ``name`` imports, at any depth of its code (TYPE_CHECKING blocks included:
    a cycle of type-only imports is a cycle of meaning all the same)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {_known(alias.name) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found |= {_known(f"{base}.{alias.name}") or _known(base) for alias in node.names}
    return {m for m in found if m and m != name}


def _known(dotted: str) -> str:
    """The longest package module that ``dotted`` names or lies in ('' outside the package)."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in MODULES:
            return ".".join(parts[:end])
    return ""


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _reachable(start: str, graph: dict[str, set[str]]) -> set[str]:
    found, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in found:
                found.add(nxt)
                todo.append(nxt)
    return found


def _cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The groups of modules that import each other, directly or not (strongly connected, two or more).

    An edge from a module to its own parent package is left out: Python runs ``a/__init__`` before
    ``a.b`` anyway, so that edge alone makes no cycle.
    """
    edges = {name: {m for m in deps if not name.startswith(m + ".")} for name, deps in graph.items()}
    reach = {name: _reachable(name, edges) for name in edges}
    return {frozenset({name} | {m for m in reach[name] if name in reach.get(m, ())})
            for name in edges if name in reach[name]}


def test_the_graph_sees_the_package() -> None:
    assert {"autograder.grading.batch", "autograder.sandbox.runc", "autograder.channel.kernel"} <= set(MODULES)
    assert "autograder.grading.options" in GRAPH["autograder.grading.batch"]
    assert "autograder.grading.options" in GRAPH["autograder.grading.warm"]  # a TYPE_CHECKING import counts
    assert "autograder.channel.wire" in GRAPH["autograder.channel.kernel"]


def test_no_import_cycles() -> None:
    cycles = sorted(" <-> ".join(sorted(group)) for group in _cycles(GRAPH))
    assert not cycles, "modules importing each other:\n" + "\n".join(cycles)


def test_a_cycle_would_be_found() -> None:
    graph = {**GRAPH, "autograder.results": {"autograder.grading.batch"}}  # batch imports results
    assert any("autograder.results" in group and "autograder.grading.batch" in group for group in _cycles(graph))
    assert not any("autograder.results" in group for group in _cycles(GRAPH))


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_modules_are_short() -> None:
    long = {name: _lines(path) for name, path in MODULES.items() if _lines(path) > MAX_MODULE_LINES}
    grown = {name: n for name, n in long.items() if n > LONG_MODULES.get(name, MAX_MODULE_LINES)}
    assert not grown, f"modules over {MAX_MODULE_LINES} lines (split them): {grown}"


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def test_functions_are_short() -> None:
    long: dict[str, int] = {}
    for name, path in MODULES.items():
        for func in _functions(ast.parse(path.read_text(encoding="utf-8"))):
            length = (func.end_lineno or func.lineno) - func.lineno + 1
            if length > MAX_FUNCTION_LINES:
                long[f"{name}:{func.name}"] = length
    grown = {key: n for key, n in long.items() if n > LONG_FUNCTIONS.get(key, MAX_FUNCTION_LINES)}
    assert not grown, f"functions over {MAX_FUNCTION_LINES} lines (split them): {grown}"


CONTAINER_SIDE = ("autograder", *(f"autograder.{name}" for name in CONTAINER_PACKAGES))
"""The only parts of the package mounted in the student's container."""
ENTRY_POINTS = ("autograder.channel.kernel", "autograder.student.checks", "autograder.student.audit",
                "autograder.datasets.mnist", "autograder.datasets.petimages")
"""What runs or is imported inside the container: the kernel, and what course notebooks import."""


def _closure(start: str) -> set[str]:
    found, todo = {start}, [start]
    while todo:
        for nxt in GRAPH[todo.pop()]:
            if nxt not in found:
                found.add(nxt)
                todo.append(nxt)
    return found


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_what_runs_in_the_container_imports_only_what_is_mounted_there(entry: str) -> None:
    outside = {m for m in _closure(entry) if m != "autograder" and not m.startswith(CONTAINER_SIDE[1:])}
    assert not outside, f"{entry} imports {sorted(outside)}, which the container does not have"


_TOP = ("autograder.service", "autograder.cli", "autograder.bench")
_ABOVE_SANDBOX = ("autograder.grading", "autograder.authoring", "autograder.gradebook", "autograder.checking", *_TOP)


@pytest.mark.parametrize(("folder", "above"), [
    ("channel", _ABOVE_SANDBOX), ("student", _ABOVE_SANDBOX), ("datasets", _ABOVE_SANDBOX),
    ("sandbox", _ABOVE_SANDBOX), ("grading", (*_TOP, "autograder.checking")),
    ("authoring", ("autograder.grading", "autograder.gradebook", "autograder.checking", *_TOP)),
    ("gradebook", ("autograder.checking", *_TOP)), ("checking", _TOP),
])
def test_lower_layers_import_nothing_from_the_layers_above(folder: str, above: tuple[str, ...]) -> None:
    wrong = {name: sorted(m for m in deps if m.startswith(above))
             for name, deps in GRAPH.items() if name.startswith(f"autograder.{folder}")}
    assert not {k: v for k, v in wrong.items() if v}, wrong


def test_results_and_bench_stay_in_their_lanes() -> None:
    assert not GRAPH["autograder.results"], "results are plain data: they import nothing of the package"
    bench = {m for name, deps in GRAPH.items() if name.startswith("autograder.bench") for m in deps}
    private = sorted(m for m in bench if m.rpartition(".")[2].startswith("_") and m != "autograder._startup")
    assert not private, f"bench reaches into private modules: {private}"
    for name, path in MODULES.items():
        if name.startswith("autograder.bench"):
            source = path.read_text(encoding="utf-8")
            for forbidden in ("sqlite3", "_executor", "_grade_in_worker", "KernelSession", "setattr("):
                assert forbidden not in source, f"{name} uses {forbidden}: bench uses grading's public API only"


ROOT_MODULES = {"autograder", "autograder._startup", "autograder.errors", "autograder.results"}
"""The package root holds only contracts: errors, result dataclasses, start-up (configuration is config/)."""


def test_the_root_holds_only_contracts() -> None:
    at_root = {name for name, path in MODULES.items() if path.parent == PACKAGE}
    assert at_root == ROOT_MODULES, f"move {sorted(at_root - ROOT_MODULES)} into the folder of its concern"
