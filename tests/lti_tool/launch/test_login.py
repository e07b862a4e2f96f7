"""OIDC third-party initiated login (LTI 1.3 core 5.1.1): what the tool answers to good and bad
login initiations, by GET and by POST."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import LtiStorageEntry
from tests.lti_tool.conftest import (
    LAUNCH_URL,
    CraftedPlatform,
    JwksEndpoint,
    count,
    problem_title,
)

GOOD = {
    "iss": "https://moodle.example",
    "login_hint": "hint-1",
    "target_link_uri": LAUNCH_URL,
    "client_id": "moodle-client-1",
    "lti_message_hint": "msg-1",
}


def redirect_params(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@pytest.mark.parametrize("missing", ["iss", "login_hint", "target_link_uri"])
def test_login_without_a_required_parameter_is_refused(
    platform: CraftedPlatform, missing: str
) -> None:
    query = {k: v for k, v in GOOD.items() if k != missing}

    response = platform.client.get("/lti/login", query_string={**query, "lti1p3_new_window": "1"})

    assert response.status_code == 400
    assert problem_title(response) == "Unvollständige Anmeldeanfrage"
    assert "Set-Cookie" not in response.headers
    assert count(LtiStorageEntry) == 0


def test_login_from_an_unknown_issuer_is_refused(platform: CraftedPlatform) -> None:
    query = {**GOOD, "iss": "https://unbekannt.example", "lti1p3_new_window": "1"}

    response = platform.client.get("/lti/login", query_string=query)

    assert response.status_code == 400
    assert problem_title(response) == "Plattform nicht registriert"
    assert count(LtiStorageEntry) == 0


def test_login_with_an_unknown_client_id_is_refused(platform: CraftedPlatform) -> None:
    query = {**GOOD, "client_id": "not-ours", "lti1p3_new_window": "1"}

    response = platform.client.get("/lti/login", query_string=query)

    assert response.status_code == 400
    assert problem_title(response) == "Plattform nicht registriert"


def test_login_for_a_target_elsewhere_is_refused(platform: CraftedPlatform) -> None:
    query = {**GOOD, "target_link_uri": "https://evil.example/lti/launch"}

    response = platform.client.get("/lti/login", query_string=query)

    assert response.status_code == 400
    assert problem_title(response) == "Ziel-Adresse gehört nicht zu diesem Werkzeug"


def test_issuer_with_two_registrations_needs_the_client_id(
    sqlite_app: Flask, platform: CraftedPlatform, jwks: JwksEndpoint
) -> None:
    CraftedPlatform(
        app=sqlite_app,
        client=platform.client,
        jwks=jwks,
        name="Moodle zweites Tool",
        client_id="moodle-client-2",
    ).register()
    query = {k: v for k, v in GOOD.items() if k != "client_id"}

    response = platform.client.get("/lti/login", query_string={**query, "lti1p3_new_window": "1"})

    assert response.status_code == 400
    assert problem_title(response) == "Client-ID fehlt"
    # With the client id, each registration is found.
    for client_id in ("moodle-client-1", "moodle-client-2"):
        login = platform.login(client_id=client_id)
        assert login.params["client_id"] == client_id


def test_issuer_with_one_registration_needs_no_client_id(platform: CraftedPlatform) -> None:
    query = {k: v for k, v in GOOD.items() if k != "client_id"}

    response = platform.client.get("/lti/login", query_string={**query, "lti1p3_new_window": "1"})

    assert response.status_code == 302
    assert redirect_params(response.headers["Location"])["client_id"] == "moodle-client-1"


def test_login_answers_first_with_the_cookie_check_page(platform: CraftedPlatform) -> None:
    response = platform.client.get("/lti/login", query_string=GOOD)

    assert response.status_code == 200
    assert "lti1p3_new_window" in response.text
    assert "Ihr Browser blockiert Cookies" in response.text
    # Nothing is stored before the browser comes back.
    assert count(LtiStorageEntry) == 0


def test_login_redirects_to_the_platform_with_state_and_a_stored_nonce(
    platform: CraftedPlatform,
) -> None:
    response = platform.client.get("/lti/login", query_string={**GOOD, "lti1p3_new_window": "1"})

    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("https://moodle.example/mod/lti/auth.php?")
    params = redirect_params(location)
    assert params["scope"] == "openid"
    assert params["response_type"] == "id_token"
    assert params["response_mode"] == "form_post"
    assert params["prompt"] == "none"
    assert params["redirect_uri"] == LAUNCH_URL
    assert params["login_hint"] == "hint-1"
    assert params["lti_message_hint"] == "msg-1"
    assert platform.client.get_cookie(f"lti1p3-{params['state']}").value == params["state"]
    stored = db.session.scalars(select(LtiStorageEntry.key)).all()
    assert f"lti1p3-nonce-{params['nonce']}" in stored


def test_every_login_has_its_own_state_and_nonce(platform: CraftedPlatform) -> None:
    first, second = platform.login(), platform.login()

    assert first.state != second.state
    assert first.nonce != second.nonce


def test_post_login_works_like_get(platform: CraftedPlatform) -> None:
    page = platform.client.post("/lti/login", data=GOOD)
    assert page.status_code == 200
    assert "lti1p3_new_window" in page.text

    posted = platform.client.post("/lti/login", data={**GOOD, "lti1p3_new_window": "1"})
    got = platform.client.get("/lti/login", query_string={**GOOD, "lti1p3_new_window": "1"})

    assert posted.status_code == got.status_code == 302
    by_post, by_get = (redirect_params(r.headers["Location"]) for r in (posted, got))
    for volatile in ("state", "nonce"):
        assert by_post.pop(volatile) != by_get.pop(volatile)
    assert by_post == by_get

    # And the launch that follows a POST login is accepted.
    token = platform.sign(platform.claims(redirect_params(posted.headers["Location"])["nonce"]))
    state = redirect_params(posted.headers["Location"])["state"]
    assert platform.post_launch(state, token).status_code == 303


def test_post_login_without_issuer_is_refused(platform: CraftedPlatform) -> None:
    data = {k: v for k, v in GOOD.items() if k != "iss"}

    response = platform.client.post("/lti/login", data=data)

    assert response.status_code == 400
    assert problem_title(response) == "Unvollständige Anmeldeanfrage"


@pytest.mark.parametrize(
    ("target", "accepted"),
    [
        pytest.param("https://lotsen.example/tool/lti/launch", True, id="launch-url"),
        pytest.param("https://lotsen.example/tool", True, id="base-url"),
        pytest.param("https://LOTSEN.example/tool/lti/launch", True, id="host-case"),
        pytest.param("https://lotsen.example/toolbox/lti/launch", False, id="sibling-path"),
        pytest.param("https://lotsen.example/", False, id="parent-path"),
        pytest.param("http://lotsen.example/tool/lti/launch", False, id="other-scheme"),
        pytest.param("https://lotsen.example.evil/tool/lti/launch", False, id="other-host"),
    ],
)
def test_target_link_uri_must_lie_under_the_public_base_url(
    platform: CraftedPlatform, target: str, accepted: bool
) -> None:
    platform.app.config["PUBLIC_BASE_URL"] = "https://lotsen.example/tool"

    response = platform.client.get(
        "/lti/login", query_string={**GOOD, "target_link_uri": target, "lti1p3_new_window": "1"}
    )

    if accepted:
        assert response.status_code == 302, problem_title(response)
        location = redirect_params(response.headers["Location"])
        assert location["redirect_uri"] == "https://lotsen.example/tool/lti/launch"
    else:
        assert response.status_code == 400
        assert problem_title(response) == "Ziel-Adresse gehört nicht zu diesem Werkzeug"


def test_state_cookie_survives_third_party_cookie_blocking_over_https(
    platform: CraftedPlatform,
) -> None:
    """Inside the LMS iframe the state cookie is third-party: over HTTPS it must be
    ``Secure; SameSite=None; Partitioned`` (CHIPS), or browsers drop it."""
    platform.app.config["PUBLIC_BASE_URL"] = "https://localhost"
    query = {**GOOD, "target_link_uri": "https://localhost/lti/launch", "lti1p3_new_window": "1"}
    response = platform.client.get("/lti/login", query_string=query, base_url="https://localhost")

    assert response.status_code == 302
    (cookie,) = response.headers.getlist("Set-Cookie")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"secure", "httponly", "partitioned"} <= attributes
    assert "SameSite=None" in cookie


def test_state_cookie_over_plain_http_is_lax_for_the_local_demo(platform: CraftedPlatform) -> None:
    response = platform.client.get("/lti/login", query_string={**GOOD, "lti1p3_new_window": "1"})

    (cookie,) = response.headers.getlist("Set-Cookie")
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie and "Partitioned" not in cookie
