"""The service's settings, its state folder and the secret every token and cookie is derived from."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from autograder.datasets import kept_secret, private_folder

SECRET_FILE = "secret.key"
"""File in the state folder holding the service's random key (hex)."""


@dataclass(frozen=True)
class ServiceSettings:
    """How one `autograder serve` runs."""

    root: Path
    """Course root (the folder with source/)."""
    db_url: str
    """SQLAlchemy URL of the gradebook; the service's own tables live in it too."""
    state_dir: Path
    """Uploads, per-upload feedback pages and the secret key (never commit it)."""
    jobs: int = 2
    """Submissions graded in parallel."""
    sandbox: str = "auto"
    """Container backend for grading."""
    scheduler: str | None = None
    """Dask scheduler (tcp://HOST:PORT) to grade on; None grades on this machine."""
    data_dir: Path | None = None
    """Data directory with the course datasets."""
    assignments: tuple[str, ...] = ()
    """Assignments offered to students (empty: every assignment in source/)."""
    instructor_token: str | None = None
    """The instructor's credential (default: derived from the secret key, printed by `serve`)."""
    public_url: str = "http://127.0.0.1:8000"
    """Address students use, for the sign-in links `roster export` prints."""
    secure_cookies: bool = False
    """Send the session cookie over HTTPS only (set it behind a TLS proxy)."""
    max_upload_mb: int = 100
    """Largest upload (notebook and artifacts together, unpacked)."""
    requests_per_minute: int = 600
    """Requests one signed-in person may make per minute (status polling included)."""
    grade: bool = True
    """Run the grader in this process (tests of the pages alone turn it off)."""
    lti_config: Path | None = None
    """LTI 1.3 settings (TOML or JSON; see the README); None: ``lti.toml`` in the state folder, if there."""


def state_folder(root: Path) -> Path:
    """The default state folder: ``.autograder/`` at the course root."""
    return root / ".autograder"


def ensure_state(state_dir: Path) -> None:
    """Create the state folder, ignored by git whatever the course's own .gitignore says."""
    private_folder(state_dir)


def secret_key(state_dir: Path) -> bytes:
    """The service's random key, made on first use (readable by this user only)."""
    return bytes.fromhex(kept_secret(state_dir, SECRET_FILE))


def make_settings(root: Path | None = None, *, db_url: str | None = None, state_dir: Path | None = None,
                  **options: object) -> ServiceSettings:
    """Settings for the course at ``root`` (default: found from the current folder); the instructor's
    token comes from $AUTOGRADER_INSTRUCTOR_TOKEN when set."""
    from autograder.config import course_root
    from autograder.gradebook.store import default_url

    course = (root or course_root()).resolve()
    token = os.environ.get("AUTOGRADER_INSTRUCTOR_TOKEN") or None
    values: dict[str, object] = {"instructor_token": token, **options}
    return ServiceSettings(root=course, db_url=db_url or default_url(course),
                           state_dir=(state_dir or state_folder(course)).resolve(), **values)  # type: ignore[arg-type]
