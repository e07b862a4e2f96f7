"""The factories of every test: platforms, catalogue rows (independent of the real catalogue
files), placements, launches recorded by the tool's own code (:func:`launch` → :class:`Started`)
or done for real through the test client (:func:`http_launch` → :class:`Launched`), the launch
token of a tool URL (:func:`token_of`, the test platform's own, which the protocol tests import
from tests.support.platform without the domain), and bulk Navigatoren for the query-count
tests. Over real HTTP the tests use the one test platform, tests/support/platform."""

from __future__ import annotations

import functools
import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient
from sqlalchemy import func, insert, select

from courses.models import (
    CatalogModule,
    CatalogUnit,
    CourseMembership,
    CourseModule,
    CourseModuleMember,
    NavigatorMunicipality,
    Project,
    ProjectMember,
    UnitProgress,
    UnitVersion,
)
from lti_tool.extensions import db
from lti_tool.launch.record import record_launch
from lti_tool.launch.token import issue_token
from lti_tool.models import Launch, LtiContext, LtiUser, Registration, utcnow
from lti_tool.registrations import add_platform
from lti_tool.vocab import Claim, MessageType
from tests.support.platform.browser import token_of  # re-exported: tests.factories.token_of
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
#: The rubric of :func:`module` (the Lotse tests grade "inhalt" and "form").
LOTSE_RUBRIC: dict[str, Any] = {
    "pass_points": 6,
    "criteria": [
        {"id": "inhalt", "title": "Inhalt", "description": "Vollständig und richtig.", "points": 6},
        {"id": "form", "title": "Form", "description": "Verständlich.", "points": 4},
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
    rubric: dict[str, Any] | None = None,
    body_html: str | None = None,
    summary: str = "Ein Modul für Tests.",
    objectives: tuple[str, ...] = ("Sie können Tests schreiben.",),
    sources: tuple[dict[str, str], ...] = (
        {"title": "Beispielquelle", "url": "https://www.example.org/"},
    ),
) -> CatalogModule:
    """A catalogue module with units (reading, quiz, assignment by default) and their content;
    ``body_html`` replaces the reading and brief texts."""
    module = CatalogModule(
        slug=slug,
        kind=kind,
        position=position,
        title=title or f"Testmodul {slug}",
        summary=summary,
        objectives=list(objectives),
        estimated_minutes=60,
        sources=list(sources),
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
                    None
                    if unit_kind == "quiz"
                    else body_html
                    if body_html is not None
                    else READING_HTML.format(slug=slug)
                    if unit_kind == "reading"
                    else BRIEF_HTML
                ),
                quiz=(quiz or QUIZ) if unit_kind == "quiz" else None,
                rubric=(rubric or RUBRIC) if unit_kind == "assignment" else None,
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
    user = LtiUser(registration_pk=make_platform().id, sub=sub)
    db.session.add(user)
    db.session.commit()
    return user


def make_context(context_id: str = "course-1") -> LtiContext:
    """A course row without a launch (for service-level tests)."""
    context = LtiContext(registration_pk=make_platform().id, context_id=context_id, title="Kurs")
    db.session.add(context)
    db.session.commit()
    return context


def assign_municipality(
    user: LtiUser, key: str = "14521010", name: str = "Amtsberg"
) -> NavigatorMunicipality:
    """Give ``user`` a municipality (as a Navigator's own choice would)."""
    row = NavigatorMunicipality(
        user_pk=user.id, municipality_key=key, name=name, source="navigator"
    )
    db.session.add(row)
    db.session.commit()
    return row


def make_project(
    context: LtiContext,
    *members: LtiUser,
    title: str = "Hundesteuer online",
    status: str = "idee",
    key: str = "14521010",
    name: str = "Amtsberg",
    landkreis: str = "Erzgebirgskreis",
    **fields: Any,
) -> Project:
    """A project row of ``members`` in ``context`` (no history: for reads and erasure)."""
    project = Project(
        context_pk=context.id,
        title=title,
        status=status,
        municipality_key=key,
        municipality_name=name,
        landkreis=landkreis,
        **fields,
    )
    project.members.extend(ProjectMember(user_pk=member.id) for member in members)
    db.session.add(project)
    db.session.commit()
    return project


@functools.cache
def platform_key() -> PlatformKey:
    """One RSA key for the whole session: generating one is the slow part of a launch."""
    return PlatformKey()


def platform(
    name: str = "Moodle HSF",
    issuer: str = "https://moodle.example",
    client_id: str = "client-1",
    deployment_id: str = "1",
) -> Registration:
    """A registered platform with one deployment (its key set is never fetched)."""
    registration = add_platform(
        {
            "name": name,
            "issuer": issuer,
            "client_id": client_id,
            "auth_login_url": issuer + "/auth",
            "auth_token_url": issuer + "/token",
            "key_set_url": issuer + "/jwks",
            "deployments": [deployment_id],
        }
    )
    db.session.commit()
    return registration


def make_platform() -> Registration:
    """The platform of :func:`http_launch`, its key set already stored (no JWKS fetch)."""
    registration = db.session.scalars(
        select(Registration).where(Registration.issuer == ISSUER)
    ).first()
    if registration is not None:
        return registration
    registration = platform("Test-LMS", ISSUER, CLIENT_ID, DEPLOYMENT_ID)
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


def http_launch(
    client: FlaskClient,
    *,
    sub: str = "navigator-1",
    lotse: bool = False,
    module_id: str | None = None,
    resource_link_id: str = "link-1",
    context_id: str = "course-1",
    name: str | None = "Erika Muster",
    email: str | None = None,
    locale: str | None = None,
) -> Launched:
    """A real resource-link launch: OIDC login, signed id_token, POST /lti/launch (303).
    ``locale`` is sent as ``launch_presentation.locale`` (none by default)."""
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
    if email is not None:
        extra["email"] = email
    if locale is not None:
        extra[Claim.LAUNCH_PRESENTATION] = {"locale": locale, "document_target": "iframe"}
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
    return Launched(token=token_of(location), location=location, sub=sub)


def module(
    slug: str,
    *,
    kind: str = "basiswissen",
    title: str | None = None,
    units: tuple[str, ...] = ("reading", "quiz", "assignment"),
    position: int = 1,
) -> CatalogModule:
    """A catalogue module for the Lotse tests: one unit per kind in ``units`` (named
    ``<kind>-<n>``), plain texts, an empty quiz and :data:`LOTSE_RUBRIC`."""
    row = make_module(
        slug,
        title=title or f"Modul {slug}",
        kind=kind,
        position=position,
        units=tuple(
            (f"{unit_kind}-{index}", unit_kind) for index, unit_kind in enumerate(units, 1)
        ),
        quiz={"scoring": "best", "pass_percent": 60, "questions": []},
        rubric=LOTSE_RUBRIC,
        body_html="<p>Text</p>",
        summary=f"Worum es in {slug} geht.",
        objectives=("Sie können etwas erklären.",),
        sources=(),
    )
    for index, unit in enumerate(row.units, 1):
        unit.title = f"Einheit {index} ({unit.kind})"
    db.session.commit()
    return row


@dataclass
class Started:
    """A recorded launch and the token its later requests present."""

    launch: Launch
    token: str

    @property
    def context(self) -> LtiContext:
        assert self.launch.context is not None
        return self.launch.context

    @property
    def user(self) -> LtiUser:
        return self.launch.user


def launch(
    registration: Registration,
    sub: str,
    *,
    lotse: bool = False,
    roles: list[str] | None = None,
    context_id: str = "kurs-1",
    custom: dict[str, Any] | None = None,
    deep_linking: dict[str, Any] | None = None,
    nrps_url: str | None = None,
    name: str | None = None,
    resource_link_id: str = "link-1",
    email: str | None = None,
) -> Started:
    """Record a validated launch with the tool's own code (as after ``/lti/launch``)."""
    deployment = registration.deployments[0]
    claims = launch_claims(
        issuer=registration.issuer,
        client_id=registration.client_id,
        deployment_id=deployment.deployment_id,
        nonce=uuid.uuid4().hex,
        target_link_uri=TOOL_LAUNCH_URL,
        sub=sub,
        roles=roles if roles is not None else [INSTRUCTOR if lotse else LEARNER],
        context_id=context_id,
        resource_link_id=resource_link_id,
    )
    if name:
        claims["name"] = name
    if email:
        claims["email"] = email
    if custom:
        claims[Claim.CUSTOM] = custom
    if nrps_url:
        claims[Claim.NRPS] = {"context_memberships_url": nrps_url, "service_versions": ["2.0"]}
    if deep_linking is not None:
        claims[Claim.MESSAGE_TYPE] = MessageType.DEEP_LINKING.value
        claims.pop(Claim.RESOURCE_LINK, None)
        claims[Claim.DEEP_LINKING_SETTINGS] = deep_linking
    recorded = record_launch(registration, claims)
    token = issue_token(recorded)
    db.session.commit()
    # The stored row, as the launch's later requests see it (record_launch returns the row as
    # written, not attached to the session).
    stored = db.session.get(Launch, recorded.id)
    assert stored is not None
    return Started(stored, token)


DL_SETTINGS = {
    "deep_link_return_url": "https://moodle.example/mod/lti/contentitem_return.php",
    "accept_types": ["ltiResourceLink"],
    "accept_presentation_document_targets": ["iframe", "window"],
    "accept_multiple": True,
    "data": "opaque-123",
}


def bulk_navigators(
    context: LtiContext,
    count: int,
    *,
    modules: list[CatalogModule],
    municipalities: list[tuple[str, str]],
) -> None:
    """``count`` Navigatoren with memberships, municipalities and some progress, inserted in
    bulk (a handful of statements)."""
    now = utcnow()
    prefix = uuid.uuid4().hex[:6]
    db.session.execute(
        insert(LtiUser),
        [
            {
                "registration_pk": context.registration_pk,
                "sub": f"{prefix}-{i:05d}",
                "name": f"Person {i:05d}",
                "created_at": now,
            }
            for i in range(count)
        ],
    )
    users = list(
        db.session.scalars(
            select(LtiUser.id).where(LtiUser.sub.like(f"{prefix}-%")).order_by(LtiUser.id)
        )
    )
    db.session.execute(
        insert(CourseMembership),
        [
            {
                "context_pk": context.id,
                "user_pk": user_pk,
                "role": "navigator",
                "source": "nrps",
                "status": "active",
                "lti_roles": [LEARNER],
                "last_launch_at": now if i % 3 else None,
                "created_at": now,
            }
            for i, user_pk in enumerate(users)
        ],
    )
    db.session.execute(
        insert(NavigatorMunicipality),
        [
            {
                "user_pk": user_pk,
                "municipality_key": municipalities[i % len(municipalities)][0],
                "name": municipalities[i % len(municipalities)][1],
                "source": "navigator",
                "updated_at": now,
            }
            for i, user_pk in enumerate(users)
            if i % 5
        ],
    )
    rows = []
    states = ["in_progress", "done", "submitted", "graded", "returned"]
    for i, user_pk in enumerate(users):
        for m_index, catalog_module in enumerate(modules):
            for u_index, unit in enumerate(catalog_module.active_units):
                if (i + m_index + u_index) % 4 == 0:
                    continue
                rows.append(
                    {
                        "user_pk": user_pk,
                        "context_pk": context.id,
                        "unit_pk": unit.id,
                        "unit_version_pk": unit.versions[0].id,
                        "state": states[(i + u_index) % len(states)],
                        "started_at": now,
                        "updated_at": now,
                    }
                )
    if rows:
        db.session.execute(insert(UnitProgress), rows)
    db.session.commit()


def count_rows(*models: type) -> dict[str, int]:
    """Row counts of ``models`` in a fresh transaction (authorization: nothing changed)."""
    db.session.rollback()
    return {
        m.__tablename__: int(db.session.scalar(select(func.count()).select_from(m)) or 0)  # type: ignore[attr-defined]
        for m in models
    }


def text_of(page: bytes | str) -> str:
    """A page's visible text, whitespace collapsed (for assertions on German sentences)."""
    html = page.decode() if isinstance(page, bytes) else page
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()
