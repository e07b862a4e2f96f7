"""LTI Dynamic Registration end to end: the tool on a real port, the test platform as Moodle and
as ILIAS on their own ports (tests/support/platform, registration.py), an admin's browser as a
requests session. After a registration a real launch from that platform must pass."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from lti_tool.dynamic_registration import (
    DynamicRegistrationError,
    RegistrationLink,
    fetch_platform_configuration,
    find_link,
    parse_platform_configuration,
)
from lti_tool.extensions import db
from lti_tool.log_filters import redact
from lti_tool.models import Deployment, Launch, Registration, utcnow
from lti_tool.registrations import add_platform
from lti_tool.vocab import Scope
from tests.conftest import LiveServer
from tests.lti_tool.conftest import count, install_tool_key
from tests.support.platform import ILIAS, MOODLE, Platform
from tests.support.platform.vocab import TOOL_CONFIGURATION

pytestmark = pytest.mark.e2e

LEARNER = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
USER = {"sub": "dr-user-1", "name": "Dora Demo-Registrierung"}


@pytest.fixture
def tool(app: Flask, live_tool: LiveServer) -> LiveServer:
    install_tool_key()
    # The launch is not the subject here: Lotsen stay on the welcome page.
    app.config["LOTSE_HOME_ENDPOINT"] = None
    return live_tool


@pytest.fixture
def moodle(tool: LiveServer) -> Iterator[Platform]:
    platform = Platform(tool_url=tool.url, flavour=MOODLE)
    yield platform
    platform.close()


@pytest.fixture
def ilias(tool: LiveServer) -> Iterator[Platform]:
    platform = Platform(tool_url=tool.url, flavour=ILIAS)
    yield platform
    platform.close()


@pytest.fixture
def admin() -> Iterator[requests.Session]:
    """The LMS admin's browser."""
    with requests.Session() as session:
        yield session


def new_link(app: Flask, tool: LiveServer, *args: str) -> str:
    """``flask lti registration-link``, as an admin runs it; the URL it prints."""
    result = app.test_cli_runner().invoke(
        args=["lti", "registration-link", "--base-url", tool.url, *args]
    )
    assert result.exit_code == 0, result.output
    urls = [line.strip() for line in result.output.splitlines() if "/lti/register" in line]
    assert len(urls) == 1, result.output
    return urls[0]


def link_token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["link"][0]


def registrations() -> list[Registration]:
    db.session.rollback()
    return list(db.session.scalars(select(Registration).order_by(Registration.id)))


def stored_link(url: str) -> RegistrationLink:
    db.session.rollback()
    link = find_link(link_token(url))
    assert link is not None
    return link


def heading(response: requests.Response) -> str:
    start = response.text.index("<h1>") + 4
    return response.text[start : response.text.index("</h1>", start)].strip()


def launch(platform: Platform, browser: requests.Session) -> requests.Response:
    return platform.launch(browser, USER, LEARNER)


# -- happy paths -------------------------------------------------------------------------------


def test_moodle_registers_the_tool_and_launches_once_the_admin_activated_it(
    app: Flask, tool: LiveServer, moodle: Platform, admin: requests.Session
) -> None:
    url = new_link(app, tool, "--name", "Moodle HSF")

    page = admin.get(moodle.start_url(url), timeout=15)

    assert page.status_code == 200, page.text
    assert heading(page) == "Lotsen-LTI ist registriert"
    # Moodle keeps the tool pending: the admin is told to activate it.
    assert "Noch ein Schritt in Moodle: das Tool aktivieren" in page.text
    assert '/static/js/registration_close.js"' in page.text
    [registration] = registrations()
    assert (registration.name, registration.issuer) == ("Moodle HSF", moodle.issuer)
    assert registration.client_id == moodle.client_id
    assert [d.deployment_id for d in registration.deployments] == ["7"]
    assert registration.product_family == "moodle"
    assert registration.auth_login_url == moodle.url + "/mod/lti/auth.php"
    assert registration.auth_token_url == moodle.url + "/mod/lti/token.php"
    assert registration.key_set_url == moodle.url + "/mod/lti/certs.php"
    link = stored_link(url)
    assert link.used_at is not None and link.registration_pk == registration.id

    [sent] = moodle.registration_requests
    assert sent["authorization"].startswith("Bearer ey")
    body = sent["body"]
    assert body["application_type"] == "web"
    assert body["response_types"] == ["id_token"]
    assert set(body["grant_types"]) == {"implicit", "client_credentials"}
    assert body["initiate_login_uri"] == tool.url + "/lti/login"
    assert body["redirect_uris"] == [tool.url + "/lti/launch"]
    assert body["jwks_uri"] == tool.url + "/lti/jwks.json"
    assert body["token_endpoint_auth_method"] == "private_key_jwt"
    assert set(body["scope"].split()) == {scope.value for scope in Scope}
    configuration = body[TOOL_CONFIGURATION]
    assert configuration["domain"] == urlsplit(tool.url).netloc
    assert configuration["target_link_uri"] == tool.url + "/lti/launch"
    assert "sub" in configuration["claims"]
    # Moodle lists messages_supported as plain strings; deep linking was still recognised.
    assert configuration["messages"] == [
        {
            "type": "LtiDeepLinkingRequest",
            "target_link_uri": tool.url + "/lti/launch",
            "label": "Lotsen-LTI: Module auswählen",
        }
    ]

    with requests.Session() as learner:
        assert launch(moodle, learner).status_code == 403  # pending in Moodle
        moodle.activate()
        landed = launch(moodle, learner)
    assert landed.status_code == 200, landed.text
    assert landed.url.startswith(tool.url)
    db.session.rollback()
    stored = db.session.scalars(select(Launch)).one()
    assert stored.registration_pk == registration.id
    assert stored.deployment.deployment_id == "7"


