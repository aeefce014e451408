"""The integrity report: pairs of submissions that share more than the release gives everyone, ranked.

Three kinds of evidence, per pair of students:

- *code*: copydetect's winnowed fingerprints of the notebooks' code cells (names, strings and layout
  are abstracted away, so renaming variables, reordering functions and re-wrapping lines do not hide a
  copy), with every fingerprint of the released notebook's code removed as boilerplate;
- *artifacts*: the same file, or the same contents saved again (``evidence``), which few others have;
- *outputs*: output lines the two share, which the executed solution does not print and few others do.

A pair is flagged when its code similarity reaches the threshold, or it shares an artifact, or at least
``MIN_SHARED_OUTPUTS`` unusual output lines. The report says what matched; a person decides what it means.
"""

from __future__ import annotations

import hashlib
import io
import math
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbformat import NotebookNode

from autograder.authoring.assign import release_notebook
from autograder.authoring.notebook import NotebookError, read
from autograder.checking.evidence import Artifact, code_text, fingerprint, output_lines
from autograder.config import Assignment, load_assignment
from autograder.grading.submissions import Submission, discover, notebook_file, submitted_files

if TYPE_CHECKING:
    from matplotlib.figure import Figure

THRESHOLD = 0.5
"""Default code similarity from which a pair is flagged (the larger of the two shares of matched code)."""
NOISE = 25
"""copydetect's noise threshold: matches shorter than this many characters of normalised code are ignored."""
GUARANTEE = 25
"""copydetect's guarantee threshold: matches at least this long are always found (winnowing window)."""
MIN_SHARED_OUTPUTS = 2
"""Unusual output lines two submissions must share to be flagged on outputs alone."""
MEASURED = ("10 of 10 disguised copies ranked above every independent pair",
            "0 false alarms among the 15 pairs of 6 independent correct solutions")
"""The detector measured on backpropagation_simulation (``tests/test_integrity.py`` measures it again)."""


@dataclass(frozen=True)
class Work:
    """What one submission brings to the comparison."""

    student: str
    """The student's id."""
    code: str
    """Its code cells, one after another."""
    artifacts: tuple[Artifact, ...] = ()
    """Its declared artifacts, fingerprinted."""
    outputs: frozenset[str] = frozenset()
    """Its output lines (``evidence.output_lines``)."""


@dataclass(frozen=True)
class Pair:
    """Two submissions and what they share."""

    first: str
    """One student (the first in sorted order)."""
    second: str
    """The other."""
    similarity: float
    """Code similarity: the larger of the two shares of each one's code found in the other (0..1)."""
    shares: tuple[float, float]
    """The share of the first's code found in the second's, and the reverse."""
    spans: tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]] = ((), ())
    """Where the matched code lies in each one's code (character offsets, start and end)."""
    artifacts: tuple[str, ...] = ()
    """Artifacts they share, in words ('the same file: results.csv')."""
    outputs: tuple[str, ...] = ()
    """Unusual output lines they share."""
    flagged: bool = False
    """Whether the pair reaches the threshold or shares an artifact or enough unusual outputs."""

    @property
    def rank_key(self) -> tuple[float, ...]:
        """Sorted by this, highest first: flagged, then evidence, then similarity."""
        return (float(self.flagged), self.similarity + 0.5 * len(self.artifacts) + 0.1 * min(len(self.outputs), 5))


@dataclass(frozen=True)
class Report:
    """The integrity report of one assignment."""

    assignment: str
    """The assignment's name."""
    threshold: float
    """The code similarity from which a pair is flagged."""
    works: tuple[Work, ...]
    """The submissions compared."""
    pairs: tuple[Pair, ...]
    """Every pair, most suspicious first."""
    problems: tuple[tuple[str, str], ...] = field(default=())
    """Submissions left out, with why: (student, reason)."""

    @property
    def flagged(self) -> tuple[Pair, ...]:
        """The pairs a person should look at."""
        return tuple(p for p in self.pairs if p.flagged)

    def work(self, student: str) -> Work:
        """One student's submission as compared."""
        return next(w for w in self.works if w.student == student)


@dataclass(frozen=True)
class Reference:
    """What every student has, and so is no evidence."""

    code: str = ""
    """The released notebooks' code: boilerplate for the fingerprints."""
    outputs: frozenset[str] = frozenset()
    """The executed solution's output lines."""
    artifacts: frozenset[str] = frozenset()
    """Digests of the files the course itself gives or makes (release, solutions)."""


