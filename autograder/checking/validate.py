"""Prove an assignment is gradeable: settings, drift, leaks, solution and stub scores, mutations."""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autograder.authoring.assign import copy_solution_artifacts, release_notebook, solution_notebook
from autograder.authoring.notebook import (
    HIDDEN_BEGIN,
    HIDDEN_END,
    SOLUTION_BEGIN,
    SOLUTION_END,
    GradeCell,
    NotebookError,
    grade_cells,
    read,
    write,
)
from autograder.checking import mistakes as corpus
from autograder.checking import promises as table
from autograder.checking.mutate import mutants
from autograder.config import Assignment, ConfigError, course_root, list_assignments, load_assignment
from autograder.datasets import data_dir as resolve_data_dir
from autograder.grading.batch import grade
from autograder.grading.options import GradeOptions
from autograder.results import BatchResult, SubmissionResult


@dataclass(frozen=True)
class Finding:
    """One validation check's outcome."""

    assignment: str
    """Assignment name."""
    check: str
    """settings, drift, leak, solution, stub, mutation."""
    ok: bool
    """Whether the check passed."""
    detail: str
    """What was found; for failures, where and what to do."""


@dataclass
class Report:
    """All findings for the validated assignments."""

    findings: list[Finding] = field(default_factory=list)
    """In order of checking."""
    seconds: dict[str, float] = field(default_factory=dict)
    """Validation time per assignment."""
    mistakes: list[corpus.MistakeOutcome] = field(default_factory=list)
    """Each known mistake's verdict beside its expectation (source/<name>/mistakes.toml)."""

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(f.ok for f in self.findings)


def _region_lines(source: str, begin: str, end: str) -> list[str]:
    lines, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside and len(line.strip()) >= 12 and not line.strip().startswith("#"):
            lines.append(line.strip())
    return lines


def check_settings(assignment: Assignment, cells: list[GradeCell], data_root: Path) -> list[str]:
    """Problems with the assignment's settings, as actionable sentences."""
    where = f"source/{assignment.name}/assignment.toml"
    problems = []
    if not cells:
        problems.append(f"{assignment.source_notebook}: no grade cells; add test cells with points")
    if any(c.points <= 0 for c in cells):
        problems.append(f"{assignment.source_notebook}: every grade cell needs points > 0")
    if assignment.config.free_points > sum(c.points for c in cells):
        problems.append(f"{where}: free_points exceeds the total points")
    for rel in assignment.config.data:
        if not (data_root / rel).is_dir():
            problems.append(f"{where}: data folder {rel!r} is missing under {data_root}; set AUTOGRADER_DATA_DIR")
        if re.search(r"(^|/)test($|/)", rel):
            problems.append(f"{where}: data {rel!r} would mount a hidden test split into the container")
    return problems


def check_drift(assignment: Assignment) -> list[str]:
    """Generated files that differ from what ``assign`` would write now."""
    from nbformat import writes

    problems = []
    for name in assignment.config.notebooks:
        release = assignment.release_dir / name
        expected = writes(release_notebook(assignment, name)) + "\n"  # type: ignore[no-untyped-call]
        if not release.is_file() or release.read_text(encoding="utf-8") != expected:
            problems.append(f"{release} is stale or missing; run `autograder assign {assignment.name}`")
        solution = assignment.solutions_dir / name
        want = [c.source for c in solution_notebook(assignment, name).cells]
        try:
            stale = not solution.is_file() or [c.source for c in read(solution).cells] != want
        except NotebookError as exc:
            problems.append(f"{exc}; run `autograder assign {assignment.name}` to write it again")
            stale = False
        if stale:
            problems.append(f"{solution} is stale or missing; run `autograder assign {assignment.name}`")
    return problems


def _public_lines(source: str) -> set[str]:
    """Lines of a cell outside its solution and hidden regions (what students may see)."""
    lines, inside = set(), False
    for line in source.splitlines():
        if SOLUTION_BEGIN in line or HIDDEN_BEGIN in line:
            inside = True
        elif SOLUTION_END in line or HIDDEN_END in line:
            inside = False
        elif not inside:
            lines.add(line.strip())
    return lines


def _file_lines(path: Path, text: str) -> set[str]:
    """Stripped lines of a file; for notebooks, of every source, output and metadata string."""
    import json

    if path.suffix != ".ipynb":
        return {line.strip() for line in text.splitlines()}
    strings: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    try:
        walk(json.loads(text))
    except json.JSONDecodeError:
        strings.append(text)
    return {line.strip() for string in strings for line in string.splitlines()}


