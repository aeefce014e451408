"""Parse Python source into an AST safely from any thread.

CPython 3.11 before 3.11.8 keeps the AST constructor's recursion depth in state shared by every
thread. When the garbage collector runs Python code in the middle of one ``ast.parse``, another
thread's ``ast.parse`` (our own, or the traceback module's caret anchors while some library logs an
exception) moves that shared counter, and the first parse fails with ``SystemError: AST
constructor recursion depth mismatch`` although its source is fine (python/cpython#106905). The
service parses in its grading thread while request threads and the Dask client's thread run, so
this helper serialises the project's own parses and tries a parse that another library's thread
disturbed again. The parse it returns is complete: the error is raised after the tree is built.
"""

from __future__ import annotations

import ast
import threading

_LOCK = threading.RLock()  # a finalizer the collector runs mid-parse may parse too
_DISTURBED = "AST constructor recursion depth mismatch"
TRIES = 5
"""How many times a parse disturbed by another thread is made before its error is raised."""


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse(source, filename)``, without the shared-counter race of CPython 3.11.0-3.11.7.

    Raises:
        SyntaxError: the source is not valid Python (as ``ast.parse`` does).
    """
    for attempt in range(TRIES):
        try:
            with _LOCK:
                return ast.parse(source, filename)
        except SystemError as exc:
            if _DISTURBED not in str(exc) or attempt == TRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
