"""The red-team corpus: adversarial and malformed submissions gain nothing, break nothing, lose nothing.

The fast corpus (tests/redteam/corpus.py) is graded in one batch, in a subprocess with its own
temporary folder and a canary in its environment, on a copy of the course with short time limits.
Every case is then held to its honest content's score, must say why it lost points, must finish
within its time limits, and must leave no trace outside its container.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autograder.datasets import data_dir as resolve_data_dir
from autograder.grading.batch import grade
from autograder.grading.options import GradeOptions
from tests.conftest import ROOT
from tests.redteam import artifacts, corpus
from tests.redteam.corpus import Case

pytestmark = pytest.mark.container

TIMEOUT, CALL_TIMEOUT = 20, 5
"""Limits of the course copy the corpus is graded on (seconds)."""
LIMIT = TIMEOUT + 2 * CALL_TIMEOUT + 10
"""Most seconds one case may take: the notebook timeout, two call timeouts, and 10 s of slack."""
TRACEBACK = "Traceback (most recent call last)"


@dataclasses.dataclass
class Graded:
    """One graded corpus and what surrounded it."""

    cases: list[Case]
    results: dict[str, dict[str, Any]]
    seconds: float
    tmpdir: Path
    before: dict[str, tuple[int, int]]
    after: dict[str, tuple[int, int]]
    connections: list[str]
    searched: list[Path]


def _course(tmp: Path) -> Path:
    """A copy of the assignment with short limits, so that stalled cases end quickly."""
    course = tmp / "course"
    shutil.copytree(ROOT / "source" / corpus.NAME, course / "source" / corpus.NAME)
    toml = course / "source" / corpus.NAME / "assignment.toml"
    text = re.sub(r"(?m)^notebook_timeout_s = .*$", f"notebook_timeout_s = {TIMEOUT}", toml.read_text())
    toml.write_text(re.sub(r"(?m)^call_timeout_s = .*$", f"call_timeout_s = {CALL_TIMEOUT}", text))
    return course


def _snapshot(folders: list[Path]) -> dict[str, tuple[int, int]]:
    """Size and mtime of every file and folder under ``folders`` (links not followed)."""
    seen = {}
    for folder in folders:
        for path in [folder, *folder.rglob("*")] if folder.exists() else []:
            if "__pycache__" not in path.parts:
                stat = path.lstat()
                seen[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return seen


class _Listener:
    """A TCP port and an abstract unix socket on the host that no container may reach."""

    def __init__(self) -> None:
        self.tcp = socket.create_server(("0.0.0.0", 0))
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.name = f"autograder-redteam-{uuid.uuid4().hex[:12]}"
        self.unix.bind("\0" + self.name)
        self.unix.listen()
        self.accepted: list[str] = []
        for server in (self.tcp, self.unix):
            server.settimeout(0.5)
            threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while server.fileno() != -1:
            try:
                conn, peer = server.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted.append(repr(peer))
            conn.close()

    @property
    def port(self) -> int:
        return int(self.tcp.getsockname()[1])

    def close(self) -> None:
        self.tcp.close()
        self.unix.close()


def _host_addresses() -> tuple[str, ...]:
    addresses = {"127.0.0.1"}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # no packet is sent; this only picks the outgoing address
            addresses.add(probe.getsockname()[0])
        except OSError:
            pass
    return tuple(sorted(addresses))


def _grade(name: str, subs: Path, course: Path, tmp: Path, sandbox: str, canary: str) -> dict[str, Any]:
    """Grade ``subs`` in a subprocess whose temporary folder is ``tmp``; return its results."""
    out = tmp.parent / f"{tmp.name}-results.json"
    env = {**os.environ, "TMPDIR": str(tmp), "AUTOGRADER_REDTEAM_CANARY": canary,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [sys.executable, "-m", "tests.redteam.batch", name, str(subs), "--root", str(course),
               "--db", f"sqlite:///{tmp.parent / 'gradebook.db'}", "--feedback", str(tmp.parent / "feedback"),
               "--out", str(out), "--sandbox", sandbox, "--jobs", "2"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500, check=False)
    assert done.returncode == 0, f"the grader failed:\n{done.stderr[-3000:]}"
    loaded: dict[str, Any] = json.loads(out.read_text())
    return loaded


def _grade_corpus(tmp: Path, sandbox: str, *, slow: bool) -> Graded:
    course, subs, private = _course(tmp), tmp / "subs", tmp / "tmp"
    private.mkdir()
    listener = _Listener()
    try:
        host = corpus.host_facts(course, subs, port=listener.port, addresses=_host_addresses(),
                                 abstract_socket=listener.name, canary=f"redteam-canary-{uuid.uuid4().hex}")
        host = dataclasses.replace(host, globs=(*host.globs, f"{private}/*"), paths=(*host.paths, str(private)))
        cases = corpus.build(subs, ROOT, slow=slow, host=host)
        data = resolve_data_dir(None)
        watched = [ROOT / "source", ROOT / "release", course / "source", subs, data]
        before = _snapshot(watched)
        batch = _grade(corpus.NAME, subs, course, private, sandbox, host.canary)
        after = _snapshot(watched)
    finally:
        listener.close()
    results = {r["student_id"]: r for r in batch["results"]}
    print(f"\n{len(cases)} cases graded in {batch['seconds']:.1f} s")
    for case in cases:  # shown with -s, or when a test fails
        result = results.get(case.student_id, {})
        print(f"  {case.student_id:36} {result.get('score', '-'):>5} {result.get('seconds', 0):5.1f} s  "
              f"{(_texts(result) or [''])[0][:90] if result else 'NO RESULT'}")
    searched = [Path("/tmp"), ROOT, ROOT / "source", course, tmp, data]
    return Graded(cases, results, batch["seconds"], private, before, after, listener.accepted, searched)


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory, sandbox_name: str) -> Iterator[Graded]:
    """The fast corpus, graded once for every test in this module."""
    yield _grade_corpus(tmp_path_factory.mktemp("redteam"), sandbox_name, slow=False)


# --- what every graded corpus must satisfy ---------------------------------------------------


def _baselines(graded: Graded) -> dict[str, float]:
    scores = {base: float(graded.results[base]["score"]) for base in corpus.BASES}
    return {**scores, "none": 0.0}


def _texts(result: dict[str, Any]) -> list[str]:
    """What the student reads about lost points: the reason, the notes, the failed checks' messages."""
    texts = [result["reason"] or "", *result["notes"]]
    texts += [check["message"] for cell in result["cells"] for check in cell["checks"] if not check["passed"]]
    return [text for text in texts if text]


