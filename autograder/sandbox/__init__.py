"""Container backends (runc, bubblewrap, Docker, and an unisolated local mode) behind one interface.

``base`` holds what every backend shares (mounts, limits, the running process, the skeleton root);
each backend has its own module; ``owners`` tags what a grader makes so that a later one can sweep it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from autograder.sandbox import bwrap, cgroups, docker, runc
from autograder.sandbox.base import (
    CONTAINER_PACKAGES,
    CONTAINER_PREFIX,
    HOME,
    PACKAGE_TARGET,
    Limits,
    Mount,
    Sandbox,
    SandboxError,
    SandboxProcess,
    default_env,
    runtime_mounts,
)
from autograder.sandbox.bwrap import BwrapSandbox
from autograder.sandbox.docker import DockerSandbox
from autograder.sandbox.local import LocalSandbox
from autograder.sandbox.owners import Swept, sweep_folders
from autograder.sandbox.runc import RUNC_ROOT, RuncSandbox

__all__ = [
    "BACKENDS", "CONTAINER_PACKAGES", "CONTAINER_PREFIX", "HOME", "PACKAGE_TARGET", "RUNC_ROOT", "BwrapSandbox",
    "DockerSandbox", "Limits", "LocalSandbox", "Mount", "RuncSandbox", "Sandbox", "SandboxError", "SandboxProcess",
    "available_backends", "default_env", "get_sandbox", "runtime_mounts", "sweep",
]

BACKENDS = ("docker", "runc", "bwrap", "local")
"""Known backends, in the order ``auto`` prefers them (``local`` never chosen by ``auto``)."""
_CLASSES: dict[str, Callable[[], Sandbox]] = {"runc": RuncSandbox, "bwrap": BwrapSandbox,
                                              "docker": DockerSandbox, "local": LocalSandbox}
_WORKS: dict[str, Callable[[], bool]] = {"docker": docker.works, "runc": runc.works, "bwrap": bwrap.works,
                                         "local": lambda: True}
_FIX = {
    "docker": "start the Docker (or Podman) engine so that `docker info` works",
    "runc": "`apt-get install runc`, and run the grader as root (runc runs here without a user namespace)",
    "bwrap": "`apt-get install bubblewrap`; for an ordinary user, allow unprivileged user namespaces "
             "(sysctl kernel.unprivileged_userns_clone=1); as root, also `apt-get install util-linux libseccomp2` "
             "(setpriv runs the student as uid 65534, libseccomp builds its syscall filter)",
}


def available_backends() -> list[str]:
    """Isolating backends that work on this machine, most preferred first."""
    return [name for name in BACKENDS if name != "local" and _WORKS[name]()]


def get_sandbox(name: str = "auto") -> Sandbox:
    """The named backend, or the best one available for ``auto``."""
    if name == "auto":
        found = available_backends()
        if not found:
            raise SandboxError("no container backend works here: install one with "
                               "`apt-get install runc bubblewrap` (runc needs root) or start Docker; "
                               "`--sandbox local` runs without isolation, for debugging only")
        name = found[0]
    if name not in _CLASSES:
        raise SandboxError(f"unknown sandbox {name!r}; choose one of auto, {', '.join(BACKENDS)}")
    if not _WORKS[name]():
        raise SandboxError(f"sandbox {name!r} does not work on this machine: {_FIX[name]}; "
                           "or try --sandbox auto")
    return _CLASSES[name]()


def sweep(base: Path | None = None, *, runc_state: str = RUNC_ROOT) -> Swept:
    """Stop what killed graders left running, then remove their tagged folders; return the counts.

    Containers go first: a running container still uses its bundle folder. Only what belongs to
    owners that are gone is touched (see :mod:`autograder.sandbox.owners`).
    """
    containers = runc.sweep_containers(runc_state) | cgroups.sweep_cgroups()
    return Swept(sweep_folders(base), len(containers))
