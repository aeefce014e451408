"""An otter-grader autograder zip on the trusted side: its test files, read with otter's own parsers,
run against the student's kernel through the channel, and scored by otter's own rules.

Test files are the instructor's code: they are read (``exec``) here, as otter reads them. The
student's objects are reached only through ``otter_remote``; scores come from otter's
``TestFile.score`` (points per case, a list per case, or none; ``all_or_nothing``), so they are
otter's to the last digit.
"""

from __future__ import annotations

import copy
import json
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from autograder.errors import UserError
from autograder.grading.otter_doctest import run_doctest, run_test_case
from autograder.grading.otter_remote import TestNamespace
from autograder.results import CellScore, CheckResult

HIDDEN_MESSAGE = "a hidden test failed"
"""What a student reads of a failed hidden case that has no ``failure_message``."""


class OtterError(UserError, ValueError):
    """An otter autograder zip cannot be used; the message says which file and what to do."""


@dataclass(frozen=True)
class OtterSuite:
    """The tests and settings of one otter autograder zip."""

    tests: tuple[Any, ...]
    """otter ``TestFile`` objects (OK format or ``test_case`` files), in file-name order, as otter runs them."""
    config: dict[str, Any] = field(default_factory=dict)
    """``otter_config.json`` (``seed``, ``seed_variable``, ``show_hidden``, ``show_all_public``, ...)."""
    files: tuple[str, ...] = ()
    """Support files of the zip (``files/...``), relative to its root, put beside the notebook."""
    root: Path = Path()
    """Where the zip was unpacked (trusted side only)."""

    def names(self) -> list[str]:
        """Question names, in order."""
        return [t.name for t in self.tests]

    def by_name(self, name: str) -> Any | None:
        """The test file of question ``name``, if the zip has one."""
        return next((t for t in self.tests if t.name == name), None)


def _otter() -> Any:
    try:
        import otter.test_files as test_files
    except ImportError as exc:
        raise OtterError("grading an otter assignment needs otter-grader on the grading side: "
                         "pip install 'nn-week-autograder[otter]'") from exc
    return test_files


def unpack(archive: Path, dest: Path) -> Path:
    """Unpack the zip's tests, config and support files safely (no absolute paths, '..' or links)."""
    if not zipfile.is_zipfile(archive):
        raise OtterError(f"{archive}: not a zip file; give otter's autograder.zip (from otter assign or generate)")
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            parts = PurePosixPath(info.filename).parts
            if info.filename.startswith("/") or ".." in parts or (info.external_attr >> 16) & 0o170000 == 0o120000:
                continue
            if parts and (parts[0] in ("tests", "files") or info.filename == "otter_config.json"):
                zf.extract(info, dest)
    return dest


def load_suite(root: Path) -> OtterSuite:
    """The test files of an unpacked autograder zip (``tests/*.py``), parsed by otter."""
    test_files = _otter()
    from otter.nbmeta_config import NBMetadataConfig

    paths = sorted((root / "tests").glob("*.py"))
    if not paths:
        raise OtterError(f"{root}: the autograder zip has no tests/*.py; build it with otter assign or otter generate")
    tests = []
    for path in paths:
        try:
            tests.append(test_files.create_test_file(str(path), NBMetadataConfig()))
        except Exception as exc:  # the instructor's test file is broken: say which
            raise OtterError(f"{path.name}: otter cannot read this test file ({type(exc).__name__}: {exc})") from exc
    config_path = root / "otter_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    files = tuple(sorted(p.relative_to(root / "files").as_posix() for p in (root / "files").rglob("*") if p.is_file()))
    return OtterSuite(tuple(tests), config if isinstance(config, dict) else {}, files, root)


def run_question(test_file: Any, session: Any) -> tuple[Any, list[float]]:
    """A copy of ``test_file`` holding the results of its cases against the student's kernel; seconds per case."""
    from otter.test_files import TestCaseResult
    from otter.test_files.ok_test import OKTestFile

    result = copy.copy(test_file)
    result.test_case_results, seconds = [], []
    lines = getattr(test_file, "source", "").split("\n")
    for index, case in enumerate(test_file.test_cases):
        started = time.perf_counter()
        namespace = TestNamespace(session)
        try:
            if isinstance(test_file, OKTestFile):
                passed, message = run_doctest(f"{test_file.name} {index}", case.body, namespace)
            else:
                passed, message = run_test_case(case.body.test_func, lines, namespace, test_file.path)
        except Exception as exc:  # the channel failed (kernel gone, timeout): the case fails with its reason
            passed, message = False, f"{type(exc).__name__}: {exc}"
        result.test_case_results.append(TestCaseResult(test_case=case, message=message, passed=passed))
        seconds.append(time.perf_counter() - started)
    return result, seconds


def cell_score(result: Any, seconds: list[float]) -> CellScore:
    """One question's score (otter's ``TestFile.score`` of ``possible``), one check per case."""
    checks = []
    for outcome, spent in zip(result.test_case_results, seconds, strict=True):
        case = outcome.test_case
        if outcome.passed:
            message = ""
        elif case.hidden:
            message = case.failure_message or HIDDEN_MESSAGE  # never the hidden doctest's code
        else:
            message = "\n".join(m for m in (case.failure_message, outcome.message) if m)
        checks.append(CheckResult(result.name, str(case.name), bool(case.hidden), bool(outcome.passed),
                                  message, spent))
    return CellScore(result.name, round(float(result.score), 6), float(result.possible), tuple(checks))


def zero_score(test_file: Any, reason: str) -> CellScore:
    """Every case of a question failed for one reason (the notebook could not be graded)."""
    checks = tuple(CheckResult(test_file.name, str(c.name), bool(c.hidden), False, reason, 0.0)
                   for c in test_file.test_cases)
    return CellScore(test_file.name, 0.0, float(test_file.possible), checks)
