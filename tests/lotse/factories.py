"""Factories for the Lotse tests: platforms, catalogue modules (independent of the real catalogue
files), launches recorded by the tool's own code, and bulk Navigatoren for the query-count test."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select

from courses.models import CatalogModule, CatalogUnit, CourseModule, UnitProgress, UnitVersion
from courses.municipalities import NavigatorMunicipality
from courses.roster import CourseMembership
from lti_tool.extensions import db
from lti_tool.models import Launch, LtiContext, LtiUser, Registration, utcnow
from lti_tool.registrations import add_platform
from lti_tool.sessions import issue_token, record_launch
from lti_tool.vocab import Claim, MessageType
from tests.support.tokens import INSTRUCTOR, LEARNER, launch_claims

TOOL_LAUNCH_URL = "http://localhost/lti/launch"
RUBRIC: dict[str, Any] = {
    "pass_points": 6,
    "criteria": [
        {"id": "inhalt", "title": "Inhalt", "description": "Vollständig und richtig.", "points": 6},
        {"id": "form", "title": "Form", "description": "Verständlich.", "points": 4},
    ],
}


def platform(
    name: str = "Moodle HSF",
    issuer: str = "https://moodle.example",
    client_id: str = "client-1",
    deployment_id: str = "1",
) -> Registration:
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


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def module(
    slug: str,
    *,
    kind: str = "basiswissen",
    title: str | None = None,
    units: tuple[str, ...] = ("reading", "quiz", "assignment"),
    position: int = 1,
) -> CatalogModule:
    """A catalogue module with one unit per entry of ``units`` (kinds), each with a version."""
    row = CatalogModule(
        slug=slug,
        kind=kind,
        position=position,
        title=title or f"Modul {slug}",
        summary=f"Worum es in {slug} geht.",
        objectives=["Sie können etwas erklären."],
        estimated_minutes=60,
        sources=[],
        content_hash=_hash(slug),
    )
    db.session.add(row)
    db.session.flush()
    for index, unit_kind in enumerate(units, start=1):
        unit = CatalogUnit(
            module_pk=row.id,
            slug=f"{unit_kind}-{index}",
            kind=unit_kind,
            position=index,
            title=f"Einheit {index} ({unit_kind})",
            estimated_minutes=20,
        )
        db.session.add(unit)
        db.session.flush()
        db.session.add(
            UnitVersion(
                unit_pk=unit.id,
                version=1,
                content_hash=_hash(f"{slug}-{index}"),
                body_html="<p>Text</p>" if unit_kind != "quiz" else None,
                quiz={"scoring": "best", "pass_percent": 60, "questions": []}
                if unit_kind == "quiz"
                else None,
                rubric=RUBRIC if unit_kind == "assignment" else None,
            )
        )
    db.session.commit()
    return row


def place(context: LtiContext, catalog_module: CatalogModule) -> CourseModule:
    placed = CourseModule(context_pk=context.id, module_pk=catalog_module.id, created_at=utcnow())
    db.session.add(placed)
    db.session.commit()
    return placed


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
    if custom:
        claims[Claim.CUSTOM] = custom
    if nrps_url:
        claims[Claim.NRPS] = {"context_memberships_url": nrps_url, "service_versions": ["2.0"]}
    if deep_linking is not None:
        claims[Claim.MESSAGE_TYPE] = MessageType.DEEP_LINKING.value
        claims.pop(Claim.RESOURCE_LINK, None)
        claims[Claim.DEEP_LINKING_SETTINGS] = deep_linking
    recorded = record_launch(registration, claims)
    db.session.commit()
    return Started(recorded, issue_token(recorded))


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
    municipality_ags: list[tuple[str, str]],
) -> None:
    """``count`` Navigatoren with memberships, municipalities and some progress, inserted in
    bulk (a handful of statements)."""
    now = utcnow()
    prefix = uuid.uuid4().hex[:6]
    db.session.execute(
        insert(LtiUser),
        [
            {
                "registration_id": context.registration_id,
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
                "ags": municipality_ags[i % len(municipality_ags)][0],
                "name": municipality_ags[i % len(municipality_ags)][1],
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
