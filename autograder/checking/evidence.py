"""What a submission brings to the integrity report besides its code: artifact fingerprints and output lines.

Two artifacts match *exactly* when their bytes are equal, and *nearly* when what they hold is equal once
the noise of saving is left out: a zip (a ``.keras`` model, a ``.npz``) by its members' checksums without
Keras's ``metadata.json`` (which holds the time it was saved), a table (``.csv``) or ``.json`` by its values
rounded to 4 significant digits. An output line is a line a code cell printed or returned, with its
spaces collapsed; short lines and those the executed solution prints are left out (everyone has them).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

MIN_OUTPUT_CHARS = 16
"""Output lines shorter than this are too common to tell anything."""
SAVE_NOISE = frozenset({"metadata.json"})
"""Zip members that change every time the same content is saved (Keras writes the date into this one)."""


@dataclass(frozen=True)
class Artifact:
    """One submitted file besides the notebook, fingerprinted."""

    name: str
    """Its name in the submission (as the assignment declares it)."""
    exact: str
    """sha256 of its bytes."""
    content: str
    """sha256 of what it holds without the noise of saving ('' where no such reading exists)."""


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _rounded(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return f"{float(value):.4g}"
    if isinstance(value, dict):
        return {str(k): _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return str(value).strip().lower()


def _cell(text: str) -> Any:
    try:
        return _rounded(float(text))
    except ValueError:
        return _rounded(text)


def content_digest(path: Path) -> str:
    """sha256 of what the file holds without the noise of saving, or '' for a file read only as bytes."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".keras", ".zip", ".npz"):
            with zipfile.ZipFile(path) as archive:
                members = sorted((i.filename, i.CRC, i.file_size) for i in archive.infolist()
                                 if Path(i.filename).name not in SAVE_NOISE)
            return _digest(json.dumps(members).encode())
        if suffix == ".csv":
            rows = csv.reader(io.StringIO(path.read_text(encoding="utf-8", errors="replace")))
            return _digest(json.dumps([[_cell(c) for c in row] for row in rows if row]).encode())
        if suffix == ".json":
            return _digest(json.dumps(_rounded(json.loads(path.read_text(encoding="utf-8"))), sort_keys=True).encode())
    except (OSError, ValueError, zipfile.BadZipFile, UnicodeDecodeError):
        return ""
    return ""


def fingerprint(path: Path) -> Artifact:
    """The file's exact and content digests."""
    return Artifact(path.name, _digest(path.read_bytes()), content_digest(path))


def _texts(output: NotebookNode) -> Iterable[str]:
    kind = output.get("output_type")
    if kind == "stream":
        yield str(output.get("text", ""))
    elif kind in ("execute_result", "display_data"):
        yield str(output.get("data", {}).get("text/plain", ""))
    elif kind == "error":
        yield f"{output.get('ename', '')}: {output.get('evalue', '')}"


def output_lines(notebooks: Iterable[NotebookNode]) -> frozenset[str]:
    """Every output line of the notebooks' code cells, spaces collapsed, at least ``MIN_OUTPUT_CHARS`` long."""
    found = set()
    for nb in notebooks:
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            for output in cell.get("outputs", []):
                for text in _texts(output):
                    found |= {line for line in (re.sub(r"\s+", " ", raw).strip() for raw in text.splitlines())
                              if len(line) >= MIN_OUTPUT_CHARS}
    return frozenset(found)


def code_text(notebooks: Iterable[NotebookNode]) -> str:
    """The notebooks' code cells, one after another (IPython's ``%magic`` and ``!shell`` lines left out)."""
    cells = []
    for nb in notebooks:
        for cell in nb.cells:
            if cell.cell_type == "code":
                lines = [line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))]
                cells.append("\n".join(lines).strip("\n"))
    return "\n\n".join(c for c in cells if c) + "\n"
