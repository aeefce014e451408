"""This grader as a Gradescope autograder: pack ``autograder.zip``, and grade one submission inside Gradescope.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` there once (as root, with
a network) and, for each submission, ``run_autograder``, which must leave
``/autograder/results/results.json``. The zip holds the course material grading needs
(``course/source/<name>/``, never ``release/`` or ``solutions/``), a wheel of this package
(``dist/``; setup.sh needs only PyPI for the rest), and, when asked, the data folders grading reads.
``run`` grades ``/autograder/submission`` with the same batch code as ``autograder grade`` (a
throw-away gradebook), in the strongest sandbox that works in Gradescope's container, and says
loudly which one that is.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

from autograder.config import Assignment, load_assignment
from autograder.errors import UserError

GRADESCOPE_ROOT = Path("/autograder")
"""Where Gradescope lays everything out (``AUTOGRADER_GRADESCOPE_ROOT`` points elsewhere, for tests only)."""
COURSE = "course"
"""The course material's folder inside the zip (so in ``/autograder/source``)."""
KERAS_HINTS = ("import tensorflow", "from tensorflow", "import keras", "from keras")
"""A source notebook that says one of these needs the package's ``keras`` extra."""

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root and with a network, when it builds the autograder's image.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
VENV=${{AUTOGRADER_VENV:-/autograder/venv}}
# Container tools: the grader uses runc or bubblewrap when they work in Gradescope's container and
# says loudly when neither does (then student code runs with no isolation but its own process).
if command -v apt-get >/dev/null && [ -z "${{AUTOGRADER_SKIP_APT:-}}" ] \\
        && ! (command -v runc && command -v bwrap && command -v setpriv) >/dev/null; then
    (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y runc bubblewrap util-linux libseccomp2) \\
        || echo "setup.sh: WARNING: could not install runc/bubblewrap; grading falls back (see run_autograder's log)"
fi
PY=""
for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        PY=$candidate; break
    fi
done
if [ -z "$PY" ]; then  # Ubuntu 22.04's python3 is 3.10; 3.11 is in its universe
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3.11 python3.11-venv
    PY=python3.11
fi
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --upgrade pip
"$VENV/bin/python" -m pip install "$(ls "$HERE"/dist/*.whl){extras}"
"$VENV/bin/python" -c "import autograder" && test -x "$VENV/bin/autograder"
echo "setup.sh: the grader is installed in $VENV"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade /autograder/submission into /autograder/results/results.json.
ROOT=${{AUTOGRADER_GRADESCOPE_ROOT:-/autograder}}
PY=${{AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}}
exec "$PY" -c 'import sys; from autograder.grading.gradescope import main; sys.exit(main())' \\
    run {name} --root "$ROOT"
"""


class GradescopeError(UserError, ValueError):
    """The autograder zip cannot be made; the message says what to do."""


def _needs_keras(assignment: Assignment) -> bool:
    texts = (p.read_text(encoding="utf-8") for p in assignment.source_notebooks)
    return any(a.endswith(".keras") for a in assignment.config.artifacts) or any(
        hint in text for text in texts for hint in KERAS_HINTS)


def build_wheel(dest: Path) -> Path:
    """A wheel of this package, built from its checkout (copied first: the checkout gets no build/ folder)."""
    project = Path(__file__).resolve().parents[2]
    if not (project / "pyproject.toml").is_file():
        raise GradescopeError(f"no pyproject.toml at {project}: run from the project's checkout, or pass --wheel "
                              "with a wheel of nn-week-autograder")
    with tempfile.TemporaryDirectory(prefix="autograder-wheel-") as tmp:
        copy = Path(tmp) / "project"
        copy.mkdir()
        shutil.copy2(project / "pyproject.toml", copy)
        shutil.copy2(project / "README.md", copy)
        shutil.copytree(project / "autograder", copy / "autograder",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        dest.mkdir(parents=True, exist_ok=True)
        built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                                "--quiet", "-w", str(dest), str(copy)], capture_output=True, text=True)
        if built.returncode:
            raise GradescopeError(f"building the wheel failed: {built.stderr.strip()[-500:]}")
    return next(dest.glob("nn_week_autograder-*.whl"))


def _add_tree(archive: zipfile.ZipFile, folder: Path, prefix: str) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink() and "__pycache__" not in path.parts:
            archive.write(path, f"{prefix}/{path.relative_to(folder).as_posix()}")


def _add_script(archive: zipfile.ZipFile, name: str, text: str) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = 0o100755 << 16  # executable: Gradescope runs both as they are
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, text)


def pack(name: str, out: Path, *, root: Path | None = None, data_dir: Path | None = None,
         wheel: Path | None = None) -> Path:
    """Write Gradescope's ``autograder.zip`` for assignment ``name`` (see the module's docstring)."""
    assignment = load_assignment(name, root)
    folders = sorted({d.split("/")[0] for d in assignment.config.data})
    if folders and (data_dir is None or not all((data_dir / f).is_dir() for f in folders)):
        raise GradescopeError(f"{name} reads {', '.join(folders)} from the data directory: pass --data-dir with "
                              "them (grading on Gradescope reads them from the zip, hidden split included)")
    with tempfile.TemporaryDirectory(prefix="autograder-pack-") as tmp:
        wheel = wheel or build_wheel(Path(tmp))
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            _add_script(archive, "setup.sh", SETUP_SH.format(extras="[keras]" if _needs_keras(assignment) else ""))
            _add_script(archive, "run_autograder", RUN_AUTOGRADER.format(name=name))
            archive.write(wheel, f"dist/{wheel.name}")
            _add_tree(archive, assignment.source_dir, f"{COURSE}/source/{name}")
            config = assignment.root / "nbgrader_config.py"
            if config.is_file():
                archive.write(config, f"{COURSE}/nbgrader_config.py")
            for folder in folders:
                assert data_dir is not None
                _add_tree(archive, data_dir / folder, f"{COURSE}/data/{folder}")
    return out


PROBE = "import autograder.channel.kernel; print('sandbox-ok')"
"""What a backend must run to be chosen: this Python and the kernel's module, inside a real container."""


