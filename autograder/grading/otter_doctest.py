"""Otter's two test formats run on the trusted side: OK-format doctest cases and ``test_case`` functions.

Each case runs in a namespace of its own (``otter_remote.TestNamespace``), as otter runs each case on
a copy of the notebook's globals; names the case does not define reach the student's objects through
the channel. A doctest compares what the example prints and the ``repr`` of its value, as otter's
``run_doctest`` does (``doctest.DocTestRunner`` with otter's flags: none).
"""

from __future__ import annotations

import contextlib
import doctest
import inspect
import io
import traceback
from collections.abc import Callable
from typing import Any

from autograder.grading.otter_remote import TestNamespace

REPORT_LIMIT = 4000
"""Characters of a failed case's report kept."""


def run_doctest(name: str, text: str, namespace: TestNamespace) -> tuple[bool, str]:
    """(passed, report): otter's ``run_doctest`` with the test's own namespace instead of the student's globals."""
    examples = doctest.DocTestParser().parse(text, name)
    test = doctest.DocTest([e for e in examples if isinstance(e, doctest.Example)], {}, name, None, None, text)
    test.globs = namespace  # DocTest copies its globs into a plain dict; ours must keep looking names up
    runner = doctest.DocTestRunner(verbose=True)
    report = io.StringIO()
    with contextlib.redirect_stdout(report), contextlib.redirect_stderr(report):
        runner.run(test, clear_globs=False)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        result = runner.summarize(verbose=True)
    if result.failed == 0:
        return True, ""
    return False, report.getvalue()[-REPORT_LIMIT:]


def run_test_case(func: Callable[..., Any], source_lines: list[str], namespace: TestNamespace,
                  filename: str) -> tuple[bool, str]:
    """(passed, message) of one ``@test_case`` function: its parameters are the student's names (``env``: all)."""
    kwargs = {arg: namespace if arg == "env" else namespace.lookup(arg)
              for arg in inspect.signature(func).parameters}
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            func(**kwargs)
    except Exception as exc:  # any exception fails the case, as in otter
        return False, _exception_message(exc, source_lines, filename)
    return True, ""


def _exception_message(exc: BaseException, source_lines: list[str], filename: str) -> str:
    """Otter's message: the test file's line that failed, and the exception."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    where = ""
    if frames and frames[-1].lineno is not None and 0 < frames[-1].lineno <= len(source_lines):
        line = frames[-1].lineno
        where = f"Error at line {line}:\n  {source_lines[line - 1].strip()}\n"
    text = str(exc).strip("'")
    return (where + f"{type(exc).__name__}: {text}")[:REPORT_LIMIT]
