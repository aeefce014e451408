"""`autograder serve`: the course on the web."""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from autograder.cli.options import COURSE, DATA, DB, JOBS, PUBLIC_URL, SANDBOX, SCHEDULER, STATE, console


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Keep localhost and put a TLS proxy in front (see README).")
@click.option("--port", default=8000, show_default=True, help="Port to listen on.")
@JOBS
@SANDBOX
@click.option("--assignment", "assignments", multiple=True, help="Offer only this assignment (repeatable).")
@click.option("--secure-cookies", is_flag=True, help="Session cookie over HTTPS only (behind a TLS proxy).")
@click.option("--max-upload-mb", default=100, show_default=True, help="Largest upload, unpacked.")
@click.option("--lti-config", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="LTI 1.3 settings (TOML with an [lti] table, or JSON): the LMS platforms registered with "
                   "the course. Default: lti.toml in the state folder, if there (see README).")
@SCHEDULER
@DB
@STATE
@PUBLIC_URL
@COURSE
@DATA
def serve(host: str, port: int, jobs: int, sandbox: str, assignments: tuple[str, ...], secure_cookies: bool,
          max_upload_mb: int, lti_config: Path | None, scheduler: str | None, db_url: str | None,
          state_dir: Path | None, public_url: str, course: Path | None, data_dir: Path | None) -> None:
    """Serve the course: students sign in, upload, and read their feedback seconds later.

    The instructor signs in with $AUTOGRADER_INSTRUCTOR_TOKEN (or the link printed at start). Without
    --public-url, links point at http://HOST:PORT as given here.

    \b
    Example:
      autograder roster import roster.csv && autograder roster export
      autograder serve --port 8000 --jobs 2
    """
    from autograder.service.app import listening_url
    from autograder.service.app import serve as run_service
    from autograder.service.settings import make_settings

    if click.get_current_context().get_parameter_source("public_url") is ParameterSource.DEFAULT:
        public_url = listening_url(host, port)  # the link printed below must reach this server

    settings = make_settings(course, db_url=db_url, state_dir=state_dir, jobs=jobs, sandbox=sandbox,
                             data_dir=data_dir, assignments=assignments, public_url=public_url,
                             secure_cookies=secure_cookies, max_upload_mb=max_upload_mb, scheduler=scheduler,
                             lti_config=lti_config.resolve() if lti_config else None)

    def ready(token: str) -> None:
        shown = "$AUTOGRADER_INSTRUCTOR_TOKEN" if settings.instructor_token else token
        # one line, whatever the terminal's width (a link cut in two cannot be copied from a log)
        console.print(f"instructor sign-in: {public_url.rstrip('/')}/login?token={shown}", soft_wrap=True,
                      markup=False)

    run_service(settings, host=host, port=port, on_ready=ready)
