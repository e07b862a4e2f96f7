"""The demo LMS against the real tool over HTTP on 127.0.0.1: OIDC login, launch, Deep Linking,
token endpoint, AGS and NRPS, exactly as a browser and the tool would use them.

Self-contained: one app with its own SQLite files and one loopback server for the module.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import jwt
import pytest
import requests
from jwcrypto.jwk import JWK

from demo_lms.course import COURSE, PEOPLE, Person
from lti_tool.extensions import db
from lti_tool.keys import active_key
from lti_tool.vocab import Claim, Scope
from tests.demo_lms.conftest import Served, serve_demo

pytestmark = pytest.mark.e2e

SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
NAVIGATOR = next(p for p in PEOPLE if not p.is_instructor and p.shares_personal_data)
LOTSE = next(p for p in PEOPLE if p.is_instructor)
ANONYMOUS = next(p for p in PEOPLE if not p.shares_personal_data)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve_demo(tmp_path_factory.mktemp("demo_lms")) as running:
        yield running


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


# -- helpers -----------------------------------------------------------------------------------


class _Collector(HTMLParser):
    """Anchors and forms of a page, with their attributes (entities already decoded)."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str]] = []
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "a":
            self.anchors.append(values)
        elif tag == "form":
            self.forms.append({**values, "inputs": {}})
        elif tag == "input" and self.forms and values.get("name"):
            self.forms[-1]["inputs"][values["name"]] = values.get("value", "")