def _score_problems(graded: Graded) -> list[str]:
    baseline, problems = _baselines(graded), []
    for case in graded.cases:
        score, bound = graded.results[case.student_id]["score"], baseline[case.base]
        if score > bound + 1e-9 or (case.exact and abs(score - bound) > 1e-9):
            relation = "==" if case.exact else "<="
            problems.append(f"{case.student_id} ({case.description}): scored {score}, expected {relation} "
                            f"{bound} ({case.base})")
    return problems


def _explanation_problems(graded: Graded) -> list[str]:
    problems = []
    for case in graded.cases:
        result = graded.results[case.student_id]
        texts, where = _texts(result), f"{case.student_id} ({case.description})"
        if result["score"] < result["max_score"] and not texts:
            problems.append(f"{where}: lost points without a reason, note or message")
        if case.expect and not any(case.expect in text for text in texts):
            problems.append(f"{where}: expected {case.expect!r} in {texts[:3]}")
        reason = result["reason"] or ""
        if "\n" in reason.strip() or len(reason) > 600:
            problems.append(f"{where}: the reason is not one sentence: {reason[:300]!r}")
        for text in texts:
            if TRACEBACK in text or len(text) > 2000:
                problems.append(f"{where}: unreadable message ({len(text)} characters): {text[:200]!r}")
    return problems


def _time_problems(graded: Graded) -> list[str]:
    return [f"{case.student_id} ({case.description}) took {graded.results[case.student_id]['seconds']:.1f} s"
            for case in graded.cases if graded.results[case.student_id]["seconds"] > LIMIT]


def _escape_report(result: dict[str, Any]) -> dict[str, Any] | None:
    for cell in result["execution"]["cells"]:
        if cell["cell_id"] != "attack" or cell["status"] != "ok":
            continue
        for output in cell["outputs"]:
            for line in str(output.get("text", "")).splitlines():
                if line.startswith("ESCAPE "):
                    report: dict[str, Any] = json.loads(line.removeprefix("ESCAPE "))
                    return report
    return None


