"""Uploads: a notebook, a zip of it with artifacts; everything else is refused with a clear 4xx and nothing stored."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from autograder.config import load_assignment
from autograder.service.app import create_app
from autograder.service.roster import import_roster
from autograder.service.settings import ServiceSettings
from autograder.service.uploads import UploadError, unpack
from tests.service_helpers import (
    NAME,
    TestClient,
    make_course,
    notebook_bytes,
    settings_for,
    sign_in,
    sqlite_gradebook,
    token_for,
    upload,
    upload_count,
    upload_state,
    write_roster,
)


def _zip(members: dict[str, bytes], *, link: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (0o120777 << 16)
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


@pytest.fixture
def settings(tmp_path: Path) -> ServiceSettings:
    course = make_course(tmp_path / "course")
    made = settings_for(course, sqlite_gradebook(tmp_path), grade=False, max_upload_mb=2)
    import_roster(write_roster(course, ["alice"]), made)
    return made


def _stored(settings: ServiceSettings) -> list[Path]:
    folders = [settings.state_dir / "uploads", settings.state_dir / "incoming"]
    return [p for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file()]


def test_refused_uploads_answer_4xx_and_store_nothing(settings: ServiceSettings) -> None:
    good = notebook_bytes(settings.root)
    bomb = _zip({"backpropagation_simulation.ipynb": b"\0" * 50_000_000})
    cases = [
        ("notes.txt", b"hello", 415, "not a notebook"),
        ("mine.ipynb", b"{not json", 422, "not a readable notebook"),
        ("mine.ipynb", json.dumps({"cells": 3}).encode(), 422, "mine.ipynb"),
        ("mine.ipynb", b"x" * 2_100_000, 413, "upload too large"),
        ("mine.zip", bomb, 413, "zip bomb"),
        ("mine.zip", _zip({"../../escape.ipynb": good}), 400, "unsafe path"),
        ("mine.zip", _zip({"/abs/x.ipynb": good}), 400, "unsafe path"),
        ("mine.zip", _zip({"x.ipynb": good}, link="model.keras"), 400, "unsafe path"),
        ("mine.zip", _zip({"x.ipynb": good, "run.sh": b"rm -rf /"}), 400, "not part of this assignment"),
        ("mine.zip", _zip({"a.ipynb": good, "b.ipynb": good}), 400, "two notebooks"),
        ("mine.zip", b"PK\x03\x04 broken", 400, "not a readable zip"),
        ("mine.zip", _zip({}), 400, "no notebook"),
    ]
    with TestClient(create_app(settings)) as client:
        csrf = sign_in(client, token_for(settings, "alice"))
        for name, data, status, message in cases:
            answer = client.post(f"/a/{NAME}/upload", data={"csrf": csrf}, files={"notebook": (name, data)})
            assert answer.status_code == status, (name, answer.status_code)
            assert message in answer.text, (name, message)
            assert "Traceback" not in answer.text and str(settings.state_dir) not in answer.text
        assert client.post(f"/a/{NAME}/upload", data={"csrf": csrf}).status_code == 400
        huge = client.post(f"/a/{NAME}/upload", data={"csrf": csrf}, files={"notebook": ("m.ipynb", b"x" * 4_000_000)})
        assert huge.status_code == 413
    assert upload_count(settings.db_url) == 0
    assert _stored(settings) == []


def test_a_zip_of_a_folder_is_unpacked_under_the_assignment_names(settings: ServiceSettings, tmp_path: Path) -> None:
    assignment = load_assignment(NAME, settings.root)
    data = _zip({"work/My Notebook.ipynb": notebook_bytes(settings.root), "__MACOSX/._x": b"junk"})
    dest = tmp_path / "dest"
    dest.mkdir()
    size = unpack({"notebook": ("work.zip", io.BytesIO(data))}, assignment, dest, limit=10_000_000)
    assert [p.name for p in dest.iterdir()] == [assignment.config.notebook]
    assert size == (dest / assignment.config.notebook).stat().st_size


def test_artifact_fields_map_to_declared_names_only(settings: ServiceSettings, tmp_path: Path) -> None:
    assignment = load_assignment(NAME, settings.root)  # declares no artifacts
    files = {"notebook": ("x.ipynb", io.BytesIO(notebook_bytes(settings.root))),
             "artifact_0": ("../../etc/passwd", io.BytesIO(b"x"))}
    with pytest.raises(UploadError, match="takes no such file"):
        unpack(files, assignment, tmp_path, limit=10_000_000)


def test_an_accepted_upload_is_on_disk_and_queued_before_the_answer(settings: ServiceSettings) -> None:
    with TestClient(create_app(settings)) as client:
        csrf = sign_in(client, token_for(settings, "alice"))
        upload_id = upload(client, csrf, notebook_bytes(settings.root), name="Mine (2).ipynb")
        state = upload_state(client, upload_id)
    assert state["status"] == "queued" and state["ahead"] == 0
    assert [p.name for p in _stored(settings)] == [f"{NAME}.ipynb"]
    assert upload_count(settings.db_url) == 1


def test_declared_artifacts_come_in_their_own_field_or_in_the_zip(settings: ServiceSettings, tmp_path: Path) -> None:
    plain = load_assignment(NAME, settings.root)
    assignment = plain.model_copy(update={"config": plain.config.model_copy(update={"artifacts": ("model.keras",)})})
    notebook = notebook_bytes(settings.root)
    separate, zipped = tmp_path / "separate", tmp_path / "zipped"
    separate.mkdir()
    zipped.mkdir()
    unpack({"notebook": ("nb.ipynb", io.BytesIO(notebook)), "artifact_0": ("weights.bin", io.BytesIO(b"m" * 10))},
           assignment, separate, limit=10_000_000)
    unpack({"notebook": ("all.zip", io.BytesIO(_zip({"nb.ipynb": notebook, "model.keras": b"m" * 10})))},
           assignment, zipped, limit=10_000_000)
    for folder in (separate, zipped):
        assert sorted(p.name for p in folder.iterdir()) == [f"{NAME}.ipynb", "model.keras"]
        assert (folder / "model.keras").read_bytes() == b"m" * 10
