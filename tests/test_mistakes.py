"""Known-mistakes corpora: each case gets its expected verdict at grading, and public checks agree with check()."""

from __future__ import annotations

import os
import textwrap
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from nbformat import NotebookNode

from autograder.authoring.assign import copy_solution_artifacts, solution_notebook
from autograder.authoring.notebook import SKIP_TAG, grade_cells, read, strip_hidden_source, write
from autograder.channel.promises import CallPromises, load_calls
from autograder.checking import mistakes as corpus
from autograder.config import Assignment, load_assignment
from autograder.grading.batch import grade
from autograder.grading.options import GradeOptions
from autograder.results import SubmissionResult
from autograder.student.checks import LocalStudent
from tests import factories
from tests.conftest import ROOT

NUMPY = "backpropagation_simulation"
KERAS = ("activation_functions_analysis", "cat_and_dog_classifier")


# --- the corpus file and how a case is made ----------------------------------------------------

def _corpus(tmp_path: Path, text: str) -> Path:
    (tmp_path / corpus.CORPUS_FILE).write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(("text", "complaint"), [
    ("[[mistake]]\nid = 'a'\nexpect = 'full'\n", "give `replace`"),
    ("[[mistake]]\nid = 'a'\nreplace = 'def f(): pass'\n", "either expect"),
    ("[[mistake]]\nid = 'a'\nreplace = 'def f(): pass'\nexpect = 'full'\nfails = ['t']\n", "either expect"),
    ("[[mistake]]\nid = 'a'\nreplace = 'def f(): pass'\nfails = ['t']\n", "what the student should read"),
    ("[[mistake]]\nid = 'a'\nreplace = 'x'\nexpect = 'full'\ncolour = 1\n", "unknown keys ['colour']"),
    ("[[mistake]]\nid = 'a'\nreplace = 'x'\nexpect = 'full'\n[[mistake]]\nid = 'a'\nreplace = 'y'\nexpect = 'full'\n",
     "repeated: ['a']"),
    ("mistake = [", "not valid TOML"),
])
def test_a_malformed_corpus_is_refused_with_where_and_what(tmp_path: Path, text: str, complaint: str) -> None:
    with pytest.raises(corpus.MistakeError, match=r"mistakes\.toml") as caught:
        corpus.load_mistakes(_corpus(tmp_path, text))
    assert complaint in str(caught.value)


def test_no_corpus_file_means_no_cases(tmp_path: Path) -> None:
    assert corpus.load_mistakes(tmp_path) == []


def _solution() -> NotebookNode:
    return factories.notebook(
        factories.code("import numpy as np", "imports"),
        factories.code("@staticmethod\ndef f(x):\n    return x + 1\n\n\ndef g(x):\n    return f(x) * 2", "code"),
    )


def test_replace_swaps_one_function_and_keeps_the_rest() -> None:
    case = corpus.Mistake("m", "", "def f(x):\n    return x - 1\n", (), ("t",), {"*": "x"})
    made = corpus.apply(case, _solution())
    assert made.cells[1].source == "def f(x):\n    return x - 1\n\n\ndef g(x):\n    return f(x) * 2"
    assert _solution().cells[1].source.startswith("@staticmethod"), "the solution itself is not changed"


def test_edits_must_match_exactly_once() -> None:
    made = corpus.apply(corpus.Mistake("m", "", "", (("f(x) * 2", "f(x) * 3"),), (), {}), _solution())
    assert made.cells[1].source.endswith("return f(x) * 3")
    with pytest.raises(corpus.MistakeError, match="exactly once"):
        corpus.apply(corpus.Mistake("m", "", "", (("return", "yield"),), (), {}), _solution())
    with pytest.raises(corpus.MistakeError, match="defines h()"):
        corpus.apply(corpus.Mistake("m", "", "def h():\n    pass\n", (), (), {}), _solution())


