"""Every command's path options, through the installed `autograder` command: a missing folder, a file in
the way, a folder nobody may write to. Each either works (an output folder is created) or fails with one
error line and exit status 2, never a traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import factories

AUTOGRADER = Path(sys.executable).parent / "autograder"
UNWRITABLE = "/sys/autograder-cannot-create"
"""Under sysfs: nobody, root included, can create a folder or a file there."""
SYSFS = "/sys"
"""An existing folder nobody can write into."""

FAILS: list[tuple[str, list[str], str]] = [
    ("assign --course missing", ["assign", "tiny", "--no-execute", "--course", "{missing}"],
     r"'--course': Directory '\S+' does not exist"),
    ("assign --course file", ["assign", "tiny", "--no-execute", "--course", "{file}"], r"'--course': .* is a file"),
    ("assign --data-dir missing", ["assign", "tiny", "--course", "{course}", "--data-dir", "{missing}"],
     r"'--data-dir' .* does not exist"),
    ("examples DEST file", ["examples", "tiny", "{file}", "--course", "{course}"], r"'DEST': .* is a file"),
    ("examples DEST under a file", ["examples", "tiny", "{file}/sub", "--course", "{course}"],
     r"'DEST': cannot write into the folder \S+ \(Not a directory\)"),
    ("examples DEST unwritable", ["examples", "tiny", UNWRITABLE, "--course", "{course}"],
     r"'DEST': cannot write into the folder \S+ \(.+\); choose a folder you can write to"),
    ("demo --course missing", ["demo", "--course", "{missing}"], r"'--course': .* does not exist"),
    ("grade SUBMISSIONS missing", ["grade", "tiny", "{missing}", "--course", "{course}"],
     r"'SUBMISSIONS': .* not exist"),
    ("grade --course missing", ["grade", "tiny", "{subs}", "--course", "{missing}"], r"'--course': .* does not exist"),
    ("grade --feedback file", ["grade", "tiny", "{subs}", "--course", "{course}", "--feedback", "{file}"],
     r"'--feedback': .* is a file"),
    ("grade --feedback unwritable", ["grade", "tiny", "{subs}", "--course", "{course}", "--feedback", UNWRITABLE],
     r"'--feedback': cannot write into the folder"),
    ("grade --data-dir file", ["grade", "tiny", "{subs}", "--course", "{course}", "--data-dir", "{file}"],
     r"'--data-dir' .* is a file"),
    ("grade --db in a missing folder", ["grade", "tiny", "{subs}", "--course", "{course}", "--db",
                                        "sqlite:///{missing}/g.db"], r"'--db': the gradebook's folder \S+ does not"),
    ("export --to under a file", ["export", "tiny", "--course", "{course}", "--to", "{file}/g.csv"],
     r"'--to': \S+ is a file, not a folder"),
    ("export --to unwritable", ["export", "tiny", "--course", "{course}", "--to", f"{UNWRITABLE}/g.csv"],
     r"'--to': cannot write into the folder"),
    ("export --course missing", ["export", "tiny", "--course", "{missing}"], r"'--course': .* does not exist"),
    ("validate --course missing", ["validate", "tiny", "--course", "{missing}"], r"'--course': .* does not exist"),
    ("validate --data-dir missing", ["validate", "tiny", "--course", "{course}", "--data-dir", "{missing}"],
     r"'--data-dir' .* does not exist"),
    ("bench --work file", ["bench", "--work", "{file}"], r"argument --work: \S+ is a file, not a folder"),
    ("bench --work under a file", ["bench", "--cluster", "--work", "{file}/w"], r"argument --work: cannot write"),
    ("bench --work unwritable", ["bench", "--work", SYSFS], r"argument --work: cannot write into the folder /sys"),
    ("bench --cprofile file", ["bench", "--cprofile", "{file}"], r"argument --cprofile: \S+ is a file"),
    ("bench --course missing", ["bench", "--course", "{missing}"], r"argument --course: \S+ is missing"),
    ("bench --course file", ["bench", "--cluster", "--course", "{file}"], r"argument --course: \S+ is not a folder"),
    ("serve --course missing", ["serve", "--course", "{missing}"], r"'--course': .* does not exist"),
    ("serve --state file", ["serve", "--course", "{course}", "--state", "{file}"], r"'--state': .* is a file"),
    ("serve --state unwritable", ["serve", "--course", "{course}", "--state", UNWRITABLE], r"'--state': cannot write"),
    ("roster import missing", ["roster", "import", "{missing}", "--course", "{course}"],
     r"'CSV_FILE': .* does not exist"),
    ("roster export --course missing", ["roster", "export", "--course", "{missing}"], r"'--course': .* not exist"),
    ("roster export --state unwritable", ["roster", "export", "--course", "{course}", "--state", UNWRITABLE],
     r"'--state': cannot write"),
    ("handgrade list --course missing", ["handgrade", "list", "tiny", "--course", "{missing}"],
     r"'--course': .* does not exist"),
]


def _autograder(args: list[str], where: dict[str, Path]) -> tuple[int, str]:
    """Run the installed command with ``{name}`` in ``args`` filled from ``where``; exit status and whole output."""
    env = {k: v for k, v in os.environ.items() if k != "AUTOGRADER_DATA_DIR"} | {"COLUMNS": "300"}
    command = [str(AUTOGRADER), *(a.format(**where) for a in args)]
    done = subprocess.run(command, cwd=where["cwd"], env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, check=False)
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def where(tiny: Path, tmp_path: Path) -> dict[str, Path]:
    """The paths the cases name: a course, its submissions, a file, a folder that does not exist yet."""
    if not Path(SYSFS).is_dir():
        pytest.skip("no /sys here: the unwritable cases need sysfs")
    factories.submission(tiny / "subs", "ada", factories.tiny_notebook())
    (tmp_path / "a-file").write_text("not a folder")
    cwd = tmp_path / "elsewhere"  # not in a course: nothing is found from the current folder
    cwd.mkdir()
    return {"course": tiny, "subs": tiny / "subs", "file": tmp_path / "a-file",
            "missing": tmp_path / "missing" / "deeper", "cwd": cwd}


@pytest.mark.parametrize(("args", "expected"), [case[1:] for case in FAILS], ids=[case[0] for case in FAILS])
def test_a_path_that_cannot_be_used_is_one_error_line_and_status_2(args: list[str], expected: str,
                                                                    where: dict[str, Path]) -> None:
    status, output = _autograder(args, where)
    assert status == 2, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if re.search(r"\berror:", line, re.IGNORECASE)]
    assert len(errors) == 1 and re.search(expected, errors[0]), output
    assert not where["missing"].parent.exists()  # a failed check creates nothing


def test_a_missing_output_folder_is_created(where: dict[str, Path]) -> None:
    status, output = _autograder(["examples", "tiny", "{missing}", "--course", "{course}"], where)
    assert status == 0, output
    assert sorted(p.name for p in where["missing"].iterdir()) == ["monkeypatch", "solution", "stub"]

    state = where["missing"].parent / "state" / "deeper"
    status, output = _autograder(["roster", "export", "--course", "{course}", "--state", str(state)], where)
    assert (status, output.strip()) == (0, "student,email,link") and state.is_dir()


def test_bench_creates_a_missing_work_folder_before_it_starts(where: dict[str, Path]) -> None:
    # the cluster section used to end in FileNotFoundError from tempfile.mkdtemp(dir=--work)
    status, output = _autograder(["bench", "--cluster", "--work", "{missing}", "--course", "{course}",
                                  "--assignment", "nope"], where)
    assert status == 2 and "Traceback" not in output, output
    assert output.strip().splitlines()[-1].startswith("error: no assignment 'nope'"), output
    assert where["missing"].is_dir()
