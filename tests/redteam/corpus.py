"""Build the red-team corpus: adversarial and malformed submissions generated from the course's notebooks.

Every case starts from honest content made from ``source/`` (the solution, a ``partial`` solution
whose later functions return zeros, the all-zeros mutant of ``autograder.mutate.zero_returns``, or
the release stub) and adds one hostile cell or one malformation. Its expected outcome is relative to
that honest content, graded in the same batch: an attack may keep what the content earns, never more.

    python -m tests.redteam.corpus DEST [--slow]     # write the corpus and print what each case tries
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder.authoring.assign import release_notebook, solution_notebook
from autograder.authoring.notebook import grade_cells, is_grade_cell, read, write
from autograder.channel.kernel import FONT_CACHE_ENV
from autograder.checking.mutate import zero_returns
from autograder.config import Assignment, load_assignment
from autograder.datasets import data_dir as resolve_data_dir
from autograder.sandbox import default_env
from tests import factories
from tests.redteam import attacks as a

NAME = "backpropagation_simulation"
"""The assignment the corpus is built from (NumPy only, so grading it is fast)."""
BASES = ("solution", "partial", "zeros", "stub")
"""Honest submissions graded with every corpus; ``none`` (a submission that cannot run) means 0."""


@dataclass(frozen=True)
class Case:
    """One adversarial or malformed submission and what it may earn."""

    student_id: str
    """File or folder name in the corpus, and the id its result comes back under."""
    family: str
    """baseline, tampering, escaping, denial or malformed."""
    description: str
    """One line: what the submission tries."""
    base: str
    """Honest content it is built on; its score in the same batch bounds this case's score."""
    exact: bool
    """True: the case must score exactly what ``base`` scores; False: at most that."""
    expect: str = ""
    """Text that must appear in the reason, a note or a check message ('' when nothing particular)."""
    slow: bool = False
    """Loads the machine or takes long (memory, disk, processes, huge files): run with ``-m slow``."""


@dataclass(frozen=True)
class Host:
    """What probes must not reach on the grading host; filled into the escaping cells."""

    paths: tuple[str, ...]
    """Host files and folders that must be invisible in the container (course, tests, gradebook)."""
    data_paths: tuple[str, ...] = ()
    """The host's data directory (hidden splits included)."""
    globs: tuple[str, ...] = ()
    """Host glob patterns of other submissions and grader scratch folders."""
    addresses: tuple[str, ...] = ("127.0.0.1",)
    """Host addresses where a test listens on ``port``."""
    port: int = 9
    """A TCP port the test listens on."""
    abstract_socket: str = "autograder-redteam"
    """An abstract unix socket the test listens on."""
    canary: str = "autograder-redteam-canary"
    """A value only the host's environment holds."""
    allowed_env: tuple[str, ...] = field(default_factory=lambda: (*default_env(), "AUTOGRADER_DATA_DIR",
                                                                   FONT_CACHE_ENV))
    """The container's whole environment, by name."""


def host_facts(root: Path, dest: Path, **overrides: object) -> Host:
    """The default host facts for a corpus in ``dest`` built from the course at ``root``."""
    repo = Path(__file__).resolve().parents[2]
    paths = sorted({str(p) for p in (root, root / "source", root / "gradebook.db", repo, repo / "source",
                                     repo / "tests", dest, Path.home() / ".ssh")})
    data = str(resolve_data_dir(None).resolve())
    globs = (f"{dest}/*", "/tmp/*redteam*")
    return Host(paths=tuple(paths), data_paths=(data,), globs=globs, **overrides)  # type: ignore[arg-type]


# --- honest bases ----------------------------------------------------------------------------


