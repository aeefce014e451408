"""Docker (or Podman): the host's runtime bind-mounted into a slim image with the same glibc."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence

from autograder.sandbox.base import (
    GID,
    HOME,
    SYSTEM_DIRS,
    UID,
    Limits,
    Mount,
    SandboxProcess,
    checked_mounts,
    container_name,
    default_env,
    launch,
    quiet,
    rlimits,
)


@functools.cache
def docker_cli() -> str | None:
    """The first container CLI whose engine answers: Docker, else Podman (same command line)."""
    for cli in ("docker", "podman"):
        path = shutil.which(cli)
        if path and quiet([path, "info"], timeout=10):
            return path
    return None


def works() -> bool:
    """A Docker or Podman engine answers."""
    return docker_cli() is not None


class DockerSandbox:
    """Docker (or Podman): the host's runtime is bind-mounted into a slim image with the same glibc."""

    name = "docker"
    isolated = True

    def __init__(self, *, cli: str | None = None, image: str | None = None) -> None:
        self.cli = cli or docker_cli() or "docker"
        """The container CLI."""
        self.image = image or os.environ.get("AUTOGRADER_DOCKER_IMAGE", "debian:bookworm-slim")
        """Base image: only its /usr, /lib and /etc are used (AUTOGRADER_DOCKER_IMAGE)."""

    def command(self, argv: Sequence[str], container: str, *, mounts: Sequence[Mount], limits: Limits,
                env: Mapping[str, str], cwd: str) -> list[str]:
        """The ``docker run`` command line for one spawn."""
        tmpfs = f"size={limits.scratch_mb}m,uid={UID},gid={GID},mode=0700"
        ulimits = {k.removeprefix("RLIMIT_").lower(): v for k, v in rlimits(limits).items()}
        args = [self.cli, "run", "--rm", "-i", "--name", container, "--network", "none", "--read-only",
                "--user", f"{UID}:{GID}", "--memory", f"{limits.memory_mb}m",
                "--memory-swap", f"{limits.memory_mb}m", "--pids-limit", str(limits.pids),
                *[f"--ulimit={k}={v}:{v}" for k, v in ulimits.items()],
                "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--hostname", "sandbox",
                "--ipc", "private", "--shm-size", f"{min(limits.scratch_mb, 64)}m", "--oom-score-adj", "1000",
                "--log-driver", "none",  # output goes only to our pipes, never to a log file on the host
                "--tmpfs", f"/tmp:{tmpfs}", "--tmpfs", f"{HOME}:{tmpfs}", "-w", cwd]
        for mount in checked_mounts(mounts):
            if mount.target in SYSTEM_DIRS or mount.target == "/etc/ld.so.cache":
                continue  # the image brings its own system; the host's Python prefix is mounted below
            args += ["-v", f"{mount.source}:{mount.target}:{'rw' if mount.writable else 'ro'}"]
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        return [*args, self.image, *argv]

    def spawn(self, argv: Sequence[str], *, mounts: Sequence[Mount] = (), limits: Limits = Limits(),
              env: Mapping[str, str] | None = None, cwd: str = HOME) -> SandboxProcess:
        """Start ``argv`` in a new container; its stdio are the returned pipes."""
        container = container_name()
        cmd = self.command(argv, container, mounts=mounts, limits=limits,
                           env=default_env() if env is None else env, cwd=cwd)
        stop = functools.partial(_stop, self.cli, container)
        return SandboxProcess(launch(cmd), container=container, stop=stop)


def _stop(cli: str, container: str, popen: subprocess.Popen[bytes]) -> None:
    if popen.poll() is None:
        quiet([cli, "rm", "--force", container], timeout=30)  # kills, and removes it if --rm has not yet
