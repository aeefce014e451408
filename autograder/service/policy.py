"""An assignment's submission rules: may this student upload now, what a late upload loses, what counts."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from autograder.config import Policy

DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Refusal:
    """Why an upload is refused now, and how long to wait."""

    message: str
    """What to tell the student."""
    wait_s: float | None
    """Seconds until an upload would be accepted (None: never, e.g. after a hard deadline)."""


def deadline_utc(policy: Policy, extended: dt.datetime | None = None) -> dt.datetime | None:
    """The deadline as naive UTC (a deadline written without an offset is taken as UTC); ``extended``: the
    student's own due date (an extension, naive UTC), which replaces it."""
    if extended is not None:
        return extended
    if policy.deadline is None:
        return None
    if policy.deadline.tzinfo is None:
        return policy.deadline
    return policy.deadline.astimezone(dt.UTC).replace(tzinfo=None)


def wait_text(seconds: float) -> str:
    """'2 min 5 s', '1 h 3 min', '40 s'."""
    seconds = math.ceil(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def refusal(policy: Policy, previous: Sequence[dt.datetime], now: dt.datetime,
            extended: dt.datetime | None = None) -> Refusal | None:
    """Whether an upload at ``now`` breaks the rules, given the times of the student's counted uploads
    (``extended``: the student's own due date, see ``deadline_utc``)."""
    deadline = deadline_utc(policy, extended)
    if deadline is not None and now > deadline and not policy.accept_late:
        return Refusal(f"the deadline ({deadline:%Y-%m-%d %H:%M} UTC) has passed; uploads are closed", None)
    if previous and policy.cooldown_s:
        ready = max(previous) + dt.timedelta(seconds=policy.cooldown_s)
        if now < ready:
            wait = (ready - now).total_seconds()
            return Refusal(f"too soon: wait {wait_text(wait)} before uploading again "
                           f"(one upload every {wait_text(policy.cooldown_s)})", wait)
    if policy.daily_limit:
        recent = sorted(t for t in previous if t > now - DAY)
        if len(recent) >= policy.daily_limit:
            wait = (recent[-policy.daily_limit] + DAY - now).total_seconds()
            return Refusal(f"daily limit reached ({policy.daily_limit} uploads in 24 hours): "
                           f"wait {wait_text(wait)}", wait)
    return None


def penalty(policy: Policy, submitted: dt.datetime, raw_score: float, max_score: float,
            extended: dt.datetime | None = None) -> float:
    """Points a submission loses for lateness: ``late_penalty`` of the points per started day, at most its score
    (``extended``: the student's own due date, see ``deadline_utc``)."""
    deadline = deadline_utc(policy, extended)
    if deadline is None or submitted <= deadline or not policy.late_penalty:
        return 0.0
    days = math.ceil((submitted - deadline) / DAY)
    return round(min(raw_score, days * policy.late_penalty * max_score), 6)


def replaces(policy: Policy, upload_id: int, final: float, counted: tuple[int, float] | None) -> bool:
    """Whether a newly graded upload becomes the one the gradebook keeps, given the current one (id, score)."""
    if counted is None or counted[0] == upload_id:
        return True
    if policy.counts == "last":
        return upload_id > counted[0]
    return final > counted[1]