def bases(assignment: Assignment) -> dict[str, NotebookNode]:
    """The honest submissions every case is compared with."""
    solution = solution_notebook(assignment)
    zeros = zero_returns(solution)
    partial = copy.deepcopy(solution)
    solution_cells = [i for i, c in enumerate(solution.cells)
                      if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    for index in solution_cells[len(solution_cells) * 2 // 3:]:  # the last third of the functions return zeros
        partial.cells[index].source = zeros.cells[index].source
    return {"solution": solution, "partial": partial, "zeros": zeros, "stub": release_notebook(assignment)}


def _with(nb: NotebookNode, *sources: str, at: int | None = None) -> NotebookNode:
    """A copy of ``nb`` with one code cell per source (ids attack, attack-2, ...), at the end by default."""
    out = copy.deepcopy(nb)
    cells = [factories.code(source.strip("\n"), "attack" if n == 0 else f"attack-{n + 1}")
             for n, source in enumerate(sources)]
    position = len(out.cells) if at is None else at
    out.cells[position:position] = cells
    return out


# --- the families ----------------------------------------------------------------------------

TAMPERING: tuple[tuple[str, str, tuple[str, ...], bool, str, str], ...] = (
    # (key, source, bases, exact, expect, description)
    ("numpy_patch", a.NUMPY_PATCH, ("partial", "zeros", "stub"), True, "",
     "np.allclose/isclose/testing patched to always agree"),
    ("builtins_patch", a.BUILTINS_PATCH, ("partial", "stub"), True, "", "builtins all/any/abs patched"),
    ("builtins_types", a.BUILTINS_TYPES_PATCH, ("partial",), False, "", "builtins isinstance/len patched to lie"),
    ("pytest_stub", a.PYTEST_STUB, ("partial", "zeros"), True, "", "sys.modules['pytest'] and numpy.testing stubbed"),
    ("import_hook", a.IMPORT_HOOK, ("partial",), True, "", "builtins.__import__ hooked to swap modules"),
    ("wire_encode", a.WIRE_ENCODE, ("partial",), False, "", "autograder.wire.encode rewritten to forge every reply"),
    ("server_handle", a.SERVER_HANDLE, ("partial",), False, "",
     "the kernel's Server.handle found on the stack and replaced with forged answers"),
    ("lying_objects", a.LYING_OBJECTS, ("partial", "stub"), False, "",
     "functions return objects whose __eq__/__array__/__float__/__len__ lie"),
    ("ndarray_subclass", a.NDARRAY_SUBCLASS, ("partial",), False, "", "numpy subclass whose == is always True"),
    ("odd_dtypes", a.ODD_DTYPES, ("partial",), False, "", "object, structured and string arrays"),
    ("nan_inf", a.NAN_INF, ("partial",), False, "", "NaN and inf outputs"),
    ("huge_reply", a.HUGE_REPLY, ("partial",), False, "more than 64 MB", "a 96 MB array as a return value"),
    ("huge_allocation", a.HUGE_ALLOCATION, ("partial",), False, "relu()",
     "a 2 GB array as a return value (more than the container's memory)"),
    ("long_keys", a.LONG_KEYS, ("partial",), False, "", "a dict with a 1 MB key as a return value"),
    ("fd1_reply", a.FD1_REPLY, ("partial",), True, "", "forged replies and 'ready' written to stdout / fd 1"),
    ("channel_reply", a.CHANNEL_REPLY, ("partial",), True, "",
     "forged replies written to every pipe found in /proc/self/fd while the notebook runs"),
    ("early_ready", a.EARLY_READY, ("partial",), False, "tampered with",
     "a forged 'ready' event on the channel's private fd"),
    ("malformed_ready", a.MALFORMED_READY, ("partial",), False, "malformed execution report",
     "a forged 'ready' event whose cell records are not records"),
    ("thread_reply", a.THREAD_REPLY, ("partial",), False, "",
     "a thread slips replies with made-up ids into the channel"),
    ("steal_requests", a.STEAL_REQUESTS, ("partial",), False, "",
     "a thread reads the grader's requests first and answers them itself"),
)

DENIAL: tuple[tuple[str, str, str, bool, str, bool, str], ...] = (
    # (key, source, base, exact, expect, slow, description): appended to the solution
    ("sys_exit", a.SYS_EXIT, "solution", True, "SystemExit", False, "sys.exit(1) in a cell"),
    ("os_exit", a.OS_EXIT, "none", True, "exited with code 7", False, "os._exit(7) in a cell"),
    ("kill_parent", a.KILL_PARENT, "solution", False, "", False, "SIGKILL to the parent, to pid 1, to -1 and 0"),
    ("sigstop_self", a.SIGSTOP_SELF, "solution", False, "", False, "SIGSTOP to itself"),
    ("sleep_forever", a.SLEEP_FOREVER, "none", True, "did not finish within", False, "time.sleep(10**6) in a cell"),
    ("loop_in_cell", a.LOOP_IN_CELL, "none", True, "did not finish within", False, "an infinite loop in a cell"),
    ("loop_in_function", a.LOOP_IN_FUNCTION, "solution", False, "did not return within", False,
     "an infinite loop in a function the tests call"),
    ("loop_in_del", a.LOOP_IN_DEL, "solution", False, "did not return within", False,
     "an infinite loop in __del__, run inside a call"),
    ("deep_recursion", a.DEEP_RECURSION, "none", True, "stopped", False,
     "recursion limit 10**6 and C recursion until the stack overflows"),
    ("spinning_thread", a.SPINNING_THREAD, "solution", False, "", False, "a thread that spins forever"),
    ("corrupting_thread", a.CORRUPTING_THREAD, "solution", False, "not callable", False,
     "a thread that replaces functions while the tests run"),
    ("close_channel", a.CLOSE_CHANNEL, "none", True, "stopped", False, "closes every file descriptor above 2"),
    ("alarm", a.ALARM, "solution", False, "", False, "SIGALRM one second later, while the tests run"),
    ("keyboard_interrupt", a.KEYBOARD_INTERRUPT, "solution", False, "", False,
     "KeyboardInterrupt raised inside a call"),
    ("ignore_signals", a.IGNORE_SIGNALS_AND_LOOP, "solution", False, "did not return within", False,
     "ignores SIGTERM/SIGINT/SIGHUP, then loops in a call"),
    ("read_stdin", a.READ_STDIN, "solution", True, "EOFError", False, "input() waits for a password"),
    ("many_files", a.MANY_FILES, "solution", False, "", False, "opens files until none are left"),
    ("many_threads", a.MANY_THREADS, "solution", False, "", False, "starts 400 sleeping threads"),
    ("memory_at_once", a.MEMORY_AT_ONCE, "solution", False, "MemoryError", False, "allocates 50 GB at once"),
    ("fork_bomb", a.FORK_BOMB, "none", True, "did not finish within", True, "a fork bomb"),
    ("memory_bomb", a.MEMORY_BOMB, "none", True, "killed (out of memory", True, "allocates 50 MB at a time forever"),
    ("disk_fill", a.DISK_FILL, "solution", False, "", True, "fills the home folder until ENOSPC"),
    ("disk_fill_everywhere", a.DISK_FILL_EVERYWHERE, "solution", False, "", True,
     "fills home, /tmp and /dev/shm (more than the memory limit)"),
    ("print_flood", a.PRINT_FLOOD, "solution", False, "", True, "prints 1 GB (768 MB to stdout, 256 MB to fd 1)"),
)

ESCAPING: tuple[tuple[str, str, str], ...] = (
    ("hidden_tests", a.PROBE_HIDDEN_TESTS, "reads the course repository, source/ and hidden test files"),
    ("hidden_data", a.PROBE_HIDDEN_DATA, "reads the hidden data split and the host data directory"),
    ("other_submissions", a.PROBE_OTHER_SUBMISSIONS, "looks for other submissions and host processes"),
    ("network", a.PROBE_NETWORK, "connects to 1.1.1.1, to host services and to an abstract unix socket"),
    ("write_outside", a.PROBE_WRITE_OUTSIDE, "writes outside its scratch space (/usr, /opt/autograder, /submission)"),
    ("environment", a.PROBE_ENVIRONMENT, "reads host environment variables"),
    ("home", a.PROBE_HOME, "reads /root and the host's home"),
    ("links", a.PROBE_LINKS, "reaches host paths through symlinks, /proc/*/root and '..'"),
    ("privileges", a.PROBE_PRIVILEGES, "gains root, capabilities, or remounts read-only mounts in a user namespace"),
)


def _tampering(dest: Path, nb_name: str, honest: dict[str, NotebookNode]) -> list[Case]:
    cases = []
    for key, source, on, exact, expect, description in TAMPERING:
        for base in on:
            student = f"tamper-{key}-{base}"
            write(_with(honest[base], source), dest / student / nb_name)
            exact_here = exact or base == "stub"  # nothing can make a stub earn less than 0
            cases.append(Case(student, "tampering", f"{description} (on {base})", base, exact_here, expect))
    write(_with(honest["partial"], a.HIDE_ERRORS, a.HIDE_ERRORS_NEXT), dest / "tamper-hide_errors-partial" / nb_name)
    cases.append(Case("tamper-hide_errors-partial", "tampering", "rewrites the kernel's cell records to hide an error",
                      "partial", True))
    forged = copy.deepcopy(honest["zeros"])
    for cell in forged.cells:
        if is_grade_cell(cell):
            cell.source = "def test_everything(student):\n    pass"
            cell.metadata["nbgrader"]["points"] = 1000
    write(forged, dest / "tamper-test_cells-zeros" / nb_name)
    cases.append(Case("tamper-test_cells-zeros", "tampering", "replaces every test cell with passing tests worth 1000",
                      "zeros", True))
    bonus = _with(honest["partial"], "def test_bonus(student):\n    pass")
    bonus.cells[-1].metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": "bonus",
                                            "points": 100, "schema_version": 3}
    write(bonus, dest / "tamper-bonus_cell-partial" / nb_name)
    cases.append(Case("tamper-bonus_cell-partial", "tampering", "adds its own grade cell worth 100 points",
                      "partial", True))
    return cases


def probe_source(body: str, host: Host, assignment: Assignment) -> str:
    """The cell that runs probe ``body`` with the host facts filled in."""
    hidden = [name[::-1] for cell in grade_cells(read(assignment.source_notebook)) for name in cell.hidden_tests]
    fills = {
        "__HOST_PATHS__": json.dumps(list(host.paths)), "__DATA_PATHS__": json.dumps(list(host.data_paths)),
        "__HOST_GLOBS__": json.dumps(list(host.globs)), "__HOST_PORT__": str(int(host.port)),
        "__HOST_ADDRESSES__": json.dumps(list(host.addresses)),
        "__ABSTRACT_SOCKET__": json.dumps(host.abstract_socket), "__CANARY__": json.dumps(host.canary),
        "__ALLOWED_ENV__": json.dumps(sorted(host.allowed_env)), "__HIDDEN_NAMES_REVERSED__": json.dumps(hidden),
        "__NOTEBOOK__": assignment.config.notebook,
        "__RELEASED__": json.dumps(sorted({Path(f).parts[0] for f in assignment.config.files})),
    }
    for key, value in fills.items():
        body = body.replace(key, value)
    return a.PROBE_PRELUDE + body + a.PROBE_EPILOGUE


def _escaping(dest: Path, assignment: Assignment, honest: dict[str, NotebookNode], host: Host) -> list[Case]:
    cases = []
    for key, body, description in ESCAPING:
        student = f"escape-{key}"
        cell = probe_source(body, host, assignment)
        write(_with(honest["solution"], cell), dest / student / assignment.config.notebook)
        cases.append(Case(student, "escaping", description, "solution", True))
    return cases


def _denial(dest: Path, nb_name: str, honest: dict[str, NotebookNode], *, slow: bool) -> list[Case]:
    cases = []
    for key, source, base, exact, expect, is_slow, description in DENIAL:
        if is_slow != slow:
            continue
        student = f"deny-{key}"
        write(_with(honest["solution"], source), dest / student / nb_name)
        cases.append(Case(student, "denial", description, base, exact, expect, is_slow))
    return cases


def _json(nb: NotebookNode) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(nbformat.writes(nb))  # type: ignore[no-untyped-call]
    return loaded


DEEP_JSON = (b'{"cells": [], "metadata": {"x": ' + b"[" * 100_000 + b"]" * 100_000
             + b'}, "nbformat": 4, "nbformat_minor": 5}')


def _raw_files(dest: Path, honest: dict[str, NotebookNode]) -> list[Case]:
    """Notebook files that are broken as files: not JSON, not UTF-8, not a notebook format we read."""
    solution = _json(honest["solution"])
    future = {**solution, "nbformat": 5, "nbformat_minor": 99}
    banana = copy.deepcopy(solution)
    banana["cells"][1]["cell_type"] = "banana"  # type: ignore[index]
    not_text = copy.deepcopy(solution)
    not_text["cells"][1]["source"] = [1, 2, 3]  # type: ignore[index]
    files = {
        "invalid_json": (b'{"cells": [', "not a readable notebook", "invalid JSON"),
        "empty_file": (b"", "not a readable notebook", "an empty file"),
        "non_utf8": (b'\xff\xfe{"cells": []}', "not UTF-8", "bytes that are not UTF-8"),
        "json_list": (b"[1, 2, 3]", "not a readable notebook", "JSON that is a list, not a notebook"),
        "deep_json": (DEEP_JSON, "not a readable notebook", "JSON nested 100,000 levels deep"),
        "nbformat_5_99": (json.dumps(future).encode(), "not a readable notebook", "nbformat 5.99 (does not exist)"),
        "banana_cell": (json.dumps(banana).encode(), "invalid notebook", "a cell of type 'banana'"),
        "source_not_text": (json.dumps(not_text).encode(), "not a readable notebook", "a cell source made of numbers"),
    }
    cases = []
    for key, (content, expect, description) in files.items():
        (dest / f"bad-{key}.ipynb").write_bytes(content)
        cases.append(Case(f"bad-{key}", "malformed", description, "none", True, expect))
    return cases


def _odd_notebooks(dest: Path, nb_name: str, honest: dict[str, NotebookNode]) -> list[Case]:
    """Readable notebooks with odd structure: old or future formats, ids, cell types, kernels."""
    solution = _json(honest["solution"])
    variants: dict[str, tuple[object, str, str, bool]] = {}
    variants["nbformat_3"] = (nbformat.writes(nbformat.convert(copy.deepcopy(honest["solution"]), 3)),  # type: ignore[no-untyped-call]
                              "solution", "the solution saved as nbformat 3", False)
    variants["nbformat_4_99"] = ({**solution, "nbformat_minor": 99}, "solution", "nbformat 4.99 (a future minor)",
                                 False)
    no_ids = copy.deepcopy(solution)
    for cell in no_ids["cells"]:  # type: ignore[attr-defined]
        cell.pop("id", None)
    variants["missing_ids"] = (no_ids, "solution", "cells without ids", False)
    same_ids = copy.deepcopy(solution)
    for cell in same_ids["cells"]:  # type: ignore[attr-defined]
        cell["id"] = "same"
    variants["duplicate_ids"] = (same_ids, "solution", "every cell has the same id", False)
    raw = copy.deepcopy(solution)
    for cell in raw["cells"]:  # type: ignore[attr-defined]
        if cell["cell_type"] == "code" and not cell["metadata"].get("nbgrader", {}).get("grade"):
            cell.pop("outputs")
            cell.pop("execution_count")
            cell["cell_type"] = "raw"
    variants["raw_cells"] = (raw, "stub", "the solution's code in raw cells (never executed)", True)
    kernel = copy.deepcopy(solution)
    kernel["metadata"] = {"kernelspec": {"name": "ir", "display_name": "R", "language": "R"}}
    variants["r_kernel"] = (kernel, "solution", "a notebook that claims to be R", False)
    nulls = copy.deepcopy(solution)
    nulls["cells"].append(_json(factories.notebook(factories.code("x = 1\x00", "nul")))["cells"][0])  # type: ignore[attr-defined,index]
    variants["null_bytes"] = (nulls, "solution", "a cell with a NUL byte", False)
    cases = []
    for key, (content, base, description, exact) in variants.items():
        text = content if isinstance(content, str) else json.dumps(content)
        (dest / f"odd-{key}" / nb_name).parent.mkdir(parents=True)
        (dest / f"odd-{key}" / nb_name).write_text(text, encoding="utf-8")
        cases.append(Case(f"odd-{key}", "malformed", description, base, exact))
    return cases


def _layouts(dest: Path, nb_name: str, honest: dict[str, NotebookNode]) -> list[Case]:
    """Problems with the submission's files and names rather than its content."""
    stub, cases = honest["stub"], []

    def case(student: str, expect: str, description: str, base: str = "none") -> None:
        cases.append(Case(student, "malformed", description, base, True, expect))

    write(stub, dest / "twice.ipynb")
    write(stub, dest / "twice" / nb_name)
    case("twice", "two submissions", "two submissions for one student (twice.ipynb and twice/)")
    write(stub, dest / "bad id!.ipynb")
    case("bad id!", "not a valid student id", "a student id with a space and '!'")
    write(stub, dest / "ålice.ipynb")
    case("ålice", "not a valid student id", "a student id with a non-ASCII letter")
    write(factories.tiny_notebook(), dest / "wrong_assignment" / nb_name)
    case("wrong_assignment", "", "the notebook of another assignment", base="stub")
    (dest / "no_notebook").mkdir()
    (dest / "no_notebook" / "README.txt").write_text("forgot the notebook\n")
    case("no_notebook", "no .ipynb notebook", "a folder without a notebook")
    (dest / "link.ipynb").symlink_to("/etc/passwd")
    case("link", "symbolic link", "a symbolic link to /etc/passwd instead of a notebook")
    write(stub, dest / "several" / "a.ipynb")
    write(stub, dest / "several" / "b.ipynb")
    case("several", "several notebooks", "a folder with two notebooks, neither named as the assignment's")
    (dest / "notes.txt").write_text("not a notebook\n")
    case("notes.txt", "expected <student>.ipynb", "a text file instead of a notebook")
    return cases


def _huge_notebook(path: Path, nb: NotebookNode, megabytes: int) -> None:
    """A valid notebook of about ``megabytes`` MB (one huge stream output), written in pieces."""
    big = copy.deepcopy(nb)
    cell = next(c for c in big.cells if c.cell_type == "code")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="@@BIG@@")]  # type: ignore[no-untyped-call]
    head, tail = nbformat.writes(big).split("@@BIG@@")  # type: ignore[no-untyped-call]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        handle.write(head)
        for _ in range(megabytes):
            handle.write("x" * (1 << 20))
        handle.write(tail)


