"""Options and the console shared by the ``autograder`` commands (cli.py and cli_people.py)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

console = Console(stderr=True)

COURSE = click.option("--course", type=click.Path(file_okay=False, path_type=Path), default=None,
                      help="Course root (the folder with source/). Default: found from the current folder.")
DATA = click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                    envvar="AUTOGRADER_DATA_DIR", show_envvar=True,
                    help="Data directory with the course datasets. Default: ./data.")
