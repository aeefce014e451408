"""Per-student HTML feedback pages: scores, messages, plots; never hidden test code."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape

from autograder.config import Assignment

if TYPE_CHECKING:
    from collections.abc import Sequence

    from autograder.gradebook.handgrading import ManualItem
    from autograder.results import SubmissionResult

MAX_IMAGES = 12
"""Plots shown per page."""

_ENV = Environment(loader=PackageLoader("autograder.gradebook", "templates"), autoescape=select_autoescape())


def _images(result: SubmissionResult) -> list[dict[str, Any]]:
    images = []
    for cell in result.execution.cells:
        for output in cell.outputs:
            data = output.get("data", {})
            if isinstance(data, dict) and isinstance(data.get("image/png"), str):
                images.append({"index": cell.index, "data": data["image/png"]})
    return images[:MAX_IMAGES]


def render(assignment: Assignment, result: SubmissionResult, hand: Sequence[ManualItem] = ()) -> str:
    """The feedback page for one submission, as HTML text (``hand``: its hand-graded answers)."""
    fraction = result.score / result.max_score if result.max_score else 0.0
    return _ENV.get_template("feedback.html").render(
        title=assignment.config.title,
        r=result,
        fraction=max(0.0, min(1.0, fraction)),
        when=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        errors=[c for c in result.execution.cells if c.status == "error"],
        images=_images(result),
        details=list(result.details),
        hand=list(hand),
    )
