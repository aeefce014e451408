"""Where a student's LTI grade goes: the link of their newest launch of each assignment (the platform, their
LMS user, the line item or the course's line item container, the granted scopes). ``passback`` posts to it;
``lineitems`` finds or creates the line item a link names no line item for."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Column, DateTime, Engine, String, Table, Text, select

from autograder.service.db import metadata

links = Table(
    "autograder_lti_link", metadata,
    Column("assignment", String(128), primary_key=True),
    Column("student", String(128), primary_key=True),
    Column("issuer", String(255), nullable=False),
    Column("client_id", String(255), nullable=False),
    Column("deployment_id", String(255), nullable=False),
    Column("lms_user", String(255), nullable=False),
    Column("lineitem", Text, nullable=False),
    Column("scopes", Text, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("lineitems", Text),
)
"""Where a student's grade goes: the platform, their LMS user id and the line item of their last launch
(``lineitem`` empty where the launch named only the course's line item container, ``lineitems``)."""


@dataclass(frozen=True)
class Link:
    """A student's LMS side of one assignment (from their last verified launch)."""

    issuer: str
    """The platform's issuer."""
    client_id: str
    """The tool's client id on that platform."""
    deployment_id: str
    """The deployment the launch came through."""
    lms_user: str
    """The student's user id on the platform (the launch's ``sub``): the only user their scores go to."""
    lineitem: str | None
    """The line item (gradebook column) URL the launch named; None where it named only ``lineitems``."""
    scopes: tuple[str, ...]
    """The AGS scopes the platform granted."""
    lineitems: str | None = None
    """The course's line item container URL: where the assignment's line item is found or created when the
    launch named none."""


def linked_student(engine: Engine, issuer: str, client_id: str, lms_user: str) -> str | None:
    """The student an LMS user was last linked to (any assignment), if any."""
    with engine.connect() as connection:
        return connection.scalar(select(links.c.student).where(
            links.c.issuer == issuer, links.c.client_id == client_id, links.c.lms_user == lms_user).limit(1))


def link_of(engine: Engine, assignment: str, student: str) -> Link | None:
    """Where ``student``'s grade for ``assignment`` goes, if they ever launched it from an LMS."""
    with engine.connect() as connection:
        row = connection.execute(select(links).where(links.c.assignment == assignment,
                                                     links.c.student == student)).first()
    if row is None:
        return None
    return Link(row.issuer, row.client_id, row.deployment_id, row.lms_user, row.lineitem or None,
                tuple(json.loads(row.scopes)), row.lineitems)


def linked(engine: Engine) -> list[tuple[str, str]]:
    """(assignment, student) of every student linked to an LMS."""
    with engine.connect() as connection:
        return [(a, s) for a, s in connection.execute(select(links.c.assignment, links.c.student)).tuples()]
