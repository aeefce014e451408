"""An otter-grader course as it is: ``source/<name>/`` holding otter's autograder zip, or an otter-assign
source notebook, without an assignment.toml.

Recognised by the zip (``autograder.zip``, as otter assign and Gradescope name it) or by a notebook
whose first cell is otter's ``# ASSIGNMENT CONFIG`` raw cell. The tests then come from the zip
(``grading/otter_tests.py``); the student's notebook may have any name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ZIP_NAME = "autograder.zip"
"""The autograder zip's name in ``source/<name>/``."""
CONFIG_MARK = "# ASSIGNMENT CONFIG"
"""The first line of otter assign's configuration cell."""


def otter_source(folder: Path) -> Path | None:
    """The otter-assign source notebook of ``folder`` (its first cell is ``# ASSIGNMENT CONFIG``), if any."""
    for path in sorted(folder.glob("*.ipynb")):
        try:
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError, AttributeError):
            continue
        first = "".join(cells[0].get("source", "")) if cells and isinstance(cells[0], dict) else ""
        if first.lstrip().startswith(CONFIG_MARK):
            return path
    return None


def is_otter_assignment(folder: Path) -> bool:
    """A source folder without assignment.toml that holds otter's autograder zip or an otter-assign notebook."""
    if not folder.is_dir() or (folder / "assignment.toml").exists():
        return False
    return (folder / ZIP_NAME).is_file() or otter_source(folder) is not None


def default_config(name: str, root: Path) -> dict[str, Any]:
    """Settings for an otter assignment: its notebook (the otter-assign source's name, else ``<name>.ipynb``)."""
    folder = root / "source" / name
    source = otter_source(folder)
    notebook = source.name if source is not None else f"{name}.ipynb"
    return {"title": name, "notebook": notebook, "otter": ZIP_NAME}
