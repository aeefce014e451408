"""An nbgrader course as it is: default settings for ``source/<name>/`` without an assignment.toml.

nbgrader keeps no per-assignment settings file: every notebook in ``source/<name>/`` is part of
the assignment and every other file is released with them. Course-wide settings live in the
instructor's ``nbgrader_config.py``; the few that matter here are read with traitlets' own
loader, as nbgrader reads them (the file is the instructor's trusted code).
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

from autograder.errors import ConfigError

CONFIG_FILE = "nbgrader_config.py"
"""nbgrader's course settings, at the course root."""
IGNORE = (".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*")
"""Names never released (nbgrader's CourseDirectory.ignore, plus hidden files)."""


def is_nbgrader_assignment(folder: Path) -> bool:
    """A source folder without assignment.toml that holds notebooks."""
    return folder.is_dir() and not (folder / "assignment.toml").exists() and any(folder.glob("*.ipynb"))


def _ignored(path: Path, folder: Path) -> bool:
    return any(fnmatch.fnmatch(part, pattern) for part in path.relative_to(folder).parts for pattern in IGNORE)


def _nbgrader_settings(root: Path) -> dict[str, Any]:
    """The settings of ``nbgrader_config.py`` this grader uses (empty without the file)."""
    path = root / CONFIG_FILE
    if not path.is_file():
        return {}
    from traitlets.config.loader import ConfigFileNotFound, PyFileConfigLoader

    try:
        config = PyFileConfigLoader(path.name, path=str(root)).load_config()
    except ConfigFileNotFound:
        return {}
    except Exception as exc:  # the instructor's Python file failed: say where
        raise ConfigError(f"{path}: could not be loaded ({type(exc).__name__}: {exc}); fix it "
                          "(nbgrader would fail on it too)") from exc
    settings: dict[str, Any] = {}
    method = config.get("LateSubmissionPlugin", {}).get("penalty_method")
    if method == "zero":  # nbgrader: a late notebook scores 0; here: all its points per started day
        settings["policy"] = {"late_penalty": 1.0}
    timeout = config.get("ExecutePreprocessor", {}).get("timeout")
    if isinstance(timeout, int | float) and timeout > 0:
        settings["limits"] = {"call_timeout_s": float(timeout)}
    return settings


def default_config(name: str, root: Path) -> dict[str, Any]:
    """Settings for ``source/<name>/`` as nbgrader would use it: all its notebooks, all its files."""
    folder = root / "source" / name
    notebooks = sorted(p.name for p in folder.glob("*.ipynb") if not _ignored(p, folder))
    files = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.suffix != ".ipynb" and not p.is_symlink() and not _ignored(p, folder)
    )
    return {"title": name, "notebooks": notebooks, "files": files, **_nbgrader_settings(root)}
