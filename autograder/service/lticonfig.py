"""LTI 1.3 settings: the platforms registered with the course (a TOML or JSON file) and the tool's own RSA key.

The settings hold nothing secret (issuers, client ids and URLs are public), so they may live in the course's
repository. The tool's private key is made on first use in the service's state folder, beside the secret
key, readable by this user only; it never reaches a page, a log or git (the state folder ignores itself).
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from autograder.errors import UserError

KEY_FILE = "lti-private-key.pem"
"""File in the state folder holding the tool's RSA private key (PEM)."""

Match = Literal["email", "sis", "user_id"]
"""How a launch finds its student in the roster: the LMS's e-mail, SIS id (``lis.person_sourcedid``) or
user id (``sub``) equal to the roster's e-mail or student id."""


class LtiConfigError(UserError, ValueError):
    """The LTI settings file cannot be used; the message says where and what to fix."""


class Platform(BaseModel):
    """One LMS registration (what the LMS shows after the tool is added to it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field("LMS", description="A name for people (shown on the instructor's LTI page).")
    issuer: str = Field(description="The platform's issuer (`iss`), e.g. https://canvas.instructure.com.")
    client_id: str = Field(description="The client id the platform gave this tool (the launch's `aud`).")
    deployment_ids: tuple[str, ...] = Field(description="Deployments of the tool this course accepts.")
    key_set_url: str = Field(description="The platform's JWKS: the public keys its launches are signed with.")
    token_url: str = Field(description="The platform's OAuth2 token endpoint (access tokens to post scores).")
    auth_login_url: str = Field(description="The platform's OIDC authorisation endpoint (the login redirect).")
    auth_audience: str | None = Field(None, description="Audience of the token request, if not the token URL.")


class LtiSettings(BaseModel):
    """The ``[lti]`` table: registered platforms and how launches find students and assignments."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platforms: tuple[Platform, ...] = Field(alias="platform", description="The registered platforms.")
    match: tuple[Match, ...] = Field(("email", "sis", "user_id"), description="Ways to find the launch's "
                                     "student in the roster, tried in this order.")
    assignment_parameter: str = Field("assignment", description="Custom parameter naming the assignment a "
                                      "link opens (else the resource link's title names it).")

    def tool_conf_data(self) -> dict[str, list[dict[str, Any]]]:
        """The platforms as pylti1p3's ``ToolConfDict`` reads them (several client ids per issuer)."""
        data: dict[str, list[dict[str, Any]]] = {}
        for p in self.platforms:
            data.setdefault(p.issuer, []).append({
                "default": False, "client_id": p.client_id, "auth_login_url": p.auth_login_url,
                "auth_token_url": p.token_url, "auth_audience": p.auth_audience, "key_set_url": p.key_set_url,
                "key_set": None, "deployment_ids": list(p.deployment_ids)})
        return data


def load_settings(path: Path) -> LtiSettings:
    """Read the LTI settings from a TOML file (an ``[lti]`` table) or a JSON file (the same keys)."""
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise LtiConfigError(f"{path}: cannot read the LTI settings ({exc})") from exc
    table = raw.get("lti", raw) if isinstance(raw, dict) else raw
    try:
        return LtiSettings.model_validate(table)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise LtiConfigError(f"{path}: [lti] {where}: {first['msg']} (see the README's LTI set-up)") from exc


def tool_key(state_dir: Path) -> tuple[str, str]:
    """The tool's RSA key pair as PEM (private, public), made on first use (readable by this user only)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    path = state_dir / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
            handle.flush()
            os.fsync(handle.fileno())
    private = path.read_bytes()
    loaded = serialization.load_pem_private_key(private, password=None)
    public = loaded.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    return private.decode(), public.decode()


def tool_conf(settings: LtiSettings, state_dir: Path) -> Any:
    """pylti1p3's tool configuration: the platforms, each with the tool's key pair."""
    from pylti1p3.tool_config.dict import ToolConfDict

    private, public = tool_key(state_dir)
    data: Any = settings.tool_conf_data()
    conf = ToolConfDict(data)
    for p in settings.platforms:
        conf.set_private_key(p.issuer, private, client_id=p.client_id)
        conf.set_public_key(p.issuer, public, client_id=p.client_id)
    return conf


def tool_jwks(state_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """The tool's public key set (what the platform checks the tool's signed token requests with)."""
    from pylti1p3.registration import Registration

    _private, public = tool_key(state_dir)
    return {"keys": [dict(Registration.get_jwk(public))]}
