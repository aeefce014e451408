"""Where the course's datasets live; loaders for each dataset sit in this package's modules."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable that names the data directory (CI: ../shared/datasets;
#: inside the grading container: /data).
DATA_DIR_ENV = "AUTOGRADER_DATA_DIR"


CACHE_DIR_ENV = "AUTOGRADER_CACHE_DIR"
"""Environment variable that names the grader's cache folder (decoded test splits, font list, course copies)."""


def cache_dir() -> Path:
    """The grader's cache folder: $AUTOGRADER_CACHE_DIR, else $XDG_CACHE_HOME/autograder, else ~/.cache/autograder."""
    explicit = os.environ.get(CACHE_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "autograder"


class DatasetError(RuntimeError):
    """A dataset is missing or does not match its checksums; the message says what to do."""


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``explicit``, else $AUTOGRADER_DATA_DIR, else ``./data``."""
    if explicit is not None:
        return Path(explicit).expanduser().resolve()
    from_env = os.environ.get(DATA_DIR_ENV)
    if from_env:
        return Path(from_env).expanduser().resolve()
    return Path("data").resolve()
