"""Adversarial and malformed submissions, generated from the course's own notebooks.

Each case is built from a base notebook (the solution, the blank stub, or a version whose functions
return zeros) plus one hostile cell or one malformation, and states what it may earn at most.
Run ``python -m tests.redteam_corpus DEST`` to write the corpus to a folder and list it.
"""

from __future__ import annotations

import json
import shutil
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.assign import release_notebook, solution_notebook
from autograder.config import Assignment, load_assignment
from autograder.mutate import zero_returns
from autograder.notebook import write
from tests import factories


@dataclass(frozen=True)
class Case:
    """One adversarial submission and what it may earn."""

    student: str
    """Student id (file or folder name)."""
    family: str
    """tampering, escaping, denial or malformed."""
    description: str
    """One line: what the submission tries."""
    base: str
    """Honest content it is built on: solution, stub, zeros, or none."""
    reason_expected: bool = False
    """Whether the whole submission must come back with a reason (it could not run normally)."""


TAMPERING = {
    "numpy_patch": "import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True",
    "builtins_patch": "import builtins\nbuiltins.all = lambda *a: True\nbuiltins.abs = lambda x: 0\nbuiltins.isinstance = lambda *a: True",
    "pytest_stub": "import sys, types\nsys.modules['pytest'] = types.ModuleType('pytest')",
    "import_hook": "import builtins\n_imp = builtins.__import__\nbuiltins.__import__ = lambda n, *a, **k: _imp('numpy') if n == 'torch' else _imp(n, *a, **k)",
    "channel_encode": "import autograder.wire as w\nw.encode = lambda v, depth=0: 1.0\nw.is_data = lambda v, depth=0: True",
    "server_handle": "import autograder.kernel as k\nk.Server.handle = lambda self, req: 0.0",
    "lying_eq": ("class Liar:\n    def __eq__(self, o): return True\n    def __array__(self, *a, **k): raise RuntimeError\n"
                 "    def __float__(self): return 1.0\n    def __len__(self): return 3\n"
                 "def relu(z): return Liar()\ndef sigmoid(z): return Liar()\ndef forward(*a, **k): return Liar(), {}"),
    "ndarray_subclass": ("import numpy as np\nclass Always(np.ndarray):\n    def __eq__(self, o): return np.ones(self.shape, bool)\n"
                         "_sig = sigmoid\ndef sigmoid(z): return np.zeros(np.shape(z)).view(Always)"),
    "nan_outputs": "import numpy as np\ndef sigmoid(z): return np.full(np.shape(z), np.nan)\ndef relu(z): return np.full(np.shape(z), np.inf)",
    "huge_array": "import numpy as np\ndef relu(z): return np.zeros((30000, 30000))",
    "forged_reply_fd1": "import os\nos.write(1, b'{\"id\": 1, \"ok\": true, \"value\": 1.0}\\n')",
    "forged_reply_channel": ("import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b'{\"event\": \"ready\", \"cells\": []}\\n{\"id\": 1, \"ok\": true, \"value\": 0}\\n')\n"
                             "    except OSError:\n        pass"),
    "forge_results_file": ("import os\nfor p in ['/submission/results.json', '../gradebook.db', '/home/student/../gradebook.db', "
                           "'/opt/autograder/autograder/harness.py', '/tmp/grades.csv']:\n    try:\n        open(p, 'w').write('full marks')\n"
                           "    except OSError:\n        pass"),
}