def test_ilias_registers_from_its_hidden_iframe_without_a_click(
    app: Flask, tool: LiveServer, ilias: Platform, admin: requests.Session
) -> None:
    url = new_link(app, tool)

    started = time.monotonic()
    page = admin.get(ilias.start_url(url), timeout=15)
    elapsed = time.monotonic() - started

    # The one GET of the hidden iframe registered; ILIAS gives up after 10 s.
    assert page.status_code == 200, page.text
    assert elapsed < 10
    assert '/static/js/registration_close.js"' in page.text
    assert "Moodle" not in page.text
    [registration] = registrations()
    assert registration.issuer == ilias.issuer
    assert registration.client_id == ilias.client_id
    # ILIAS answers the deployment id as a number; it is stored as the string ILIAS launches with.
    assert [d.deployment_id for d in registration.deployments] == ["12"]
    assert registration.product_family == "ilias"
    assert registration.name == f"ILIAS {urlsplit(ilias.url).netloc}"
    assert registration.key_set_url == ilias.url + "/Modules/LTIConsumer/lticerts.php"
    body = ilias.registration_requests[0]["body"]
    assert body[TOOL_CONFIGURATION]["messages"][0]["target_link_uri"] == tool.url + "/lti/launch"

    with requests.Session() as learner:
        landed = launch(ilias, learner)
    assert landed.status_code == 200, landed.text
    assert count(Launch) == 1


def test_ilias_appends_its_parameters_to_a_link_without_query(
    app: Flask, tool: LiveServer, ilias: Platform, admin: requests.Session
) -> None:
    token = link_token(new_link(app, tool))
    path_link = f"{tool.url}/lti/register/{token}"

    page = admin.get(ilias.start_url(path_link), timeout=15)

    assert urlsplit(page.url).path.startswith(f"/lti/register/{token}&openid_configuration=")
    assert page.status_code == 200, page.text
    assert [r.client_id for r in registrations()] == [ilias.client_id]


def test_the_close_script_posts_the_spec_message_to_the_opener_or_parent(
    tool: LiveServer,
) -> None:
    script = requests.get(tool.url + "/static/js/registration_close.js", timeout=5)

    assert script.status_code == 200
    assert "javascript" in script.headers["Content-Type"]
    assert "window.opener || window.parent" in script.text
    assert 'postMessage({ subject: "org.imsglobal.lti.close" }, "*")' in script.text


def test_the_registered_page_runs_no_inline_script(
    app: Flask, tool: LiveServer, moodle: Platform, admin: requests.Session
) -> None:
    page = admin.get(moodle.start_url(new_link(app, tool)), timeout=15)

    assert page.status_code == 200
    assert "script-src 'unsafe-inline'" not in page.headers["Content-Security-Policy"]
    assert "<script>" not in page.text
    assert page.headers["Cache-Control"] == "no-store"


# -- links that do not register ---------------------------------------------------------------


def test_a_used_link_is_refused_and_the_platform_is_not_asked(
    app: Flask, tool: LiveServer, moodle: Platform, admin: requests.Session
) -> None:
    url = new_link(app, tool)
    assert admin.get(moodle.start_url(url), timeout=15).status_code == 200
    asked = moodle.configuration_requests

    again = admin.get(moodle.start_url(url), timeout=15)

    assert again.status_code == 410
    assert heading(again) == "Registrierungslink bereits verwendet"
    assert moodle.configuration_requests == asked
    assert len(moodle.registration_requests) == 1
    assert len(registrations()) == 1


