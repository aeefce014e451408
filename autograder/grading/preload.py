"""Imported once by the worker server before it forks: per-process set-up that can be done once.

Each submission is graded in a fresh process forked from that server (pytest and the hidden-test
modules start clean). What is done here is inherited by every fork instead of being redone per
submission: pytest's built-in plugins, which it imports only when a session starts, modules
hidden tests use, and nbformat's notebook validator, which fastjsonschema compiles on first use.
"""

from __future__ import annotations

import importlib

import nbformat

import autograder._startup  # noqa: F401  (before nbformat's jsonschema import matters)

ALSO_IMPORTED = ("numpy.random", "pdb", "autograder.grading.asserts", "autograder.student.audit",
                 "autograder.student.checks", "autograder.student.expect", "autograder.checking.properties")
"""Modules a grading process would otherwise import per submission: hidden tests draw from numpy.random
(slow to import), pytest imports pdb, nbgrader-style cells and the import audit use the next ones, and
property checks import Hypothesis (~0.12 s) through ``autograder.checking.properties``."""

PYTEST_PLUGINS = ("faulthandler", "helpconfig", "junitxml", "pastebin", "setuponly", "setupplan", "skipping",
                  "threadexception", "tracemalloc", "unittest", "unraisableexception", "warnings")
"""pytest's built-in plugins that a session imports (``_pytest.<name>``)."""


def warm_up() -> None:
    """Import pytest's plugins and compile the validator of the current notebook format."""
    for name in (*(f"_pytest.{plugin}" for plugin in PYTEST_PLUGINS), *ALSO_IMPORTED):
        importlib.import_module(name)
    importlib.import_module("autograder.checking.properties").warm_up()
    nbformat.validate(nbformat.v4.new_notebook())  # type: ignore[no-untyped-call]


warm_up()