def _probe_problems(graded: Graded) -> list[str]:
    problems = []
    for case in (c for c in graded.cases if c.family == "escaping"):
        report = _escape_report(graded.results[case.student_id])
        if report is None:
            problems.append(f"{case.student_id}: the probe did not run to the end")
        elif report:
            problems.append(f"{case.student_id} ({case.description}) reached: {report}")
    return problems


def _trace_problems(graded: Graded) -> list[str]:
    problems = [f"changed: {path}" for path in sorted(set(graded.before) ^ set(graded.after))]
    problems += [f"modified: {path}" for path in sorted(set(graded.before) & set(graded.after))
                 if graded.before[path] != graded.after[path]]
    problems += [f"grader left behind: {path}" for path in sorted(graded.tmpdir.iterdir())]
    for folder in graded.searched:
        matches = folder.rglob("*redteam-pwned*") if folder != Path("/tmp") else folder.glob("*redteam-pwned*")
        problems += [f"an attack wrote {path}" for path in matches]
    problems += [f"a container connected to a host socket: {peer}" for peer in graded.connections]
    return problems


def _all_problems(graded: Graded) -> list[str]:
    missing = sorted({c.student_id for c in graded.cases} - set(graded.results))
    problems = [f"no result for {student}" for student in missing]
    if missing:
        return problems
    return (problems + _score_problems(graded) + _explanation_problems(graded) + _time_problems(graded)
            + _probe_problems(graded) + _trace_problems(graded))


# --- the fast corpus ---------------------------------------------------------------------------


def test_corpus_covers_every_family(fast: Graded) -> None:
    attacks = [c for c in fast.cases if c.family != "baseline"]
    families = {c.family for c in attacks}
    assert len(attacks) >= 40 and families == {"tampering", "escaping", "denial", "malformed"}
    assert all(c.description and not c.slow for c in attacks)


def test_batch_finished_with_one_result_per_case(fast: Graded) -> None:
    assert set(fast.results) == {c.student_id for c in fast.cases}


def test_baselines_span_the_range(fast: Graded) -> None:
    scores, full = _baselines(fast), fast.results["solution"]["max_score"]
    assert scores["solution"] == full > 0 and scores["stub"] == 0
    assert 0 < scores["partial"] < full and scores["zeros"] <= scores["partial"]


def test_no_case_scores_more_than_its_honest_content(fast: Graded) -> None:
    problems = _score_problems(fast)
    assert not problems, "\n".join(problems)


def test_every_lost_point_is_explained_in_plain_words(fast: Graded) -> None:
    problems = _explanation_problems(fast)
    assert not problems, "\n".join(problems)


def test_every_case_stays_within_its_time_limits(fast: Graded) -> None:
    problems = _time_problems(fast)
    assert not problems, f"limit {LIMIT} s:\n" + "\n".join(problems)


def test_probes_reach_nothing_outside_the_container(fast: Graded) -> None:
    problems = _probe_problems(fast)
    assert not problems, "\n".join(problems)


def test_nothing_outside_the_containers_changed(fast: Graded) -> None:
    problems = _trace_problems(fast)
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_slow_corpus(tmp_path: Path, sandbox_name: str) -> None:
    graded = _grade_corpus(tmp_path, sandbox_name, slow=True)
    assert {c.family for c in graded.cases if c.slow} == {"denial", "malformed"}
    problems = _all_problems(graded)
    assert not problems, "\n".join(problems)


# --- zips and artifacts -----------------------------------------------------------------------


def test_unsafe_zip_members_are_skipped(tmp_path: Path, sandbox_name: str) -> None:
    archive = tmp_path / "zips" / "submissions.zip"
    cases = corpus.build_zip(archive, ROOT)
    before = set(os.listdir("/tmp"))
    batch = grade(corpus.NAME, archive, root=ROOT, db_url=f"sqlite:///{tmp_path}/gb.db",
                  feedback_dir=tmp_path / "fb", options=GradeOptions(sandbox=sandbox_name, force=True))
    by_id = {r.student_id: r for r in batch.results}
    assert set(by_id) == {c.student_id for c in cases}, "an unsafe zip member became a submission"
    assert by_id["zipped"].score == by_id["zipped"].max_score
    assert by_id["zipped_twice"].score == 0 and "two submissions" in (by_id["zipped_twice"].reason or "")
    written = [p for p in tmp_path.rglob("*redteam*") if p.name != "submissions.zip"]
    written += [Path("/tmp", n) for n in set(os.listdir("/tmp")) - before if "redteam" in n]
    assert not written, f"unzipping wrote outside its folder: {written}"