def parse(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    return collector


def launch_url(
    browser: requests.Session, served: Served, person: Person, link_id: str | None = "demo-link-1"
) -> str:
    """The href of a launch button on the course page."""
    page = browser.get(f"{served.demo}/")
    assert page.status_code == 200
    for anchor in parse(page.text).anchors:
        if anchor.get("data-user") != person.sub:
            continue
        if link_id is None and anchor.get("data-deep-linking"):
            return anchor["href"]
        if link_id is not None and anchor.get("data-launch") == link_id:
            return anchor["href"]
    raise AssertionError(f"no launch button for {person.key} / {link_id}")


@dataclass
class Launched:
    id_token_claims: dict[str, Any]
    page: str


def launch(
    browser: requests.Session, served: Served, url: str, landing: str = "/start"
) -> Launched:
    """Follow a launch button through the OIDC flow to the tool's landing page."""
    check = browser.get(url, allow_redirects=False)
    # pylti1p3's cookie check page; its script would reload the login with lti1p3_new_window=1.
    assert check.status_code == 200 and "lti1p3_new_window" in check.text
    login = browser.get(url + "&lti1p3_new_window=1", allow_redirects=False)
    assert login.status_code == 302, login.text
    auth_url = login.headers["Location"]
    assert auth_url.startswith(f"{served.demo}/auth?")
    auth_params = parse_qs(urlsplit(auth_url).query)
    assert auth_params["response_mode"] == ["form_post"]
    assert auth_params["prompt"] == ["none"]

    auth = browser.get(auth_url)
    assert auth.status_code == 200, auth.text
    assert "script-src 'self'" in auth.headers["Content-Security-Policy"]
    (form,) = parse(auth.text).forms
    assert form["action"] == f"{served.base}/lti/launch"
    assert set(form["inputs"]) == {"id_token", "state"}
    claims = jwt.decode(form["inputs"]["id_token"], options={"verify_signature": False})

    answer = browser.post(form["action"], data=form["inputs"], allow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert urlsplit(answer.headers["Location"]).path == landing
    page = browser.get(urljoin(served.base, answer.headers["Location"]))
    assert page.status_code == 200, page.text
    return Launched(claims, page.text)


def client_assertion(served: Served, **overrides: Any) -> str:
    """A client assertion signed with the tool's active key, as the tool would make it."""
    with served.app.app_context():
        key = active_key()
        pem, kid = key.private_key_pem, key.kid
        db.session.commit()
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "lotsen-demo",
        "sub": "lotsen-demo",
        "aud": f"{served.demo}/token",
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": kid})


def token_request(served: Served, assertion: str, scopes: list[str]) -> requests.Response:
    return requests.post(
        f"{served.demo}/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
            "scope": " ".join(scopes),
        },
        timeout=5,
    )


def access_token(served: Served, *scopes: Scope) -> str:
    response = token_request(served, client_assertion(served), list(scopes))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert set(body["scope"].split()) == set(scopes)
    return str(body["access_token"])


def scores_url(lineitem_url: str) -> str:
    """Insert /scores into the path, before Moodle's query string (lti-notes §2)."""
    parts = urlsplit(lineitem_url)
    return parts._replace(path=parts.path + "/scores").geturl()


# -- launches ----------------------------------------------------------------------------------


def test_navigator_launch_reaches_the_tool(served: Served, browser: requests.Session) -> None:
    launched = launch(browser, served, launch_url(browser, served, NAVIGATOR))

    assert NAVIGATOR.name in launched.page
    assert "Digital-Navigator/in" in launched.page
    assert COURSE.title in launched.page
    assert "Demo-LMS" in launched.page
    claims = launched.id_token_claims
    assert claims["sub"] == NAVIGATOR.sub
    assert claims[Claim.CUSTOM] == {"gemeinde": NAVIGATOR.municipality}
    assert claims[Claim.ROLES] == ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
    assert claims[Claim.RESOURCE_LINK]["id"] == "demo-link-1"
    assert claims[Claim.AGS_ENDPOINT]["lineitem"].endswith("/lineitem?type_id=1")
    assert claims[Claim.NRPS]["service_versions"] == ["2.0"]


def test_lotse_launch_reaches_the_tool(served: Served, browser: requests.Session) -> None:
    launched = launch(browser, served, launch_url(browser, served, LOTSE))

    assert LOTSE.name in launched.page
    assert "Digital-Lotse/-Lotsin" in launched.page


def test_anonymous_navigator_is_anonymous_in_the_tool(
    served: Served, browser: requests.Session
) -> None:
    launched = launch(browser, served, launch_url(browser, served, ANONYMOUS))

    assert "anonym" in launched.page
    assert ANONYMOUS.family_name not in launched.page
    assert not {"name", "given_name", "family_name", "email"} & set(launched.id_token_claims)
    assert launched.id_token_claims[Claim.CUSTOM] == {"gemeinde": "Radebeul"}


def test_auth_endpoint_refuses_a_foreign_redirect_uri(
    served: Served, browser: requests.Session
) -> None:
    url = launch_url(browser, served, NAVIGATOR)
    browser.get(url, allow_redirects=False)
    auth_url = browser.get(url + "&lti1p3_new_window=1", allow_redirects=False).headers["Location"]
    forged = auth_url.replace("%2Flti%2Flaunch", "%2Fevil")

    refused = browser.get(forged)

    assert refused.status_code == 400
    assert "id_token" not in refused.text


# -- deep linking ------------------------------------------------------------------------------


def test_deep_linking_places_a_link_with_a_gradebook_column(
    served: Served, browser: requests.Session
) -> None:
    # A Deep Linking launch opens the tool's catalogue picker.
    launched = launch(
        browser, served, launch_url(browser, served, LOTSE, link_id=None), landing="/lotse/auswahl"
    )
    assert "Digital-Lotse/-Lotsin" in launched.page
    settings = launched.id_token_claims[Claim.DEEP_LINKING_SETTINGS]
    assert settings["deep_link_return_url"] == f"{served.demo}/deep-linking/return"
    now = int(time.time())
    response = {
        "iss": "lotsen-demo",
        "aud": [f"{served.demo}"],
        "iat": now,
        "exp": now + 600,
        "nonce": uuid.uuid4().hex,
        Claim.MESSAGE_TYPE.value: "LtiDeepLinkingResponse",
        Claim.VERSION.value: "1.3.0",
        Claim.DEPLOYMENT_ID.value: "1",
        Claim.DL_DATA.value: settings["data"],
        Claim.CONTENT_ITEMS.value: [
            {
                "type": "ltiResourceLink",
                "title": "P1 Online-Hundesteueranmeldung",
                "url": f"{served.base}/lti/launch",
                "custom": {"module_id": "p1-hundesteuer-online"},
                "lineItem": {"label": "P1 Aufgabe", "scoreMaximum": 10, "tag": "aufgabe"},
            }
        ],
    }
    with served.app.app_context():
        key = active_key()
        signed = jwt.encode(
            response, key.private_key_pem, algorithm="RS256", headers={"kid": key.kid}
        )

    placed = browser.post(settings["deep_link_return_url"], data={"JWT": signed})
    replayed = browser.post(settings["deep_link_return_url"], data={"JWT": signed})

    assert placed.status_code == 200
    assert "1 Inhalt aus Lotsen-LTI wurde dem Kurs hinzugefügt." in placed.text
    assert "P1 Online-Hundesteueranmeldung" in placed.text
    assert replayed.status_code == 400
    new_link = next(
        a["data-launch"]
        for a in parse(placed.text).anchors
        if a.get("data-launch") not in (None, "demo-link-1")
    )
    token = access_token(served, Scope.AGS_LINEITEM)
    items = requests.get(
        f"{served.demo}/ags/lineitems?type_id=1&resource_link_id={new_link}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    ).json()
    columns = [(i["label"], i["scoreMaximum"], i["tag"]) for i in items]
    assert columns == [("P1 Aufgabe", 10, "aufgabe")]
    # The new link launches with its custom parameter and its own column.
    launched = launch(browser, served, launch_url(browser, served, NAVIGATOR, new_link))
    assert launched.id_token_claims[Claim.CUSTOM] == {
        "module_id": "p1-hundesteuer-online",
        "gemeinde": NAVIGATOR.municipality,
    }
    assert launched.id_token_claims[Claim.AGS_ENDPOINT]["lineitem"] == items[0]["id"]


# -- token endpoint ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_assertion",
    [
        pytest.param(lambda s: "not-a-jwt", id="garbage"),
        pytest.param(lambda s: client_assertion(s, aud="https://x.invalid/token"), id="aud"),
        pytest.param(lambda s: client_assertion(s, iss="someone-else"), id="iss"),
        pytest.param(lambda s: client_assertion(s, exp=int(time.time()) - 600), id="expired"),
        pytest.param(
            lambda s: jwt.encode(
                {
                    "iss": "lotsen-demo",
                    "sub": "lotsen-demo",
                    "aud": f"{s.demo}/token",
                    "iat": int(time.time()),
                    "exp": int(time.time()) + 60,
                    "jti": "x",
                },
                _foreign_key_pem(),
                algorithm="RS256",
                headers={"kid": "unknown-kid"},
            ),
            id="foreign-key",
        ),
    ],
)
def test_token_endpoint_rejects_a_bad_client_assertion(served: Served, make_assertion: Any) -> None:
    response = token_request(served, make_assertion(served), [Scope.AGS_SCORE])

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_token_endpoint_rejects_a_replayed_assertion(served: Served) -> None:
    assertion = client_assertion(served)

    first = token_request(served, assertion, [Scope.AGS_SCORE])
    second = token_request(served, assertion, [Scope.AGS_SCORE])

    assert first.status_code == 200
    assert second.status_code == 401


def _foreign_key_pem() -> str:
    from demo_lms.keypair import generate_key_pair

    return generate_key_pair().private_key_pem


# -- AGS ---------------------------------------------------------------------------------------


def test_scores_need_the_exact_content_type_and_newer_timestamps(served: Served) -> None:
    token = access_token(served, Scope.AGS_SCORE, Scope.AGS_LINEITEM, Scope.AGS_RESULT_READONLY)
    auth = {"Authorization": f"Bearer {token}"}
    # The link's own column is the oldest one bound to it (other tests may add more).
    item = requests.get(
        f"{served.demo}/ags/lineitems?type_id=1&resource_link_id=demo-link-1",
        headers=auth,
        timeout=5,
    ).json()[0]
    url = scores_url(item["id"])
    stamp = datetime.now(UTC).isoformat()
    score = {
        "userId": NAVIGATOR.sub,
        "timestamp": stamp,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "scoreGiven": 7,
        "scoreMaximum": 10,
    }

    def post(body: dict[str, Any], content_type: str, headers: dict[str, str] = auth) -> Any:
        return requests.post(
            url, json=body, headers={**headers, "Content-Type": content_type}, timeout=5
        )

    assert post(score, SCORE_TYPE, headers={}).status_code == 401
    assert post(score, "application/json").status_code == 415
    assert post(score, SCORE_TYPE + "; charset=utf-8").status_code == 400
    assert post({**score, "timestamp": "2026-01-01T10:00:00"}, SCORE_TYPE).status_code == 400
    assert post({**score, "scoreGiven": 11}, SCORE_TYPE).status_code == 400
    assert post({**score, "userId": LOTSE.sub}, SCORE_TYPE).status_code == 400
    accepted = post(score, SCORE_TYPE)
    assert (accepted.status_code, accepted.json()) == (200, {})
    assert post(score, SCORE_TYPE).status_code == 409
    older = (datetime.fromisoformat(stamp) - timedelta(minutes=1)).isoformat()
    assert post({**score, "timestamp": older}, SCORE_TYPE).status_code == 409

    results_url = item["id"].replace("/lineitem?", "/lineitem/results?")
    results = requests.get(results_url, headers=auth, timeout=5)
    assert results.headers["Content-Type"] == "application/vnd.ims.lis.v2.resultcontainer+json"
    mine = [r for r in results.json() if r["userId"] == NAVIGATOR.sub]
    assert mine[0]["resultScore"] == 70 and mine[0]["resultMaximum"] == 100
    gradebook = requests.get(f"{served.demo}/gradebook", timeout=5).text
    assert "7 / 10" in gradebook
    assert 'id="token-requests"' in gradebook


def test_line_items_can_be_created_filtered_paged_and_deleted(served: Served) -> None:
    token = access_token(served, Scope.AGS_LINEITEM)
    auth = {"Authorization": f"Bearer {token}"}
    container = f"{served.demo}/ags/lineitems?type_id=1"
    for number in range(3):
        created = requests.post(
            container,
            json={
                "label": f"Quiz {number}",
                "scoreMaximum": 5,
                "tag": "quiz-paging",
                "resourceLinkId": "demo-link-1",
                "resourceId": f"quiz-{number}",
            },
            headers={**auth, "Content-Type": "application/vnd.ims.lis.v2.lineitem+json"},
            timeout=5,
        )
        assert created.status_code == 201, created.text

    labels: list[str] = []
    url: str | None = container + "&tag=quiz-paging&limit=2"
    while url:
        page = requests.get(url, headers=auth, timeout=5)
        labels += [item["label"] for item in page.json()]
        url = page.links.get("next", {}).get("url")
    only = requests.get(container + "&resource_id=quiz-1", headers=auth, timeout=5).json()
    deleted = requests.delete(only[0]["id"], headers=auth, timeout=5)
    gone = requests.get(only[0]["id"], headers=auth, timeout=5)

    assert labels == ["Quiz 0", "Quiz 1", "Quiz 2"]
    assert [item["label"] for item in only] == ["Quiz 1"]
    assert deleted.status_code == 204 and gone.status_code == 404


# -- NRPS --------------------------------------------------------------------------------------


def test_nrps_pages_through_all_members(served: Served) -> None:
    token = access_token(served, Scope.NRPS_MEMBERSHIP)
    url: str | None = f"{served.demo}/nrps/{COURSE.id}/memberships?limit=2"
    members: list[dict[str, Any]] = []
    pages = 0
    while url:
        response = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == (
            "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
        )
        body = response.json()
        assert body["context"]["id"] == COURSE.id
        members += body["members"]
        pages += 1
        url = response.links.get("next", {}).get("url")

    assert pages == 4
    assert [m["user_id"] for m in members] == [p.sub for p in PEOPLE]
    anonymous = next(m for m in members if m["user_id"] == ANONYMOUS.sub)
    assert set(anonymous) == {"user_id", "roles", "status"}
    assert all(m["status"] == "Active" for m in members)


def test_nrps_needs_the_membership_scope(served: Served) -> None:
    token = access_token(served, Scope.AGS_SCORE)

    response = requests.get(
        f"{served.demo}/nrps/{COURSE.id}/memberships",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )

    assert response.status_code == 401


def test_pylti1p3_service_clients_work_against_the_demo(served: Served) -> None:
    """The tool's own library, as its AGS and NRPS code will use it (kid, URLs, Link header)."""
    from pylti1p3.assignments_grades import AssignmentsGradesService
    from pylti1p3.grade import Grade
    from pylti1p3.lineitem import LineItem
    from pylti1p3.names_roles import NamesRolesProvisioningService
    from pylti1p3.service_connector import ServiceConnector

    from lti_tool.launch.tool_conf import DatabaseToolConf, to_pylti_registration

    with served.app.app_context(), requests.Session() as http:
        stored = DatabaseToolConf().find_stored_registration(served.demo, "lotsen-demo")
        assert stored is not None
        registration = to_pylti_registration(stored)
        # pylti1p3 derives the assertion's kid from the *public* key; without it the assertion
        # has no kid and a keyset-verifying platform (Moodle, this demo) refuses it. The tool's
        # to_pylti_registration does not set it yet, so the test does.
        public_pem = JWK(**active_key().public_jwk).export_to_pem().decode()
        registration.set_tool_public_key(public_pem)
        connector = ServiceConnector(registration, requests_session=http)
        ags = AssignmentsGradesService(
            connector,
            {
                "scope": [
                    Scope.AGS_LINEITEM.value,
                    Scope.AGS_RESULT_READONLY.value,
                    Scope.AGS_SCORE.value,
                ],
                "lineitems": f"{served.demo}/ags/lineitems?type_id=1",
            },
        )
        column = ags.find_or_create_lineitem(
            LineItem().set_tag("via-pylti1p3").set_label("Via pylti1p3").set_score_maximum(4)
        )
        grade = (
            Grade()
            .set_user_id(ANONYMOUS.sub)
            .set_score_given(3)
            .set_score_maximum(4)
            .set_timestamp(datetime.now(UTC).isoformat())
            .set_activity_progress("Completed")
            .set_grading_progress("FullyGraded")
        )
        sent = ags.put_grade(grade, column)
        nrps = NamesRolesProvisioningService(
            connector,
            {"context_memberships_url": f"{served.demo}/nrps/{COURSE.id}/memberships?limit=3"},
        )
        members = nrps.get_members()
        db.session.commit()

    assert column.get_id() and "/lineitem?type_id=1" in str(column.get_id())
    assert sent["body"] == {}
    assert [m["user_id"] for m in members] == [p.sub for p in PEOPLE]


def test_setup_is_idempotent_and_counts_token_requests(served: Served) -> None:
    again = served.app.test_cli_runner().invoke(
        args=["demo-lms", "setup", "--base-url", served.base]
    )
    stats = requests.get(f"{served.demo}/stats.json", timeout=5).json()

    assert again.exit_code == 0, again.output
    assert "aktualisiert" in again.output
    assert stats["token_requests"] >= stats["tokens_issued"] >= 1


# -- the pages a person reads -----------------------------------------------------------------


def _visible(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def test_gradebook_shows_the_grade_on_the_columns_scale_in_german(served: Served) -> None:
    """A score of 14 of 25 in a column of 100 is 56 of 100, as Moodle rescales it; the page says
    what was sent and the progress in German, never "Completed · FullyGraded"."""
    token = access_token(served, Scope.AGS_LINEITEM, Scope.AGS_SCORE)
    auth = {"Authorization": f"Bearer {token}"}
    created = requests.post(
        f"{served.demo}/ags/lineitems?type_id=1",
        json={"label": "Praxisaufgabe B3", "scoreMaximum": 100, "resourceId": "b3-skala"},
        headers={**auth, "Content-Type": "application/vnd.ims.lis.v2.lineitem+json"},
        timeout=5,
    )
    assert created.status_code == 201, created.text
    item = created.json()
    sent = requests.post(
        scores_url(item["id"]),
        json={
            "userId": NAVIGATOR.sub,
            "timestamp": datetime.now(UTC).isoformat(),
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded",
            "scoreGiven": 14,
            "scoreMaximum": 25,
        },
        headers={**auth, "Content-Type": SCORE_TYPE},
        timeout=5,
    )
    assert sent.status_code == 200, sent.text

    page = requests.get(f"{served.demo}/gradebook", timeout=5).text
    item_id = item["id"].split("/lineitems/")[1].split("/")[0]
    cell = re.search(
        rf'<td data-line-item="{item_id}" data-user="{NAVIGATOR.sub}">(.*?)</td>', page, re.S
    )
    assert cell is not None
    text = _visible(cell.group(1))
    assert text.startswith("56 / 100 gesendet: 14 / 25 abgeschlossen · bewertet"), text
    header = re.search(r"<th scope=\"col\">\s*Praxisaufgabe B3(.*?)</th>", page, re.S)
    assert header is not None and "max. 100" in _visible(header.group(1))
    for raw in ("Completed", "FullyGraded", "NotReady", "Started", "PendingManual"):
        assert raw not in _visible(page), raw


def test_launch_buttons_say_who_is_lotse_and_who_navigator(served: Served) -> None:
    page = requests.get(f"{served.demo}/", timeout=5).text
    buttons = re.findall(
        r'<a class="button[^"]*" href="[^"]*"\s+data-launch="[^"]*"\s+'
        r'data-user="([^"]+)"[^>]*>([^<]*)</a>',
        page,
    )
    assert {sub for sub, _text in buttons} == {p.sub for p in PEOPLE}
    for sub, text in buttons:
        person = next(p for p in PEOPLE if p.sub == sub)
        role = "Lotse/Lotsin" if person.is_instructor else "Navigator/in"
        assert unescape(text) == f"Als {person.name} starten ({role})"