def reference(assignment: Assignment) -> Reference:
    """The release's code, the executed solution's outputs and the course's own files."""
    released = [release_notebook(assignment, name) for name in assignment.config.notebooks]
    solved = assignment.root / "solutions" / assignment.name
    executed = []
    for name in assignment.config.notebooks:
        try:
            executed.append(read(solved / name))
        except (NotebookError, OSError):
            continue  # not generated here: fewer outputs count as common
    folders = [solved, assignment.root / "release" / assignment.name, assignment.source_dir]
    digests = {getattr(fingerprint(p), kind) for folder in folders if folder.is_dir() for p in folder.rglob("*")
               if p.is_file() and p.suffix != ".ipynb" for kind in ("exact", "content")}
    return Reference(code_text(released), output_lines(executed), frozenset(digests - {""}))


def gather(assignment: Assignment, submissions: Sequence[Submission]) -> tuple[list[Work], list[tuple[str, str]]]:
    """Each readable submission as compared, and the others with why they were left out."""
    works, problems = [], []
    for submission in submissions:
        if submission.problem or submission.notebook is None:
            problems.append((submission.student_id, submission.problem or "no notebook"))
            continue
        try:
            notebooks: list[NotebookNode] = []
            for name in assignment.config.notebooks:
                path = notebook_file(submission, name, assignment.config.notebook)
                if path is not None:
                    notebooks.append(read(path))
        except (NotebookError, OSError) as exc:
            problems.append((submission.student_id, str(exc)))
            continue
        files = [p for p in submitted_files(submission, assignment) if p.suffix != ".ipynb"]
        works.append(Work(submission.student_id, code_text(notebooks), tuple(fingerprint(p) for p in files),
                          output_lines(notebooks)))
    return works, problems


def _stable_kgrams(string: str, k: int) -> Any:
    """copydetect's ``hashed_kgrams`` with a hash that is the same in every process (blake2b, 8 bytes)."""
    import numpy as np

    return np.array([int.from_bytes(hashlib.blake2b(string[at:at + k].encode(), digest_size=8).digest(), "little",
                                    signed=True) for at in range(len(string) - k + 1)], dtype=np.int64)


def _reproducible() -> None:
    """copydetect 0.5 hashes k-grams with Python's ``hash()``, which is salted per process: winnowing then keeps
    other fingerprints in each run, and the same two notebooks score 0.71 in one run and 0.74 in the next. Its
    fingerprinting looks the function up in ``copydetect.utils`` at each call; the stable one replaces it there,
    so a report (the CLI's, the service's, a rerun's) gives the same numbers every time."""
    import copydetect.utils

    copydetect.utils.hashed_kgrams = _stable_kgrams


def _prints(code: str, boilerplate: list[int]) -> object:
    from copydetect import CodeFingerprint

    _reproducible()
    return CodeFingerprint("submission.py", NOISE, GUARANTEE, boilerplate, language="python", fp=io.StringIO(code))


def _boilerplate(code: str) -> list[int]:
    from copydetect import CodeFingerprint

    _reproducible()
    if not code.strip():
        return []
    return list(CodeFingerprint("release.py", NOISE, 1, language="python", fp=io.StringIO(code)).hashes)


def _spans(slices: Any) -> tuple[tuple[int, int], ...]:
    """copydetect's 2xN array of match starts and ends as pairs (an empty array where nothing matched)."""
    if len(slices) != 2:
        return ()
    return tuple((int(s), int(e)) for s, e in zip(slices[0], slices[1], strict=True))


def _rare(works: Sequence[Work], ref: Reference) -> tuple[set[str], set[tuple[str, str]]]:
    """Output lines and artifact contents few submissions have, and the course's own do not."""
    limit = max(2, math.ceil(0.1 * len(works)))
    lines = Counter(line for w in works for line in w.outputs)
    held = Counter(key for w in works for key in {(a.name, d) for a in w.artifacts for d in (a.exact, a.content) if d})
    return ({line for line, n in lines.items() if n <= limit and line not in ref.outputs},
            {key for key, n in held.items() if n <= limit and key[1] not in ref.artifacts})