def check_leaks(assignment: Assignment) -> list[str]:
    """Solution code or hidden tests found anywhere in ``release/<name>/``."""
    sources = [read(path) for path in assignment.source_notebooks]  # every notebook's secrets, in any file
    public: set[str] = set()
    for cell in (c for source in sources for c in source.cells):
        public |= _public_lines(cell.source)
    secrets: list[tuple[int, str, str]] = []
    for source in sources:
        for index, cell in enumerate(source.cells):
            secrets += [(index, "solution code", line)
                        for line in _region_lines(cell.source, SOLUTION_BEGIN, SOLUTION_END) if line not in public]
            secrets += [(index, "hidden test code", line)
                        for line in _region_lines(cell.source, HIDDEN_BEGIN, HIDDEN_END) if line not in public]
        for grade_cell in grade_cells(source):
            if not grade_cell.asserts:
                secrets += [(-1, "hidden test", f"def {name}(") for name in grade_cell.hidden_tests]
    problems = []
    files = [p for p in assignment.release_dir.rglob("*") if p.is_file()] if assignment.release_dir.is_dir() else []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        lines = _file_lines(path, text)
        found: dict[tuple[int, str], list[str]] = {}
        for index, kind, line in secrets:
            if (line in text) if index < 0 else (line in lines):
                found.setdefault((index, kind), []).append(line)
        for (index, kind), hits in found.items():
            origin = f" from source cell {index}" if index >= 0 else ""
            problems.append(
                f"{path} contains {kind}{origin} ({len(hits)} line(s), e.g. {hits[0][:60]!r}); put it "
                "between nbgrader's BEGIN/END SOLUTION or BEGIN/END HIDDEN TESTS markers, then run "
                f"`autograder assign {assignment.name}`")
    return problems


def _stage_solution(assignment: Assignment, folder: Path, nb: object) -> None:
    write(nb, folder / assignment.config.notebook)  # type: ignore[arg-type]
    for other in assignment.config.notebooks[1:]:  # mutants change the first notebook; the others solved
        write(solution_notebook(assignment, other), folder / other)
    copy_solution_artifacts(assignment, folder)


def _failures(result: SubmissionResult) -> list[str]:
    return [f"{c.grade_id}::{c.name}: {c.message}" for cell in result.cells for c in cell.checks if not c.passed]


def _grade_set(
    assignment: Assignment, options: GradeOptions, *, mutation_limit: int
) -> tuple[BatchResult, dict[str, str]]:
    with tempfile.TemporaryDirectory(prefix=f"validate-{assignment.name}-") as tmp:
        subs = Path(tmp) / "subs"
        solution = solution_notebook(assignment)
        _stage_solution(assignment, subs / "solution", solution)
        for name in assignment.config.notebooks:
            write(release_notebook(assignment, name), subs / "stub" / name)
        kinds = {}
        for number, mutant in enumerate(mutants(solution, limit=mutation_limit)):
            student = f"mutant-{number:02d}"
            _stage_solution(assignment, subs / student, mutant.notebook)
            kinds[student] = f"{mutant.kind} in cell {mutant.cell_index}, line {mutant.line}"
        for number, mistake in enumerate(corpus.load_mistakes(assignment.source_dir)):
            _stage_solution(assignment, subs / f"mistake-{number:02d}", corpus.apply(mistake, solution))
        batch = grade(assignment.name, subs, root=assignment.root, db_url=f"sqlite:///{tmp}/validate.db",
                      feedback_dir=Path(tmp) / "feedback", options=options)
    return batch, kinds


def validate_one(assignment: Assignment, options: GradeOptions, *, mutation_limit: int = 30,
                 outcomes: list[corpus.MistakeOutcome] | None = None) -> list[Finding]:
    """Run every check on one assignment; known mistakes' verdicts are appended to ``outcomes``."""
    name = assignment.name
    cells = [c for nb in assignment.source_notebooks for c in grade_cells(read(nb), str(nb))]
    findings = [Finding(name, "settings", not p, p or "ok") for p in
                (check_settings(assignment, cells, resolve_data_dir(options.data_dir)) or [""])]
    findings += [Finding(name, "drift", not p, p or "release/ and solutions/ match source/")
                 for p in (check_drift(assignment) or [""])]
    findings += [Finding(name, "leak", not p, p or "nothing hidden in release/")
                 for p in (check_leaks(assignment) or [""])]
    findings += promise_findings(assignment, cells)
    batch, kinds = _grade_set(assignment, options, mutation_limit=mutation_limit)
    by_id = {r.student_id: r for r in batch.results}
    sol, stub = by_id["solution"], by_id["stub"]
    full = sol.score == sol.max_score and sol.max_score > 0
    findings.append(Finding(name, "solution", full, f"{sol.score:g}/{sol.max_score:g}" + (
        "" if full else f"; fix the solution or the test: {'; '.join(_failures(sol))[:600]} {sol.reason or ''}")))
    free = assignment.config.free_points
    findings.append(Finding(name, "stub", stub.score <= free, f"{stub.score:g} points (allowed: {free:g})" + (
        "" if stub.score <= free else "; a test passes on the blank stub: make it check real values")))
    findings += _mutation_findings(name, cells, by_id, kinds, assignment.config.mutation_exempt,
                                   goal=assignment.config.mutation_goal)
    judged = [corpus.judge(name, mistake, by_id[f"mistake-{number:02d}"])
              for number, mistake in enumerate(corpus.load_mistakes(assignment.source_dir))]
    (outcomes if outcomes is not None else []).extend(judged)
    findings += [Finding(name, "mistake", o.ok, f"{o.mistake.id}: expected {o.expected}; got {o.got}"
                         + ("" if o.ok else "; " + "; ".join(o.problems))) for o in judged]
    return findings


