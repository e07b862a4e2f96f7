"""Who belongs to an LMS course, and who is a Lotse there.

The roster comes from the platform's Names and Role Provisioning Service where it offers one
(Moodle), refreshed on each Lotse launch and on demand; where it does not (ILIAS, lti-notes §3) the
roster is everyone who launched. NRPS members who never launched are "noch nicht gestartet".

ILIAS's "always learner" sends instructors as learners, so the Lotse role can also be granted:
per person (``flask courses lotse grant --platform NAME --sub SUB``) or, for a deployment the tool
admin trusts, by the custom parameter ``lotsen_rolle=lotse``. :func:`effective_role` applies both;
every Lotse guard uses it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint, and_, func, select
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.extensions import db
from lti_tool.models import (
    Deployment,
    Launch,
    LtiContext,
    LtiUser,
    Registration,
    UTCDateTime,
    utcnow,
)
from lti_tool.nrps import Member, fetch_members
from lti_tool.services import ServiceError
from lti_tool.vocab import ToolRole, tool_role_for

log = logging.getLogger(__name__)

#: Custom parameter that makes a launch a Lotse launch on a trusted deployment.
LOTSE_CUSTOM_PARAM = "lotsen_rolle"
LOTSE_CUSTOM_VALUE = "lotse"


class MembershipSource(StrEnum):
    NRPS = "nrps"
    LAUNCH = "launch"


class MembershipStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class CourseMembership(db.Model):  # type: ignore[name-defined]
    """A person in an LMS course as the tool knows them: from NRPS or from their launches."""

    __tablename__ = "course_membership"
    __table_args__ = (UniqueConstraint("context_pk", "user_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_pk: Mapped[int] = mapped_column(
        ForeignKey("lti_context.id", ondelete="CASCADE"), index=True
    )
    user_pk: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    """``lotse`` or ``navigator`` (grants applied)."""
    source: Mapped[str] = mapped_column(String(10))
    """``nrps`` once the platform listed them, else ``launch``."""
    status: Mapped[str] = mapped_column(String(10), default=MembershipStatus.ACTIVE.value)
    """``inactive`` when NRPS says so or no longer lists them."""
    lti_roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The LIS roles the platform reported last (NRPS or launch)."""
    first_launch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_launch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """None: listed by NRPS but never launched ("noch nicht gestartet")."""
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When NRPS last listed them."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RosterSync(db.Model):  # type: ignore[name-defined]
    """The state of a course's roster refresh."""

    __tablename__ = "roster_sync"

    context_pk: Mapped[int] = mapped_column(
        ForeignKey("lti_context.id", ondelete="CASCADE"), primary_key=True
    )
    last_launch_id: Mapped[str | None] = mapped_column(String(32))
    """The Lotse launch that refreshed last: each launch refreshes once."""
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """The last successful NRPS read."""
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(String(500))
    """Technical reason of the last failure (status and platform text, never personal data)."""
    error_status: Mapped[int | None] = mapped_column()
    """HTTP status of the last failure (None: no answer)."""

    @property
    def failing(self) -> bool:
        """The last attempt failed (no success since)."""
        return self.failed_at is not None and (
            self.synced_at is None or self.failed_at > self.synced_at
        )