def _result(failed: dict[str, str], reason: str | None = None) -> SubmissionResult:
    from autograder.results import CellScore, CheckResult

    checks = tuple(CheckResult("cell", name, True, name not in failed, failed.get(name, ""), 0.0)
                   for name in ("test_a", "test_b", "test_c"))
    return SubmissionResult(student_id="s", score=0.0, max_score=3.0, cells=(CellScore("cell", 0.0, 3.0, checks),),
                            reason=reason)


def test_judge_names_every_way_a_verdict_can_differ() -> None:
    case = corpus.Mistake("m", "", "x", (), ("test_a", "cell::test_b"), {"*": "clip", "test_b": "row"})
    ok = corpus.judge("course", case, _result({"test_a": "please clip", "test_b": "each row"}))
    assert ok.ok and ok.got == "test_a, test_b" and ok.message == "please clip"
    wrong = corpus.judge("course", case, _result({"test_a": "nothing useful", "test_c": "x"}))
    assert wrong.problems == ("expected to fail but passed: cell::test_b", "failed but not expected to: cell::test_c",
                              "cell::test_a says 'nothing useful', which lacks 'clip'")
    full = corpus.Mistake("ok", "", "x", (), (), {})
    assert corpus.judge("course", full, _result({})).ok
    assert not corpus.judge("course", full, _result({}, reason="the notebook timed out")).ok


# --- the real corpora, graded ------------------------------------------------------------------

@dataclass
class Graded:
    """A corpus graded in the container, with the staged submissions kept for the in-notebook run."""

    assignment: Assignment
    cases: list[corpus.Mistake]
    results: dict[str, SubmissionResult]
    folders: dict[str, Path]


def _grade_corpus(name: str, tmp: Path, sandbox: str) -> Graded:
    assignment = load_assignment(name, ROOT)
    cases = corpus.load_mistakes(assignment.source_dir)
    solution = solution_notebook(assignment)
    folders = {}
    for case in cases:
        folders[case.id] = tmp / "subs" / case.id
        write(corpus.apply(case, solution), folders[case.id] / assignment.config.notebook)
        copy_solution_artifacts(assignment, folders[case.id])
    batch = grade(name, tmp / "subs", root=ROOT, db_url=f"sqlite:///{tmp}/gb.db", feedback_dir=tmp / "fb",
                  options=GradeOptions(sandbox=sandbox, force=True, jobs=2))
    return Graded(assignment, cases, {r.student_id: r for r in batch.results}, folders)


def _unmet(graded: Graded) -> list[str]:
    outcomes = [corpus.judge(graded.assignment.name, case, graded.results[case.id]) for case in graded.cases]
    return [f"{o.mistake.id}: {'; '.join(o.problems)}" for o in outcomes if not o.ok]


def _in_notebook(graded: Graded, case: corpus.Mistake) -> dict[str, bool]:
    """Each public check's verdict when the student runs it in the notebook (LocalStudent, in-process)."""
    nb = read(graded.folders[case.id] / graded.assignment.config.notebook)
    cells = grade_cells(read(graded.assignment.source_notebook))
    namespace: dict[str, Any] = {"__name__": "__main__"}
    here = Path.cwd()
    os.chdir(graded.folders[case.id])  # the notebook reads its artifacts from its own folder
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for cell in nb.cells:
                meta = cell.get("metadata", {})
                is_test = meta.get("nbgrader", {}).get("grade") and not meta.get("nbgrader", {}).get("solution")
                if cell.cell_type == "code" and SKIP_TAG not in meta.get("tags", []) and not is_test:
                    exec(compile(cell.source, f"<{case.id}>", "exec"), namespace)
            calls = load_calls(graded.assignment.source_dir)  # what check() reads from the released table
            return {name: _passes(cell.source, name, namespace, calls) for cell in cells for name in cell.public_tests}
    finally:
        os.chdir(here)


def _passes(source: str, name: str, namespace: dict[str, Any], calls: CallPromises) -> bool:
    module: dict[str, Any] = {}
    exec(compile(strip_hidden_source(source), "<public tests>", "exec"), module)
    try:
        module[name](LocalStudent(namespace, calls=calls))
    except Exception:
        return False
    return True