ESCAPING = {
    "read_hidden_tests": ("import glob, os\nFOUND = [p for p in ('REPO/source', 'REPO/gradebook.db', 'REPO/tests') if os.path.exists(p)]"
                          "\nFOUND += glob.glob('/*/*/source/*/assignment.toml') + glob.glob('/*/source/*/assignment.toml')"),
    "read_hidden_data": "import os\nFOUND = [p for p in ('/data/cats_vs_dogs/test', '/data/cats_vs_dogs/MANIFEST.csv') if os.path.exists(p)]",
    "read_other_submissions": "import glob\nFOUND = glob.glob('/tmp/grade-*') + glob.glob('/tmp/autograder-*')",
    "network": ("import socket\nFOUND = []\nfor host in [('1.1.1.1', 53), ('127.0.0.1', 22), ('10.0.0.1', 80)]:\n    try:\n"
                "        socket.create_connection(host, timeout=2); FOUND.append(host)\n    except OSError:\n        pass"),
    "write_outside_scratch": ("FOUND = []\nfor p in ['/usr/pwned', '/opt/autograder/pwned', '/pwned', '/submission/pwned']:\n    try:\n"
                              "        open(p, 'w').write('x'); FOUND.append(p)\n    except OSError:\n        pass"),
    "host_environment": "import os\nFOUND = [k for k in os.environ if k.startswith(('SSH', 'AWS', 'GITHUB', 'CI', 'HOSTNAME'))]",
    "home_and_symlinks": ("import os\nFOUND = []\ntry:\n    os.symlink('/root', 'root_link'); FOUND += [n for n in os.listdir('root_link') if n != '.pyenv']\n"
                          "except OSError:\n    pass\nFOUND += [p for p in ('/root/.bashrc', '/etc/shadow') if os.path.exists(p)]"),
    "dotdot_paths": "import os\nFOUND = [p for p in ('../../../etc/shadow', '/home/student/../../root/.bashrc') if os.path.exists(p)]",
}

DENIAL = {
    "sys_exit": ("import sys\nsys.exit(1)", False),
    "os_exit": ("import os\nos._exit(7)", True),
    # the kernel is pid 1 in its own pid namespace: it has no parent to kill and ignores SIGKILL/SIGSTOP
    "kill_parent": ("import os, signal\nfor pid in (os.getppid(), 1, -1):\n    try:\n        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass", False),
    "sigstop_self": ("import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)", False),  # pid 1 in its namespace: ignored
    "loop_in_cell": ("while True:\n    pass", True),
    "loop_in_function": ("def relu(z):\n    while True:\n        pass", False),
    "loop_in_del": ("class Stuck:\n    def __del__(self):\n        while True:\n            pass\nx = Stuck()\ndel x", True),
    "fork_bomb": ("import os\nfor _ in range(10000):\n    try:\n        os.fork()\n    except OSError:\n        break", False),  # contained by the pids limit: fork fails, the kernel lives on
    "memory_bomb": ("heap = []\nwhile True:\n    heap.append(bytearray(50 * 1024 * 1024))", True),
    "disk_fill": ("try:\n    with open('fill.bin', 'wb') as f:\n        while True:\n            f.write(b'0' * 1024 * 1024)\nexcept OSError:\n    pass", False),
    "print_flood": ("import sys\nfor _ in range(20000):\n    sys.stdout.write('x' * 50000)", False),
    "deep_recursion": ("import sys\nsys.setrecursionlimit(10**7)\ndef f(n): return f(n + 1)\nf(0)", True),
    "rogue_thread": ("import threading, time\ndef spin():\n    global relu\n    time.sleep(0.5)\n    relu = None\n"
                     "threading.Thread(target=spin, daemon=True).start()", False),
}


