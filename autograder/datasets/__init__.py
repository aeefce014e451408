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


def private_folder(folder: Path) -> Path:
    """``folder``, made if missing, with a .gitignore of its own: nothing in it is ever committed (the
    course's state folder: uploads, feedback, secret keys)."""
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# uploads, feedback and the secret keys: never commit\n*\n", encoding="utf-8")
    return folder


def kept_secret(folder: Path, name: str) -> str:
    """The random secret in ``folder/name`` (64 hex digits), made on first use, readable by this user only
    ('' when the file exists but is empty: the caller says what to do)."""
    import secrets

    path = private_folder(folder) / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    return path.read_text(encoding="utf-8").strip()


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
