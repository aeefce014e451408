"""The integrity report's measuring corpus, from backpropagation_simulation's solution notebook.

*Copies*: the solution disguised as a copier would: local variables renamed, the solution's functions
moved into other cells in another order, lines re-wrapped (``ast.unparse``, then arguments broken over
lines), comments dropped. *Alternatives*: genuinely different correct implementations of every function,
written independently (``tests/integrity/alt_*.py``); each is checked against the solution's values.
"""

from __future__ import annotations

import ast
import copy
import io
import random
import tokenize
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder.checking.mistakes import Mistake, apply

ALTERNATIVES = sorted((Path(__file__).parent / "integrity").glob("alt_*.py"))
"""The independent correct solutions, one module each."""
NAMES = ["val", "arr", "tmp", "res", "out_", "data", "acc", "cur", "nxt", "buf", "item", "vec", "mat", "part",
         "piece", "thing", "stuff", "aux", "helper_val", "q", "r_", "s_", "t_", "u_", "w_"]


def _solution_cells(nb: NotebookNode) -> list[NotebookNode]:
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("sol-")]


def _locals(sources: list[str]) -> set[str]:
    """Names the functions bind in their bodies (never a parameter of any: the release gives those)."""
    trees = [ast.parse(source) for source in sources]
    stored = {n.id for t in trees for n in ast.walk(t) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return stored - {a.arg for t in trees for n in ast.walk(t) if isinstance(n, ast.arguments)
                     for a in (*n.posonlyargs, *n.args, *n.kwonlyargs)}


class _Renamer(ast.NodeTransformer):
    """Renames the given variables everywhere, f-strings included."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return ast.Name(self.names.get(node.id, node.id), node.ctx)


def _rewrite(source: str, names: dict[str, str], rng: random.Random) -> str:
    """Variables renamed, comments gone (``ast.unparse``), and some argument lists broken over lines."""
    code = ast.unparse(_Renamer(names).visit(ast.parse(source)))
    lines = code.splitlines()
    depth, breaks = 0, []
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == tokenize.OP:
            depth += (token.string in "([{") - (token.string in ")]}")
            if token.string == "," and depth > 0 and rng.random() < 0.5:
                breaks.append(token.end)
    for row, col in sorted(breaks, reverse=True):
        line = lines[row - 1]
        indent = " " * (len(line) - len(line.lstrip()) + 8)
        lines[row - 1] = line[:col] + "\n" + indent + line[col:].lstrip()
    return "\n".join(lines)


def disguised(solution: NotebookNode, seed: int) -> NotebookNode:
    """The solution renamed, reordered and re-wrapped (the choices drawn with ``seed``)."""
    rng = random.Random(seed)
    nb = copy.deepcopy(solution)
    cells = _solution_cells(nb)
    bound = sorted(_locals([c.source for c in cells]))
    pool = rng.sample(NAMES, len(NAMES))
    names = {name: f"{pool[i % len(pool)]}{i // len(pool) or ''}" for i, name in enumerate(bound)}
    sources = [_rewrite(c.source, names, rng) for c in cells]
    rng.shuffle(sources)
    for cell, source in zip(cells, sources, strict=True):
        cell.source = source
    return nb


def alternative(solution: NotebookNode, path: Path) -> NotebookNode:
    """The solution notebook with every function replaced by the alternative's (as a student writes it)."""
    source = path.read_text(encoding="utf-8")
    functions = "\n\n".join(ast.get_source_segment(source, node) or "" for node in ast.parse(source).body
                            if isinstance(node, ast.FunctionDef))
    return apply(Mistake(path.stem, "", functions, (), (), {}), solution, where=path.name)


def write(nb: NotebookNode, path: Path) -> Path:
    """Save a notebook (a submission)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb), encoding="utf-8")  # type: ignore[no-untyped-call]
    return path


def counted_uploads(course: Path, db_url: str, state_dir: Path, notebooks: dict[str, NotebookNode]) -> None:
    """Store each notebook as that student's graded upload that counts (as the service's runner leaves it)."""
    import datetime as dt

    from sqlalchemy import update

    from autograder.service.db import DONE, engine_for, prepare, uploads
    from autograder.service.queue import enqueue

    prepare(db_url)
    engine = engine_for(db_url)
    try:
        for student, nb in notebooks.items():
            folder = Path("uploads") / "backpropagation_simulation" / student / "u1"
            path = write(nb, state_dir / folder / "backpropagation_simulation.ipynb")
            upload = enqueue(engine, "backpropagation_simulation", student, str(folder), path.stat().st_size,
                             dt.datetime(2026, 3, 1, 12))
            with engine.begin() as connection:
                connection.execute(update(uploads).where(uploads.c.id == upload).values(
                    status=DONE, counted=True, score=20.0, max_score=20.0, recorded=1))
    finally:
        engine.dispose()


def class_of(solution: NotebookNode) -> dict[str, NotebookNode]:
    """A small class: two students whose work is a disguised copy of a third's, and three who worked alone."""
    alternatives = {path.stem: path for path in ALTERNATIVES}
    return {"ada": solution, "bo": disguised(solution, 1), "cy": disguised(solution, 2),
            "dee": alternative(solution, alternatives["alt_loops"]),
            "eli": alternative(solution, alternatives["alt_einsum"]),
            "fay": alternative(solution, alternatives["alt_signs"])}