def test_an_expired_link_is_refused(
    app: Flask, tool: LiveServer, moodle: Platform, admin: requests.Session
) -> None:
    url = new_link(app, tool, "--expires-hours", "1")
    link = stored_link(url)
    link.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()

    page = admin.get(moodle.start_url(url), timeout=15)

    assert page.status_code == 410
    assert heading(page) == "Registrierungslink abgelaufen"
    assert moodle.configuration_requests == 0
    assert registrations() == []


def test_an_unknown_link_is_refused_without_a_request_to_the_platform(
    tool: LiveServer, moodle: Platform, admin: requests.Session
) -> None:
    made_up = f"{tool.url}/lti/register?link=erfunden"

    page = admin.get(moodle.start_url(made_up), timeout=15)

    assert page.status_code == 404
    assert heading(page) == "Registrierungslink unbekannt"
    assert moodle.configuration_requests == 0
    assert registrations() == []


def test_a_link_opened_in_a_browser_explains_itself_and_stays_valid(
    app: Flask, tool: LiveServer, moodle: Platform, admin: requests.Session
) -> None:
    url = new_link(app, tool)

    page = admin.get(url, timeout=15)

    assert page.status_code == 400
    assert heading(page) == "Adresse für das LMS"
    assert stored_link(url).claimed_at is None
    assert admin.get(moodle.start_url(url), timeout=15).status_code == 200


def test_parallel_calls_of_one_link_register_once(
    app: Flask, tool: LiveServer, moodle: Platform
) -> None:
    url = new_link(app, tool)
    moodle.hold_registration = threading.Event()
    first: dict[str, Any] = {}

    def register() -> None:
        with requests.Session() as session:
            first["response"] = session.get(moodle.start_url(url), timeout=15)

    thread = threading.Thread(target=register)
    thread.start()
    try:
        assert moodle.registration_received.wait(10)
        with requests.Session() as other:
            second = other.get(moodle.start_url(url), timeout=15)
    finally:
        moodle.hold_registration.set()
        thread.join(15)

    assert second.status_code == 409
    assert heading(second) == "Registrierung läuft bereits"
    assert first["response"].status_code == 200
    assert len(moodle.registration_requests) == 1
    assert len(registrations()) == 1
    with requests.Session() as late:
        assert late.get(moodle.start_url(url), timeout=15).status_code == 410


# -- platforms the tool does not accept ------------------------------------------------------


def _refused_and_link_kept(page: requests.Response, url: str, status: int, title: str) -> None:
    assert page.status_code == status, page.text
    assert heading(page) == title
    assert registrations() == []
    link = stored_link(url)
    assert (link.claimed_at, link.used_at) == (None, None)


def test_an_issuer_of_another_origin_is_refused(
    app: Flask, tool: LiveServer, moodle: Platform, admin: requests.Session
) -> None:
    moodle.configuration_overrides["issuer"] = "https://moodle.anderswo.example"
    url = new_link(app, tool)

    page = admin.get(moodle.start_url(url), timeout=15)

    _refused_and_link_kept(page, url, 400, "Plattform-Konfiguration ungültig")
    assert "moodle.anderswo.example" in page.text
    assert moodle.registration_requests == []

    # Once the platform is fixed, the same link works.
    moodle.configuration_overrides.clear()
    assert admin.get(moodle.start_url(url), timeout=15).status_code == 200


@pytest.mark.parametrize(
    "endpoint", ["authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint"]
)
def test_a_configuration_without_a_required_endpoint_is_refused(
    app: Flask, tool: LiveServer, ilias: Platform, admin: requests.Session, endpoint: str
) -> None:
    ilias.configuration_overrides[endpoint] = None
    url = new_link(app, tool)

    page = admin.get(ilias.start_url(url), timeout=15)

    _refused_and_link_kept(page, url, 400, "Plattform-Konfiguration ungültig")
    assert endpoint in page.text
    assert ilias.registration_requests == []


def test_a_platform_without_rs256_is_refused(
    app: Flask, tool: LiveServer, moodle: Platform, admin: requests.Session
) -> None:
    moodle.configuration_overrides["id_token_signing_alg_values_supported"] = ["HS256"]
    url = new_link(app, tool)

    page = admin.get(moodle.start_url(url), timeout=15)

    _refused_and_link_kept(page, url, 400, "Plattform-Konfiguration ungültig")
    assert "RS256" in page.text
    assert moodle.registration_requests == []


