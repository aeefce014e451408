"""Helpers shared by the sandbox tests: the isolating backends, and the host's processes a test started."""

from __future__ import annotations

from pathlib import Path

ISOLATED = ("runc", "bwrap")
"""The backends that isolate a submission (a test of isolation runs on each)."""


def processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains ``marker``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            pass  # exited meanwhile
    return found
