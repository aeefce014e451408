"""Options and the console shared by the ``autograder`` commands: each option is defined once, here."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import cast

import click
from rich.console import Console

console = Console(stderr=True)


def output_folder(path: Path) -> Path:
    """``path`` as a folder this process can write into, created (with its parents) when missing.

    Raises ``ValueError`` with a one-line reason when it cannot be (a file in the way, no permission,
    a read-only file system), so that a command fails before its work, not with a traceback after it.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".autograder-write-check-", dir=path)
    except FileExistsError:
        raise ValueError(f"{path} is a file, not a folder; choose a folder") from None
    except OSError as exc:
        raise ValueError(f"cannot write into the folder {path} ({exc.strerror or exc}); choose a folder you "
                         "can write to") from None
    os.close(handle)
    os.unlink(probe)
    return path


class OutputFolder(click.Path):
    """A folder the command writes into: created when missing; a file, or no permission, is one clear error."""

    def __init__(self) -> None:
        super().__init__(file_okay=False, path_type=Path)

    def convert(self, value: str | os.PathLike[str], param: click.Parameter | None,
                ctx: click.Context | None) -> Path:
        path = cast(Path, super().convert(value, param, ctx))  # path_type=Path
        try:
            return output_folder(path)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class OutputFile(click.Path):
    """A file the command writes: its folder is created when missing; a folder in the way is one clear error."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False, path_type=Path)

    def convert(self, value: str | os.PathLike[str], param: click.Parameter | None,
                ctx: click.Context | None) -> Path:
        path = cast(Path, super().convert(value, param, ctx))  # path_type=Path
        try:
            output_folder(path.parent)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return path


def _gradebook_folder(ctx: click.Context, param: click.Parameter, url: str | None) -> str | None:
    """A SQLite gradebook's folder must exist (SQLite creates the file, never its folder)."""
    if url and url.startswith("sqlite:///") and url not in ("sqlite:///", "sqlite:///:memory:"):
        folder = Path(url.removeprefix("sqlite:///").split("?", 1)[0]).parent
        if not folder.is_dir():
            raise click.BadParameter(f"the gradebook's folder {folder} does not exist or is not a folder; create it, "
                                     "or give a path in an existing folder", ctx, param)
    return url


COURSE = click.option("--course", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
                      help="Course root (the folder with source/). Default: found from the current folder.")
DATA = click.option("--data-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
                    envvar="AUTOGRADER_DATA_DIR", show_envvar=True,
                    help="Data directory with the course datasets. Default: ./data.")
DB = click.option("--db", "db_url", default=None, metavar="URL", callback=_gradebook_folder,
                  help="SQLAlchemy URL of the gradebook. Default: gradebook.db at the course root.")
JOBS = click.option("--jobs", "-j", default=2, show_default=True, help="Submissions graded in parallel.")
SANDBOX = click.option("--sandbox", default="auto", show_default=True,
                       help="Container backend: auto, runc, bwrap, docker, local (NO isolation; debugging only).")
SCHEDULER = click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
                         help="Grade on this Dask cluster (each worker grades in its own sandbox); "
                              "results are recorded here.")
STATE = click.option("--state", "state_dir", type=OutputFolder(), default=None,
                     help="The service's folder (uploads, feedback, secret key). Default: .autograder/ in the course.")
PUBLIC_URL = click.option("--public-url", default="http://127.0.0.1:8000", show_default=True,
                          help="The address students open (the TLS proxy's, in production; "
                               "`serve` without it: its own --host and --port).")
UNTIL = click.option("--until", default=None, metavar="DATE",
                     help="The student's new due date: 2026-12-10 23:59 (UTC) or 2026-12-10T23:59+01:00.")
DAYS = click.option("--days", type=float, default=None,
                    help="Extra days past the assignment's due date (0 removes the extension).")
TIME_FACTOR = click.option("--time-factor", type=float, default=None,
                           help="Extra time: the grader's time limits for this student times this (1 to 10; "
                                "1 removes it).")
WHY = click.option("--why", default="", help="The reason, kept in the change log.")
