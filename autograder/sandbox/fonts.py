"""matplotlib's font list for kernels, built once per machine on the trusted side.

matplotlib builds its font list the first time it is imported with an empty cache folder (about
0.2 s of CPU: it opens every font file), and every fresh container starts with one. The grader
builds that list once, in a subprocess that sees the fonts as a container does (the same /usr,
/etc/fonts and matplotlib, the container's environment), keeps it in the user's cache folder, and
mounts it read-only into each container; the kernel copies it into its own writable matplotlib
folder before it imports matplotlib (``autograder.channel.kernel``). Student code can read a list
of font files there, nothing else.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from autograder.datasets import cache_dir
from autograder.sandbox.base import HOME, default_env

FONT_CACHE_TARGET = "/opt/autograder/matplotlib"
"""Where the font list is mounted, read-only, in a container."""


def cache_root() -> Path:
    """This user's cache folder for the grader (see ``datasets.cache_dir``)."""
    return cache_dir()


@functools.cache
def font_cache() -> Path | None:
    """The folder with matplotlib's font list for the installed matplotlib; None when there is none to have.

    Built on first use (once per machine and matplotlib version), then reused.
    """
    try:
        version = metadata.version("matplotlib")
    except metadata.PackageNotFoundError:
        return None
    folder = cache_root() / f"matplotlib-{version}-py{sys.version_info[0]}{sys.version_info[1]}"
    if any(folder.glob("fontlist-*.json")):
        return folder
    try:
        return _build(folder)
    except (OSError, subprocess.SubprocessError):
        return None  # kernels build their own list, as before


def _build(folder: Path) -> Path | None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".fonts-", dir=folder.parent))
    try:
        env = {**default_env(), "MPLCONFIGDIR": str(building), "HOME": HOME, "PYTHONPATH": ""}
        subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env=env, cwd=building,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=300, check=True)
        if not any(building.glob("fontlist-*.json")):
            return None
        for path in [building, *building.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)  # the container's user reads it
        try:
            building.rename(folder)
        except OSError:  # another grader built it meanwhile
            if not any(folder.glob("fontlist-*.json")):
                raise
        return folder
    finally:
        shutil.rmtree(building, ignore_errors=True)
