"""The line item (gradebook column) of an assignment where a launch names only its course's line item container.

Canvas and Moodle send only ``lineitems`` (no ``lineitem``) for a deep link or a course-level launch. As LTI
AGS intends, the tool then finds the assignment's line item in that container by its ``resourceId`` (the
assignment's name), or creates it (``scoreMaximum`` the assignment's total, ``label`` its title) where the
platform granted the line item scope, and remembers its URL, so every later score of every student of that
course goes to the same column. With only the score scope and no line item to find, nothing can be posted:
`NoLineItem` says so on the outbox row and in the log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, DateTime, Engine, String, Table, Text, and_, delete, select, update

from autograder.service.db import metadata, utcnow
from autograder.service.ltilinks import Link, links

if TYPE_CHECKING:
    from pylti1p3.assignments_grades import AssignmentsGradesService

log = logging.getLogger("autograder.service.lti")

LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
"""The AGS scope that lets the tool create (and read) line items."""

READ_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
"""The AGS scope that lets the tool read line items only."""

lineitems = Table(
    "autograder_lti_lineitem", metadata,
    Column("issuer", String(255), primary_key=True),
    Column("client_id", String(255), primary_key=True),
    Column("container", Text, primary_key=True),
    Column("assignment", String(128), primary_key=True),
    Column("lineitem", Text, nullable=False),
    Column("found_at", DateTime, nullable=False),
)
"""The line item found or created for an assignment in a course's line item container (``lineitems`` URL)."""


class NoLineItem(PermissionError):
    """An assignment has no line item the tool may post to, and the platform did not grant the scope to make one."""


def remembered(engine: Engine, link: Link, assignment: str) -> str | None:
    """The line item already found or created for ``assignment`` in ``link``'s container, if any."""
    with engine.connect() as connection:
        return connection.scalar(select(lineitems.c.lineitem).where(_key(link, assignment)))


def forget(engine: Engine, link: Link, assignment: str) -> None:
    """Drop a remembered line item the platform no longer has (deleted in the LMS): the next try looks again."""
    with engine.begin() as connection:
        connection.execute(delete(lineitems).where(_key(link, assignment)))


def lineitem_for(engine: Engine, service: AssignmentsGradesService, link: Link, assignment: str, *,
                 label: str, maximum: float) -> str:
    """The URL of ``assignment``'s line item in ``link``'s container: remembered, else found or created there."""
    known = remembered(engine, link, assignment)
    if known:
        return known
    url = find_or_create(service, assignment, label=label, maximum=maximum)
    with engine.begin() as connection:
        values = {"lineitem": url, "found_at": utcnow()}
        if connection.execute(update(lineitems).where(_key(link, assignment)).values(**values)).rowcount == 0:
            connection.execute(lineitems.insert().values(issuer=link.issuer, client_id=link.client_id,
                                                         container=link.lineitems, assignment=assignment, **values))
    log.info("line item of %s in %s: %s", assignment, link.lineitems, url)
    return url


def find_or_create(service: AssignmentsGradesService, assignment: str, *, label: str, maximum: float) -> str:
    """pylti1p3 finds the line item whose ``resourceId`` is ``assignment``, or creates it where the scope allows."""
    from pylti1p3.lineitem import LineItem

    wanted = LineItem().set_resource_id(assignment).set_label(label).set_score_maximum(maximum)
    if service.can_create_lineitem():
        found: LineItem | None = service.find_or_create_lineitem(wanted, find_by="resource_id")
    elif service.can_read_lineitem():
        found = service.find_lineitem_by_resource_id(assignment)
        if found is None:
            raise NoLineItem(f"the LMS sent no line item for this link, and none in its course has resourceId "
                             f"{assignment!r}: {_GRANT}")
    else:
        raise NoLineItem(f"the LMS sent no line item for this link and granted only the score scope: {_GRANT}")
    url = found.get_id() if found is not None else None
    if not url:
        raise ValueError(f"the LMS answered a line item for {assignment} without an id (its URL)")
    return url


_GRANT = (f"the tool needs the line item scope ({LINEITEM_SCOPE}) to create the assignment's column; allow it "
          "in the LMS (Canvas: \"Can create and view assignment data in the gradebook associated with the "
          "tool\"; Moodle: \"Use this service for grade sync and column management\"), then have the student "
          "open the assignment again")


def can_make(scopes: tuple[str, ...]) -> bool:
    """Whether these scopes let the tool find (read) or create a line item at all."""
    return LINEITEM_SCOPE in scopes or READ_SCOPE in scopes


def columns(engine: Engine) -> Iterator[dict[str, Any]]:
    """Each (assignment, course container) whose links name no line item, and its line item or why none yet."""
    with engine.connect() as connection:
        found = connection.execute(
            select(links.c.assignment, links.c.issuer, links.c.client_id, links.c.lineitems, links.c.scopes,
                   lineitems.c.lineitem)
            .outerjoin(lineitems, and_(lineitems.c.issuer == links.c.issuer,
                                       lineitems.c.client_id == links.c.client_id,
                                       lineitems.c.container == links.c.lineitems,
                                       lineitems.c.assignment == links.c.assignment))
            .where(links.c.lineitem == "", links.c.lineitems.is_not(None))
            .order_by(links.c.assignment, links.c.lineitems, links.c.updated_at.desc())).all()
    seen: set[tuple[str, str, str, str]] = set()
    for r in found:  # the newest link of each container says which scopes the platform grants now
        if (key := (r.assignment, r.issuer, r.client_id, r.lineitems)) in seen:
            continue
        seen.add(key)
        scopes = tuple(json.loads(r.scopes))
        yield {"assignment": r.assignment, "container": r.lineitems, "lineitem": r.lineitem,
               "create": LINEITEM_SCOPE in scopes, "read": can_make(scopes)}


def _key(link: Link, assignment: str) -> Any:
    return and_(lineitems.c.issuer == link.issuer, lineitems.c.client_id == link.client_id,
                lineitems.c.container == link.lineitems, lineitems.c.assignment == assignment)
