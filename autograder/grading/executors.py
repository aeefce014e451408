"""The one factory callers use: local worker processes, or the Dask cluster behind a scheduler address."""

from __future__ import annotations

from pathlib import Path

from autograder.grading.pool import GradingExecutor, LocalExecutor

__all__ = ["make_executor"]


def make_executor(jobs: int = 2, scheduler: str | None = None, *, run: Path | None = None,
                  warm: bool = True, standby: bool = True) -> GradingExecutor:
    """The executor for ``jobs`` local workers, or for the Dask cluster at ``scheduler`` (tcp://HOST:PORT).

    ``run`` is the local working folder (default: a tagged one of its own); ``warm`` starts
    containers ahead of need; ``standby`` keeps one warm per slot even when nothing is queued (a
    service); a batch, which submits all its work at once, turns it off so that no container is
    started that no submission will use. Use it as a context manager, or call ``close()``.
    """
    if scheduler:
        from autograder.grading.cluster import DaskExecutor  # imports distributed: only when asked

        return DaskExecutor(scheduler)
    return LocalExecutor(jobs, run=run, warm=warm, standby=standby)
