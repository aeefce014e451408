"""The instructor's plots, drawn on the server with matplotlib and inlined as SVG."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from autograder.service.queue import Upload

if TYPE_CHECKING:
    from autograder.checking.integrity import Report

_BLUE, _GREEN, _RED = "#1565c0", "#2e7d32", "#c62828"


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog: the SVG sits inside the HTML page


def score_histogram(counted: Sequence[Upload]) -> str:
    """How many students have each final score (the upload that counts, one per student)."""
    figure = Figure(figsize=(4.6, 2.8))
    ax = figure.subplots()
    scores = [u.score or 0.0 for u in counted]
    top = max((u.max_score or 0.0 for u in counted), default=1.0) or 1.0
    ax.hist(scores, bins=min(20, max(5, int(top))), range=(0, top), color=_BLUE, edgecolor="white")
    ax.set_xlabel("score")
    ax.set_ylabel("students")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"Scores ({len(scores)} students)")
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


def pass_rates(counted: Sequence[Upload]) -> str:
    """Share of students passing each check, worst first (which hidden test fails most)."""
    passed: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for upload in counted:
        for grade_id, name, hidden, ok in json.loads(upload.checks or "[]"):
            label = f"{grade_id}::{name}" + (" (hidden)" if hidden else "")
            seen[label] += 1
            passed[label] += bool(ok)
    labels = sorted(seen, key=lambda k: (passed[k] / seen[k], k))[:25]
    figure = Figure(figsize=(6.4, 0.5 + 0.28 * max(len(labels), 2)))
    ax = figure.subplots()
    rates = [passed[k] / seen[k] for k in labels]
    ax.barh(range(len(labels)), rates, color=[_RED if r < 0.5 else _GREEN for r in rates])
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of students passing")
    ax.set_title("Pass rate of every check (worst first)")
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


def per_hour(all_uploads: Sequence[Upload]) -> str:
    """Uploads received per hour (the last 48 hours that had any)."""
    hours = Counter(u.created_at.replace(minute=0, second=0, microsecond=0) for u in all_uploads)
    figure = Figure(figsize=(4.6, 2.8))
    ax = figure.subplots()
    if hours:
        end = max(hours)
        start = max(min(hours), end - dt.timedelta(hours=47))
        slots = [start + dt.timedelta(hours=i) for i in range(int((end - start).total_seconds() // 3600) + 1)]
        ax.bar(range(len(slots)), [hours.get(s, 0) for s in slots], color=_BLUE)
        step = max(1, len(slots) // 8)
        ax.set_xticks(range(0, len(slots), step), [s.strftime("%d %H:00") for s in slots[::step]],
                      rotation=30, ha="right", fontsize=8)
        ax.set_xlim(-0.8, max(len(slots), 4) - 0.2)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("uploads")
    ax.set_title("Uploads per hour (UTC)")
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


def regrade_counts(asked: Sequence[tuple[str, str, bool]]) -> str:
    """How many regrade requests each check or answer drew (``asked``: notebook, grade_id, still open), most first."""
    return _svg(regrade_figure(asked))


def regrade_figure(asked: Sequence[tuple[str, str, bool]]) -> Figure:
    """The figure of `regrade_counts`: stacked bars (answered, open) per check; the legend right of the axes,
    where no bar can be (the longest bar reaches the axes' right edge)."""
    total: Counter[str] = Counter()
    waiting: Counter[str] = Counter()
    several = len({notebook for notebook, _g, _o in asked}) > 1
    for notebook, grade_id, is_open in asked:
        label = f"{notebook}/{grade_id}" if several else grade_id
        total[label] += 1
        waiting[label] += is_open
    labels = sorted(total, key=lambda k: (-total[k], k))[:25]
    figure = Figure(figsize=(6.4, 0.6 + 0.3 * max(len(labels), 2)))
    ax = figure.subplots()
    rows = range(len(labels))
    ax.barh(rows, [total[k] - waiting[k] for k in labels], color=_GREEN, label="answered")
    ax.barh(rows, [waiting[k] for k in labels], left=[total[k] - waiting[k] for k in labels], color=_RED,
            label="open")
    ax.set_yticks(rows, labels, fontsize=8)
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("regrade requests")
    ax.set_title(f"Regrade requests per check ({sum(total.values())} in all)")
    if labels:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return figure


def similarity_histogram(report: Report) -> str:
    """The integrity report's code similarity of every pair (``checking.integrity.histogram``)."""
    from autograder.checking.integrity import histogram

    return _svg(histogram(report))
