"""Small factories for the Navigator tests: catalogue rows (independent of the real catalogue
files), placements, and real launches through the test client (login → signed id_token → launch)."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient
from sqlalchemy import select

from courses.models import (
    CatalogModule,
    CatalogUnit,
    CourseModule,
    CourseModuleMember,
    UnitVersion,
)
from lti_tool.extensions import db
from lti_tool.models import LtiContext, LtiUser, Registration, utcnow
from lti_tool.registrations import add_platform
from lti_tool.vocab import Claim
from tests.support.tokens import INSTRUCTOR, LEARNER, PlatformKey, launch_claims

ISSUER = "https://lms.example"
CLIENT_ID = "lotsen-client"
DEPLOYMENT_ID = "1"
TOOL_LAUNCH_URL = "http://localhost/lti/launch"

READING_HTML = (
    "<h2>Einführung</h2><p>Lesen Sie auch "
    '<a href="/module/{slug}/einheit/wissenstest" data-internal="1" rel="noopener noreferrer">'
    "das Quiz</a>"
    ' und <a href="https://www.example.org/quelle" rel="noopener noreferrer">die Quelle</a>.</p>'
)
BRIEF_HTML = "<p>Beschreiben Sie den Soll-Prozess Ihrer Kommune.</p>"
QUIZ: dict[str, Any] = {
    "scoring": "best",
    "pass_percent": 60,
    "questions": [
        {
            "id": "q1",
            "type": "single",
            "text": "Seit wann gilt das OZG 2.0?",
            "options": [
                {"id": "a", "text": "Seit dem 24.07.2024", "correct": True},
                {"id": "b", "text": "Seit dem 01.01.2022", "correct": False},
            ],
            "explanation": "Das OZG-Änderungsgesetz trat am 24.07.2024 in Kraft.",
        },
        {
            "id": "q2",
            "type": "truefalse",
            "text": "Kommunen müssen einen BfIS benennen.",
            "answer": True,
            "options": [
                {"id": "true", "text": "Richtig", "correct": True},
                {"id": "false", "text": "Falsch", "correct": False},
            ],
            "explanation": "§ 8 SächsISichG.",
        },
        {
            "id": "q3",
            "type": "multiple",
            "text": "Was gehört zum OZG 2.0?",
            "options": [
                {"id": "c", "text": "DeutschlandID", "correct": True},
                {"id": "d", "text": "Organisationskonto", "correct": True},
                {"id": "e", "text": "Eigenes Portal je Gemeinde", "correct": False},
            ],
            "explanation": "DeutschlandID und Organisationskonto.",
        },
    ],
}
#: Answers that get every question of :data:`QUIZ` right, or wrong.
RIGHT = {"q1": ["a"], "q2": ["true"], "q3": ["c", "d"]}
WRONG = {"q1": ["b"], "q2": ["false"], "q3": ["c"]}
RUBRIC = {
    "pass_points": 6,
    "criteria": [
        {"id": "vollstaendig", "title": "Vollständigkeit", "description": "Alles da.", "points": 6},
        {"id": "bezug", "title": "Bezug zur Kommune", "description": "Konkret.", "points": 4},
    ],
}

#: Unit kinds of the default module: one of each, in the order a Navigator works through them.
DEFAULT_UNITS = (("lesen", "reading"), ("wissenstest", "quiz"), ("aufgabe", "assignment"))


def make_module(
    slug: str = "m1-test",
    *,
    title: str | None = None,
    kind: str = "basiswissen",
    position: int = 1,
    units: tuple[tuple[str, str], ...] = DEFAULT_UNITS,
    quiz: dict[str, Any] | None = None,
) -> CatalogModule:
    """A catalogue module with units (reading, quiz, assignment by default) and their content."""
    module = CatalogModule(
        slug=slug,
        kind=kind,
        position=position,
        title=title or f"Testmodul {slug}",
        summary="Ein Modul für Tests.",
        objectives=["Sie können Tests schreiben."],
        estimated_minutes=60,
        sources=[{"title": "Beispielquelle", "url": "https://www.example.org/"}],
        content_hash=hashlib.sha256(slug.encode()).hexdigest(),
    )
    db.session.add(module)
    for index, (unit_slug, unit_kind) in enumerate(units, 1):
        unit = CatalogUnit(
            module=module,
            slug=unit_slug,
            kind=unit_kind,
            position=index,
            title=f"Einheit {unit_slug}",
            estimated_minutes=20,
        )
        db.session.add(unit)
        db.session.add(
            UnitVersion(
                unit=unit,
                version=1,
                content_hash=hashlib.sha256(f"{slug}/{unit_slug}".encode()).hexdigest(),
                body_html=(
                    READING_HTML.format(slug=slug)
                    if unit_kind == "reading"
                    else BRIEF_HTML
                    if unit_kind == "assignment"
                    else None
                ),
                quiz=(quiz or QUIZ) if unit_kind == "quiz" else None,
                rubric=RUBRIC if unit_kind == "assignment" else None,
            )
        )
    db.session.commit()
    return module


def place(
    context: LtiContext,
    module: CatalogModule,
    *,
    due_at: datetime | None = None,
    members: list[LtiUser] | None = None,
) -> CourseModule:
    """Place ``module`` in ``context``; with ``members`` it is limited to them."""
    placed = CourseModule(
        context_pk=context.id,
        module_pk=module.id,
        due_at=due_at,
        limited_to_members=members is not None,
    )
    db.session.add(placed)
    db.session.flush()
    for member in members or []:
        db.session.add(CourseModuleMember(course_module_pk=placed.id, user_pk=member.id))
    db.session.commit()
    return placed


def make_navigator(sub: str = "navigator-1") -> LtiUser:
    """A user row without a launch (for service-level tests)."""
    user = LtiUser(registration_id=make_platform().id, sub=sub)
    db.session.add(user)
    db.session.commit()
    return user


def make_context(context_id: str = "course-1") -> LtiContext:
    """A course row without a launch (for service-level tests)."""
    context = LtiContext(registration_id=make_platform().id, context_id=context_id, title="Kurs")
    db.session.add(context)
    db.session.commit()
    return context


@functools.cache
def platform_key() -> PlatformKey:
    """One RSA key for the whole session: generating one is the slow part of a launch."""
    return PlatformKey()


def make_platform() -> Registration:
    """A registered platform whose key set is already stored (no JWKS fetch)."""
    registration = db.session.scalars(
        select(Registration).where(Registration.issuer == ISSUER)
    ).first()
    if registration is not None:
        return registration
    registration = add_platform(
        {
            "name": "Test-LMS",
            "issuer": ISSUER,
            "client_id": CLIENT_ID,
            "auth_login_url": f"{ISSUER}/auth",
            "auth_token_url": f"{ISSUER}/token",
            "key_set_url": f"{ISSUER}/jwks",
            "deployments": [DEPLOYMENT_ID],
        }
    )
    registration.key_set = {"keys": [platform_key().jwk]}
    registration.key_set_fetched_at = utcnow()
    db.session.commit()
    return registration


@dataclass
class Launched:
    """A launch done through the test client."""

    token: str
    location: str
    sub: str

    @property
    def user(self) -> LtiUser:
        return db.session.scalars(select(LtiUser).where(LtiUser.sub == self.sub)).one()

    @property
    def context(self) -> LtiContext:
        return db.session.scalars(select(LtiContext)).first()  # type: ignore[return-value]

    @property
    def headers(self) -> dict[str, str]:
        """For the JSON API."""
        return {"X-Launch-Token": self.token}


def launch(
    client: FlaskClient,
    *,
    sub: str = "navigator-1",
    lotse: bool = False,
    module_id: str | None = None,
    resource_link_id: str = "link-1",
    context_id: str = "course-1",
    name: str | None = "Erika Muster",
) -> Launched:
    """A real resource-link launch: OIDC login, signed id_token, POST /lti/launch (303)."""
    make_platform()
    login = client.get(
        "/lti/login",
        query_string={
            "iss": ISSUER,
            "login_hint": sub,
            "target_link_uri": TOOL_LAUNCH_URL,
            "client_id": CLIENT_ID,
            "lti1p3_new_window": "1",
        },
    )
    assert login.status_code == 302, login.data[:300]
    query = parse_qs(urlsplit(login.headers["Location"]).query)
    extra: dict[str, Any] = {}
    if module_id is not None:
        extra[Claim.CUSTOM] = {"module_id": module_id}
    if name is not None:
        extra["name"] = name
    claims = launch_claims(
        issuer=ISSUER,
        client_id=CLIENT_ID,
        deployment_id=DEPLOYMENT_ID,
        nonce=query["nonce"][0],
        target_link_uri=TOOL_LAUNCH_URL,
        sub=sub,
        roles=[INSTRUCTOR] if lotse else [LEARNER],
        context_id=context_id,
        resource_link_id=resource_link_id,
        **extra,
    )
    response = client.post(
        "/lti/launch",
        data={"state": query["state"][0], "id_token": platform_key().sign(claims)},
    )
    assert response.status_code == 303, response.data[:500]
    location = response.headers["Location"]
    token = parse_qs(urlsplit(location).query)["lt"][0]
    return Launched(token=token, location=location, sub=sub)


def text_of(page: bytes | str) -> str:
    """A page's visible text, whitespace collapsed (for assertions on German sentences)."""
    html = page.decode() if isinstance(page, bytes) else page
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()