def test_an_existing_registration_is_never_overwritten(
    app: Flask, tool: LiveServer, moodle: Platform, admin: requests.Session
) -> None:
    add_platform(
        {
            "name": "Moodle HSF (von Hand)",
            "issuer": moodle.issuer,
            "client_id": "schon-da-123456",
            "auth_login_url": moodle.url + "/alt/auth.php",
            "auth_token_url": moodle.url + "/alt/token.php",
            "key_set_url": moodle.url + "/alt/certs.php",
            "deployments": ["1"],
        }
    )
    db.session.commit()
    moodle.next_client_id = "schon-da-123456"
    url = new_link(app, tool)

    page = admin.get(moodle.start_url(url), timeout=15)

    assert page.status_code == 409
    assert heading(page) == "Plattform bereits registriert"
    assert "Moodle HSF (von Hand)" in page.text
    [existing] = registrations()
    assert existing.key_set_url == moodle.url + "/alt/certs.php"
    assert [d.deployment_id for d in existing.deployments] == ["1"]
    assert count(Deployment) == 1
    assert stored_link(url).used_at is None


def test_a_registration_token_moodle_already_used_is_refused(
    app: Flask, tool: LiveServer, moodle: Platform, admin: requests.Session
) -> None:
    first = admin.get(moodle.start_url(new_link(app, tool)), timeout=15, allow_redirects=False)
    # The same Moodle token twice (a reloaded dialog): Moodle answers 401 token_already_used.
    token = parse_qs(urlsplit(first.headers["Location"]).query)["registration_token"][0]
    assert admin.get(first.headers["Location"], timeout=15).status_code == 200
    url = new_link(app, tool)
    replay = (
        url
        + "&"
        + urlencode({"openid_configuration": moodle.configuration_url, "registration_token": token})
    )

    page = admin.get(replay, timeout=15)

    assert page.status_code == 502
    assert heading(page) == "Plattform hat die Registrierung abgelehnt"
    assert "HTTP 401: token_already_used" in page.text
    assert len(registrations()) == 1
    assert stored_link(url).claimed_at is None


def test_a_registration_without_token_gets_ilias_405_and_is_refused(
    app: Flask, tool: LiveServer, ilias: Platform, admin: requests.Session
) -> None:
    url = new_link(app, tool)
    # A platform that opens the link without registration_token: the tool POSTs without
    # Authorization, which ILIAS answers with 405 (ltiregistration.php).
    no_token = url + "&" + urlencode({"openid_configuration": ilias.configuration_url})

    page = admin.get(no_token, timeout=15)

    _refused_and_link_kept(page, url, 502, "Plattform hat die Registrierung abgelehnt")
    assert "HTTP 405: missing Authorization header" in page.text


@pytest.mark.parametrize("status", [400, 500, 503])
def test_a_platform_failing_the_registration_post_leaves_nothing_behind(
    app: Flask, tool: LiveServer, ilias: Platform, admin: requests.Session, status: int
) -> None:
    ilias.registration_status = status
    url = new_link(app, tool)

    page = admin.get(ilias.start_url(url), timeout=15)

    _refused_and_link_kept(page, url, 502, "Plattform hat die Registrierung abgelehnt")
    assert f"HTTP {status}" in page.text
    assert len(ilias.registration_requests) == 1


def test_an_unreachable_configuration_is_refused(
    app: Flask, tool: LiveServer, admin: requests.Session
) -> None:
    url = new_link(app, tool)
    closed = LiveServer(Flask("gone"))
    gone = closed.url + "/mod/lti/openid-configuration.php"
    closed.server.server_close()

    page = admin.get(url + "&" + urlencode({"openid_configuration": gone}), timeout=15)

    _refused_and_link_kept(page, url, 502, "Plattform-Konfiguration nicht abrufbar")


def _configuration(base: str) -> dict[str, Any]:
    return {
        "issuer": base,
        "authorization_endpoint": base + "/auth",
        "token_endpoint": base + "/token",
        "jwks_uri": base + "/jwks",
        "registration_endpoint": base + "/register",
        "id_token_signing_alg_values_supported": ["RS256"],
    }


def test_in_production_every_platform_address_must_be_https() -> None:
    https = "https://moodle.example"
    parse_platform_configuration(_configuration(https), https + "/c", require_https=True)
    plain = _configuration(https) | {"token_endpoint": "http://moodle.example/token"}

    with pytest.raises(DynamicRegistrationError) as refused:
        parse_platform_configuration(plain, https + "/c", require_https=True)

    assert refused.value.code == "configuration_invalid"
    assert "token_endpoint" in str(refused.value.detail)
    with pytest.raises(DynamicRegistrationError):
        fetch_platform_configuration("http://moodle.example/c", require_https=True)


