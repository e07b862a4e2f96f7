"""Who belongs to an LMS course, and who is a Lotse there.

The roster comes from the platform's Names and Role Provisioning Service where it offers one
(Moodle), refreshed on each Lotse launch and on demand; where it does not (ILIAS, lti-notes §3) the
roster is everyone who launched. NRPS members who never launched are "noch nicht gestartet".

A member's role is the one :mod:`courses.services.roles` gives their newest launch (grants
applied), or for an NRPS member who never launched, their LTI roles plus a personal grant.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from flask_babel import gettext as _
from sqlalchemy import Select, and_, func, select

from courses.models import (
    CourseMembership,
    MembershipSource,
    MembershipStatus,
    NavigatorMunicipality,
    RosterSync,
)
from lti_tool.context import LaunchContext
from lti_tool.extensions import db
from lti_tool.models import Launch, LtiContext, LtiUser, utcnow
from lti_tool.services.platform import CoursePlatform, Member, ServiceError

from .municipalities import apply_from_customs
from .roles import ToolRole, role_of, rules_for, tool_role_for

log = logging.getLogger(__name__)

#: Filter value (in URLs) for Navigatoren without a municipality.
NO_MUNICIPALITY = "ohne"


# --- roster --------------------------------------------------------------------------------


def record_launchers(context: LtiContext) -> int:
    """Make everyone who launched in ``context`` a member (the whole roster where there is no
    NRPS). Bulk: a constant number of queries. Returns how many rows changed. Flushes."""
    latest = (
        select(
            Launch.user_pk,
            func.min(Launch.created_at).label("first"),
            func.max(Launch.created_at).label("last"),
        )
        .where(Launch.context_pk == context.id)
        .group_by(Launch.user_pk)
        .subquery()
    )
    rows = db.session.execute(
        select(
            Launch.user_pk,
            LtiUser.sub,
            Launch.lti_roles,
            Launch.custom,
            Launch.deployment_pk,
            latest.c.first,
            latest.c.last,
        )
        .join(latest, and_(latest.c.user_pk == Launch.user_pk, latest.c.last == Launch.created_at))
        .join(LtiUser, LtiUser.id == Launch.user_pk)
        .where(Launch.context_pk == context.id)
    ).all()
    if not rows:
        return 0
    rules = rules_for(context.registration_pk)
    # Who is a member, and their last launch: columns, not 1,000 objects for every overview.
    existing: dict[int, datetime | None] = {
        user_pk: last_launch
        for user_pk, last_launch in db.session.execute(
            select(CourseMembership.user_pk, CourseMembership.last_launch_at).where(
                CourseMembership.context_pk == context.id
            )
        )
    }
    changed = 0
    seen: set[int] = set()
    customs: dict[int, dict[str, Any] | None] = {}
    updates: dict[int, tuple[str, list[str], datetime, datetime]] = {}
    for user_pk, sub, lti_roles, custom, deployment_pk, first, last in rows:
        if user_pk in seen:  # two launches in the same instant
            continue
        seen.add(user_pk)
        tool_role = role_of(lti_roles or [], sub, custom, deployment_pk, rules).value
        known = user_pk in existing
        last_known = existing.get(user_pk)
        if (
            tool_role == ToolRole.NAVIGATOR
            and custom
            and (not known or last_known is None or last_known < last)
        ):
            customs[user_pk] = custom
        if not known:
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
        if last_known is not None and last_known >= last:
            continue
        updates[user_pk] = (tool_role, list(lti_roles or []), first, last)
    if updates:
        for member in db.session.scalars(
            select(CourseMembership).where(
                CourseMembership.context_pk == context.id,
                CourseMembership.user_pk.in_(list(updates)),
            )
        ):
            tool_role, roles, first, last = updates[member.user_pk]
            member.role = tool_role
            member.lti_roles = roles
            member.first_launch_at = member.first_launch_at or first
            member.last_launch_at = last
            if member.source == MembershipSource.LAUNCH:
                member.status = MembershipStatus.ACTIVE.value
            changed += 1
    if customs:
        # The municipality the LMS sends (custom parameter), for the Lotse's overview even when
        # the Navigator has not opened a page that applies it yet.
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
                LtiUser.registration_pk == context.registration_pk, LtiUser.sub.in_(chunk)
            )
        ):
            users[user.sub] = user
    for member in members:
        found = users.get(member.user_id)
        if found is None:
            found = LtiUser(registration_pk=context.registration_pk, sub=member.user_id)
            db.session.add(found)
            users[member.user_id] = found
        user = found
        # Names only when the platform shares them; withheld in NRPS does not erase a launch's.
        for attribute in ("name", "given_name", "family_name", "email"):
            value = _clean(getattr(member, attribute))
            if value is not None:
                setattr(user, attribute, value)
    db.session.flush()
    rules = rules_for(context.registration_pk)
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


def refresh(context: LtiContext, launch: LaunchContext | None = None) -> RefreshResult:
    """Refresh the roster: launchers always, NRPS where the platform offers it. An NRPS failure
    is recorded and returned as a notice, never raised. Commits (the token cache does too)."""
    record_launchers(context)
    row = _sync_row(context)
    if launch is not None:
        row.last_launch_id = launch.id
    row.requested_at = None
    platform = CoursePlatform(context)
    if not platform.has_roster:
        db.session.commit()
        return RefreshResult(nrps=False)
    context_pk, registration_pk = context.id, context.registration_pk
    # The service call commits (token cache): keep what is done so far.
    db.session.commit()
    try:
        members = platform.members()
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


def request_refresh(context: LtiContext, launch: LaunchContext | None = None) -> bool:
    """Ask for a roster refresh, done by the worker (``refresh_requested``) so that no page waits
    on the platform; with ``launch`` only once per Lotse launch. Records launchers now. Flushes;
    True if a refresh was asked for."""
    record_launchers(context)
    row = _sync_row(context)
    if launch is not None and row.last_launch_id == launch.id:
        return False
    if launch is not None:
        row.last_launch_id = launch.id
    if not context.nrps_url:
        return False
    row.requested_at = row.requested_at or utcnow()
    db.session.flush()
    return True


def refresh_requested(limit: int = 20) -> int:
    """Run the asked-for roster refreshes, oldest first (the worker's idle work, or
    ``flask courses roster refresh``). Commits; returns how many ran."""
    due = list(
        db.session.scalars(
            select(RosterSync.context_pk)
            .where(RosterSync.requested_at.is_not(None))
            .order_by(RosterSync.requested_at)
            .limit(limit)
        )
    )
    db.session.rollback()
    for context_pk in due:
        context = db.session.get(LtiContext, context_pk)
        if context is not None:
            refresh(context)
    return len(due)


def last_sync(context: LtiContext) -> RosterSync | None:
    """The state of the course's last roster refresh, if there was one."""
    return db.session.get(RosterSync, context.id)


