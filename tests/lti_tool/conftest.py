"""Fixtures for launches crafted by the test itself: a registered platform whose id_tokens the test
signs (and breaks) at will, and a loopback JWKS server that counts how often the tool fetches it."""

from __future__ import annotations

import functools
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from flask import Flask, jsonify
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from lti_tool.extensions import db
from lti_tool.keys import _new_key
from lti_tool.models import Launch, Registration, ToolKey, utcnow
from lti_tool.registrations import add_platform
from tests.support.tokens import PlatformKey, launch_claims

#: The test client's host: the tool's own addresses start with this.
TOOL_URL = "http://localhost"
LAUNCH_URL = TOOL_URL + "/lti/launch"

DROP = object()
"""A claim value meaning "leave this claim out of the token"."""


class JwksServer:
    """Platform key sets on one loopback port, one path per test (``endpoint``): a test changes
    ``keys`` between launches (rotation) and reads ``hits``, the number of fetches."""

    def __init__(self) -> None:
        self.sets: dict[str, JwksEndpoint] = {}
        self._lock = threading.Lock()
        app = Flask("jwks_server")

        @app.get("/jwks/<name>")
        def jwks(name: str) -> Any:
            endpoint = self.sets[name]
            with self._lock:
                endpoint.hits += 1
            if endpoint.status != 200:
                return jsonify({"error": "kaputt"}), endpoint.status
            response = jsonify({"keys": list(endpoint.keys)})
            response.headers.update(endpoint.headers)
            return response

        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        # A short poll interval: shutting down must not cost half a second.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def endpoint(self) -> JwksEndpoint:
        endpoint = JwksEndpoint(url=f"{self.url}/jwks/{uuid.uuid4().hex[:8]}")
        self.sets[endpoint.url.rsplit("/", 1)[1]] = endpoint
        return endpoint

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class JwksEndpoint:
    """One platform's key set URL on the :class:`JwksServer`."""

    url: str
    keys: list[dict[str, Any]] = field(default_factory=list)
    hits: int = 0
    status: int = 200
    """Set to 500 to play a platform whose key set is down."""
    headers: dict[str, str] = field(default_factory=dict)
    """Extra response headers, e.g. ``Cache-Control``."""


@functools.cache
def cached_key(name: str) -> PlatformKey:
    """A platform key per name, generated once per test session (RSA generation is slow)."""
    return PlatformKey(kid=f"k-{name}")


def loaded(key: PlatformKey) -> RSAPrivateKey:
    """The key as an object: PyJWT would parse (and check) the PEM on every signature, 25 ms."""
    return _load_pem(key.private_pem)


@functools.cache
def _load_pem(pem: str) -> RSAPrivateKey:
    private = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(private, RSAPrivateKey)
    return private


@functools.cache
def _tool_key_values() -> tuple[str, str, dict[str, Any]]:
    key = _new_key()
    return key.kid, key.private_key_pem, key.public_jwk


def install_tool_key() -> ToolKey:
    """Give a fresh database the tool's signing key without generating one per test."""
    kid, pem, jwk = _tool_key_values()
    key = ToolKey(kid=kid, private_key_pem=pem, public_jwk=dict(jwk))
    db.session.add(key)
    db.session.commit()
    return key


@dataclass
class Login:
    """What the tool's OIDC login handed to the platform."""

    state: str
    nonce: str
    params: dict[str, str]