def _mutation_findings(name: str, cells: list[GradeCell], by_id: dict[str, SubmissionResult],
                       kinds: dict[str, str], exempt: dict[str, str], *, goal: float = 0.9) -> list[Finding]:
    killed: dict[str, list[str]] = {f"{c.grade_id}::{t}": [] for c in cells for t in c.hidden_tests}
    for student, kind in kinds.items():
        for failure in _failures(by_id[student]):
            key = failure.split(": ", 1)[0]
            if key in killed:
                killed[key].append(kind)
    weak = [key for key, by in killed.items() if not by]
    explained = {key: exempt.get(key) or exempt.get(key.split("::")[0]) for key in weak}
    weak = [key for key in weak if not explained[key]]
    detail = f"{len(killed) - len(weak)}/{len(killed)} hidden tests fail under at least one of {len(kinds)} mutants"
    findings = [Finding(name, "mutation", not weak, detail), score_finding(name, by_id, kinds, goal=goal)]
    findings += [Finding(name, "mutation", True, f"exempt {key}: {why}") for key, why in explained.items() if why]
    findings += [Finding(name, "mutation", False, f"weak hidden test {key}: no mutation of the solution makes it "
                         "fail; make it check values that a wrong solution would get wrong") for key in weak]
    return findings


MUTATION_GOAL = 0.9
"""Share of the solution's mutants that must lose points (an assignment's ``mutation_goal`` may say otherwise)."""


def score_finding(name: str, by_id: dict[str, SubmissionResult], kinds: dict[str, str], *,
                  goal: float = MUTATION_GOAL) -> Finding:
    """The mutation score: the share of mutants of the solution's functions that lose points."""
    survivors = [kind for student, kind in kinds.items() if by_id[student].score >= by_id[student].max_score]
    killed = len(kinds) - len(survivors)
    score = killed / len(kinds) if kinds else 1.0
    detail = (f"mutation score {killed}/{len(kinds)} = {score:.0%} of the solution's mutants lose points "
              f"(goal >= {goal:.0%})")
    if survivors:
        detail += "; surviving: " + "; ".join(survivors[:8])
    return Finding(name, "mutation", score >= goal, detail)


def promise_findings(assignment: Assignment, cells: list[GradeCell]) -> list[Finding]:
    """One finding per promise of the table (failed when no check enforces it), and one per free choice."""
    try:
        promises = table.load_table(assignment.source_dir)
    except table.PromiseTableError as exc:
        return [Finding(assignment.name, "promise", False, str(exc))]
    if promises is None:
        return []
    issues = table.problems(promises, cells)
    findings = [Finding(assignment.name, "promise", not issues[p.id], f"{p.id}: {p.text} -> " + (
        "; ".join(issues[p.id]) if issues[p.id] else table.enforced_by(p, promises))) for p in promises.promises]
    return findings + [Finding(assignment.name, "promise", True, f"free: {text}") for text in promises.free]


def validate(names: list[str], *, root: Path | None = None, options: GradeOptions = GradeOptions(),
             mutation_limit: int = 30, on_finding: Callable[[Finding], None] | None = None) -> Report:
    """Validate each named assignment; the report says what failed and how to fix it.

    An unknown name raises ``ConfigError`` before any work; a settings file or notebook that cannot
    be read is a failed ``readable`` check for that assignment, and the others are still validated.
    """
    course = root or course_root()
    known = list_assignments(course)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(f"no assignment {', '.join(map(repr, unknown))} in {course / 'source'} "
                          f"(known: {', '.join(known) or 'none'}); check the name")
    report = Report()
    for name in names:
        started = time.perf_counter()
        try:
            findings = validate_one(load_assignment(name, course), options, mutation_limit=mutation_limit,
                                    outcomes=report.mistakes)
        except (ConfigError, NotebookError, corpus.MistakeError) as exc:  # unreadable settings, notebook, corpus
            findings = [Finding(name, "readable", False, str(exc))]
        for finding in findings:
            report.findings.append(finding)
            if on_finding:
                on_finding(finding)
        report.seconds[name] = time.perf_counter() - started
    return report
