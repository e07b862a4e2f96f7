"""The whole browser flow over real HTTP, against the independent test platform
(tests/support/platform, generic flavour): login initiation, cookie check, OIDC authentication,
auto-posted id_token, the tool's 303 and its landing page; plus the token endpoint with the
tool's key."""

from __future__ import annotations

import re

import pytest
import requests
from flask import Flask
from pylti1p3.service_connector import ServiceConnector
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.launch.tool_conf import to_pylti_registration
from lti_tool.models import Launch, LtiResourceLink, Registration
from lti_tool.vocab import Scope, role_local_name
from tests.conftest import LiveServer
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
ERIKA = {"sub": "u-erika", "name": "Erika Musterfrau", "email": "erika@gemeinde.example"}
KARL = {"sub": "u-karl", "given_name": "Karl", "family_name": "Lotse"}
ROSTER_ROW = re.compile(r'<th scope="row">(.*?)</th>\s*<td>(.*?)</td>', re.S)


def fact(page: str, label: str) -> str:
    found = re.search(rf"<dt>{label}</dt>\s*<dd>(.*?)</dd>", page, re.S)
    assert found, f"{label} fehlt auf der Seite"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def h1(page: str) -> str:
    found = re.search(r"<h1>(.*?)</h1>", page, re.S)
    return found.group(1).strip() if found else ""


def test_learner_and_instructor_launch_through_the_browser_flow(
    app: Flask, live_tool: LiveServer, lms: Platform, browser: requests.Session
) -> None:
    page = lms.launch(browser, ERIKA, [LEARNER])

    assert page.status_code == 200, (page.url, h1(page.text))
    # The last hops a browser took: the launch POST, answered 303, then the tool's start page.
    assert [r.status_code for r in page.history] == [303]
    assert page.history[0].url == f"{live_tool.url}/lti/launch"
    assert page.url.startswith(f"{live_tool.url}/start?lt=")
    assert fact(page.text, "Rolle") == "Digital-Navigator/in"
    assert fact(page.text, "Name") == "Erika Musterfrau"
    assert fact(page.text, "Kurs") == lms.course.title
    assert fact(page.text, "Plattform") == lms.name
    assert "Lotsen-Bereich" not in page.text

    with requests.Session() as other_browser:
        other_browser.trust_env = False
        page = lms.launch(other_browser, KARL, [INSTRUCTOR], resource_link_id="rl-2")

        # A Lotse lands in the Lotse area of the course, which names course, LMS and role.
        assert page.status_code == 200, (page.url, h1(page.text))
        assert page.url.startswith(f"{live_tool.url}/lotse/")
        assert "Lotsen-Bereich" in page.text
        heading = re.search(r'<p class="lotse-course">(.*?)</p>', page.text, re.S)
        assert heading, "Kurszeile fehlt"
        assert (
            re.sub(r"<[^>]+>|\s+", " ", heading.group(1)).split()
            == (
                f"Kurs: {lms.course.title} · LMS: {lms.name} · Angemeldet: Karl Lotse "
                "(Digital-Lotse/-Lotsin)"
            ).split()
        )
        # Its roster shows both people in their roles.
        members = re.search(r'href="(/lotse/teilnehmende\?lt=[^"]+)"', page.text)
        assert members, "kein Link zu den Teilnehmenden"
        roster = other_browser.get(live_tool.url + members.group(1).replace("&amp;", "&"))
        assert roster.status_code == 200
        rows = {
            re.sub(r"<[^>]+>|\s+", " ", name).strip(): role
            for name, role in ROSTER_ROW.findall(roster.text)
        }
        assert rows == {
            "Karl Lotse": "Digital-Lotse/-Lotsin",
            "Erika Musterfrau": "Digital-Navigator/in",
        }

    # The tool fetched the platform's key set once and kept it for the second launch.
    assert lms.jwks_served == 1
    db.session.rollback()
    roles = [
        (launch.user.sub, [role_local_name(r) for r in launch.lti_roles])
        for launch in db.session.scalars(select(Launch))
    ]
    assert sorted(roles) == [("u-erika", ["Learner"]), ("u-karl", ["Instructor"])]


def test_anonymous_launch_without_course_with_custom_parameters(
    app: Flask, lms: Platform, browser: requests.Session
) -> None:
    page = lms.launch(
        browser,
        {"sub": "u-anon"},
        [LEARNER],
        resource_link_id="rl-anon",
        custom={"gemeinde": "Hohnstein", "modul": "b1"},
        with_course=False,
    )

    assert page.status_code == 200, h1(page.text)
    assert fact(page.text, "Name") == "anonym"
    assert fact(page.text, "Kurs") == "kein Kurs übermittelt"
    db.session.rollback()
    link = db.session.scalars(select(LtiResourceLink)).one()
    assert link.resource_link_id == "rl-anon"
    assert link.custom == {"gemeinde": "Hohnstein", "modul": "b1"}
    launch = db.session.scalars(select(Launch)).one()
    assert launch.return_url == lms.url + "/course/return"


def test_replayed_launch_form_is_refused(
    app: Flask, lms: Platform, browser: requests.Session
) -> None:
    assert lms.launch(browser, ERIKA, [LEARNER]).status_code == 200
    assert lms.last_launch_form is not None
    action, fields = lms.last_launch_form

    replay = browser.post(action, data=fields, timeout=10)

    assert replay.status_code == 400
    assert h1(replay.text) == "Start bereits verwendet"
    db.session.rollback()
    assert len(db.session.scalars(select(Launch)).all()) == 1


def test_unregistered_platform_is_turned_away_at_login(
    app: Flask, live_tool: LiveServer, browser: requests.Session
) -> None:
    with Platform(tool_url=live_tool.url, name="Fremdes LMS") as stranger:
        page = stranger.launch(browser, ERIKA, [LEARNER])

    assert page.status_code == 400
    assert h1(page.text) == "Plattform nicht registriert"
    assert "/auth" not in stranger.paths


def test_tool_gets_an_access_token_with_its_published_key(
    app: Flask, lms: Platform, browser: requests.Session
) -> None:
    # A launch first: that is when a fresh installation creates its signing key.
    assert lms.launch(browser, ERIKA, [LEARNER]).status_code == 200
    db.session.rollback()
    registration = db.session.scalars(
        select(Registration).where(Registration.client_id == lms.client_id)
    ).one()
    connector = ServiceConnector(to_pylti_registration(registration))

    token = connector.get_access_token([Scope.AGS_SCORE, Scope.NRPS_MEMBERSHIP])

    # The platform verified the client assertion against the tool's JWKS, fetched over HTTP.
    assert "/token" in lms.paths
    scopes = lms.app.test_request_context(headers={"Authorization": f"Bearer {token}"})
    with scopes:
        assert sorted(lms.bearer_scopes()) == sorted([Scope.AGS_SCORE, Scope.NRPS_MEMBERSHIP])