def probe(name: str) -> str | None:
    """None when backend ``name`` really starts a container here and runs the kernel's Python; else why not.

    A backend's own check is cheap (runc: installed and root); Gradescope's container may still refuse
    namespaces, cgroups or mounts, so a container is started for real.
    """
    from autograder.sandbox import Limits, SandboxError, get_sandbox, runtime_mounts

    try:
        process = get_sandbox(name).spawn(["python3", "-c", PROBE], mounts=runtime_mounts(),
                                          limits=Limits(notebook_timeout_s=60, memory_mb=512))
    except SandboxError as exc:
        return str(exc)
    try:
        out, err = process.communicate(timeout=60)
    except Exception as exc:  # a hung start counts as a failed one
        return f"{type(exc).__name__}: {exc}"
    finally:
        process.close()
    if b"sandbox-ok" in out:
        return None
    lines = [line.strip() for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[0][:300] if lines else "it printed nothing"  # the first line says why (runc's trace follows)


def choose_sandbox(preferred: str = "auto") -> tuple[str, str]:
    """The strongest container backend that starts here (``local`` when none does), and a loud line saying so."""
    from autograder.sandbox import available_backends

    tried = []
    for name in available_backends() if preferred == "auto" else [preferred]:
        why = probe(name) if name != "local" else "asked for"
        if why is None:
            return name, f"ISOLATION: {name} container (no network, read-only root, uid 65534, limits)"
        tried.append(f"{name}: {why}")
        print(f"sandbox {name} does not work here: {why}", flush=True)
    return "local", ("ISOLATION: NONE. No container backend works in this Gradescope container (tried: "
                     f"{'; '.join(tried) or 'none installed'}): student code runs in its own process, unconfined; "
                     "hidden tests still run only in the grader's process (data-only channel)")


def _staged(submission: Path, dest: Path) -> Path:
    """The submission as a one-student folder for the batch grader (a lone subfolder of notebooks unwrapped)."""
    entries = [e for e in submission.iterdir() if not e.name.startswith(".") and e.name != "__MACOSX"] \
        if submission.is_dir() else []
    if not any(e.suffix == ".ipynb" for e in entries) and len(entries) == 1 and entries[0].is_dir():
        submission = entries[0]
    student = dest / "student"
    if submission.is_dir():
        shutil.copytree(submission, student, symlinks=True)  # links are kept, and refused by grading
    else:
        student.mkdir(parents=True)  # nothing submitted: grading says so
    return dest


def run(name: str, *, root: Path = GRADESCOPE_ROOT, sandbox: str = "auto") -> dict[str, object]:
    """Grade ``root/submission`` for ``name`` and write ``root/results/results.json``; return what was written."""
    from autograder.gradebook import gradescope
    from autograder.grading.batch import grade
    from autograder.grading.options import GradeOptions

    started = time.perf_counter()
    course = root / "source" / COURSE
    chosen, banner = choose_sandbox(sandbox)
    print(f"\n{'!' * 100}\n!!! {banner}\n{'!' * 100}\n", flush=True)
    data = course / "data"
    with tempfile.TemporaryDirectory(prefix="autograder-gradescope-") as tmp:
        try:
            batch = grade(name, _staged(root / "submission", Path(tmp) / "subs"), root=course,
                          db_url=f"sqlite:///{tmp}/gradebook.db", feedback_dir=Path(tmp) / "feedback",
                          options=GradeOptions(sandbox=chosen, jobs=1, force=True,
                                               data_dir=data if data.is_dir() else None))
            payload = gradescope.results(batch.results[0], seconds=time.perf_counter() - started)
        except UserError as exc:
            payload = gradescope.failure(f"Your submission could not be graded: {exc}",
                                         seconds=time.perf_counter() - started)
    gradescope.write(payload, root / "results" / "results.json")
    print(f"{name}: {payload['score']} points; results in {root / 'results' / 'results.json'}", flush=True)
    return payload


def main(argv: Sequence[str] | None = None) -> int:
    """``main(["run", NAME, "--root", R])``: what ``run_autograder`` calls (with the script's arguments)."""
    parser = argparse.ArgumentParser(prog="run_autograder")
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="grade /autograder/submission (Gradescope's run_autograder)")
    run_parser.add_argument("name")
    run_parser.add_argument("--root", type=Path,
                            default=Path(os.environ.get("AUTOGRADER_GRADESCOPE_ROOT", str(GRADESCOPE_ROOT))))
    run_parser.add_argument("--sandbox", default="auto")
    args = parser.parse_args(argv)
    try:
        run(args.name, root=args.root, sandbox=args.sandbox)
    except Exception as exc:  # a grader bug: the student still gets a result that says so, Gradescope the log
        from autograder.gradebook import gradescope

        gradescope.write(gradescope.failure(f"internal grader error ({type(exc).__name__}); tell your instructor"),
                         args.root / "results" / "results.json")
        raise
    return 0
