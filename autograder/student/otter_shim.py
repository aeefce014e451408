"""A stand-in for otter-grader inside the grading container: ``import otter`` and ``otter.Notebook()`` work.

At grading, a question's tests run on the trusted side, never here. ``Notebook().check("q1")``
only marks the moment otter would have run them: the kernel pauses while the grader tests the
student's state as it is then (as in otter 7, the test of the finished notebook counts when there is one). Everything
else (``check_all``, ``export``, ``to_pdf``, plugins) does nothing, as in otter's grading mode.
Nothing here can change a grade: patching it changes only when the tests look.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

_checkpoint: Callable[[str], None] | None = None


class Notebook:
    """Otter's ``Notebook`` as seen at grading time."""

    def __init__(self, nb_path: str | None = None, tests_dir: str = "./tests", tests_url_prefix: str | None = None,
                 **_: Any) -> None:
        self._notebook, self._tests_dir = nb_path, tests_dir

    def check(self, question: str, global_env: dict[str, Any] | None = None) -> None:
        """Mark the point where otter would test ``question``; the grader tests it now, on its own side."""
        if _checkpoint is not None:
            _checkpoint(str(question))

    def check_all(self) -> None:
        """Nothing at grading time (otter's grading mode skips it too)."""

    def export(self, *args: Any, **kwargs: Any) -> None:
        """Nothing at grading time (otter's grading mode skips it too)."""

    def to_pdf(self, *args: Any, **kwargs: Any) -> None:
        """Nothing at grading time."""

    def run_plugin(self, *args: Any, **kwargs: Any) -> None:
        """Nothing at grading time."""

    def add_plugin_files(self, *args: Any, **kwargs: Any) -> None:
        """Nothing at grading time."""

    @classmethod
    def init_grading_mode(cls, *args: Any, **kwargs: Any) -> None:
        """Nothing: this stand-in is always in grading mode."""


def install(checkpoint: Callable[[str], None]) -> None:
    """Become ``otter`` for the notebook's imports; ``checkpoint(question)`` runs at each ``check``."""
    global _checkpoint
    _checkpoint = checkpoint
    sys.modules["otter"] = sys.modules[__name__]