def _disagreements(graded: Graded) -> list[str]:
    problems, failed_somewhere = [], False
    for case in graded.cases:
        local = _in_notebook(graded, case)
        failed_somewhere |= not all(local.values())
        remote = {c.name: c.passed for cell in graded.results[case.id].cells for c in cell.checks if not c.hidden}
        problems += [f"{case.id}: {name} {'passes' if local[name] else 'fails'} in the notebook but "
                     f"{'passes' if remote[name] else 'fails'} at grading"
                     for name in local if local[name] != remote.get(name)]
    return problems if failed_somewhere else ["no public check failed in the notebook for any case"]


@pytest.fixture(scope="module")
def numpy_corpus(tmp_path_factory: pytest.TempPathFactory, sandbox_name: str) -> Iterator[Graded]:
    yield _grade_corpus(NUMPY, tmp_path_factory.mktemp("corpus"), sandbox_name)


@pytest.mark.container
def test_numpy_corpus_gets_every_expected_verdict(numpy_corpus: Graded) -> None:
    assert len(numpy_corpus.cases) >= 12 and any(not c.fails for c in numpy_corpus.cases)
    assert not _unmet(numpy_corpus)


@pytest.mark.container
def test_numpy_public_checks_agree_in_the_notebook_and_at_grading(numpy_corpus: Graded) -> None:
    assert not _disagreements(numpy_corpus)


@pytest.mark.slow
@pytest.mark.container
@pytest.mark.tensorflow
@pytest.mark.parametrize("name", KERAS)
def test_keras_corpus_verdicts_and_agreement(name: str, tmp_path: Path, sandbox_name: str, data_dir: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOGRADER_DATA_DIR", str(data_dir))
    graded = _grade_corpus(name, tmp_path, sandbox_name)
    assert len(graded.cases) >= (12 if name == "activation_functions_analysis" else 5)
    assert not _unmet(graded)
    assert not _disagreements(graded)


TINY_CORPUS = """
[[mistake]]
id = "add-subtracts"
replace = '''
def add(a, b):
    return a - b
'''
fails = ["test_add_small", "test_add_hidden"]
message = "should be"

[[mistake]]
id = "scale-in-a-loop"
replace = '''
def scale(x, k):
    return np.array([v * k for v in np.asarray(x, dtype=float).ravel()]).reshape(np.shape(x))
'''
expect = "full"

[[mistake]]
id = "scale-wrong-but-expected-full"
replace = '''
def scale(x, k):
    return np.asarray(x, dtype=float) * abs(k)
'''
expect = "full"
"""


@pytest.mark.container
def test_validate_grades_the_corpus_and_fails_on_an_unmet_expectation(tiny: Path, sandbox_name: str) -> None:
    from rich.console import Console

    from autograder.authoring.assign import assign
    from autograder.checking.validate import validate

    (tiny / "source" / "tiny" / corpus.CORPUS_FILE).write_text(TINY_CORPUS, encoding="utf-8")
    (tiny / "fixtures").mkdir()  # the solution then runs without its training cell, as in test_validate
    toml = tiny / "source" / "tiny" / "assignment.toml"
    toml.write_text('solution_fixtures = "fixtures"\n' + toml.read_text(), encoding="utf-8")
    assign("tiny", root=tiny)
    report = validate(["tiny"], root=tiny, options=GradeOptions(sandbox=sandbox_name, force=True), mutation_limit=2)
    verdicts = {o.mistake.id: (o.ok, o.got) for o in report.mistakes}
    assert verdicts == {"add-subtracts": (True, "test_add_small, test_add_hidden"), "scale-in-a-loop": (True, "full"),
                        "scale-wrong-but-expected-full": (False, "test_scale_values")}
    failed = [f.detail for f in report.findings if f.check == "mistake" and not f.ok]
    assert failed == ["scale-wrong-but-expected-full: expected full; got test_scale_values; failed but not expected "
                      "to: test-scale::test_scale_values"]
    assert not report.ok
    console = Console(width=200, record=True)
    console.print(corpus.table(report.mistakes))
    text = console.export_text()
    assert "scale-wrong-but-expected-full" in text and "FAIL failed but not expected to" in text
