"""The demo LMS registers the tool by LTI Dynamic Registration, as ``make run`` shows it: the
admin pastes the link ``flask lti registration-link`` printed, presses the button, the frame
registers, and the course launches with the new client id. All over HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import Launch, Registration
from lti_tool.vocab import Scope
from tests.demo_lms.conftest import Served, serve_demo
from tests.demo_lms.test_demo_lms import (
    NAVIGATOR,
    client_assertion,
    launch,
    launch_url,
    parse,
    token_request,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    # As `make run` does: the manual registration exists before the dynamic one.
    with serve_demo(tmp_path) as running:
        yield running


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def registration_link(served: Served) -> str:
    result = served.app.test_cli_runner().invoke(
        args=["lti", "registration-link", "--name", "Demo-LMS (dynamisch)"]
    )
    assert result.exit_code == 0, result.output
    return next(line.strip() for line in result.output.splitlines() if "/lti/register" in line)


def press_register(browser: requests.Session, served: Served, tool_url: str) -> requests.Response:
    """The admin pastes the URL into the demo's registration page and presses the button."""
    page = browser.get(f"{served.demo}/registrierung")
    assert page.status_code == 200
    (form,) = parse(page.text).forms
    assert "tool_url" in form["inputs"]
    return browser.post(f"{served.base}{form['action']}", data={"tool_url": tool_url})


def frame_src(page: requests.Response) -> str:
    start = page.text.index('<iframe class="registration-frame" src="') + 40
    return page.text[start : page.text.index('"', start)].replace("&amp;", "&")


def test_the_demo_lms_registers_the_tool_and_launches_with_the_new_client(
    served: Served, browser: requests.Session
) -> None:
    started = press_register(browser, served, registration_link(served))

    assert started.status_code == 200, started.text
    assert f'data-tool-origin="{served.base}"' in started.text
    assert "registration.js" in started.text
    assert started.headers["Cache-Control"] == "no-store"
    frame = browser.get(frame_src(started))
    assert frame.status_code == 200, frame.text
    assert "Lotsen-LTI ist registriert" in frame.text

    with served.app.app_context():
        registration = db.session.scalars(
            select(Registration).where(Registration.name == "Demo-LMS (dynamisch)")
        ).one()
        client_id = registration.client_id
        assert registration.issuer == served.demo
        assert client_id.startswith("lotsen-dyn-")
        assert [d.deployment_id for d in registration.deployments] == ["2"]
        assert registration.auth_login_url == f"{served.demo}/auth"
        assert registration.product_family == "lotsen-demo"

    overview = browser.get(f"{served.demo}/registrierung?fertig=1")
    assert "Das Werkzeug hat die Registrierung abgeschlossen" in overview.text
    assert f'<tr data-client-id="{client_id}">' in overview.text
    assert '<tr data-client-id="lotsen-demo">' in overview.text  # the manual one stays

    url = launch_url(browser, served, NAVIGATOR)
    assert f"client_id={client_id}" in url and "lti_deployment_id=2" in url
    launched = launch(browser, served, url)
    assert launched.id_token_claims["aud"] == client_id
    assert (
        launched.id_token_claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] == "2"
    )
    with served.app.app_context():
        stored = db.session.scalars(select(Launch)).one()
        assert stored.registration.client_id == client_id

    # The services know the new client too: a token for its client assertion.
    assertion = client_assertion(served, iss=client_id, sub=client_id)
    answer = token_request(served, assertion, [Scope.AGS_SCORE.value])
    assert answer.status_code == 200, answer.text


def test_a_registration_token_of_the_demo_registers_once(
    served: Served, browser: requests.Session
) -> None:
    frame_url = frame_src(press_register(browser, served, registration_link(served)))
    assert browser.get(frame_url).status_code == 200
    token = frame_url.rsplit("registration_token=", 1)[1]

    replay = requests.post(
        f"{served.demo}/registration",
        json=_registration_body(served),
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )

    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_token"
    with served.app.app_context():
        assert len(db.session.scalars(select(Registration)).all()) == 2  # manual + dynamic


def _registration_body(served: Served) -> dict[str, object]:
    tool = served.base
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "initiate_login_uri": f"{tool}/lti/login",
        "redirect_uris": [f"{tool}/lti/launch"],
        "jwks_uri": f"{tool}/lti/jwks.json",
        "token_endpoint_auth_method": "private_key_jwt",
        "https://purl.imsglobal.org/spec/lti-tool-configuration": {
            "domain": tool.split("//", 1)[1],
            "target_link_uri": f"{tool}/lti/launch",
        },
    }


def test_a_registration_without_token_or_of_a_foreign_tool_is_refused(served: Served) -> None:
    body = _registration_body(served)
    missing = requests.post(f"{served.demo}/registration", json=body, timeout=5)
    foreign = dict(body, jwks_uri="https://anderswo.example/jwks.json")
    refused = requests.post(
        f"{served.demo}/registration",
        json=foreign,
        headers={"Authorization": "Bearer erfunden"},
        timeout=5,
    )

    assert missing.status_code == 401
    assert refused.status_code == 400
    assert "jwks_uri" in refused.json()["error_description"]


def test_the_registration_page_refuses_an_address_of_another_site(
    served: Served, browser: requests.Session
) -> None:
    page = press_register(browser, served, "https://anderswo.example/lti/register?link=x")

    assert page.status_code == 400
    assert "registriert nur Lotsen-LTI dieser Installation" in page.text
    assert "<iframe" not in page.text


def test_the_openid_configuration_passes_the_tools_checks(served: Served) -> None:
    from lti_tool.dynamic_registration import parse_platform_configuration

    url = f"{served.demo}/.well-known/openid-configuration"
    config = requests.get(url, timeout=5).json()

    parsed = parse_platform_configuration(config, url)
    assert parsed.issuer == served.demo
    assert parsed.registration_endpoint == f"{served.demo}/registration"
    assert parsed.supports_deep_linking