#: A person's columns: their user row and their municipality (see :func:`select_people`).
PERSON_COLUMNS = (
    LtiUser.sub,
    LtiUser.name,
    LtiUser.given_name,
    LtiUser.family_name,
    NavigatorMunicipality.municipality_key,
    NavigatorMunicipality.name,
    NavigatorMunicipality.source,
)


def select_people(user_pk: Any, *columns: Any) -> Select[Any]:
    """``SELECT *columns, *PERSON_COLUMNS`` joined to the person whose pk is in ``user_pk`` and
    (outer) to their municipality: the one query shape of every list of people in a course."""
    return (
        select(*columns, *PERSON_COLUMNS)
        .join(LtiUser, LtiUser.id == user_pk)
        .outerjoin(NavigatorMunicipality, NavigatorMunicipality.user_pk == user_pk)
    )


@dataclass(frozen=True)
class Person:
    """Who a row of :func:`select_people` is about: sub, shared name, municipality."""

    sub: str
    name: str | None
    municipality_key: str | None
    municipality_name: str | None
    municipality_source: str | None

    @classmethod
    def from_columns(cls, columns: Sequence[Any], **extra: Any) -> Self:
        """From the :data:`PERSON_COLUMNS` at the end of a row (``extra``: a subclass's fields)."""
        sub, name, given, family, key, municipality, source = columns[-len(PERSON_COLUMNS) :]
        return cls(sub, display_name(name, given, family), key, municipality, source, **extra)


@dataclass(frozen=True)
class RosterEntry(Person):
    """A row of the roster page."""

    user_pk: int
    role: str
    source: str
    status: str
    last_launch_at: datetime | None

    @property
    def started(self) -> bool:
        """Launched the tool in this course at least once."""
        return self.last_launch_at is not None


def roster(context: LtiContext) -> list[RosterEntry]:
    """Everyone in the course, Lotsen first, then by name (never by progress). One query."""
    rows = db.session.execute(
        select_people(
            CourseMembership.user_pk,
            CourseMembership.user_pk,
            CourseMembership.role,
            CourseMembership.source,
            CourseMembership.status,
            CourseMembership.last_launch_at,
        ).where(CourseMembership.context_pk == context.id)
    ).all()
    entries = [
        RosterEntry.from_columns(
            r, user_pk=r[0], role=r[1], source=r[2], status=r[3], last_launch_at=r[4]
        )
        for r in rows
    ]
    entries.sort(key=lambda e: (e.role != ToolRole.LOTSE, sort_key(e.name, e.sub)))
    return entries


def active_navigators(context: LtiContext) -> list[RosterEntry]:
    """The course's active Navigatoren, alphabetical (never by progress)."""
    return [
        e
        for e in roster(context)
        if e.role == ToolRole.NAVIGATOR and e.status == MembershipStatus.ACTIVE
    ]


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