class LotseGrant(db.Model):  # type: ignore[name-defined]
    """A person (registration, sub) who is a Lotse whatever roles the platform sends."""

    __tablename__ = "lotse_grant"
    __table_args__ = (UniqueConstraint("registration_id", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(String(255))
    """What the admin wants to remember (no names needed: the sub is enough)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LotseRoleDeployment(db.Model):  # type: ignore[name-defined]
    """A deployment on which the custom parameter ``lotsen_rolle=lotse`` makes a Lotse."""

    __tablename__ = "lotse_role_deployment"

    deployment_pk: Mapped[int] = mapped_column(
        ForeignKey("deployment.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- roles ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RoleRules:
    granted_subs: frozenset[str]
    trusted_deployments: frozenset[int]


def _rules(registration_id: int) -> _RoleRules:
    """The grants of a registration (two small queries; not cached, so a grant or revocation
    applies to the very next request)."""
    subs = db.session.scalars(
        select(LotseGrant.sub).where(LotseGrant.registration_id == registration_id)
    )
    deployments = db.session.scalars(
        select(LotseRoleDeployment.deployment_pk)
        .join(Deployment, Deployment.id == LotseRoleDeployment.deployment_pk)
        .where(Deployment.registration_id == registration_id)
    )
    return _RoleRules(frozenset(subs), frozenset(deployments))


def _role(
    platform_role: str,
    sub: str,
    custom: dict[str, Any] | None,
    deployment_pk: int | None,
    rules: _RoleRules,
) -> ToolRole:
    if platform_role == ToolRole.LOTSE or sub in rules.granted_subs:
        return ToolRole.LOTSE
    value = (custom or {}).get(LOTSE_CUSTOM_PARAM)
    if (
        deployment_pk in rules.trusted_deployments
        and isinstance(value, str)
        and value.strip().lower() == LOTSE_CUSTOM_VALUE
    ):
        return ToolRole.LOTSE
    return ToolRole.NAVIGATOR


def effective_role(launch: Launch) -> ToolRole:
    """The launch's role in this tool: the platform's, raised to Lotse by a grant for this
    (registration, sub) or by ``lotsen_rolle=lotse`` on a trusted deployment."""
    return _role(
        launch.role,
        launch.user.sub,
        launch.custom,
        launch.deployment_pk,
        _rules(launch.registration_id),
    )


def is_lotse(launch: Launch) -> bool:
    return effective_role(launch) is ToolRole.LOTSE


# --- grants (CLI) --------------------------------------------------------------------------


def grant(registration: Registration, sub: str, note: str | None = None) -> tuple[LotseGrant, bool]:
    """Grant the Lotse role to (registration, sub); returns the row and whether it is new."""
    row = db.session.scalars(
        select(LotseGrant).where(
            LotseGrant.registration_id == registration.id, LotseGrant.sub == sub
        )
    ).first()
    if row is not None:
        if note:
            row.note = note
        return row, False
    row = LotseGrant(registration_id=registration.id, sub=sub, note=note)
    db.session.add(row)
    db.session.flush()
    return row, True


def revoke(registration: Registration, sub: str) -> bool:
    row = db.session.scalars(
        select(LotseGrant).where(
            LotseGrant.registration_id == registration.id, LotseGrant.sub == sub
        )
    ).first()
    if row is None:
        return False
    db.session.delete(row)
    db.session.flush()
    return True


# --- roster --------------------------------------------------------------------------------


def record_launchers(context: LtiContext) -> int:
    """Make everyone who launched in ``context`` a member (the whole roster where there is no
    NRPS). Bulk: a constant number of queries. Returns how many rows changed. Flushes."""
    latest = (
        select(
            Launch.user_id,
            func.min(Launch.created_at).label("first"),
            func.max(Launch.created_at).label("last"),
        )
        .where(Launch.context_pk == context.id)
        .group_by(Launch.user_id)
        .subquery()
    )
    rows = db.session.execute(
        select(
            Launch.user_id,
            LtiUser.sub,
            Launch.role,
            Launch.lti_roles,
            Launch.custom,
            Launch.deployment_pk,
            latest.c.first,
            latest.c.last,
        )
        .join(latest, and_(latest.c.user_id == Launch.user_id, latest.c.last == Launch.created_at))
        .join(LtiUser, LtiUser.id == Launch.user_id)
        .where(Launch.context_pk == context.id)
    ).all()
    if not rows:
        return 0
    rules = _rules(context.registration_id)
    existing = {
        m.user_pk: m
        for m in db.session.scalars(
            select(CourseMembership).where(CourseMembership.context_pk == context.id)
        )
    }
    changed = 0
    seen: set[int] = set()
    customs: dict[int, dict[str, Any] | None] = {}
    for user_pk, sub, role, lti_roles, custom, deployment_pk, first, last in rows:
        if user_pk in seen:  # two launches in the same instant
            continue
        seen.add(user_pk)
        tool_role = _role(role, sub, custom, deployment_pk, rules).value
        member = existing.get(user_pk)
        if (
            tool_role == ToolRole.NAVIGATOR
            and custom
            and (member is None or member.last_launch_at is None or member.last_launch_at < last)
        ):
            customs[user_pk] = custom
        if member is None:
            db.session.add(
                CourseMembership(
                    context_pk=context.id,
                    user_pk=user_pk,
                    role=tool_role,
                    source=MembershipSource.LAUNCH.value,
                    status=MembershipStatus.ACTIVE.value,
                    lti_roles=list(lti_roles or []),
                    first_launch_at=first,
                    last_launch_at=last,
                )
            )
            changed += 1
            continue
        if member.last_launch_at is not None and member.last_launch_at >= last:
            continue
        member.role = tool_role
        member.lti_roles = list(lti_roles or [])
        member.first_launch_at = member.first_launch_at or first
        member.last_launch_at = last
        if member.source == MembershipSource.LAUNCH:
            member.status = MembershipStatus.ACTIVE.value
        changed += 1
    if customs:
        # The municipality the LMS sends (custom parameter), for the Lotse's overview even when
        # the Navigator has not opened a page that applies it yet.
        from .municipalities import apply_from_customs

        apply_from_customs(customs)
    db.session.flush()
    return changed


def _clean(value: str | None) -> str | None:
    # ILIAS withholds names as "-" (lti-notes §3).
    if value is None:
        return None
    value = value.strip()
    return value if value and value != "-" else None


def _chunks(values: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def apply_members(context: LtiContext, members: list[Member]) -> int:
    """Store an NRPS member list: users (sub, names only if given) and memberships; members
    NRPS no longer lists become inactive. Returns the number of members. Flushes."""
    now = utcnow()
    subs = [m.user_id for m in members]
    users: dict[str, LtiUser] = {}
    for chunk in _chunks(subs):
        for user in db.session.scalars(
            select(LtiUser).where(
                LtiUser.registration_id == context.registration_id, LtiUser.sub.in_(chunk)
            )
        ):
            users[user.sub] = user
    for member in members:
        found = users.get(member.user_id)
        if found is None:
            found = LtiUser(registration_id=context.registration_id, sub=member.user_id)
            db.session.add(found)
            users[member.user_id] = found
        user = found
        # Names only when the platform shares them; withheld in NRPS does not erase a launch's.
        for attribute in ("name", "given_name", "family_name", "email"):
            value = _clean(getattr(member, attribute))
            if value is not None:
                setattr(user, attribute, value)
    db.session.flush()
    rules = _rules(context.registration_id)
    existing = {
        m.user_pk: m
        for m in db.session.scalars(
            select(CourseMembership).where(CourseMembership.context_pk == context.id)
        )
    }
    listed: set[int] = set()
    for member in members:
        user = users[member.user_id]
        listed.add(user.id)
        role = ToolRole.LOTSE if user.sub in rules.granted_subs else tool_role_for(member.roles)
        status = MembershipStatus.ACTIVE if member.active else MembershipStatus.INACTIVE
        row = existing.get(user.id)
        if row is None:
            row = CourseMembership(context_pk=context.id, user_pk=user.id, lti_roles=[])
            db.session.add(row)
        elif row.last_launch_at is not None and row.role == ToolRole.LOTSE:
            # A Lotse by launch (grant, trusted custom parameter) stays one.
            role = ToolRole.LOTSE
        row.role = role.value
        row.source = MembershipSource.NRPS.value
        row.status = status.value
        row.lti_roles = list(member.roles)
        row.synced_at = now
    for user_pk, row in existing.items():
        if user_pk not in listed and row.source == MembershipSource.NRPS:
            row.status = MembershipStatus.INACTIVE.value
    db.session.flush()
    return len(members)


@dataclass(frozen=True)
class RefreshResult:
    """What a roster refresh did; ``error`` is a German notice for the page."""

    nrps: bool
    members: int | None = None
    error: str | None = None


def _sync_row(context: LtiContext) -> RosterSync:
    row = db.session.get(RosterSync, context.id)
    if row is None:
        row = RosterSync(context_pk=context.id)
        db.session.add(row)
    return row


def refresh(context: LtiContext, launch: Launch | None = None) -> RefreshResult:
    """Refresh the roster: launchers always, NRPS where the platform offers it. An NRPS failure
    is recorded and returned as a notice, never raised. Commits (the token cache does too)."""
    record_launchers(context)
    row = _sync_row(context)
    if launch is not None:
        row.last_launch_id = launch.id
    url = context.nrps_url
    if not url:
        db.session.commit()
        return RefreshResult(nrps=False)
    registration = context.registration
    context_pk, registration_pk = context.id, registration.id
    # The service call commits (token cache): keep what is done so far.
    db.session.commit()
    try:
        members = fetch_members(registration, url)
    except ServiceError as error:
        db.session.rollback()
        row = _sync_row(context)
        row.failed_at = utcnow()
        row.error = (error.message or "")[:500]
        row.error_status = error.status
        db.session.commit()
        log.warning(
            "nrps refresh failed: registration=%s context=%s status=%s",
            registration_pk,
            context_pk,
            error.status,
        )
        return RefreshResult(nrps=True, error=failure_notice(error.status))
    count = apply_members(context, members)
    row = _sync_row(context)
    row.synced_at = utcnow()
    row.error = None
    row.error_status = None
    row.failed_at = None
    db.session.commit()
    log.info(
        "nrps refresh: registration=%s context=%s members=%s", registration_pk, context_pk, count
    )
    return RefreshResult(nrps=True, members=count)


def failure_notice(status: int | None) -> str:
    """The German notice for a failed NRPS read (shown instead of an error page)."""
    if status in (401, 403):
        return _(
            "Die Teilnehmerliste konnte nicht aus dem LMS geladen werden: Das LMS hat den Zugriff "
            "verweigert. Bitte bitten Sie die LMS-Administration, für dieses Werkzeug den Dienst "
            "„Namen und Rollen“ (NRPS) freizugeben. Angezeigt werden alle, die das Werkzeug "
            "bereits gestartet haben."
        )
    return _(
        "Die Teilnehmerliste konnte gerade nicht aus dem LMS geladen werden. Angezeigt werden "
        "alle, die das Werkzeug bereits gestartet haben, und der Stand der letzten "
        "erfolgreichen Aktualisierung. Versuchen Sie es später erneut."
    )


def refresh_once_per_launch(context: LtiContext, launch: Launch) -> RefreshResult | None:
    """Refresh when this Lotse launch has not refreshed yet (each Lotse launch refreshes once);
    otherwise just record launchers. Returns the result of a refresh, None if none was due."""
    row = db.session.get(RosterSync, context.id)
    if row is not None and row.last_launch_id == launch.id:
        if record_launchers(context):
            db.session.commit()
        return None
    return refresh(context, launch)


def last_sync(context: LtiContext) -> RosterSync | None:
    return db.session.get(RosterSync, context.id)


@dataclass(frozen=True)
class RosterEntry:
    """A row of the roster page."""

    user_pk: int
    sub: str
    name: str | None
    role: str
    source: str
    status: str
    started: bool
    last_launch_at: datetime | None
    municipality_ags: str | None
    municipality_name: str | None
    municipality_source: str | None


def roster(context: LtiContext) -> list[RosterEntry]:
    """Everyone in the course, Lotsen first, then by name (never by progress). One query."""
    from .municipalities import NavigatorMunicipality

    rows = db.session.execute(
        select(
            CourseMembership.user_pk,
            LtiUser.sub,
            LtiUser.name,
            LtiUser.given_name,
            LtiUser.family_name,
            CourseMembership.role,
            CourseMembership.source,
            CourseMembership.status,
            CourseMembership.last_launch_at,
            NavigatorMunicipality.ags,
            NavigatorMunicipality.name,
            NavigatorMunicipality.source,
        )
        .join(LtiUser, LtiUser.id == CourseMembership.user_pk)
        .outerjoin(NavigatorMunicipality, NavigatorMunicipality.user_pk == CourseMembership.user_pk)
        .where(CourseMembership.context_pk == context.id)
    ).all()
    entries = [
        RosterEntry(
            user_pk=r[0],
            sub=r[1],
            name=display_name(r[2], r[3], r[4]),
            role=r[5],
            source=r[6],
            status=r[7],
            started=r[8] is not None,
            last_launch_at=r[8],
            municipality_ags=r[9],
            municipality_name=r[10],
            municipality_source=r[11],
        )
        for r in rows
    ]
    entries.sort(key=lambda e: (e.role != ToolRole.LOTSE, sort_key(e.name, e.sub)))
    return entries


def display_name(name: str | None, given: str | None, family: str | None) -> str | None:
    """Like :attr:`LtiUser.display_name` for column rows."""
    if name:
        return name
    return " ".join(p for p in (given, family) if p) or None


def sort_key(name: str | None, sub: str) -> tuple[int, str]:
    """Alphabetical, people without a shared name last (by their pseudonym)."""
    return (0, name.casefold()) if name else (1, sub)


def member_of(context: LtiContext, user_pk: int) -> CourseMembership | None:
    """The membership of ``user_pk`` in ``context`` (the check for every user id in a URL)."""
    return db.session.scalars(
        select(CourseMembership).where(
            CourseMembership.context_pk == context.id, CourseMembership.user_pk == user_pk
        )
    ).first()