def _shared_artifacts(a: Work, b: Work, rare: set[tuple[str, str]]) -> tuple[str, ...]:
    found = []
    theirs = {(x.name, x.exact): x for x in b.artifacts} | {(x.name, x.content): x for x in b.artifacts if x.content}
    for mine in a.artifacts:
        if (mine.name, mine.exact) in rare and (mine.name, mine.exact) in theirs:
            found.append(f"the same file: {mine.name}")
        elif mine.content and (mine.name, mine.content) in rare and (mine.name, mine.content) in theirs:
            found.append(f"the same contents, saved again: {mine.name}")
    return tuple(found)


def compare(works: Sequence[Work], ref: Reference = Reference(), *, threshold: float = THRESHOLD) -> list[Pair]:
    """Every pair of ``works``, most suspicious first."""
    from copydetect import compare_files

    boilerplate = _boilerplate(ref.code)
    prints = {w.student: _prints(w.code, boilerplate) for w in works}
    rare_lines, rare_artifacts = _rare(works, ref)
    ordered = sorted(works, key=lambda w: w.student)
    pairs = []
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            _overlap, shares, slices = compare_files(prints[a.student], prints[b.student])
            shared = tuple(sorted(a.outputs & b.outputs & rare_lines))
            artifacts = _shared_artifacts(a, b, rare_artifacts)
            similarity = float(max(shares))
            flagged = similarity >= threshold or bool(artifacts) or len(shared) >= MIN_SHARED_OUTPUTS
            pairs.append(Pair(a.student, b.student, similarity, (float(shares[0]), float(shares[1])),
                              (_spans(slices[0]), _spans(slices[1])), artifacts, shared, flagged))
    return sorted(pairs, key=lambda p: p.rank_key, reverse=True)


def report(assignment: Assignment, submissions: Sequence[Submission], *, threshold: float = THRESHOLD) -> Report:
    """The integrity report of these submissions of ``assignment``."""
    works, problems = gather(assignment, submissions)
    pairs = compare(works, reference(assignment), threshold=threshold)
    return Report(assignment.name, threshold, tuple(works), tuple(pairs), tuple(problems))


def report_of_folder(name: str, path: Path, *, root: Path | None = None, threshold: float = THRESHOLD) -> Report:
    """The integrity report of a folder or zip of submissions (laid out as ``autograder grade`` takes them)."""
    assignment = load_assignment(name, root)
    with tempfile.TemporaryDirectory(prefix="autograder-integrity-") as work:
        found = discover(path, Path(work), assignment.config.notebook, assignment=name)
        return report(assignment, found, threshold=threshold)


def segments(code: str, spans: Sequence[tuple[int, int]], *, context: int = 3) -> list[tuple[str, bool]]:
    """``code`` cut into (text, matched) pieces for showing side by side; unmatched stretches longer than
    ``2 * context + 1`` lines keep only ``context`` lines at each end, around a line of '⋯'."""
    pieces, at = [], 0
    for start, end in sorted(spans):
        if start > at:
            pieces.append((code[at:start], False))
        pieces.append((code[max(start, at):end], True))
        at = max(at, end)
    pieces.append((code[at:], False))
    shown = []
    for text, matched in pieces:
        lines = text.split("\n")
        if not matched and len(lines) > 2 * context + 1:
            text = "\n".join([*lines[:context], "⋯", *lines[-context:]])
        if text:
            shown.append((text, matched))
    return shown


def histogram(report: Report) -> Figure:
    """How many pairs have each code similarity (log scale: the few that matter stand out), with the threshold."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    figure = Figure(figsize=(6.4, 3.0))
    ax = figure.subplots()
    values = [p.similarity for p in report.pairs]
    bins = [i / 20 for i in range(21)]
    below = [v for v in values if v < report.threshold]
    above = [v for v in values if v >= report.threshold]
    ax.hist([below, above], bins=bins, stacked=True, color=["#1565c0", "#c62828"], edgecolor="white",
            label=["below the threshold", "flagged"])
    ax.axvline(report.threshold, color="#c62828", linestyle="--", linewidth=1)
    ax.set_yscale("log")
    ax.set_ylim(0.8, max(2, len(values)) * 1.5)
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(0, 1)
    ax.set_xlabel("code similarity (share of matched code, release removed)")
    ax.set_ylabel("pairs")
    ax.set_title(f"{report.assignment}: {len(values)} pairs of {len(report.works)} submissions, "
                 f"{len(report.flagged)} flagged")
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return figure
