"""Lets our pytest-style tests run inside a student's kernel, as otter and nbgrader run tests."""

from __future__ import annotations

SHIM = '''
import inspect as _ag_inspect
import os as _ag_os
import pathlib as _ag_pathlib
import types as _ag_types

from autograder.student.checks import LocalStudent as _AgLocalStudent


def _ag_run(test, namespace):
    fixtures = {  # like the grader's fixtures; `feedback` sections are dropped
        "student": _AgLocalStudent(namespace),
        "submission": _ag_pathlib.Path.cwd(),
        "data_dir": _ag_pathlib.Path(_ag_os.environ.get("AUTOGRADER_DATA_DIR", "data")),
        "grading_seed": 0,  # the grader draws one per submission; the other tools get a fixed one
        "feedback": _ag_types.SimpleNamespace(table=lambda *a, **k: None, text=lambda *a, **k: None),
    }
    test(**{name: fixtures[name] for name in _ag_inspect.signature(test).parameters})
'''
"""Prepended to the test code given to otter and nbgrader: ``_ag_run(test, namespace)`` calls one test."""
