"""The tool's own keys: the published ``kid`` is the one pylti1p3 signs client assertions with
(lti-notes §7), the JWKS never leaks private parts, and what the active key signs verifies with
the published key."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import jwt
from flask import Flask
from jwcrypto.jwk import JWK
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.keys import active_key, ensure_key, rotate_keys
from lti_tool.launch.tool_conf import to_pylti_registration
from lti_tool.models import Registration, ToolKey

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def served_keys(app: Flask) -> list[dict[str, str]]:
    response = app.test_client().get("/lti/jwks.json")
    assert response.status_code == 200
    return response.get_json()["keys"]


def a_registration() -> Registration:
    registration = Registration(
        name="R",
        issuer="https://lms.example",
        client_id="c1",
        auth_login_url="https://lms.example/auth",
        auth_token_url="https://lms.example/token",
        key_set_url="https://lms.example/jwks",
    )
    db.session.add(registration)
    db.session.flush()
    return registration


def test_published_kid_is_the_thumbprint_pylti1p3_signs_with(sqlite_app: Flask) -> None:
    key, created = ensure_key()
    db.session.commit()
    assert created

    thumbprint = JWK.from_pem(key.private_key_pem.encode()).thumbprint()
    assert key.kid == thumbprint
    assert [k["kid"] for k in served_keys(sqlite_app)] == [thumbprint]
    # pylti1p3's ServiceConnector puts exactly this kid into the client assertion header.
    assert to_pylti_registration(a_registration()).get_kid() == thumbprint


def test_jwks_never_contains_private_parts(sqlite_app: Flask) -> None:
    ensure_key()
    rotate_keys(timedelta(days=7))
    db.session.commit()

    keys = served_keys(sqlite_app)

    assert len(keys) == 2
    for key in keys:
        assert not PRIVATE_MEMBERS & set(key), sorted(key)
        assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
        assert set(key) == {"kty", "n", "e", "kid", "alg", "use"}
    for stored in db.session.scalars(select(ToolKey)):
        assert not PRIVATE_MEMBERS & set(stored.public_jwk)


def test_what_the_active_key_signs_verifies_with_the_published_key(sqlite_app: Flask) -> None:
    ensure_key()
    rotate_keys(timedelta(days=7))
    db.session.commit()
    registration = to_pylti_registration(a_registration())

    assertion = jwt.encode(
        {"iss": "c1", "sub": "c1", "aud": "https://lms.example/token", "jti": uuid.uuid4().hex},
        registration.get_tool_private_key(),
        algorithm="RS256",
        headers={"kid": registration.get_kid()},
    )

    kid = jwt.get_unverified_header(assertion)["kid"]
    assert kid == active_key().kid
    published = {k["kid"]: k for k in served_keys(sqlite_app)}
    public = JWK.from_json(json.dumps(published[kid])).export_to_pem()
    claims = jwt.decode(
        assertion, public, algorithms=["RS256"], audience="https://lms.example/token"
    )
    assert claims["iss"] == "c1"


def test_active_key_is_created_on_first_use_and_published(sqlite_app: Flask) -> None:
    assert db.session.scalars(select(ToolKey)).first() is None
    key = active_key()
    db.session.commit()

    assert [k["kid"] for k in served_keys(sqlite_app)] == [key.kid]
    assert ensure_key() == (key, False)


def test_jwks_may_be_cached_briefly(sqlite_app: Flask) -> None:
    response = sqlite_app.test_client().get("/lti/jwks.json")

    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.mimetype == "application/json"
