"""Automatic mutations of solution code, to prove each hidden test can fail."""

from __future__ import annotations

import ast
import copy
import random
from collections.abc import Iterator
from dataclasses import dataclass

from nbformat import NotebookNode

from autograder.authoring.notebook import SOLUTION_BEGIN, SOLUTION_END
from autograder.authoring.pysource import parse

_SWAP_OPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.MatMult: ast.Mult,
}


@dataclass(frozen=True)
class Mutant:
    """A solution notebook with one small change."""

    cell_index: int
    """The solution cell that was changed."""
    kind: str
    """Which mutation: flip-sign, swap-op, off-by-one, constant-output, transpose, drop-term."""
    line: int
    """Line in the cell's source where it applies."""
    notebook: NotebookNode
    """The mutated notebook."""


def _region_lines(source: str) -> set[int]:
    lines, inside = set(), False
    for number, line in enumerate(source.splitlines(), start=1):
        if SOLUTION_BEGIN in line:
            inside = True
        elif SOLUTION_END in line:
            inside = False
        elif inside:
            lines.add(number)
    return lines


class _Sites(ast.NodeVisitor):
    """Collects (kind, node position) of every mutation that applies inside the solution region."""

    def __init__(self, region: set[int]) -> None:
        self.region, self.sites = region, []  # type: ignore[var-annotated]

    def _add(self, kind: str, node: ast.AST) -> None:
        if getattr(node, "lineno", -1) in self.region:
            self.sites.append((kind, node.lineno, node.col_offset))  # type: ignore[attr-defined]

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if type(node.op) in _SWAP_OPS:
            self._add("swap-op", node)
        self._add("drop-term", node)
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.USub):
            self._add("flip-sign", node)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if type(node.value) in (int, float) and not isinstance(node.value, bool):
            self._add("off-by-one", node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "T":
            self._add("transpose", node)
        self.generic_visit(node)

    def visit_Return(self, node: ast.Return) -> None:
        if node.value is not None:
            self._add("constant-output", node)
        self.generic_visit(node)


class _Apply(ast.NodeTransformer):
    """Applies one mutation at one position."""

    def __init__(self, kind: str, line: int, col: int) -> None:
        self.kind, self.pos = kind, (line, col)

    def _here(self, node: ast.AST) -> bool:
        return (getattr(node, "lineno", None), getattr(node, "col_offset", None)) == self.pos

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if self._here(node) and self.kind == "swap-op":
            node.op = _SWAP_OPS[type(node.op)]()
        elif self._here(node) and self.kind == "drop-term":
            return node.left
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        return node.operand if self._here(node) and self.kind == "flip-sign" else node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if self._here(node) and self.kind == "off-by-one" and isinstance(node.value, int | float):
            return ast.Constant(node.value + 1)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        return node.value if self._here(node) and self.kind == "transpose" else node

    def visit_Return(self, node: ast.Return) -> ast.AST:
        self.generic_visit(node)
        if self._here(node) and self.kind == "constant-output" and node.value is not None:
            # 0 * value keeps shapes and types of numbers and arrays while making every value 0
            node.value = ast.BinOp(ast.Constant(0), ast.Mult(), node.value)
        return node


def mutants(nb: NotebookNode, *, limit: int = 40, seed: int = 0) -> Iterator[Mutant]:
    """Up to ``limit`` single-change variants of the solution cells, spread over the cells."""
    per_cell = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            continue
        try:
            tree = parse(cell.source)
        except SyntaxError:
            continue
        sites = _Sites(_region_lines(cell.source))
        sites.visit(tree)
        rng = random.Random(f"{seed}-{index}")
        # one site per kind and function, so every kind of mistake is tried in every function
        owner = {line: node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef)
                 for line in range(node.lineno, (node.end_lineno or node.lineno) + 1)}
        by_kind: dict[tuple[str, str], list[tuple[str, int, int]]] = {}
        for site in sites.sites:
            by_kind.setdefault((owner.get(site[1], ""), site[0]), []).append(site)
        chosen = [rng.choice(group) for group in by_kind.values()]
        rng.shuffle(chosen)
        per_cell.append((index, tree, chosen))
    emitted = 0
    for round_ in range(max((len(c[2]) for c in per_cell), default=0)):
        for index, tree, chosen in per_cell:
            if round_ >= len(chosen) or emitted >= limit:
                continue
            kind, line, col = chosen[round_]
            mutated = _Apply(kind, line, col).visit(copy.deepcopy(tree))
            variant = copy.deepcopy(nb)
            variant.cells[index].source = ast.unparse(ast.fix_missing_locations(mutated))
            emitted += 1
            yield Mutant(index, kind, line, variant)


def zero_returns(nb: NotebookNode) -> NotebookNode:
    """Every solution function returns ``0 * value``: right shapes and types, wrong values."""
    variant = copy.deepcopy(nb)
    for cell in variant.cells:
        if cell.cell_type != "code" or not cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            continue
        tree = parse(cell.source)
        sites = _Sites(_region_lines(cell.source))
        sites.visit(tree)
        for kind, line, col in sites.sites:
            if kind == "constant-output":
                tree = _Apply(kind, line, col).visit(tree)
        cell.source = ast.unparse(ast.fix_missing_locations(tree))
    return variant