def test_production_refuses_a_platform_over_http_before_registering(
    app: Flask, tool: LiveServer, moodle: Platform, admin: requests.Session
) -> None:
    app.config["ENV_NAME"] = "production"
    url = new_link(app, tool)

    page = admin.get(moodle.start_url(url), timeout=15)

    _refused_and_link_kept(page, url, 400, "Plattform-Konfiguration ungültig")
    assert moodle.configuration_requests == 0


@pytest.mark.parametrize(
    ("platform_part", "deep_linking"),
    [
        ({}, True),
        ({"messages_supported": ["LtiResourceLinkRequest"]}, False),
        ({"messages_supported": [{"type": "LtiResourceLinkRequest"}]}, False),
        ({"messages_supported": [{"type": "LtiDeepLinkingRequest", "placements": []}]}, True),
    ],
)
def test_messages_supported_as_strings_or_objects_decide_on_deep_linking(
    platform_part: dict[str, Any], deep_linking: bool
) -> None:
    base = "https://lms.example"
    data = _configuration(base) | {
        "https://purl.imsglobal.org/spec/lti-platform-configuration": platform_part
    }

    parsed = parse_platform_configuration(data, base + "/.well-known/openid-configuration")

    assert parsed.supports_deep_linking is deep_linking


def test_a_configuration_of_the_same_host_but_another_port_is_foreign() -> None:
    data = _configuration("https://lms.example:8443")

    with pytest.raises(DynamicRegistrationError) as refused:
        parse_platform_configuration(data, "https://lms.example/c")

    assert "gehört nicht zur Adresse" in str(refused.value.detail)
    # The default port written out is the same origin.
    parse_platform_configuration(_configuration("https://lms.example:443"), "https://lms.example/c")


# -- the CLI ------------------------------------------------------------------------------------


def test_the_cli_prints_a_link_with_a_query_and_stores_only_its_hash(
    app: Flask, tool: LiveServer
) -> None:
    result = app.test_cli_runner().invoke(
        args=["lti", "registration-link", "--base-url", tool.url + "/", "--expires-hours", "2"]
    )

    assert result.exit_code == 0, result.output
    assert "Tool-URL" in result.output and "ILIAS" in result.output
    url = next(line.strip() for line in result.output.splitlines() if "/lti/register" in line)
    assert url.startswith(tool.url + "/lti/register?link=")
    token = link_token(url)
    db.session.rollback()
    [link] = db.session.scalars(select(RegistrationLink)).all()
    assert token not in link.token_hash
    assert timedelta(hours=1, minutes=59) < link.expires_at - utcnow() <= timedelta(hours=2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--base-url angeben oder PUBLIC_BASE_URL setzen"),
        (["--base-url", "ftp://lotsen.example"], "keine http(s)-Adresse"),
        (["--base-url", "https://lotsen.example", "--expires-hours", "0"], "--expires-hours"),
        (["--base-url", "https://lotsen.example", "--name", "Moodle Alt"], "gibt es bereits"),
    ],
)
def test_the_cli_refuses_bad_options_and_stores_nothing(
    app: Flask, args: list[str], message: str
) -> None:
    add_platform(
        {
            "name": "Moodle Alt",
            "issuer": "https://moodle.example",
            "client_id": "c",
            "auth_login_url": "https://moodle.example/a",
            "auth_token_url": "https://moodle.example/t",
            "key_set_url": "https://moodle.example/k",
            "deployments": ["1"],
        }
    )
    db.session.commit()

    result = app.test_cli_runner().invoke(args=["lti", "registration-link", *args])

    assert result.exit_code != 0
    assert message in result.output
    assert count(RegistrationLink) == 0


# -- logs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        (
            "GET /lti/register?link=GEHEIM1&openid_configuration=https%3A%2F%2Flms%2Fc"
            "&registration_token=eyJGEHEIM2.x.y HTTP/1.1",
            "/lti/register?link=…&openid_configuration=https%3A%2F%2Flms%2Fc&registration_token=…",
        ),
        (
            "GET /lti/register/GEHEIM1&openid_configuration=https%3A%2F%2Flms"
            "&registration_token=eyJGEHEIM2 HTTP/1.1",
            "/lti/register/…&openid_configuration=https%3A%2F%2Flms&registration_token=…",
        ),
    ],
)
def test_request_logs_carry_neither_the_link_nor_the_registration_token(
    line: str, kept: str
) -> None:
    redacted = redact(line)

    assert "GEHEIM" not in redacted
    assert kept in redacted