def _slow_files(dest: Path, nb_name: str, honest: dict[str, NotebookNode]) -> list[Case]:
    _huge_notebook(dest / "huge_notebook" / nb_name, honest["solution"], 200)
    many = copy.deepcopy(honest["solution"])
    many.cells += [factories.code(f"x{n} = {n}", f"many-{n}") for n in range(5000)]
    write(many, dest / "many_cells" / nb_name)
    return [Case("huge_notebook", "malformed", "a 200 MB notebook (one huge output)", "none", True, "limit", True),
            Case("many_cells", "malformed", "5,000 extra code cells", "solution", False, "", True)]


def build(dest: Path, root: Path, *, slow: bool = False, host: Host | None = None) -> list[Case]:
    """Write the corpus for ``backpropagation_simulation`` into ``dest``; return its cases.

    ``slow=False`` writes the baselines and the fast cases, ``slow=True`` the baselines and the
    slow ones. ``root`` is the course whose notebooks the cases are made from.
    """
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    assignment = load_assignment(NAME, root)
    nb_name, honest = assignment.config.notebook, bases(assignment)
    for base, nb in honest.items():
        write(nb, dest / base / nb_name)
    cases = [Case(base, "baseline", f"honest {base}", base, True) for base in honest]
    if slow:
        return cases + _denial(dest, nb_name, honest, slow=True) + _slow_files(dest, nb_name, honest)
    cases += _tampering(dest, nb_name, honest)
    cases += _escaping(dest, assignment, honest, host or host_facts(root, dest))
    cases += _denial(dest, nb_name, honest, slow=False)
    cases += _raw_files(dest, honest) + _odd_notebooks(dest, nb_name, honest) + _layouts(dest, nb_name, honest)
    return cases


