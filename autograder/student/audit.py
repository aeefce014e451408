"""Static audit of submitted code: which modules a notebook imports, found without running it."""

from __future__ import annotations

import ast
import json
from pathlib import Path

_IMPORT_CALLS = {"__import__", "import_module", "importlib.import_module"}


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        base = func.value.id if isinstance(func.value, ast.Name) else ""
        return f"{base}.{func.attr}" if base else func.attr
    return ""


def _strip_magics(source: str) -> str:
    # IPython magics and shell escapes are not Python; they cannot import modules by name here.
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def imported_modules(source: str) -> set[str]:
    """Top-level module names imported by Python ``source``, including dynamic imports of literals."""
    try:
        tree = ast.parse(_strip_magics(source))
    except SyntaxError:
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and _call_name(node) in _IMPORT_CALLS and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value.split(".")[0])
    return found


def notebook_imports(path: Path) -> set[str]:
    """Modules imported anywhere in a notebook's code cells (read as JSON, never executed)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    sources = [
        "".join(c["source"]) if isinstance(c.get("source"), list) else str(c.get("source", ""))
        for c in nb.get("cells", [])
        if isinstance(c, dict) and c.get("cell_type") == "code"
    ]
    found: set[str] = set()
    for source in sources:
        found |= imported_modules(source)
    return found


def forbidden_in(path: Path, forbidden: set[str]) -> list[str]:
    """Forbidden modules a notebook imports, sorted."""
    return sorted(notebook_imports(path) & forbidden)
