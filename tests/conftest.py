"""Shared fixtures: the tiny course, the sandbox, the data directory."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import factories

ROOT = Path(__file__).resolve().parents[1]

# nbgrader's Gradebook runs `alembic` from PATH.
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A course root holding the tiny assignment."""
    return factories.tiny_course(tmp_path / "course")


@pytest.fixture(scope="session")
def sandbox_name() -> str:
    """The container backend the tests use (skips when none works here)."""
    from autograder.sandbox import available_backends

    backends = [b for b in available_backends() if b != "docker"] or available_backends()
    if not backends:
        pytest.skip("no container backend (install runc or bubblewrap)")
    return os.environ.get("AUTOGRADER_TEST_SANDBOX", backends[0])


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real datasets (CI: ../shared/datasets)."""
    path = Path(os.environ.get("AUTOGRADER_DATA_DIR", ROOT.parent / "shared" / "datasets"))
    if not path.is_dir():
        pytest.skip(f"no data directory at {path}; set AUTOGRADER_DATA_DIR")
    return path


CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's package) driven by Playwright; skips where either is missing."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh gradebook URL on each database the service supports: SQLite, and the session's PostgreSQL
    server (a module using it imports ``postgres`` from tests.service_helpers)."""
    from tests.service_helpers import DATABASES, database_url

    assert request.param in DATABASES
    return database_url(request, tmp_path)
