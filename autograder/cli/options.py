"""Options and the console shared by the ``autograder`` commands: each option is defined once, here."""

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
DB = click.option("--db", "db_url", default=None, metavar="URL",
                  help="SQLAlchemy URL of the gradebook. Default: gradebook.db at the course root.")
JOBS = click.option("--jobs", "-j", default=2, show_default=True, help="Submissions graded in parallel.")
SANDBOX = click.option("--sandbox", default="auto", show_default=True,
                       help="Container backend: auto, runc, bwrap, docker, local (NO isolation; debugging only).")
SCHEDULER = click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
                         help="Grade on this Dask cluster (each worker grades in its own sandbox); "
                              "results are recorded here.")
STATE = click.option("--state", "state_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="The service's folder (uploads, feedback, secret key). Default: .autograder/ in the course.")
PUBLIC_URL = click.option("--public-url", default="http://127.0.0.1:8000", show_default=True,
                          help="The address students open (the TLS proxy's, in production; "
                               "`serve` without it: its own --host and --port).")
