"""Submission rules: cooldown and daily limit refuse with the wait, deadlines, late penalties, what counts."""

from __future__ import annotations

import datetime as dt

from autograder.config import Policy
from autograder.service.policy import deadline_utc, penalty, refusal, replaces, wait_text

NOW = dt.datetime(2026, 12, 1, 12, 0, 0)


def test_cooldown_refuses_with_the_remaining_wait() -> None:
    policy = Policy(cooldown_s=600)
    refused = refusal(policy, [NOW - dt.timedelta(seconds=90)], NOW)
    assert refused is not None and refused.wait_s == 510
    assert "wait 8 min 30 s" in refused.message
    assert refusal(policy, [NOW - dt.timedelta(seconds=600)], NOW) is None
    assert refusal(policy, [], NOW) is None


def test_daily_limit_counts_a_rolling_day() -> None:
    policy = Policy(daily_limit=2)
    times = [NOW - dt.timedelta(hours=30), NOW - dt.timedelta(hours=20), NOW - dt.timedelta(hours=1)]
    refused = refusal(policy, times, NOW)
    assert refused is not None and refused.wait_s == 4 * 3600  # the upload 20 h ago leaves the window first
    assert "daily limit reached (2 uploads in 24 hours): wait 4 h 0 min" in refused.message
    assert refusal(policy, times[:1] + times[2:], NOW) is None


def test_deadline_with_offset_and_hard_close() -> None:
    aware = dt.datetime(2026, 12, 1, 13, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert deadline_utc(Policy(deadline=aware)) == dt.datetime(2026, 12, 1, 11, 0)
    closed = refusal(Policy(deadline=aware, accept_late=False), [], NOW)
    assert closed is not None and closed.wait_s is None and "deadline" in closed.message
    assert refusal(Policy(deadline=aware), [], NOW) is None  # late is accepted by default


def test_late_penalty_per_started_day_capped_at_the_score() -> None:
    policy = Policy(deadline=NOW, late_penalty=0.1)
    assert penalty(policy, NOW, 20, 20) == 0
    assert penalty(policy, NOW + dt.timedelta(minutes=1), 20, 20) == 2
    assert penalty(policy, NOW + dt.timedelta(days=1, minutes=1), 20, 20) == 4
    assert penalty(policy, NOW + dt.timedelta(days=30), 5, 20) == 5
    assert penalty(Policy(late_penalty=0.5), NOW, 20, 20) == 0  # no deadline, no penalty


def test_which_upload_counts() -> None:
    best, last = Policy(counts="best"), Policy(counts="last")
    assert replaces(best, 5, 10.0, None) and replaces(last, 5, 0.0, None)
    assert not replaces(best, 5, 10.0, (3, 12.0)) and replaces(best, 5, 13.0, (3, 12.0))
    assert replaces(last, 5, 0.0, (3, 12.0)) and not replaces(last, 2, 20.0, (3, 12.0))
    assert replaces(best, 3, 1.0, (3, 12.0))  # a regrade of the counted upload always records


def test_wait_text() -> None:
    assert (wait_text(40), wait_text(125), wait_text(3725)) == ("40 s", "2 min 5 s", "1 h 2 min")
