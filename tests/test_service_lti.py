"""LTI 1.3 launches, protocol-tested: an in-test platform (tests/lti_platform.py) signs real RS256 launch
tokens and serves its JWKS over HTTP; the tool runs in-process. Forged, replayed and misdirected launches
sign nobody in; the tool's private key reaches no page and no git."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from autograder.service.app import create_app
from autograder.service.lticonfig import KEY_FILE
from autograder.service.roster import import_roster
from tests.lti_platform import CLIENT_ID, INSTRUCTOR, Link, Platform, User, form_fields, launch, login, new_key
from tests.service_helpers import NAME, TestClient, make_course, settings_for, sqlite_gradebook, write_roster

TOOL = "http://testserver"


@pytest.fixture
def platform() -> Iterator[Platform]:
    with Platform() as lms:
        lms.register_tool(TOOL)
        lms.users = {"u-alice": User("lms-1001", "Alice@Example.edu", "Alice Doe"),
                     "u-bob": User("lms-1002", "bob@example.edu", "Bob Doe"),
                     "u-sis": User("lms-1003", "nobody@elsewhere.org", "Carol Doe", sis="carol"),
                     "u-eve": User("lms-1666", "eve@elsewhere.org", "Eve Outsider"),
                     "u-teacher": User("lms-1", "prof@example.edu", "Prof", roles=[INSTRUCTOR])}
        lms.links = {"L1": Link("L1", "Backprop", custom={"assignment": NAME}),
                     "L2": Link("L2", "Backpropagation from scratch")}
        yield lms


@pytest.fixture
def tool(tmp_path: Path, platform: Platform) -> Iterator[TestClient]:
    course = make_course(tmp_path / "course")
    (course / ".autograder").mkdir()
    (course / ".autograder" / "lti.toml").write_text(platform.settings_toml(), encoding="utf-8")
    settings = settings_for(course, sqlite_gradebook(tmp_path), grade=False, public_url=TOOL)
    import_roster(write_roster(course, ["alice", "bob", "carol"]), settings)
    with TestClient(create_app(settings)) as client:
        yield client


def signed_in(client: TestClient) -> str | None:
    """Who the client's session belongs to (None: nobody)."""
    answer = client.get("/", follow_redirects=False)
    if answer.status_code == 303 and answer.headers["location"] == "/login":
        return None
    if answer.headers.get("location") == "/instructor":
        return "instructor"
    assert answer.status_code == 200
    return answer.text.split("signed in as <b>", 1)[1].split("<", 1)[0]


def test_a_launch_signs_the_student_in_and_opens_the_assignment(tool: TestClient, platform: Platform) -> None:
    answer = launch(tool, platform, "u-alice")  # matched by e-mail, whatever its case
    assert answer.status_code == 303 and answer.headers["location"] == f"/a/{NAME}"
    assert signed_in(tool) == "alice"
    assert "Backpropagation" in tool.get(f"/a/{NAME}").text


def test_the_links_title_names_the_assignment_and_the_sis_id_names_the_student(tool: TestClient,
                                                                                 platform: Platform) -> None:
    answer = launch(tool, platform, "u-sis", "L2")
    assert answer.headers["location"] == f"/a/{NAME}"
    assert signed_in(tool) == "carol"


def test_an_instructor_launch_opens_the_instructor_pages(tool: TestClient, platform: Platform) -> None:
    answer = launch(tool, platform, "u-teacher")
    assert answer.headers["location"] == f"/instructor/a/{NAME}"
    assert signed_in(tool) == "instructor"
    page = tool.get("/instructor/lti").text
    assert "http://testserver/lti/jwks" in page and CLIENT_ID in page and "PRIVATE" not in page


def test_someone_not_on_the_roster_gets_a_clear_page_and_no_account(tool: TestClient, platform: Platform) -> None:
    answer = launch(tool, platform, "u-eve")
    assert answer.status_code == 403
    assert "Eve Outsider is not on this course&#39;s roster" in answer.text
    assert signed_in(tool) is None


def _claims(platform: Platform, query: dict[str, str], **changes: Any) -> dict[str, Any]:
    return {**platform.claims(query["login_hint"], query["lti_message_hint"], query["nonce"]), **changes}


FORGERIES: dict[str, Callable[[Platform, dict[str, str]], str]] = {
    "signed by another key": lambda p, q: p.id_token(_claims(p, q), key=new_key()),
    "for another client (audience)": lambda p, q: p.id_token(_claims(p, q, aud="someone-else")),
    "through an unknown deployment": lambda p, q: p.id_token(
        _claims(p, q, **{"https://purl.imsglobal.org/spec/lti/claim/deployment_id": "deployment-9"})),
    "with a nonce the tool never issued": lambda p, q: p.id_token(_claims(p, q, nonce="made-up")),
    "expired": lambda p, q: p.id_token(_claims(p, q, iat=int(time.time()) - 900, exp=int(time.time()) - 600)),
    "from another issuer": lambda p, q: p.id_token(_claims(p, q, iss="https://evil.example")),
    "unsigned (alg none)": lambda p, q: _unsigned(_claims(p, q), p.kid),
}


def _unsigned(claims: dict[str, Any], kid: str) -> str:
    import jwt

    return str(jwt.encode(claims, None, algorithm="none", headers={"kid": kid}))


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_a_forged_launch_signs_nobody_in(tool: TestClient, platform: Platform, forgery: str) -> None:
    answer = launch(tool, platform, "u-alice", tamper=lambda q: FORGERIES[forgery](platform, q))
    assert answer.status_code == 403, answer.text
    assert "could not be verified" in answer.text
    assert signed_in(tool) is None


def test_a_replayed_launch_signs_nobody_in(tool: TestClient, platform: Platform) -> None:
    query, state_cookie = login(tool, platform, "u-alice", "L1")
    fields = form_fields(httpx.get(f"{platform.base}/auth", params=query, timeout=10).text)
    first = tool.post("/lti/launch", data=fields, headers={"cookie": state_cookie}, follow_redirects=False)
    assert first.status_code == 303
    tool.cookies.clear()  # another browser (the attacker's) posts the captured form again
    again = tool.post("/lti/launch", data=fields, headers={"cookie": state_cookie}, follow_redirects=False)
    assert again.status_code == 403
    assert signed_in(tool) is None


def test_a_launch_without_the_logins_state_cookie_signs_nobody_in(tool: TestClient, platform: Platform) -> None:
    assert launch(tool, platform, "u-alice", cookie=False).status_code == 403  # login CSRF: another browser
    assert signed_in(tool) is None


def test_an_unregistered_platform_cannot_start_a_login(tool: TestClient, platform: Platform) -> None:
    params = {**platform.login_params("u-alice", "L1"), "iss": "https://evil.example"}
    answer = tool.post("/lti/login", data=params, follow_redirects=False)
    assert answer.status_code == 400 and "not registered" in answer.text


def test_the_tools_key_set_is_public_and_its_private_key_stays_in_the_ignored_state_folder(
        tool: TestClient, tmp_path: Path) -> None:
    keys = tool.get("/lti/jwks").json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["kid"] and "d" not in keys[0]
    state = tmp_path / "course" / ".autograder"
    assert (state / KEY_FILE).stat().st_mode & 0o077 == 0  # this user's only
    subprocess.run(["git", "init", "-q", str(tmp_path / "course")], check=True)
    ignored = subprocess.run(["git", "-C", str(tmp_path / "course"), "check-ignore", "-q",
                              f".autograder/{KEY_FILE}"], check=False)
    assert ignored.returncode == 0, "the state folder must ignore itself in git"
