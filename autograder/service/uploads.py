"""Check an upload (notebook, declared artifacts, or a zip of them) and store it durably; refuse anything else."""

from __future__ import annotations

import lzma
import os
import re
import shutil
import stat
import uuid
import zipfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from autograder.authoring.notebook import NotebookError, read
from autograder.config import Assignment
from autograder.errors import UserError

MAX_ZIP_MEMBERS = 32
"""Most files a zip upload may hold."""
MAX_RATIO = 100
"""Largest compression ratio accepted for a zip member over 1 MB (zip bombs go far beyond)."""
CHUNK = 1 << 20
DAMAGED = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, ValueError, NotImplementedError)
"""What zipfile and its decompressors raise on a broken archive (bz2 raises OSError, a bad offset ValueError,
an unknown compression method NotImplementedError); caught only around reads of the upload, never disk writes."""
ARTIFACT_FIELD = re.compile(r"artifact_([0-9]{1,4})")
"""The form field of the i-th declared artifact."""


class UploadError(UserError, ValueError):
    """An upload is refused; nothing of it is stored. ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class _Budget:
    """Bytes still allowed for this upload (counted as written, never trusted from headers)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            raise UploadError(f"upload too large: more than {self.limit // 1_000_000} MB "
                              "(clear the notebook's outputs with Kernel > Restart & Clear Output)", 413)


def _copy(read: Callable[[int], bytes], target: Path, budget: _Budget) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        for block in iter(lambda: read(CHUNK), b""):
            budget.take(len(block))
            out.write(block)


def _damaged(where: str, exc: Exception) -> UploadError:
    """The one-sentence refusal for a zip that cannot be read, naming the member (or the zip) at fault."""
    if isinstance(exc, NotImplementedError):
        return UploadError(f"{where}: compressed with a method this server cannot read ({exc}); "
                           "zip the files again with your system's ordinary zip tool", 400)
    reason = str(exc)[:120] or type(exc).__name__
    return UploadError(f"{where}: the zip is damaged ({reason}); zip the files again and upload the new zip", 400)


def unpack(files: Mapping[str, tuple[str, BinaryIO]], assignment: Assignment, dest: Path, *, limit: int) -> int:
    """Write the upload into ``dest``: the notebook under the assignment's name, each declared artifact.

    ``files`` maps form fields to (client file name, content): ``notebook`` (a .ipynb, or a .zip of
    the notebook and artifacts) and ``artifact_<i>`` for the i-th declared artifact. Returns bytes.
    """
    budget = _Budget(limit)
    if "notebook" not in files or not files["notebook"][0]:
        raise UploadError("no file: choose your notebook (.ipynb) or a .zip of it with its files", 400)
    name, content = files["notebook"]
    notebook = dest / assignment.config.notebook
    if name.lower().endswith(".zip"):
        _unzip(content, assignment, dest, budget)
    elif name.lower().endswith(".ipynb"):
        _copy(content.read, notebook, budget)
    else:
        raise UploadError(f"{PurePosixPath(name).name}: not a notebook; upload the .ipynb file "
                          "(or a .zip holding it and the assignment's files)", 415)
    for field, (artifact_name, artifact) in files.items():
        if field.startswith("artifact_") and artifact_name:
            number = ARTIFACT_FIELD.fullmatch(field)
            index = int(number.group(1)) if number else -1
            if not 0 <= index < len(assignment.config.artifacts):
                wanted = ", ".join(assignment.config.artifacts) or "the notebook alone"
                raise UploadError(f"{field[:40]}: this assignment takes no such file; upload {wanted}", 400)
            _copy(artifact.read, dest / assignment.config.artifacts[index], budget)
    if not notebook.is_file():
        raise UploadError(f"the zip holds no notebook; put {assignment.config.notebook} in it", 400)
    try:
        read(notebook)
    except NotebookError as exc:
        raise UploadError(str(exc).replace(str(notebook), PurePosixPath(name).name), 422) from None
    return budget.used


def _member_path(info: zipfile.ZipInfo) -> PurePosixPath:
    path = PurePosixPath(info.filename)
    mode = info.external_attr >> 16
    if info.filename.startswith("/") or "\\" in info.filename or ".." in path.parts or stat.S_ISLNK(mode):
        raise UploadError(f"{info.filename}: unsafe path in the zip (absolute, '..' or a link); "
                          "zip the files themselves", 400)
    return path


def _unzip(content: BinaryIO, assignment: Assignment, dest: Path, budget: _Budget) -> None:
    try:
        archive = zipfile.ZipFile(content)
    except DAMAGED as exc:
        raise UploadError(f"not a readable zip file ({str(exc)[:120]}); zip the files again and upload "
                          "the new zip", 400) from None
    with archive:
        members = [i for i in archive.infolist() if not i.is_dir()
                   and not i.filename.startswith("__MACOSX/") and PurePosixPath(i.filename).name != ".DS_Store"]
        if len(members) > MAX_ZIP_MEMBERS:
            raise UploadError(f"the zip holds {len(members)} files (at most {MAX_ZIP_MEMBERS})", 400)
        paths = {i.filename: _member_path(i) for i in members}
        tops = {p.parts[0] for p in paths.values()}
        strip = len(tops) == 1 and all(len(p.parts) > 1 for p in paths.values())
        wanted = set(assignment.config.artifacts)
        for info in members:
            relative = PurePosixPath(*paths[info.filename].parts[strip:])
            if relative.suffix == ".ipynb" and len(relative.parts) == 1:
                target = dest / assignment.config.notebook
            elif str(relative) in wanted:
                target = dest / str(relative)
            else:
                expected = ", ".join([assignment.config.notebook, *wanted])
                raise UploadError(f"{info.filename}: not part of this assignment (expected: {expected})", 400)
            if target.exists():
                raise UploadError(f"{info.filename}: the zip holds two notebooks; keep one", 400)
            if info.file_size > CHUNK and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise UploadError(f"{info.filename}: compressed {info.file_size // max(info.compress_size, 1)}"
                                  " to 1; refusing a zip bomb", 413)
            _extract(archive, info, target, budget)


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: _Budget) -> None:
    """Copy one member out; a broken member (bad CRC, cut short, bad header, ...) is refused by name."""
    if info.flag_bits & 0x1:
        raise UploadError(f"{info.filename}: the zip is password-protected; zip the files again without "
                          "a password", 400)
    try:
        member = archive.open(info)
    except DAMAGED as exc:
        raise _damaged(info.filename, exc) from None

    def read(size: int) -> bytes:
        try:
            return member.read(size)
        except DAMAGED as exc:
            raise _damaged(info.filename, exc) from None

    with member:
        _copy(read, target, budget)


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def staging_folder(state_dir: Path) -> Path:
    """A fresh folder for an upload being checked (same file system as the uploads: moved, not copied)."""
    base = state_dir / "incoming"
    base.mkdir(parents=True, exist_ok=True)
    folder = base / uuid.uuid4().hex
    folder.mkdir()
    return folder


def keep(staged: Path, state_dir: Path, assignment: str, student: str) -> str:
    """Move a checked upload to its final place, flushed to disk; return its folder relative to ``state_dir``."""
    _fsync_tree(staged)
    relative = Path("uploads") / assignment / student / uuid.uuid4().hex
    target = state_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, target)
    for folder in (target.parent, target.parent.parent, target.parent.parent.parent):
        _fsync_dir(folder)
    return str(relative)


def discard(staged: Path) -> None:
    """Remove a refused (or abandoned) upload."""
    shutil.rmtree(staged, ignore_errors=True)
