"""Local mode: NO ISOLATION, student code runs as this user on this machine; for debugging only."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import autograder
from autograder.sandbox.base import HOME, Limits, Mount, SandboxProcess, default_env, launch
from autograder.sandbox.owners import owner_tag

log = logging.getLogger(__name__)


class LocalSandbox:
    """NO ISOLATION: runs student code as this user on this machine, with host paths. Debugging only."""

    name = "local"
    isolated = False

    def __init__(self) -> None:
        banner = "local mode: NO ISOLATION, debugging only (student code runs unconfined on this machine)"
        log.warning(banner)
        print(f"\n{'!' * 80}\n!!! {banner}\n{'!' * 80}\n", file=sys.stderr)

    def spawn(self, argv: Sequence[str], *, mounts: Sequence[Mount] = (), limits: Limits = Limits(),
              env: Mapping[str, str] | None = None, cwd: str = HOME) -> SandboxProcess:
        """Run ``argv`` directly; mounts and limits are ignored, HOME and cwd are a fresh temporary folder."""
        work = Path(tempfile.mkdtemp(prefix=f"autograder-local-{owner_tag()}-"))
        full_env = {**(default_env() if env is None else env), "HOME": str(work), "TMPDIR": str(work),
                    "PATH": os.environ.get("PATH", ""),
                    "PYTHONPATH": str(Path(autograder.__file__).resolve().parents[1])}
        command = [sys.executable if argv[0] in ("python", "python3") else argv[0], *argv[1:]]
        return SandboxProcess(launch(command, cwd=work, env=full_env),
                              cleanup=functools.partial(shutil.rmtree, work, ignore_errors=True))