@dataclass
class CraftedPlatform:
    """A registered platform whose id_tokens the test builds by hand."""

    app: Flask
    client: FlaskClient
    jwks: JwksEndpoint
    name: str = "Moodle Test"
    issuer: str = "https://moodle.example"
    client_id: str = "moodle-client-1"
    deployment_id: str = "1"
    key: PlatformKey = field(default_factory=lambda: cached_key("platform"))

    def register(self, *, prefill_key_set: bool = True) -> Registration:
        """Store the registration; with ``prefill_key_set`` the tool already knows our key."""
        registration = add_platform(
            {
                "name": self.name,
                "issuer": self.issuer,
                "client_id": self.client_id,
                "auth_login_url": self.issuer + "/mod/lti/auth.php",
                "auth_token_url": self.issuer + "/mod/lti/token.php",
                "key_set_url": self.jwks.url,
                "deployments": [self.deployment_id],
            }
        )
        if self.key.jwk not in self.jwks.keys:
            self.jwks.keys.append(self.key.jwk)
        if prefill_key_set:
            registration.key_set = {"keys": list(self.jwks.keys)}
            registration.key_set_fetched_at = utcnow()
        db.session.commit()
        return registration

    def login(self, client: FlaskClient | None = None, **params: Any) -> Login:
        """The OIDC login as a browser does it: cookie-check page, then ``lti1p3_new_window=1``."""
        client = client or self.client
        query = {
            "iss": self.issuer,
            "login_hint": "hint-1",
            "target_link_uri": LAUNCH_URL,
            "client_id": self.client_id,
            "lti_message_hint": "msg-1",
        }
        query.update(params)
        first = client.get("/lti/login", query_string=query)
        assert first.status_code == 200, problem_title(first)
        assert "lti1p3_new_window" in first.text
        second = client.get("/lti/login", query_string={**query, "lti1p3_new_window": "1"})
        assert second.status_code == 302, problem_title(second)
        sent = {k: v[0] for k, v in parse_qs(urlsplit(second.headers["Location"]).query).items()}
        return Login(state=sent["state"], nonce=sent["nonce"], params=sent)

    def claims(self, nonce: str, **overrides: Any) -> dict[str, Any]:
        """A valid launch body for this platform; a claim set to ``DROP`` is left out."""
        body = launch_claims(
            issuer=self.issuer,
            client_id=self.client_id,
            deployment_id=self.deployment_id,
            nonce=nonce,
            target_link_uri=LAUNCH_URL,
            **overrides,
        )
        return {k: v for k, v in body.items() if v is not DROP}

    def sign(self, claims: dict[str, Any], key: PlatformKey | None = None) -> str:
        """RS256 with ``key`` (default: ours) and its kid, as :meth:`PlatformKey.sign` does."""
        key = key or self.key
        return jwt.encode(claims, loaded(key), algorithm="RS256", headers={"kid": key.kid})

    def post_launch(
        self, state: str | None, id_token: str, client: FlaskClient | None = None
    ) -> TestResponse:
        data = {"id_token": id_token}
        if state is not None:
            data["state"] = state
        return (client or self.client).post("/lti/launch", data=data)

    def launch(
        self,
        build: Callable[[CraftedPlatform, str], str] | None = None,
        client: FlaskClient | None = None,
        **overrides: Any,
    ) -> TestResponse:
        """Login, then POST an id_token: ``build(platform, nonce)`` or the claims with overrides."""
        login = self.login(client)
        if build is None:
            token = self.sign(self.claims(login.nonce, **overrides))
        else:
            token = build(self, login.nonce)
        return self.post_launch(login.state, token, client)


def problem_title(response: TestResponse) -> str:
    """The ``<h1>`` of a page (a problem page's title)."""
    found = re.search(r"<h1>(.*?)</h1>", response.text, re.S)
    return found.group(1).strip() if found else f"<kein h1: {response.status_code}>"


def problem_detail(response: TestResponse) -> str:
    found = re.search(r"<code>(.*?)</code>", response.text, re.S)
    return found.group(1).strip() if found else ""


def count(model: type) -> int:
    """Rows of ``model``, read in a fresh transaction."""
    db.session.rollback()
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def launches() -> int:
    return count(Launch)


@pytest.fixture(scope="session")
def _jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.close()


@pytest.fixture
def jwks(_jwks_server: JwksServer) -> JwksEndpoint:
    """A platform's key set URL of its own (on a shared loopback server)."""
    return _jwks_server.endpoint()


def _crafted(app: Flask, jwks: JwksEndpoint) -> CraftedPlatform:
    install_tool_key()
    # The subject here is the launch: Lotsen stay on the welcome page, which shows what the tool
    # took from the launch (the Lotse area has its own tests).
    app.config["LOTSE_HOME_ENDPOINT"] = None
    platform = CraftedPlatform(app=app, client=app.test_client(), jwks=jwks)
    platform.register()
    return platform


@pytest.fixture
def platform(sqlite_app: Flask, jwks: JwksEndpoint) -> CraftedPlatform:
    """A registered platform on SQLite (tests whose subject is not the database)."""
    return _crafted(sqlite_app, jwks)


@pytest.fixture
def db_platform(app: Flask, jwks: JwksEndpoint) -> CraftedPlatform:
    """A registered platform on each backend (tests whose subject is the database)."""
    return _crafted(app, jwks)
