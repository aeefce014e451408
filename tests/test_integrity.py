"""The integrity report (checking/integrity.py, `autograder integrity`): measured on disguised copies of the
solution and on independent correct solutions, and its artifact and output evidence."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.authoring.assign import solution_notebook
from autograder.checking.evidence import fingerprint
from autograder.checking.integrity import MEASURED, THRESHOLD, Reference, Work, compare, report_of_folder
from autograder.cli import main
from autograder.config import load_assignment
from tests.conftest import ROOT
from tests.integrity_corpus import ALTERNATIVES, alternative, disguised, write

NAME = "backpropagation_simulation"
COPIES = 10


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The solution as one student's (``orig``), ten disguised copies of it, and the independent alternatives."""
    folder = tmp_path_factory.mktemp("integrity") / "submissions"
    solution = solution_notebook(load_assignment(NAME, ROOT))
    write(solution, folder / "orig.ipynb")
    for seed in range(COPIES):
        write(disguised(solution, seed), folder / f"copy{seed}.ipynb")
    for path in ALTERNATIVES:
        write(alternative(solution, path), folder / f"{path.stem.replace('_', '-')}.ipynb")
    return folder


def _copied(student: str) -> bool:
    return student == "orig" or student.startswith("copy")


def test_the_measured_figures(corpus: Path) -> None:
    report = report_of_folder(NAME, corpus, root=ROOT)
    assert len(report.works) == 1 + COPIES + len(ALTERNATIVES) >= 1 + COPIES + 5 and not report.problems
    independent = [p for p in report.pairs if not (_copied(p.first) and _copied(p.second))]
    copies = [p for p in report.pairs if "orig" in (p.first, p.second) and p.first.startswith("copy")]
    assert len(copies) == COPIES
    above = sum(p.similarity > max(q.similarity for q in independent) for p in copies)
    assert MEASURED[0] == f"{above} of {COPIES} disguised copies ranked above every independent pair"
    solutions = [p for p in independent if not p.first.startswith("copy") and not p.second.startswith("copy")]
    assert len(solutions) == 15
    alarms = sum(p.flagged for p in solutions)
    assert MEASURED[1] == f"{alarms} false alarms among the {len(solutions)} pairs of 6 independent correct solutions"
    assert all(p.flagged for p in copies) and not any(p.flagged for p in independent)
    top = report.pairs[0]
    assert _copied(top.first) and _copied(top.second) and top.spans[0] and top.spans[1]


def test_the_cli_ranks_prints_side_by_side_and_writes_the_histogram(corpus: Path, tmp_path: Path) -> None:
    plot = tmp_path / "similarity.png"
    done = CliRunner().invoke(main, ["integrity", NAME, str(corpus), "--course", str(ROOT), "--plot", str(plot),
                                     "--show", "1"], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    out = done.output
    assert f"16 submissions, 120 pairs, 55 flagged (threshold {THRESHOLD:.2f})" in out
    assert MEASURED[0] in out and MEASURED[1] in out
    first = next(line for line in out.splitlines() if line.startswith("│ 1 "))
    assert "copy" in first and "yes" in first
    assert "of the code matches (highlighted)" in out and "def backward(" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000
    done = CliRunner().invoke(main, ["integrity", NAME, str(tmp_path / "nope"), "--course", str(ROOT)])
    assert done.exit_code == 2 and "does not exist" in done.output


def _keras(path: Path, saved: str, weights: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", f'{{"date_saved": "{saved}"}}')
        archive.writestr("config.json", '{"class_name": "Sequential"}')
        archive.writestr("model.weights.h5", weights)
    return path


def test_artifacts_saved_again_and_shared_unusual_outputs_are_evidence(tmp_path: Path) -> None:
    files = {}
    for student, saved, weights, table in (
            ("ann", "2026-01-01@10:00", b"w-ann", "activation,accuracy\nrelu,0.9731\nsigmoid,0.9512\n"),
            ("ben", "2026-01-02@11:30", b"w-ann", "activation , accuracy\nrelu,0.97310\nsigmoid,0.951200\n"),
            ("cat", "2026-01-01@10:00", b"w-cat", "activation,accuracy\nrelu,0.9688\nsigmoid,0.9475\n"),
            ("dan", "2026-01-03@09:00", b"w-dan", "activation,accuracy\nrelu,0.9702\nsigmoid,0.9433\n")):
        folder = tmp_path / student
        folder.mkdir()
        (folder / "results.csv").write_text(table, encoding="utf-8")
        files[student] = (fingerprint(_keras(folder / "relu.keras", saved, weights)),
                          fingerprint(folder / "results.csv"))
    common = "Epoch 1/5: loss 0.4213, accuracy 0.8812"
    outputs = {"ann": {"Model trained in 31.416 s on mine", common}, "ben": {"Model trained in 31.416 s on mine",
                                                                              "my seed is 4242424242 today", common},
               "cat": {"my seed is 4242424242 today", common}, "dan": {common}}
    works = [Work(s, "x = 1\n", files[s], frozenset(outputs[s] | ({"ann's own line, nobody else's"}
                                                                   if s == "ann" else set())))
             for s in ("ann", "ben", "cat", "dan")]
    pairs = {(p.first, p.second): p for p in compare(works, Reference(outputs=frozenset({common})))}
    ann_ben = pairs[("ann", "ben")]
    assert ann_ben.flagged and ann_ben.artifacts == ("the same contents, saved again: relu.keras",
                                                     "the same contents, saved again: results.csv")
    assert ann_ben.outputs == ("Model trained in 31.416 s on mine",)  # the solution's line is no evidence
    assert pairs[("ben", "cat")].outputs == ("my seed is 4242424242 today",) and not pairs[("ben", "cat")].flagged
    assert not pairs[("ann", "cat")].artifacts and not pairs[("cat", "dan")].flagged
    assert compare(works)[0] == ann_ben  # ranked first


def test_the_same_submissions_score_the_same_in_every_process(corpus: Path) -> None:
    # copydetect hashes with Python's per-process salted hash(); the report must not depend on that salt
    script = ("import sys; from pathlib import Path; from autograder.checking.integrity import report_of_folder; "
              f"r = report_of_folder({NAME!r}, Path(sys.argv[1]), root=Path(sys.argv[2])); "
              "print([(p.first, p.second, round(p.similarity, 9)) for p in r.pairs])")
    runs = {seed: subprocess.run([sys.executable, "-c", script, str(corpus), str(ROOT)], capture_output=True,
                                 text=True, check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2")}
    assert runs["1"] and runs["1"] == runs["2"]
