"""Phase callbacks of one submission's grading (started, executed, tested, recorded) and what each phase took.

The worker measures every submission the same way, hooks or not: seconds per phase and peak
memory travel back on the result as plain data (``SubmissionResult.phases`` and
``SubmissionResult.peak_memory_mb``), so they arrive the same from a local process pool and from
workers on other machines. Callbacks are optional and ride in ``GradeOptions.hooks``:

- ``started(student_id)``, ``executed(student_id, report)`` and ``tested(result)`` run in the
  grading worker (another process, maybe another machine), so they must pickle: module-level
  functions or ``functools.partial`` of one;
- ``recorded(result)`` runs where results are written (the batch's process), after the
  gradebook transaction and the feedback page.

Phase names on the result, in order: ``stage`` (read the notebooks, stage the files), ``execute``
(container start and the notebook's cells), ``test`` (pytest and calls into the kernel), ``close``
(container stop), ``score`` (the rest in the worker: scoring, temporary files), and ``record``
(gradebook row and feedback page, in the recording process).
"""

from __future__ import annotations

import contextlib
import dataclasses
import resource
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

from autograder.results import ExecutionReport, SubmissionResult
from autograder.sandbox.cgroups import memory_peak_mb

PHASES = ("started", "executed", "tested", "recorded")
"""The callbacks, in the order a submission reaches them."""


@dataclass(frozen=True)
class Hooks:
    """Callbacks at the end of each phase of one submission (all optional; see the module's docstring)."""

    started: Callable[[str], None] | None = None
    """In the worker, before anything else: gets the student id."""
    executed: Callable[[str, ExecutionReport], None] | None = None
    """In the worker, once the notebook ran in its container: the student id and the run's report."""
    tested: Callable[[SubmissionResult], None] | None = None
    """In the worker, once the tests scored it: the result, with its phases and peak memory."""
    recorded: Callable[[SubmissionResult], None] | None = None
    """Where results are written, after the gradebook row and the feedback page: the result, ``record`` added."""


@dataclass
class _Clock:
    """Seconds per phase of the submission this worker is grading now."""

    student_id: str
    hooks: Hooks
    last: float = field(default_factory=time.perf_counter)
    seconds: dict[str, float] = field(default_factory=dict)
    container_mb: float | None = None

    def mark(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - self.last  # a second notebook adds up
        self.last = now


_CURRENT: ContextVar[_Clock | None] = ContextVar("autograder_grading_clock", default=None)
"""The clock of the submission being graded in this thread (a Dask worker may grade several at once)."""


def _peak_memory_mb(container_mb: float | None) -> tuple[tuple[str, float], ...]:
    """Peak memory, MiB: this process's resident set, and the container's memory cgroup when it had one."""
    worker = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (("worker", round(worker, 1)),) + ((("container", round(container_mb, 1)),) if container_mb else ())


@contextlib.contextmanager
def measure(student_id: str, hooks: Hooks) -> Iterator[Callable[[SubmissionResult], SubmissionResult]]:
    """Time one submission in the worker; yields ``finish``, which puts the figures on the result.

    ``finish(result)`` ends the last phase (``score``), returns the result with ``phases`` and
    ``peak_memory_mb`` filled in, and calls ``hooks.tested`` with it.
    """
    clock = _Clock(student_id, hooks)
    token = _CURRENT.set(clock)
    if hooks.started is not None:
        hooks.started(student_id)

    def finish(result: SubmissionResult) -> SubmissionResult:
        clock.mark("score")
        measured = dataclasses.replace(result, phases=tuple(clock.seconds.items()),
                                       peak_memory_mb=_peak_memory_mb(clock.container_mb))
        if hooks.tested is not None:
            hooks.tested(measured)
        return measured

    try:
        yield finish
    finally:
        _CURRENT.reset(token)


def mark(phase: str) -> None:
    """End ``phase`` of the submission being graded here (nothing when none is being measured)."""
    clock = _CURRENT.get()
    if clock is not None:
        clock.mark(phase)


def executed(report: ExecutionReport) -> None:
    """The notebook ran in its container: end the ``execute`` phase and call ``hooks.executed``."""
    clock = _CURRENT.get()
    if clock is not None:
        clock.mark("execute")
        if clock.hooks.executed is not None:
            clock.hooks.executed(clock.student_id, report)
            clock.last = time.perf_counter()  # the callback's own time counts in no phase


def container_done(container: str) -> None:
    """Before a container is stopped: keep its memory cgroup's peak (the largest, over several notebooks)."""
    clock = _CURRENT.get()
    peak = memory_peak_mb(container) if clock is not None else None
    if clock is not None and peak is not None:
        clock.container_mb = max(peak, clock.container_mb or 0.0)


def recorded(result: SubmissionResult, seconds: float, hooks: Hooks) -> SubmissionResult:
    """The result is in the gradebook and its page written (in ``seconds``): add ``record``, call ``hooks.recorded``."""
    done = dataclasses.replace(result, phases=(*result.phases, ("record", seconds)))
    if hooks.recorded is not None:
        hooks.recorded(done)
    return done
