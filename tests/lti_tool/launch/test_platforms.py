"""Two registrations of one issuer (two tools in one Moodle, each with its own client id) never
mix: users, courses and keys belong to exactly one registration."""

from __future__ import annotations

import jwt
import pytest
from flask import Flask
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import Launch, LtiContext, LtiUser, Registration
from tests.lti_tool.conftest import (
    CraftedPlatform,
    JwksServer,
    cached_key,
    install_tool_key,
    launches,
    loaded,
    problem_title,
)

ISSUER = "https://moodle.example"


@pytest.fixture
def pair(app: Flask, _jwks_server: JwksServer) -> tuple[CraftedPlatform, CraftedPlatform]:
    install_tool_key()
    client = app.test_client()
    a = CraftedPlatform(
        app=app,
        client=client,
        jwks=_jwks_server.endpoint(),
        name="Moodle Lotsen A",
        issuer=ISSUER,
        client_id="client-a",
        key=cached_key("pair-a"),
    )
    b = CraftedPlatform(
        app=app,
        client=client,
        jwks=_jwks_server.endpoint(),
        name="Moodle Lotsen B",
        issuer=ISSUER,
        client_id="client-b",
        key=cached_key("pair-b"),
    )
    a.register()
    b.register()
    return a, b


def registration_id(platform: CraftedPlatform) -> int:
    return db.session.scalars(
        select(Registration.id).where(Registration.client_id == platform.client_id)
    ).one()


def test_same_sub_and_context_id_under_two_client_ids_stay_apart(
    pair: tuple[CraftedPlatform, CraftedPlatform],
) -> None:
    a, b = pair
    for platform, name in ((a, "Erika aus A"), (b, "Erika aus B")):
        response = platform.launch(sub="same-sub", context_id="same-course", name=name)
        assert response.status_code == 303, problem_title(response)
        page = platform.client.get(response.headers["Location"]).text
        assert platform.name in page and name in page

    db.session.rollback()
    users = db.session.scalars(select(LtiUser).order_by(LtiUser.id)).all()
    contexts = db.session.scalars(select(LtiContext).order_by(LtiContext.id)).all()
    assert [(u.sub, u.registration_pk, u.name) for u in users] == [
        ("same-sub", registration_id(a), "Erika aus A"),
        ("same-sub", registration_id(b), "Erika aus B"),
    ]
    assert [(c.context_id, c.registration_pk) for c in contexts] == [
        ("same-course", registration_id(a)),
        ("same-course", registration_id(b)),
    ]
    for launch in db.session.scalars(select(Launch)):
        assert launch.user.registration_pk == launch.registration_pk
        assert launch.context.registration_pk == launch.registration_pk


def test_token_for_a_signed_with_b_key_is_refused(
    pair: tuple[CraftedPlatform, CraftedPlatform],
) -> None:
    a, b = pair

    by_kid = a.launch(lambda p, nonce: p.sign(p.claims(nonce), key=b.key))
    assert by_kid.status_code == 400
    assert problem_title(by_kid) == "Unbekannter Schlüssel"

    # Even when the token names A's key id, B's signature does not verify with A's key.
    def b_signature_a_kid(p: CraftedPlatform, nonce: str) -> str:
        return jwt.encode(
            p.claims(nonce), loaded(b.key), algorithm="RS256", headers={"kid": a.key.kid}
        )

    forged = a.launch(b_signature_a_kid)
    assert forged.status_code == 400
    assert problem_title(forged) == "Signatur ungültig"
    assert launches() == 0


def test_a_token_belongs_to_the_client_it_names_whatever_login_preceded(
    pair: tuple[CraftedPlatform, CraftedPlatform],
) -> None:
    a, b = pair
    login = a.login()
    token = b.sign(b.claims(login.nonce))

    response = a.post_launch(login.state, token)

    assert response.status_code == 303
    db.session.rollback()
    launch = db.session.scalars(select(Launch)).one()
    assert launch.registration_pk == registration_id(b)


def test_login_without_client_id_is_ambiguous(
    pair: tuple[CraftedPlatform, CraftedPlatform],
) -> None:
    a, _ = pair
    response = a.client.get(
        "/lti/login",
        query_string={
            "iss": ISSUER,
            "login_hint": "x",
            "target_link_uri": "http://localhost/lti/launch",
            "lti1p3_new_window": "1",
        },
    )
    assert response.status_code == 400
    assert problem_title(response) == "Client-ID fehlt"
