"""The roster: NRPS over real HTTP with a token endpoint and several pages (the test platform as
Moodle), a platform without NRPS (as ILIAS), failures as German notices, and the Link header
parser."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from courses.models import CourseMembership
from courses.services.roster import refresh_requested
from lti_tool.extensions import db
from lti_tool.models import LtiUser
from lti_tool.services.http import next_page_url
from tests.conftest import LiveServer
from tests.factories import token_of
from tests.support.platform import GRADE_SYNC_OFF, ILIAS, MOODLE, Platform, form_of
from tests.support.platform.vocab import INSTRUCTOR, LEARNER

pytestmark = pytest.mark.e2e

MEMBERS = [
    {"user_id": "lotse-1", "roles": [INSTRUCTOR], "status": "Active", "name": "Lotta Lotse"},
    {"user_id": "nav-1", "roles": [LEARNER], "status": "Active", "name": "Nora Navi"},
    {
        "user_id": "nav-2",
        "roles": [LEARNER],
        "status": "Active",
        "given_name": "Paul",
        "family_name": "Pendler",
    },
    {"user_id": "nav-3", "roles": [LEARNER], "status": "Active", "name": "Rita Rathen"},
    {"user_id": "nav-4", "roles": [LEARNER], "status": "Inactive", "name": "Ina Inaktiv"},
    {"user_id": "nav-5", "roles": [LEARNER]},
]


@pytest.fixture
def live(app: Flask) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


def _platform(live: LiveServer, **kwargs: object) -> Iterator[Platform]:
    platform = Platform(tool_url=live.url, **kwargs)  # type: ignore[arg-type]
    platform.register_with_tool()
    yield platform
    platform.close()


@pytest.fixture
def moodle(app: Flask, live: LiveServer) -> Iterator[Platform]:
    # NRPS only (no grade sync): the roster is the subject, and its token asks for NRPS alone.
    yield from _platform(
        live,
        flavour=MOODLE,
        grade_sync=GRADE_SYNC_OFF,
        members=[dict(m) for m in MEMBERS],
        page_size=2,
    )


@pytest.fixture
def ilias(app: Flask, live: LiveServer) -> Iterator[Platform]:
    yield from _platform(live, flavour=ILIAS)


def _memberships() -> dict[str, CourseMembership]:
    db.session.rollback()
    rows = db.session.execute(
        select(LtiUser.sub, CourseMembership).join(LtiUser, LtiUser.id == CourseMembership.user_pk)
    ).all()
    return {sub: membership for sub, membership in rows}


def test_nrps_roster_follows_every_page(app: Flask, live: LiveServer, moodle: Platform) -> None:
    nav = moodle.launch(requests.Session(), {"sub": "nav-1", "name": "Nora Navi"}, [LEARNER])
    assert nav.status_code == 200
    browser = requests.Session()
    page = moodle.launch(browser, {"sub": "lotse-1", "name": "Lotta Lotse"}, [INSTRUCTOR])
    assert page.status_code == 200, page.text[:500]
    assert urlsplit(page.url).path == "/lotse/uebersicht"
    # The page asked for a refresh and did not wait on the platform: the worker reads NRPS.
    assert moodle.nrps_requests == []
    assert refresh_requested() == 1

    # Three pages; the second page's Link has rel=next without quotes, URLs keep their case.
    assert [urlsplit(p).query for p in moodle.nrps_requests] == ["", "Seite=1", "Seite=2"]
    assert moodle.token_requests == 1

    members = _memberships()
    assert set(members) == {m["user_id"] for m in MEMBERS}
    assert members["lotse-1"].role == "lotse"
    assert {members[s].role for s in ("nav-1", "nav-2", "nav-3", "nav-4", "nav-5")} == {"navigator"}
    assert members["nav-4"].status == "inactive"
    assert all(members[s].source == "nrps" for s in members)
    assert members["nav-1"].last_launch_at is not None
    assert members["nav-2"].last_launch_at is None

    token = token_of(page.url)
    roster = browser.get(live.url + "/lotse/teilnehmende", params={"lt": token})
    assert roster.status_code == 200
    assert "Paul Pendler" in roster.text and "Rita Rathen" in roster.text
    assert roster.text.count("noch nicht gestartet") == 3  # nav-2, nav-3, nav-5
    assert "nicht mehr im Kurs" in roster.text  # nav-4
    # The same launch does not read NRPS again on every page.
    assert len(moodle.nrps_requests) == 3

    # "Teilnehmerliste aktualisieren": a member left, another joined.
    moodle.members = [m for m in moodle.members or [] if m["user_id"] != "nav-3"] + [
        {"user_id": "nav-6", "roles": [LEARNER], "name": "Neu Navi"}
    ]
    action, fields = form_of(roster.text)
    assert action == "/lotse/teilnehmende/aktualisieren"
    refreshed = browser.post(live.url + action, data=fields)
    assert refreshed.status_code == 200 and "Aktualisierung ist angefordert" in refreshed.text
    assert "Neu Navi" not in refreshed.text
    assert refresh_requested() == 1
    refreshed = browser.get(refreshed.url)
    assert "Neu Navi" in refreshed.text and "Stand der Liste:" in refreshed.text
    members = _memberships()
    assert members["nav-3"].status == "inactive"
    assert members["nav-6"].status == "active"
    assert moodle.token_requests == 1  # the token is cached in the database


@pytest.mark.parametrize(
    ("status", "phrase"), [(500, "später erneut"), (403, "Zugriff verweigert")]
)
def test_nrps_failure_is_a_german_notice(
    app: Flask, live: LiveServer, moodle: Platform, status: int, phrase: str
) -> None:
    moodle.nrps_status = status
    browser = requests.Session()
    moodle.launch(requests.Session(), {"sub": "nav-1", "name": "Nora Navi"}, [LEARNER])
    page = moodle.launch(browser, {"sub": "lotse-1", "name": "Lotta Lotse"}, [INSTRUCTOR])
    assert page.status_code == 200
    # A failing platform never breaks a page: the worker meets the failure, the page says so.
    refresh_requested()
    page = browser.get(page.url)
    assert page.status_code == 200 and phrase in page.text
    roster = browser.get(live.url + "/lotse/teilnehmende", params={"lt": token_of(page.url)})
    assert roster.status_code == 200 and phrase in roster.text
    assert "Nora Navi" in roster.text  # launchers are still the roster
    action, fields = form_of(roster.text)
    again = browser.post(live.url + action, data=fields)
    assert again.status_code == 200
    refresh_requested()
    assert phrase in browser.get(again.url).text


def test_platform_without_nrps_roster_is_the_launchers(
    app: Flask, live: LiveServer, ilias: Platform
) -> None:
    # ILIAS: no NRPS, pseudonymous sub, names withheld as "-" (lti-notes §3).
    ilias.launch(requests.Session(), {"sub": "a1b2c3", "name": "-"}, [LEARNER])
    # ILIAS sends "-" for names it does not share; this launch shares them, so that the roster
    # shows both kinds.
    ilias.launch(
        requests.Session(), {"sub": "d4e5f6", "name": "Erika Muster"}, [LEARNER], names=True
    )
    browser = requests.Session()
    page = ilias.launch(browser, {"sub": "lotse-x", "name": "Lotta Lotse"}, [INSTRUCTOR])
    assert page.status_code == 200
    assert ilias.nrps_requests == [] and ilias.token_requests == 0
    members = _memberships()
    assert set(members) == {"a1b2c3", "d4e5f6", "lotse-x"}
    assert all(m.source == "launch" for m in members.values())
    roster = browser.get(live.url + "/lotse/teilnehmende", params={"lt": token_of(page.url)})
    assert "keine Teilnehmerliste bereit" in roster.text
    assert "noch nicht gestartet" not in roster.text
    assert "Kennung a1b2c3" in roster.text and "Erika Muster" in roster.text
    assert ">-<" not in roster.text
    # A later launcher joins the roster without any refresh.
    ilias.launch(requests.Session(), {"sub": "g7h8", "name": "-"}, [LEARNER])
    again = browser.get(live.url + "/lotse/teilnehmende", params={"lt": token_of(page.url)})
    assert "Kennung g7h8" in again.text


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('<https://lms.example/M?Page=2>; rel="next"', "https://lms.example/M?Page=2"),
        ("<https://lms.example/M?Page=2>; rel=next", "https://lms.example/M?Page=2"),
        (
            '<https://x/first>; rel="first", <https://X/Mem?P=3&A=B>; REL=Next',
            "https://X/Mem?P=3&A=B",
        ),
        ('</members?page=2>;rel="prev next"', "https://lms.example/members?page=2"),
        ('<https://lms.example/d>; rel="differences"', None),
        ("", None),
        (None, None),
    ],
)
def test_next_link(header: str | None, expected: str | None) -> None:
    assert next_page_url(header, "https://lms.example/members") == expected
