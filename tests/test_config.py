"""Contract of config: assignment settings are read, checked, and every error names the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from autograder.config import (
    Assignment,
    AssignmentConfig,
    ConfigError,
    Limits,
    Policy,
    course_root,
    list_assignments,
    load_assignment,
)
from tests import factories


def _toml(course: Path, text: str) -> Path:
    path = course / "source" / "tiny" / "assignment.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_tiny_assignment_loads_with_its_settings_and_defaults(tiny: Path) -> None:
    assignment = load_assignment("tiny", tiny)
    assert isinstance(assignment, Assignment)
    assert (assignment.name, assignment.root, assignment.config.title) == ("tiny", tiny, "Tiny")
    assert assignment.source_notebook == tiny / "source" / "tiny" / "tiny.ipynb"
    assert assignment.release_dir == tiny / "release" / "tiny"
    assert assignment.solutions_dir == tiny / "solutions" / "tiny"
    limits = assignment.config.limits
    assert (limits.notebook_timeout_s, limits.call_timeout_s, limits.memory_mb) == (15, 5, 512)
    assert (limits.pids, limits.scratch_mb) == (Limits().pids, Limits().scratch_mb)  # defaults fill the rest
    assert assignment.config.artifacts == () and assignment.config.free_points == 0


def test_settings_are_frozen(tiny: Path) -> None:
    config = load_assignment("tiny", tiny).config
    with pytest.raises(ValidationError):
        config.title = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        config.limits.memory_mb = 1  # type: ignore[misc]


HEAD = 'title = "T"\nnotebook = "tiny.ipynb"\n'


@pytest.mark.parametrize(("text", "field", "why"), [
    (HEAD + 'tittle = "typo"\n', "tittle", "Extra inputs are not permitted"),
    ('notebook = "tiny.ipynb"\n', "title", "Field required"),
    (HEAD + 'free_points = -1\n', "free_points", "greater than or equal to 0"),
    (HEAD + 'artifacts = "model.keras"\n', "artifacts", "tuple"),
    (HEAD + '[limits]\nmemory_mb = 64\n', "limits.memory_mb", "greater than or equal to 128"),
    (HEAD + '[limits]\nnotebook_timeout = 5\n', "limits.notebook_timeout", "Extra inputs"),
    (HEAD + '[limits]\ncall_timeout_s = 0\n', "limits.call_timeout_s", "greater than 0"),
    (HEAD + '[policy]\nlate_penalty = 2\n', "policy.late_penalty", "less than or equal to 1"),
    (HEAD + '[policy]\ncounts = "first"\n', "policy.counts", "'last' or 'best'"),
])
def test_invalid_settings_name_the_file_and_the_field(tiny: Path, text: str, field: str, why: str) -> None:
    path = _toml(tiny, text)
    with pytest.raises(ConfigError) as error:
        load_assignment("tiny", tiny)
    message = str(error.value)
    assert message.startswith(f"{path}: "), message
    assert f"{field}: " in message and why in message, message


def test_inconsistent_notebook_settings_are_one_clear_sentence(tiny: Path) -> None:
    path = _toml(tiny, 'title = "T"\nnotebook = "tiny.ipynb"\nnotebooks = ["other.ipynb"]\n')
    with pytest.raises(ConfigError) as error:
        load_assignment("tiny", tiny)
    assert str(error.value) == f"{path}: notebook = 'tiny.ipynb' is not one of notebooks = ['other.ipynb']"


def test_invalid_toml_names_the_file_and_the_line(tiny: Path) -> None:
    path = _toml(tiny, 'title = "T"\nnotebook = tiny.ipynb\n')
    with pytest.raises(ConfigError, match="invalid TOML") as error:
        load_assignment("tiny", tiny)
    assert str(path) in str(error.value) and "line 2" in str(error.value)


def test_a_missing_notebook_is_named(tiny: Path) -> None:
    path = _toml(tiny, 'title = "T"\nnotebook = "other.ipynb"\n')
    with pytest.raises(ConfigError) as error:
        load_assignment("tiny", tiny)
    message = str(error.value)
    assert str(path) in message and "'other.ipynb'" in message and "missing" in message


def test_an_unknown_assignment_lists_the_known_ones(tiny: Path) -> None:
    factories.tiny_course(tiny / "copy")  # not an assignment of this course
    (tiny / "source" / "notes").mkdir()  # a folder without assignment.toml is not one either
    second = tiny / "source" / "second"
    second.mkdir()
    (second / "assignment.toml").write_text('title = "S"\nnotebook = "s.ipynb"\n')
    assert list_assignments(tiny) == ["second", "tiny"]
    with pytest.raises(ConfigError, match=r"no assignment 'tiyn'.*known: second, tiny"):
        load_assignment("tiyn", tiny)


def test_course_root_is_found_from_inside_the_course(tiny: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    deep = tiny / "source" / "tiny" / "sub"
    deep.mkdir()
    assert course_root(deep) == tiny.resolve()
    monkeypatch.chdir(deep)
    assert load_assignment("tiny").root == tiny.resolve()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    with pytest.raises(ConfigError, match=r"no course found .*--course"):
        course_root(outside)


def test_every_setting_has_a_description() -> None:
    for model in (AssignmentConfig, Limits, Policy):
        undocumented = [name for name, field in model.model_fields.items() if not field.description]
        assert undocumented == [], f"{model.__name__}: {undocumented}"
