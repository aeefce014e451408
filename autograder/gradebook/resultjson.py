"""A graded submission's result as JSON beside its feedback page, so the page can be redrawn after hand grading."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any

from autograder.results import SubmissionResult


def path_for(out_dir: Path, student: str) -> Path:
    """Where ``student``'s result is kept (a hidden file beside ``<student>.html``)."""
    return out_dir / f".{student}.result.json"


def save(result: SubmissionResult, out_dir: Path) -> Path:
    """Write the result as JSON (plain data only: it is what the page shows)."""
    path = path_for(out_dir, result.student_id)
    path.write_text(json.dumps(dataclasses.asdict(result)), encoding="utf-8")
    return path


def _build(kind: Any, value: Any) -> Any:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if value is None:
        return None
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        hints = typing.get_type_hints(kind)
        fields = {f.name for f in dataclasses.fields(kind)}
        return kind(**{k: _build(hints[k], v) for k, v in value.items() if k in fields})
    if origin in (typing.Union, types.UnionType):
        real = [a for a in args if a is not type(None)]
        return _build(real[0], value) if len(real) == 1 else value
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return tuple(_build(args[0], v) for v in value)
    if origin is tuple:
        return tuple(_build(a, v) for a, v in zip(args, value, strict=False))
    if origin is list:
        return [_build(args[0], v) for v in value]
    return value


def load(out_dir: Path, student: str) -> SubmissionResult | None:
    """The result saved for ``student``, or None when there is none (or it cannot be read)."""
    path = path_for(out_dir, student)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        result = _build(SubmissionResult, raw)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    return result if isinstance(result, SubmissionResult) else None
