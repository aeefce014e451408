"""Typed course and assignment settings read from TOML; each field's description sits beside it."""

from __future__ import annotations

import datetime as dt
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from autograder.errors import ConfigError as ConfigError  # re-exported: callers catch config.ConfigError
from autograder.sandbox.base import Limits as Limits  # the one limits type, read from [limits]


class Policy(BaseModel):
    """When and how often students may submit through ``autograder serve``, and which submission counts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    deadline: dt.datetime | None = Field(None, description="Due date; give a UTC offset (a naive time is UTC).")
    late_penalty: float = Field(0, ge=0, le=1, description="Share of the points lost per started day late.")
    accept_late: bool = Field(True, description="Accept uploads after the deadline (with the penalty).")
    counts: Literal["last", "best"] = Field("best", description="Which graded submission the gradebook keeps.")
    cooldown_s: float = Field(0, ge=0, description="Seconds a student waits between two uploads.")
    daily_limit: int = Field(0, ge=0, description="Uploads per student in any 24 hours (0: no limit).")
    regrade_requests: int = Field(3, ge=0, description="Regrade requests a student may make on the assignment "
                                  "(0: none).")


class AssignmentConfig(BaseModel):
    """One assignment's settings (``source/<name>/assignment.toml``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(description="Human title shown in feedback.")
    notebook: str = Field(description="Notebook file name inside the assignment folder (the first of `notebooks`).")
    notebooks: tuple[str, ...] = Field((), description="Every notebook of the assignment, each graded in its own "
                                       "kernel (default: just `notebook`).")
    artifacts: tuple[str, ...] = Field((), description="Files submitted beside the notebook.")
    data: tuple[str, ...] = Field((), description="Data-dir subfolders mounted read-only at /data.")
    forbidden_modules: tuple[str, ...] = Field((), description="Modules the code may not use.")
    free_points: float = Field(0, ge=0, description="Hidden points a blank stub may earn.")
    files: tuple[str, ...] = Field((), description="Extra files copied from source/ to release/.")
    solution_fixtures: str | None = Field(
        None,
        description="Folder (from the course root) of pre-trained artifacts: when set, executing "
        "the solution skips training cells and starts from these files.",
    )
    limits: Limits = Field(default_factory=Limits, description="Container limits.")
    policy: Policy = Field(default_factory=Policy, description="Submission rules for `autograder serve`.")
    mutation_exempt: dict[str, str] = Field(
        default_factory=dict,
        description="Hidden tests that mutating solution code cannot reach (they judge submitted files), "
        "as 'grade_id' or 'grade_id::test' -> the reason and where they are tested instead.",
    )
    mutation_goal: float = Field(0.9, ge=0.0, le=1.0, description="Share of the solution's mutants that must "
                                 "lose points for `autograder validate` to pass (the mutation score).")
    model: dict[str, object] = Field(default_factory=dict, description="Assignment-specific extras.")
    otter: str | None = Field(None, description="otter-grader's autograder zip (in source/<name>/) whose tests "
                              "grade this assignment; the notebook need not be in source/ then.")

    @model_validator(mode="before")
    @classmethod
    def _one_or_several_notebooks(cls, raw: Any) -> Any:
        """``notebook = "x.ipynb"`` or ``notebooks = ["x.ipynb", "y.ipynb"]`` (or both, consistent)."""
        if not isinstance(raw, dict):
            return raw
        several, one = raw.get("notebooks") or (), raw.get("notebook")
        if isinstance(several, list | tuple) and several and one is None:
            return {**raw, "notebook": several[0]}
        if one is not None and not several:
            return {**raw, "notebooks": (one,)}
        if one is not None and isinstance(several, list | tuple) and one not in several:
            raise ValueError(f"notebook = {one!r} is not one of notebooks = {list(several)}")
        return raw


class Assignment(BaseModel):
    """An assignment as found on disk: its name, folders and settings."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str = Field(description="Folder name under source/, as the course names it.")
    root: Path = Field(description="Course root holding source/, release/, solutions/.")
    config: AssignmentConfig = Field(description="Settings from assignment.toml.")

    @property
    def source_dir(self) -> Path:
        """Instructor folder."""
        return self.root / "source" / self.name

    @property
    def release_dir(self) -> Path:
        """Generated student folder."""
        return self.root / "release" / self.name

    @property
    def solutions_dir(self) -> Path:
        """Generated, executed solution folder."""
        return self.root / "solutions" / self.name

    @cached_property
    def source_notebook(self) -> Path:
        """The instructor notebook (the first one)."""
        return self.source_dir / self.config.notebook

    @property
    def source_notebooks(self) -> list[Path]:
        """Every instructor notebook, in order."""
        return [self.source_dir / name for name in self.config.notebooks]


def course_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` that has a ``source/`` folder."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "source").is_dir():
            return folder
    raise ConfigError(
        f"no course found at or above {here}: expected a folder with source/<assignment>/; "
        "run the command from the course repository or pass --course PATH"
    )


def list_assignments(root: Path) -> list[str]:
    """Names of the assignments in ``root/source``, sorted (nbgrader's folders of notebooks included)."""
    from autograder.config.nbgrader import is_nbgrader_assignment
    from autograder.config.otter import is_otter_assignment

    configured = {p.parent.name for p in (root / "source").glob("*/assignment.toml")}
    return sorted(configured | {p.name for p in (root / "source").glob("*")
                                if is_nbgrader_assignment(p) or is_otter_assignment(p)})


def load_assignment(name: str, root: Path | None = None) -> Assignment:
    """Read ``source/<name>/assignment.toml`` and check it."""
    course = root or course_root()
    from autograder.config import otter
    from autograder.config.nbgrader import default_config, is_nbgrader_assignment

    path = course / "source" / name / "assignment.toml"
    otter_style = otter.is_otter_assignment(path.parent)
    nbgrader_style = not otter_style and is_nbgrader_assignment(path.parent)
    if not path.is_file() and not nbgrader_style and not otter_style:
        known = ", ".join(list_assignments(course)) or "none"
        raise ConfigError(f"no assignment {name!r}: {path} does not exist (known: {known})")
    try:
        raw = (otter.default_config(name, course) if otter_style else default_config(name, course) if nbgrader_style
               else tomllib.loads(path.read_text(encoding="utf-8")))
        config = AssignmentConfig.model_validate(raw)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    except ValidationError as exc:
        details = "; ".join(  # a whole-model check has no location, and pydantic prefixes "Value error, "
            ".".join(str(p) for p in err["loc"]) + ": " * bool(err["loc"]) + err["msg"].removeprefix("Value error, ")
            for err in exc.errors()
        )
        raise ConfigError(f"{path}: {details}") from exc
    assignment = Assignment(name=name, root=course, config=config)
    for notebook in assignment.source_notebooks if config.otter is None else ():  # otter's tests are in its zip
        if not notebook.is_file():
            raise ConfigError(f"{path}: notebook {notebook.name!r} is listed but {notebook} is missing")
    return assignment
