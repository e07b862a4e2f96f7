"""Deep Linking 2.0: the catalogue picker, the signed response, and its round trip over real HTTP
with the independent test platform (tests/support/platform), which verifies the JWT against the
tool's JWKS."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import jwt
import pytest
import requests
from flask import Flask
from sqlalchemy import select

from courses.models import CatalogModule, CourseModule
from lti_tool.extensions import db
from lti_tool.keys import active_key, public_jwks
from lti_tool.models import Registration
from lti_tool.services.deep_linking import (
    DeepLinkingError,
    LineItem,
    ResourceLinkItem,
    check_settings,
    response_claims,
)
from lti_tool.vocab import Claim
from tests import factories as f
from tests.conftest import LiveServer
from tests.factories import token_of
from tests.support.platform import GRADE_SYNC_OFF, Platform, form_of, submit
from tests.support.platform.vocab import DL_SETTINGS, INSTRUCTOR, LEARNER

pytestmark = pytest.mark.e2e


@pytest.fixture
def live(app: Flask) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def lms(app: Flask, live: LiveServer) -> Iterator[Platform]:
    # Deep Linking and NRPS only: the platform's launches carry no AGS claim.
    platform = Platform(tool_url=live.url, grade_sync=GRADE_SYNC_OFF)
    platform.register_with_tool("DL-Plattform")
    f.module("b1-recht", title="Rechtsrahmen", kind="basiswissen", position=1)
    f.module("b3-prozess", title="Prozessmanagement", kind="basiswissen", position=3)
    f.module("p1-hund", title="Hundesteuer online", kind="best-practice", position=1)
    yield platform
    platform.close()


def test_round_trip_platform_verifies_response_and_finds_modules(
    app: Flask, live: LiveServer, lms: Platform
) -> None:
    browser = requests.Session()
    picker = lms.launch(
        browser,
        {"sub": "lotse-1", "name": "Lotta Lotse"},
        [INSTRUCTOR],
        deep_linking=True,
        data="kontext-42",
    )
    assert picker.status_code == 200, picker.text[:500]
    assert urlsplit(picker.url).path == "/lotse/auswahl"
    assert "Rechtsrahmen" in picker.text and "Hundesteuer online" in picker.text

    # Server-side filter and search (a GET form, no script needed).
    token = token_of(picker.url)
    filtered = browser.get(
        live.url + "/lotse/auswahl", params={"lt": token, "art": "best-practice"}
    )
    assert "Hundesteuer online" in filtered.text and "Rechtsrahmen" not in filtered.text
    searched = browser.get(live.url + "/lotse/auswahl", params={"lt": token, "suche": "prozess"})
    assert "Prozessmanagement" in searched.text and "Rechtsrahmen" not in searched.text
    preview = browser.get(live.url + "/lotse/auswahl/modul/b1-recht", params={"lt": token})
    assert (
        preview.status_code == 200 and "Lernziele" in preview.text and "Einheit 3" in preview.text
    )

    action, fields = form_of(picker.text)
    assert action == "/lotse/auswahl"
    fields["modul"] = ["b1-recht", "p1-hund"]
    answer = browser.post(live.url + action, data=fields, timeout=10)
    assert answer.status_code == 200, answer.text[:500]
    return_url, _return_fields = form_of(answer.text)
    assert lms.last_claims is not None
    assert return_url == lms.last_claims[DL_SETTINGS]["deep_link_return_url"]
    assert return_url.startswith(lms.dl_return_url)
    assert "Weiter zum LMS" in answer.text  # visible button besides the auto-submit script
    assert "lotse-autosubmit.js" in answer.text

    delivered = submit(browser, answer)
    assert delivered.status_code == 200, (delivered.text, lms.dl_errors)
    assert lms.dl_errors == []
    [claims] = lms.received
    items = claims[Claim.CONTENT_ITEMS]
    assert [i["custom"]["module_id"] for i in items] == ["b1-recht", "p1-hund"]
    for item, title in zip(items, ["Rechtsrahmen", "Hundesteuer online"], strict=True):
        assert item["type"] == "ltiResourceLink"
        assert item["title"] == title
        assert item["text"].startswith("Worum es in")
        assert item["url"] == live.url + "/lti/launch"
        assert urlsplit(item["url"]).query == ""  # Moodle compares redirect URIs exactly
        assert item["lineItem"] == {
            "label": title,
            "scoreMaximum": 100,
            "resourceId": item["custom"]["module_id"],
            "tag": "lotsen-lti",
        }
    assert claims[Claim.DL_DATA] == "kontext-42"
    assert claims["azp"] == lms.client_id

    # The tool placed the chosen modules in the course.
    db.session.rollback()
    placed = db.session.scalars(
        select(CatalogModule.slug).join(CourseModule, CourseModule.module_pk == CatalogModule.id)
    ).all()
    assert sorted(placed) == ["b1-recht", "p1-hund"]

    # The platform creates the links; launching one opens the module (Navigator) or its cohort
    # view (Lotse).
    nav = lms.launch(
        requests.Session(),
        {"sub": "nav-1", "name": "Nora Navi"},
        [LEARNER],
        resource_link_id="rl-b1",
        custom=items[0]["custom"],
    )
    assert nav.status_code == 200, nav.text[:500]
    # The landing shows the linked module itself (its units link to /module/b1-recht/…).
    assert urlsplit(nav.url).path == "/start"
    assert 'href="/module/b1-recht/einheit/' in nav.text
    lotse = lms.launch(
        requests.Session(),
        {"sub": "lotse-1"},
        [INSTRUCTOR],
        resource_link_id="rl-b1",
        custom=items[0]["custom"],
    )
    assert lotse.status_code == 200, lotse.text[:500]
    assert urlsplit(lotse.url).path == "/lotse/uebersicht"
    assert "Ansicht für das Modul" in lotse.text and "Rechtsrahmen" in lotse.text
    assert "Nora Navi" in lotse.text


def test_navigator_deep_linking_launch_is_refused(app: Flask, lms: Platform) -> None:
    page = lms.launch(requests.Session(), {"sub": "nav-9"}, [LEARNER], deep_linking=True)
    assert page.status_code == 403
    assert lms.received == []


def _settings(**overrides: object) -> dict[str, object]:
    settings: dict[str, object] = dict(f.DL_SETTINGS)
    settings.update(overrides)
    return settings


def _item(slug: str = "b1") -> ResourceLinkItem:
    return ResourceLinkItem(
        title="T",
        url="https://tool.example/lti/launch",
        text="S",
        custom={"module_id": slug},
        line_item=LineItem(label="T", resource_id=slug, tag="lotsen-lti"),
    )


def test_response_jwt_carries_every_required_claim(sqlite_app: Flask) -> None:
    registration = f.platform()
    started = f.launch(registration, "lotse-1", lotse=True, deep_linking=f.DL_SETTINGS)
    f.module("b1-recht")
    from tests.courses.conftest import TokenClient

    answer = TokenClient(sqlite_app.test_client()).post(
        "/lotse/auswahl", started.token, {"modul": ["b1-recht"]}
    )
    assert answer.status_code == 200
    token = re.search(r'name="JWT" value="([^"]+)"', answer.text)
    assert token is not None
    header = jwt.get_unverified_header(token.group(1))
    assert header["alg"] == "RS256" and header["kid"] == active_key().kid
    key = jwt.PyJWK(next(k for k in public_jwks()["keys"] if k["kid"] == header["kid"]))
    claims = jwt.decode(token.group(1), key, algorithms=["RS256"], audience=registration.issuer)
    for name in ("iss", "aud", "iat", "exp", "nonce", "azp"):
        assert claims[name]
    assert claims["iss"] == registration.client_id == claims["azp"]
    assert claims[Claim.MESSAGE_TYPE] == "LtiDeepLinkingResponse"
    assert claims[Claim.VERSION] == "1.3.0"
    assert claims[Claim.DEPLOYMENT_ID] == "1"
    assert claims[Claim.DL_DATA] == "opaque-123"
    assert claims["exp"] > claims["iat"]


def test_settings_are_respected(sqlite_app: Flask) -> None:
    registration: Registration = f.platform()
    with pytest.raises(DeepLinkingError):
        check_settings(_settings(accept_types=["link"]), 1)
    with pytest.raises(DeepLinkingError):
        check_settings(_settings(accept_multiple="false"), 2)
    check_settings(_settings(accept_multiple=False), 1)
    no_data = response_claims(
        registration=registration, deployment_id="1", settings=_settings(data=None), items=[_item()]
    )
    assert Claim.DL_DATA not in no_data
    no_line_items = response_claims(
        registration=registration,
        deployment_id="1",
        settings=_settings(accept_lineitem=False),
        items=[_item()],
    )
    assert "lineItem" not in no_line_items[Claim.CONTENT_ITEMS][0]
    one = response_claims(
        registration=registration, deployment_id="1", settings=_settings(), items=[_item()]
    )
    two = response_claims(
        registration=registration, deployment_id="1", settings=_settings(), items=[_item()]
    )
    assert one["nonce"] != two["nonce"]


def test_picker_refuses_unknown_modules_and_non_deep_linking_launches(sqlite_app: Flask) -> None:
    from tests.courses.conftest import TokenClient

    client = TokenClient(sqlite_app.test_client())
    registration = f.platform()
    f.module("b1-recht")
    started = f.launch(
        registration, "lotse-1", lotse=True, deep_linking=_settings(accept_multiple=False)
    )
    page = client.get("/lotse/auswahl", started.token)
    assert 'type="radio" name="modul"' in page.text  # one module only: radio buttons
    refused = client.post("/lotse/auswahl", started.token, {"modul": ["gibt-es-nicht"]})
    assert refused.status_code == 422
    assert "mindestens ein Modul" in refused.text
    too_many = client.post("/lotse/auswahl", started.token, {"modul": ["b1-recht", "b1-recht"]})
    assert too_many.status_code == 200  # the same module twice is one module
    plain = f.launch(registration, "lotse-1", lotse=True)
    assert client.get("/lotse/auswahl", plain.token).status_code == 404