def build_zip(path: Path, root: Path) -> list[Case]:
    """A zip of submissions with unsafe members ('..', absolute paths, a symlink) beside honest ones."""
    assignment = load_assignment(NAME, root)
    nb_name, solution = assignment.config.notebook, solution_notebook(assignment)
    text = nbformat.writes(solution)  # type: ignore[no-untyped-call]
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"zipped/{nb_name}", text)
        archive.writestr("zipped_twice.ipynb", text)
        archive.writestr(f"zipped_twice/{nb_name}", text)
        archive.writestr("../redteam-pwned-dotdot.ipynb", text)
        archive.writestr("/tmp/redteam-pwned-absolute.ipynb", text)
        archive.writestr("folder/../../redteam-pwned-nested.ipynb", text)
        link = zipfile.ZipInfo("redteam-link.ipynb")
        link.external_attr = 0o120777 << 16  # a symbolic link member
        archive.writestr(link, "/etc/passwd")
    return [Case("zipped", "malformed", "an honest submission inside a zip with unsafe members", "solution", True),
            Case("zipped_twice", "malformed", "two submissions for one student inside a zip", "none", True,
                 "two submissions")]


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    slow = "--slow" in args
    dest = Path(next(arg for arg in args if not arg.startswith("--")))
    root = Path(os.environ.get("AUTOGRADER_COURSE", Path(__file__).resolve().parents[2]))
    for case in build(dest, root, slow=slow):
        bound = ("=" if case.exact else "<=") + " " + case.base
        print(f"{case.family:10} {case.student_id:38} {bound:12} {case.description}")


if __name__ == "__main__":
    main()