def _nb_with(base: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(json.loads(nbformat.writes(base)))
    nb.cells.append(factories.code(source, "attack"))
    return nb


def _malformed(dest: Path, assignment: Assignment, stub: nbformat.NotebookNode) -> list[Case]:
    name = assignment.config.notebook
    cases = []

    def raw(student: str, content: bytes, description: str) -> None:
        (dest / f"{student}.ipynb").write_bytes(content)
        cases.append(Case(student, "malformed", description, "none", True))

    raw("invalid_json", b"{\"cells\": [", "invalid JSON")
    raw("empty_file", b"", "an empty file")
    raw("non_utf8", b"\xff\xfe{\"cells\": []}", "bytes that are not UTF-8")
    raw("nbformat_99", json.dumps({"nbformat": 99, "nbformat_minor": 0, "cells": [], "metadata": {}}).encode(),
        "an nbformat version that does not exist")
    broken = json.loads(nbformat.writes(stub))
    broken["cells"][1]["cell_type"] = "banana"
    raw("wrong_cell_type", json.dumps(broken).encode(), "a cell of an unknown type")
    dup = json.loads(nbformat.writes(stub))
    for cell in dup["cells"]:
        cell["id"] = "same"
    (dest / "duplicate_ids.ipynb").write_text(json.dumps(dup))
    cases.append(Case("duplicate_ids", "malformed", "every cell has the same id (stub content)", "stub"))
    write(stub, dest / "twice.ipynb")
    write(stub, dest / "twice" / name)
    cases.append(Case("twice", "malformed", "two submissions for one student", "none", True))
    write(stub, dest / "bad id!.ipynb")
    cases.append(Case("bad id!", "malformed", "a student id with forbidden characters", "none", True))
    tiny = factories.tiny_notebook()
    write(tiny, dest / "wrong_assignment" / name)
    cases.append(Case("wrong_assignment", "malformed", "a notebook for another assignment", "stub"))
    (dest / "no_notebook").mkdir()
    (dest / "no_notebook" / "README.txt").write_text("forgot the notebook")
    cases.append(Case("no_notebook", "malformed", "a folder without a notebook", "none", True))
    (dest / "link.ipynb").symlink_to("/etc/passwd")
    cases.append(Case("link", "malformed", "a symbolic link instead of a notebook", "none", True))
    return cases


SLOW = {"fork_bomb", "memory_bomb", "disk_fill", "print_flood"}
"""Denial cases that take long or load the machine: CI runs them in the marked slow step."""


def build(dest: Path, root: Path, name: str = "backpropagation_simulation", *, slow: bool | None = None) -> list[Case]:
    """Write the corpus for ``name`` into ``dest`` (only slow cases, only fast ones, or all when None)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    assignment = load_assignment(name, root)
    solution, stub = solution_notebook(assignment), release_notebook(assignment)
    zeros = zero_returns(solution)
    bases = {"solution": solution, "stub": stub, "zeros": zeros}
    cases = [Case(b, "baseline", f"honest {b}", b) for b in bases]
    for base, nb in bases.items():
        write(nb, dest / base / assignment.config.notebook)
    if slow:
        return cases + _denial(dest, assignment, bases, slow=True)
    for key, source in TAMPERING.items():
        for base in ("zeros", "stub"):
            student = f"tamper_{key}_{base}"
            write(_nb_with(bases[base], source), dest / student / assignment.config.notebook)
            cases.append(Case(student, "tampering", f"{key} on top of {base}", base))
    repo = str(Path(__file__).resolve().parents[1])
    for key, source in ESCAPING.items():
        student = f"escape_{key}"
        probe = source.replace("REPO", repo) + "\nassert not FOUND, f'escaped: {FOUND}'"
        write(_nb_with(stub, probe), dest / student / assignment.config.notebook)
        cases.append(Case(student, "escaping", key.replace("_", " "), "stub"))
    cases += _denial(dest, assignment, bases, slow=slow)
    cases += _malformed(dest, assignment, stub)
    return cases


def _denial(dest: Path, assignment: Assignment, bases: dict[str, nbformat.NotebookNode], *,
            slow: bool | None) -> list[Case]:
    cases = []
    for key, (source, reason) in DENIAL.items():
        if slow is not None and (key in SLOW) != slow:
            continue
        base = "stub" if reason else "solution"
        write(_nb_with(bases[base], source), dest / f"deny_{key}" / assignment.config.notebook)
        cases.append(Case(f"deny_{key}", "denial", key.replace("_", " "), base, reason))
    return cases


def unsafe_zip(path: Path, inner: Path) -> None:
    """A zip of submissions with a '../' member and a symlink member."""
    with zipfile.ZipFile(path, "w") as zf:
        for file in sorted(inner.rglob("*.ipynb")):
            zf.write(file, str(file.relative_to(inner)))
        zf.writestr("../escaped.ipynb", "{}")
        link = zipfile.ZipInfo("linked.ipynb")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "/etc/passwd")


if __name__ == "__main__":
    for case in build(Path(sys.argv[1]), Path(__file__).resolve().parents[1]):
        print(f"{case.family:10s} {case.student:40s} {case.description}")
