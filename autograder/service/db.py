"""The service's tables (accounts, uploads, regrade requests) beside nbgrader's, created and upgraded by alembic."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import make_url

VERSION_TABLE = "autograder_alembic_version"
"""Alembic's version table for the service's migrations (nbgrader keeps ``alembic_version``)."""

metadata = MetaData()

accounts = Table(
    "autograder_account", metadata,
    Column("student", String(128), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("generation", Integer, nullable=False, default=0),
    Column("created_at", DateTime, nullable=False),
)
"""One row per student who may sign in: the sha256 of their current token."""

uploads = Table(
    "autograder_upload", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("assignment", String(128), nullable=False),
    Column("student", String(128), nullable=False),
    Column("folder", String(255), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("queued_at", DateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", DateTime),
    Column("finished_at", DateTime),
    Column("attempts", Integer, nullable=False, default=0),
    Column("recorded", Integer, nullable=False, default=0),
    Column("score", Float),
    Column("max_score", Float),
    Column("penalty", Float),
    Column("reason", Text),
    Column("checks", Text),
    Column("counted", Boolean, nullable=False, default=False),
    Column("seconds", Float),
)
"""One row per upload: the durable grading queue and the history students see."""

regrades = Table(
    "autograder_regrade", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("assignment", String(128), nullable=False),
    Column("student", String(128), nullable=False),
    Column("upload_id", Integer, nullable=False),
    Column("notebook", String(128), nullable=False),
    Column("grade_id", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("answer", Text),
    Column("answered_by", String(128)),
    Column("answered_at", DateTime),
    Column("old_score", Float),
    Column("new_score", Float),
)
"""One row per regrade request: the student's question about one check or hand-graded answer, and the answer."""

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
"""Upload states: waiting, being graded, graded, or the grader itself failed (does not count)."""


def utcnow() -> dt.datetime:
    """Now, as naive UTC (how every time is stored)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def engine_for(url: str) -> Engine:
    """An engine for the gradebook URL; SQLite gets WAL (readers never wait) and a long busy timeout."""
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    return engine


def prepare(url: str) -> None:
    """Create the gradebook if needed (nbgrader first: it stamps its schema only on an empty database),
    then bring the service's tables to the newest migration."""
    from alembic import command
    from alembic.config import Config

    from autograder.gradebook.store import open_gradebook

    with open_gradebook(url):
        pass
    engine = engine_for(url)
    try:
        with engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")  # features may add migrations side by side (several heads)
    finally:
        engine.dispose()