def test_hostile_artifacts_are_refused_with_a_clear_message(tmp_path: Path, sandbox_name: str) -> None:
    root = artifacts.artifact_course(tmp_path / "course")
    marker = tmp_path / "redteam-pwned-by-pickle"
    cases = artifacts.build(tmp_path / "subs", root, outside=tmp_path / "outside", marker=marker)
    batch = grade(artifacts.NAME, tmp_path / "subs", root=root,
                  options=GradeOptions(sandbox=sandbox_name, jobs=2, force=True))
    by_id = {r.student_id: r for r in batch.results}
    problems = []
    for case, score in cases.items():
        result = by_id[case.student_id]
        texts = [result.reason or "", *result.notes, *(c.message for cell in result.cells for c in cell.checks)]
        if result.score != score:
            problems.append(f"{case.student_id} ({case.description}): {result.score} != {score}")
        if case.expect and not any(case.expect in text for text in texts):
            problems.append(f"{case.student_id}: expected {case.expect!r} in {[t for t in texts if t]}")
    assert not problems, "\n".join(problems)
    assert not marker.exists(), "the grader ran code from a pickled artifact"


@pytest.mark.slow
@pytest.mark.tensorflow
def test_hostile_model_files_gain_nothing_and_run_nothing(tmp_path: Path, sandbox_name: str, data_dir: Path) -> None:
    if not (ROOT / "source" / "cat_and_dog_classifier").is_dir():
        pytest.skip("the course has no cat_and_dog_classifier assignment")
    marker = tmp_path / "redteam-pwned-by-model"
    cases = artifacts.model_cases(tmp_path / "subs", ROOT, marker=marker, outside=tmp_path / "outside")
    batch = grade("cat_and_dog_classifier", tmp_path / "subs", root=ROOT, db_url=f"sqlite:///{tmp_path}/gb.db",
                  feedback_dir=tmp_path / "fb",
                  options=GradeOptions(sandbox=sandbox_name, data_dir=data_dir, jobs=2, force=True))
    by_id = {r.student_id: r for r in batch.results}
    problems = []
    for case in cases:
        result = by_id[case.student_id]
        texts = [result.reason or "", *result.notes, *(c.message for cell in result.cells for c in cell.checks)]
        if result.score != by_id["no_model"].score:
            problems.append(f"{case.student_id} ({case.description}): {result.score} != {by_id['no_model'].score}")
        if not any(case.expect in text for text in texts):
            problems.append(f"{case.student_id}: expected {case.expect!r} in {[t for t in texts if t][:4]}")
    assert not problems, "\n".join(problems)
    assert by_id["no_model"].score < by_id["no_model"].max_score
    assert not marker.exists(), "the grader ran code from a model file"
    assert not list(tmp_path.rglob("*redteam-pwned*")) and not list(Path("/tmp").glob("redteam-pwned*"))


def test_probes_do_detect_an_unconfined_kernel(tmp_path: Path) -> None:
    """The escaping probes are not vacuous: without a container (local mode) they report what they reach."""
    from autograder.config import load_assignment
    from tests import factories

    root = factories.tiny_course(tmp_path / "course")
    assignment = load_assignment("tiny", root)
    host = corpus.host_facts(root, tmp_path / "subs")
    probes = {key: body for key, body, _ in corpus.ESCAPING if key in ("hidden_data", "environment", "home")}
    for key, body in probes.items():  # read-only probes only: local mode runs them as this user, on this host
        nb = factories.tiny_notebook()
        nb.cells.append(factories.code(corpus.probe_source(body, host, assignment), "attack"))
        factories.submission(tmp_path / "subs", key, nb)
    batch = grade("tiny", tmp_path / "subs", root=root, options=GradeOptions(sandbox="local", force=True))
    reports = {r.student_id: _escape_report(dataclasses.asdict(r)) for r in batch.results}
    assert all(reports[key] for key in probes), reports
