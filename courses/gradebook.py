"""Gradebook sync to the LMS through AGS, with no grade ever lost: an outbox written in the
transaction of every progress change, and workers that deliver it.

How it works
------------
* **One outbox row per (course module, Navigator)**, updated in place. A change of the score
  state writes the new score into the row, bumps ``version``, gives it a new timestamp and makes
  it ``pending`` again. So only the newest state is ever sent, and nothing is sent for states that
  were already replaced before a worker got to them. The listener flushes; the request commits.
* **Timestamps** are whole seconds, strictly increasing per row: Moodle compares them at second
  resolution and refuses a score not newer than the stored one with 409 (lti-notes §6). A 409 to
  a row's own timestamp therefore means "already there", and a re-send is harmless. (A grade a
  teacher set in Moodle later than our state is also answered 409: the teacher's grade stays.)
* **Claiming**: a worker claims due rows by setting ``claimed_by`` and a lease ``claimed_until``.
  PostgreSQL: one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING id``.
  SQLite: a conditional ``UPDATE … WHERE id = ? AND <still claimable>`` per row, checked by
  rowcount. A killed worker's rows come back when the lease ends. Before each row is sent the
  claim is checked, and the lease renewed once a third of it has passed, so a slow batch never
  lets a row be sent by two workers at once; a new version of a row stays with the worker that
  holds it until it lets go.
* **Marking** delivered or failed is conditional on ``version`` and ``claimed_by``: a row whose
  state changed while it was being sent stays pending and is sent again.
* **Failures**: timeouts, connection errors, 5xx and 429 are retried with exponential backoff and
  "equal jitter" (delay = d/2 + random(0, d/2), d = base·2^(attempt−1) capped; 429 waits at
  least its Retry-After, up to a day) up to ``GRADEBOOK_MAX_ATTEMPTS``, then the row is
  ``failed``. A 401 has already been retried once with a new token by
  :func:`lti_tool.services.service_request`. Any
  other 4xx (Moodle's "400 Incorrect score received" for a user who is not gradable) fails the
  row at once. ``last_error`` keeps the platform's message, with the user's ``sub`` blanked out.
  After a transport failure the rest of that platform's rows in the batch wait too.

Settings (``app.config``, all optional): ``GRADEBOOK_BACKGROUND_WORKER`` (False),
``GRADEBOOK_MAX_ATTEMPTS`` (12), ``GRADEBOOK_RETRY_BASE_SECONDS`` (15),
``GRADEBOOK_RETRY_MAX_SECONDS`` (1800), ``GRADEBOOK_LEASE_SECONDS`` (120),
``GRADEBOOK_BATCH_SIZE`` (50), ``GRADEBOOK_POLL_SECONDS`` (2).
"""

from __future__ import annotations

import importlib
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from flask import Flask, current_app
from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.ags import AgsClient
from lti_tool.extensions import db, dialect_insert
from lti_tool.models import LtiContext, LtiUser, Registration, UTCDateTime, utcnow
from lti_tool.services import ServiceError, access_token
from lti_tool.vocab import ActivityProgress, GradingProgress, Scope

from .models import CourseModule, UnitProgress

log = logging.getLogger(__name__)

#: The ``tag`` of line items this tool creates; with ``resourceId`` = module slug it finds them.
LINEITEM_TAG = "lotsen-lti"
#: ``scoreMaximum`` of line items this tool creates.
LINEITEM_SCORE_MAXIMUM = 100

DEFAULTS: dict[str, Any] = {
    "GRADEBOOK_BACKGROUND_WORKER": False,
    "GRADEBOOK_MAX_ATTEMPTS": 12,
    "GRADEBOOK_RETRY_BASE_SECONDS": 15.0,
    "GRADEBOOK_RETRY_MAX_SECONDS": 1800.0,
    "GRADEBOOK_LEASE_SECONDS": 120.0,
    "GRADEBOOK_BATCH_SIZE": 50,
    "GRADEBOOK_POLL_SECONDS": 2.0,
}


def setting(name: str) -> Any:
    """A gradebook setting of the current app, or its default."""
    return current_app.config.get(name, DEFAULTS[name])


class OutboxState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class ScoreStateLike(Protocol):
    """What ``courses.progress.score_state(user, course_module)`` returns."""

    @property
    def activity_progress(self) -> str: ...
    @property
    def grading_progress(self) -> str: ...
    @property
    def score_given(self) -> float | None: ...
    @property
    def score_maximum(self) -> float | None: ...


@dataclass(frozen=True)
class ScoreState:
    """A score state given directly (tests, benchmark, or a caller that computed it)."""

    activity_progress: str
    grading_progress: str
    score_given: float | None = None
    score_maximum: float | None = None


class GradebookOutbox(db.Model):  # type: ignore[name-defined]
    """The newest score state of one Navigator in one placed module, and whether the LMS has it."""

    __tablename__ = "gradebook_outbox"
    __table_args__ = (
        UniqueConstraint("course_module_pk", "user_pk"),
        Index("ix_gradebook_outbox_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_module_pk: Mapped[int] = mapped_column(
        ForeignKey("course_module.id", ondelete="CASCADE")
    )
    """(Indexed by the unique constraint, whose first column it is.)"""
    user_pk: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    """Bumped by every new state; marking delivered checks it, so a newer state is sent again."""
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The AGS score exactly as it is POSTed (userId = the Navigator's ``sub``)."""
    state_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """When the state was reached: the score's ``timestamp``, whole seconds, increasing per row."""
    state: Mapped[str] = mapped_column(String(20), default=OutboxState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Delivery attempts of the current version (a claim counts as one)."""
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    """The platform's message of the last failure, without personal data."""
    last_status: Mapped[int | None] = mapped_column(Integer)
    """HTTP status of the last failure (None: no answer, e.g. a timeout)."""
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    """The worker sending this row right now."""
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """End of the worker's lease; after it the row can be claimed again (the worker died)."""
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    course_module: Mapped[CourseModule] = relationship()
    user: Mapped[LtiUser] = relationship()


# --- scores --------------------------------------------------------------------------------------


def _whole_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def build_score(user_sub: str, state: ScoreStateLike) -> dict[str, Any]:
    """The AGS score body without its timestamp (AGS 2.0 §3.4, lti-notes §6)."""
    body: dict[str, Any] = {
        "userId": user_sub,
        "activityProgress": ActivityProgress(state.activity_progress).value,
        "gradingProgress": GradingProgress(state.grading_progress).value,
    }
    if state.score_given is not None:
        # scoreGiven only together with scoreMaximum (Moodle refuses it alone).
        body["scoreGiven"] = float(state.score_given)
        body["scoreMaximum"] = float(state.score_maximum or LINEITEM_SCORE_MAXIMUM)
    return body


def _same_score(payload: dict[str, Any], score: dict[str, Any]) -> bool:
    return {k: v for k, v in payload.items() if k != "timestamp"} == score


def _score_state(user: LtiUser, course_module: CourseModule) -> ScoreStateLike | None:
    # courses/progress.py is written by the Navigator work; imported late so the outbox does not
    # depend on it at import time.
    progress = importlib.import_module("courses.progress")
    state: ScoreStateLike | None = progress.score_state(user, course_module)
    return state


def enqueue_score(
    user_pk: int,
    course_module_pk: int,
    state: ScoreStateLike | None = None,
    *,
    force: bool = False,
) -> GradebookOutbox | None:
    """Record the score state of a Navigator in a placed module for delivery. Flushes, never
    commits: call it inside the transaction of the change.

    ``state`` defaults to ``courses.progress.score_state``. An unchanged score is not queued again
    unless ``force`` (resync) or the row had failed; a changed one replaces what was pending."""
    user = db.session.get(LtiUser, user_pk)
    course_module = db.session.get(CourseModule, course_module_pk)
    if user is None or course_module is None:
        return None
    for _ in range(10):
        # Lock the row first, compute the score after. Two transactions may change the same
        # Navigator's module at once (a Lotse grading while the Navigator reads); under
        # PostgreSQL's READ COMMITTED each computed the score without the other's uncommitted
        # change, and the later commit left a stale score as the newest state. Whoever waits
        # for the lock (FOR UPDATE, or the INSERT's conflict below) reads the other's commit.
        # SQLite serialises writers anyway and ignores FOR UPDATE.
        row = db.session.scalars(
            select(GradebookOutbox)
            .where(
                GradebookOutbox.course_module_pk == course_module_pk,
                GradebookOutbox.user_pk == user_pk,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        ).first()
        current = state if state is not None else _score_state(user, course_module)
        if current is None:
            return None
        score = build_score(user.sub, current)
        now = utcnow()
        if row is None:
            stamp = _whole_second(now)
            # INSERT … ON CONFLICT DO NOTHING rather than a savepoint (see dialect_insert).
            result = db.session.execute(
                dialect_insert(GradebookOutbox)
                .values(
                    course_module_pk=course_module_pk,
                    user_pk=user_pk,
                    version=1,
                    payload={**score, "timestamp": stamp.isoformat()},
                    state_at=stamp,
                    state=OutboxState.PENDING.value,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["course_module_pk", "user_pk"])
                # RETURNING says whether it inserted: psycopg reports rowcount -1 for this one.
                .returning(GradebookOutbox.id)
            )
            inserted = result.scalar_one_or_none()
            if inserted is None:
                continue  # another transaction created it at the same moment: update that one
            return db.session.get(GradebookOutbox, inserted, populate_existing=True)
        if not force and row.state != OutboxState.FAILED and _same_score(row.payload, score):
            return row
        stamp = max(_whole_second(now), row.state_at + timedelta(seconds=1))
        # Optimistic: only if nobody bumped the version since it was read, else read again.
        result = db.session.execute(
            update(GradebookOutbox)
            .where(GradebookOutbox.id == row.id, GradebookOutbox.version == row.version)
            .values(
                version=row.version + 1,
                payload={**score, "timestamp": stamp.isoformat()},
                state_at=stamp,
                state=OutboxState.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                last_error=None,
                last_status=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) == 1:
            db.session.expire(row)
            return row
    raise RuntimeError(
        f"outbox row for course_module={course_module_pk} user={user_pk} kept changing"
    )


def on_progress_changed(user_pk: int, course_module_pk: int) -> None:
    """The ``courses.events`` listener: queue the new score state in the same transaction."""
    enqueue_score(user_pk, course_module_pk)


def requeue(row: GradebookOutbox) -> None:
    """Make a failed (or waiting) row due now, with fresh attempts. Flushes."""
    if row.state == OutboxState.DELIVERED:
        return
    row.state = OutboxState.PENDING.value
    row.attempts = 0
    row.next_attempt_at = utcnow()
    db.session.flush()


def requeue_all(*, failed: bool) -> int:
    """Make every waiting pending row due now; with ``failed`` also re-queue failed rows."""
    states = [OutboxState.PENDING.value] + ([OutboxState.FAILED.value] if failed else [])
    result = db.session.execute(
        update(GradebookOutbox)
        .where(GradebookOutbox.state.in_(states))
        .values(state=OutboxState.PENDING.value, attempts=0, next_attempt_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


def resync_course(context_pk: int) -> int:
    """Queue the current state of every Navigator × placed module of an LMS course again, with a
    new timestamp. Navigatoren are those with progress in the module or an outbox row for it."""
    count = 0
    modules = db.session.scalars(
        select(CourseModule).where(CourseModule.context_pk == context_pk).order_by(CourseModule.id)
    ).all()
    for course_module in modules:
        unit_pks = [unit.id for unit in course_module.module.units]
        users = set(
            db.session.scalars(
                select(UnitProgress.user_pk).where(
                    UnitProgress.context_pk == context_pk, UnitProgress.unit_pk.in_(unit_pks)
                )
            )
        ) | set(
            db.session.scalars(
                select(GradebookOutbox.user_pk).where(
                    GradebookOutbox.course_module_pk == course_module.id
                )
            )
        )
        for user_pk in sorted(users):
            if enqueue_score(user_pk, course_module.id, force=True) is not None:
                count += 1
    return count


# --- line items ----------------------------------------------------------------------------------


def client_for(course_module: CourseModule) -> AgsClient:
    """The AGS client of a placed module's LMS course."""
    context = course_module.context
    return AgsClient(context.registration, context.ags_scopes, context.ags_lineitems_url)


def ensure_line_item(course_module: CourseModule, client: AgsClient | None = None) -> str:
    """The line item URL this module's scores go to; found or created on first use. Commits.

    1. one already set (Deep Linking created it; the Lotse side stores it);
    2. without column management ("grade sync only", lti-notes §2), the resource link's own;
    3. else the course's line item with ``resourceId`` = module slug, or a new one."""
    client = client or client_for(course_module)
    if not client.granted(Scope.AGS_SCORE):
        # Scopes come from the newest launch; after one with AGS the Lotse can retry.
        raise ServiceError(
            "Die Plattform hat für diesen Kurs keine Notenübertragung (AGS-Scope score) "
            "freigegeben.",
            retryable=False,
        )
    if course_module.lineitem_url:
        return course_module.lineitem_url
    link = course_module.resource_link
    module = course_module.module
    if not client.can_manage_line_items:
        url = link.lineitem_url if link is not None else None
        if not url and client.granted(Scope.AGS_LINEITEM_READONLY) and client.lineitems_url:
            found = client.line_items(resource_id=module.slug)
            url = found[0].id if found else None
        if not url:
            raise ServiceError(
                "Die Plattform erlaubt nur Notenübertragung, und der Link dieses Moduls hat "
                "keine eigene Bewertungsspalte.",
                retryable=False,
            )
        return _store_line_item(course_module, url)
    # Ask for the token first: access_token() commits, which would drop the lock below.
    access_token(client.registration, client.scopes)
    # Serialise: a no-op write locks the row (PostgreSQL) or the database (SQLite), so two workers
    # never create two columns for one module.
    db.session.execute(
        update(CourseModule)
        .where(CourseModule.id == course_module.id)
        .values(lineitem_url=CourseModule.lineitem_url)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(course_module, ["lineitem_url"])
    if course_module.lineitem_url:
        url = course_module.lineitem_url
        db.session.commit()
        return url
    link_id = link.resource_link_id if link is not None else None
    found = client.line_items(resource_id=module.slug)
    # Prefer our own tag, then the one bound to this module's resource link.
    found.sort(
        key=lambda i: (i.tag != LINEITEM_TAG, bool(link_id and i.resource_link_id != link_id))
    )
    if found:
        return _store_line_item(course_module, found[0].id)
    try:
        item = client.create_line_item(
            label=module.title,
            score_maximum=LINEITEM_SCORE_MAXIMUM,
            resource_id=module.slug,
            tag=LINEITEM_TAG,
            resource_link_id=link_id,
        )
    except ServiceError as error:
        # Moodle's "grade sync only" answers a line item POST with 401 even with a fresh token,
        # whatever the launch's scope claim said (lti-notes §2).
        if error.status in (401, 403) and link is not None and link.lineitem_url:
            return _store_line_item(course_module, link.lineitem_url)
        raise
    log.info("line item created: course_module=%s", course_module.id)
    return _store_line_item(course_module, item.id)


def _store_line_item(course_module: CourseModule, url: str) -> str:
    course_module.lineitem_url = url
    db.session.commit()
    return url


def update_line_item(
    course_module: CourseModule, *, label: str | None = None, score_maximum: float | None = None
) -> None:
    """Rename a module's column or change its maximum on the platform."""
    if not course_module.lineitem_url:
        return
    changes: dict[str, Any] = {}
    if label is not None:
        changes["label"] = label
    if score_maximum is not None:
        changes["scoreMaximum"] = score_maximum
    if changes:
        client_for(course_module).update_line_item(course_module.lineitem_url, changes)


def delete_line_item(course_module: CourseModule) -> None:
    """Delete a module's column on the platform and forget it. Flushes."""
    if not course_module.lineitem_url:
        return
    client_for(course_module).delete_line_item(course_module.lineitem_url)
    course_module.lineitem_url = None
    db.session.flush()


# --- delivery ------------------------------------------------------------------------------------


class Outcome(StrEnum):
    DELIVERED = "delivered"
    ALREADY_THERE = "already_there"
    RETRY = "retry"
    FAILED = "failed"
    SUPERSEDED = "superseded"
    """A newer state arrived while sending: the row stays pending for the new version."""
    DEFERRED = "deferred"
    """Not tried: its platform failed earlier in the batch."""
    NOT_CLAIMED = "not_claimed"


@dataclass
class WorkerStats:
    """What a worker did, by outcome."""

    outcomes: Counter[str] = field(default_factory=Counter)
    batches: int = 0

    @property
    def delivered(self) -> int:
        return self.outcomes[Outcome.DELIVERED] + self.outcomes[Outcome.ALREADY_THERE]


def new_worker_id() -> str:
    """A name for this worker, unique across hosts, processes and threads."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


#: The longest Retry-After honoured. A platform's value beyond it (a bogus number, an HTTP date
#: years ahead) overflowed the date of the next attempt, crashing the worker on every retry, or
#: parked the grade for years.
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0


def backoff_seconds(
    attempts: int, *, retry_after: float | None = None, rng: random.Random | None = None
) -> float:
    """Seconds before attempt ``attempts + 1``: exponential, equal jitter, at least Retry-After
    (up to a day)."""
    base = float(setting("GRADEBOOK_RETRY_BASE_SECONDS"))
    cap = float(setting("GRADEBOOK_RETRY_MAX_SECONDS"))
    # The exponent is bounded: 2 ** 1024 no longer fits a float (a high GRADEBOOK_MAX_ATTEMPTS).
    ceiling = min(cap, base * 2.0 ** min(max(0, attempts - 1), 64))
    delay = ceiling / 2 + (rng or random).uniform(0, ceiling / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _claimable(now: datetime) -> Any:
    return (
        (GradebookOutbox.state == OutboxState.PENDING.value)
        & (GradebookOutbox.next_attempt_at <= now)
        & (GradebookOutbox.claimed_until.is_(None) | (GradebookOutbox.claimed_until < now))
    )


def claim_batch(worker: str, limit: int, *, only_id: int | None = None) -> list[int]:
    """Atomically claim up to ``limit`` due rows for ``worker``; returns their ids. Commits."""
    now = utcnow()
    lease_until = now + timedelta(seconds=float(setting("GRADEBOOK_LEASE_SECONDS")))
    claim_values = {
        "claimed_by": worker,
        "claimed_until": lease_until,
        "attempts": GradebookOutbox.attempts + 1,
    }
    candidates = (
        select(GradebookOutbox.id)
        .where(_claimable(now))
        .order_by(GradebookOutbox.next_attempt_at, GradebookOutbox.id)
        .limit(limit)
    )
    if only_id is not None:
        candidates = candidates.where(GradebookOutbox.id == only_id)
    if db.session.get_bind().dialect.name == "postgresql":
        # Concurrent workers skip each other's locked rows instead of waiting for them.
        ids = list(
            db.session.scalars(
                update(GradebookOutbox)
                .where(
                    GradebookOutbox.id.in_(
                        candidates.with_for_update(skip_locked=True).scalar_subquery()
                    )
                )
                .values(**claim_values)
                .returning(GradebookOutbox.id)
                .execution_options(synchronize_session=False)
            )
        )
    else:
        ids = []
        for row_id in list(db.session.scalars(candidates)):
            # Conditional: another worker may have claimed it since the SELECT.
            result = db.session.execute(
                update(GradebookOutbox)
                .where(GradebookOutbox.id == row_id, _claimable(now))
                .values(**claim_values)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(result) == 1:
                ids.append(row_id)
    db.session.commit()
    return sorted(ids)


def _renew_lease(row_id: int, worker: str) -> bool:
    until = utcnow() + timedelta(seconds=float(setting("GRADEBOOK_LEASE_SECONDS")))
    result = db.session.execute(
        update(GradebookOutbox)
        .where(GradebookOutbox.id == row_id, GradebookOutbox.claimed_by == worker)
        .values(claimed_until=until)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return _rowcount(result) == 1


def _release(row_id: int, worker: str, **values: Any) -> int:
    result = db.session.execute(
        update(GradebookOutbox)
        .where(GradebookOutbox.id == row_id, GradebookOutbox.claimed_by == worker)
        .values(claimed_by=None, claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


def _finish(row_id: int, worker: str, version: int, **values: Any) -> bool:
    """Write the outcome if the row still has ``version``; else just let go of it (a newer
    state is pending and will be sent). Commits. True if the outcome was written."""
    result = db.session.execute(
        update(GradebookOutbox)
        .where(
            GradebookOutbox.id == row_id,
            GradebookOutbox.claimed_by == worker,
            GradebookOutbox.version == version,
        )
        .values(claimed_by=None, claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    written = _rowcount(result) == 1
    if not written:
        _release(row_id, worker)
    db.session.commit()
    return written


def _clean_message(message: str, user_sub: str) -> str:
    # Some platforms echo the userId; the outbox keeps no personal data in its error text.
    if user_sub:
        message = message.replace(user_sub, "<userId>")
    return message[:500]


@dataclass
class _Target:
    """Where a placed module's scores go, kept for one batch so that each row costs one SELECT,
    one POST and one UPDATE instead of reloading course, registration and line item."""

    client: AgsClient
    lineitem_url: str


def _target(course_module_pk: int) -> _Target:
    course_module = db.session.get(CourseModule, course_module_pk)
    if course_module is None:
        raise ServiceError("Das Modul ist nicht mehr im Kurs.", retryable=False)
    client = client_for(course_module)
    lineitem_url = ensure_line_item(course_module, client)
    registration = db.session.get(Registration, client.registration.id)
    assert registration is not None
    # A plain copy of what service calls read, unaffected by the commits that follow.
    snapshot = Registration(
        id=registration.id,
        client_id=registration.client_id,
        auth_token_url=registration.auth_token_url,
        audience=registration.audience,
    )
    return _Target(AgsClient(snapshot, client.scopes, client.lineitems_url), lineitem_url)


def deliver(
    row_id: int,
    worker: str,
    *,
    renew: bool = True,
    targets: dict[int, _Target] | None = None,
) -> tuple[Outcome, ServiceError | None]:
    """Send one row this worker has claimed. Commits.

    ``renew``: extend the lease first (a batch skips it while its claim is fresh).
    ``targets``: per-batch cache of where each module's scores go."""
    db.session.rollback()
    row = db.session.get(GradebookOutbox, row_id, populate_existing=True)
    if row is None or row.claimed_by != worker:
        db.session.rollback()
        return Outcome.NOT_CLAIMED, None
    version, payload, attempts = row.version, dict(row.payload), row.attempts
    course_module_pk = row.course_module_pk
    if renew and not _renew_lease(row_id, worker):
        return Outcome.NOT_CLAIMED, None
    user_sub = str(payload.get("userId", ""))
    try:
        target = targets.get(course_module_pk) if targets is not None else None
        if target is None:
            target = _target(course_module_pk)
            if targets is not None:
                targets[course_module_pk] = target
        created = target.client.post_score(target.lineitem_url, payload)
    except ServiceError as error:
        db.session.rollback()
        return _failed(row_id, worker, version, attempts, error, user_sub), error
    except Exception as unexpected:  # a bug must not lose the score: retry, and show it
        log.exception("gradebook delivery crashed: outbox=%s", row_id)
        db.session.rollback()
        crash = ServiceError(f"Interner Fehler: {type(unexpected).__name__}", retryable=True)
        return _failed(row_id, worker, version, attempts, crash, user_sub), None
    now = utcnow()
    written = _finish(
        row_id,
        worker,
        version,
        state=OutboxState.DELIVERED.value,
        delivered_at=now,
        delivered_version=version,
        last_error=None,
        last_status=None,
        updated_at=now,
    )
    if not written:
        log.info("gradebook superseded while sending: outbox=%s version=%s", row_id, version)
        return Outcome.SUPERSEDED, None
    log.info(
        "gradebook delivered: outbox=%s version=%s %s",
        row_id,
        version,
        "created" if created else "already there (409)",
    )
    return (Outcome.DELIVERED if created else Outcome.ALREADY_THERE), None


def _failed(
    row_id: int, worker: str, version: int, attempts: int, error: ServiceError, user_sub: str
) -> Outcome:
    now = utcnow()
    message = _clean_message(error.message, user_sub)
    if error.retryable and attempts < int(setting("GRADEBOOK_MAX_ATTEMPTS")):
        delay = backoff_seconds(attempts, retry_after=error.retry_after)
        _finish(
            row_id,
            worker,
            version,
            next_attempt_at=now + timedelta(seconds=delay),
            last_error=message,
            last_status=error.status,
            updated_at=now,
        )
        log.info(
            "gradebook retry: outbox=%s attempt=%s status=%s in=%.2fs",
            row_id,
            attempts,
            error.status,
            delay,
        )
        return Outcome.RETRY
    _finish(
        row_id,
        worker,
        version,
        state=OutboxState.FAILED.value,
        last_error=message,
        last_status=error.status,
        updated_at=now,
    )
    log.warning("gradebook failed: outbox=%s attempts=%s status=%s", row_id, attempts, error.status)
    return Outcome.FAILED


def _registration_of(row_ids: list[int]) -> dict[int, int]:
    query = (
        select(GradebookOutbox.id, LtiContext.registration_id)
        .join(CourseModule, CourseModule.id == GradebookOutbox.course_module_pk)
        .join(LtiContext, LtiContext.id == CourseModule.context_pk)
        .where(GradebookOutbox.id.in_(row_ids))
    )
    return {row_id: registration_id for row_id, registration_id in db.session.execute(query)}


def deliver_batch(worker: str, limit: int | None = None, stats: WorkerStats | None = None) -> int:
    """Claim and send up to ``limit`` due rows; returns how many were claimed. Commits."""
    stats = stats or WorkerStats()
    row_ids = claim_batch(worker, int(limit or setting("GRADEBOOK_BATCH_SIZE")))
    if not row_ids:
        return 0
    claimed_at = time.monotonic()
    lease = float(setting("GRADEBOOK_LEASE_SECONDS"))
    stats.batches += 1
    registrations = _registration_of(row_ids)
    db.session.commit()
    paused: dict[int, datetime] = {}
    targets: dict[int, _Target] = {}
    for row_id in row_ids:
        registration_id = registrations.get(row_id)
        pause = paused.get(registration_id) if registration_id is not None else None
        if pause is not None:
            # Its platform just failed to answer: do not hammer it, and do not count an attempt.
            _release(
                row_id,
                worker,
                attempts=GradebookOutbox.attempts - 1,
                next_attempt_at=pause,
            )
            db.session.commit()
            stats.outcomes[Outcome.DEFERRED] += 1
            continue
        # While two thirds of the batch's lease are left, the claim needs no renewal.
        renew = time.monotonic() - claimed_at > lease / 3
        outcome, error = deliver(row_id, worker, renew=renew, targets=targets)
        stats.outcomes[outcome] += 1
        if (
            outcome == Outcome.RETRY
            and error is not None
            and registration_id is not None
            and (error.status is None or error.status >= 500 or error.status == 429)
        ):
            delay = backoff_seconds(1, retry_after=error.retry_after)
            paused[registration_id] = utcnow() + timedelta(seconds=delay)
    return len(row_ids)


def sync_grade(*, outbox_id: int, worker: str | None = None) -> Outcome:
    """Claim one outbox row if it is due and send it (idempotent: a delivered row is left
    alone, a re-send of the same state is "already there"). Commits."""
    worker = worker or new_worker_id()
    if not claim_batch(worker, 1, only_id=outbox_id):
        return Outcome.NOT_CLAIMED
    return deliver(outbox_id, worker)[0]


def next_due_in() -> float | None:
    """Seconds until the next pending row is due (0 if one is due), None if none is pending."""
    now = utcnow()
    rows = db.session.execute(
        select(GradebookOutbox.next_attempt_at, GradebookOutbox.claimed_until).where(
            GradebookOutbox.state == OutboxState.PENDING.value
        )
    ).all()
    if not rows:
        return None
    due = min(max(n, c) if c is not None and c > now else n for n, c in rows)
    return max(0.0, (due - now).total_seconds())


def run_worker(
    *,
    worker: str | None = None,
    once: bool = False,
    drain: bool = False,
    batch: int | None = None,
    max_seconds: float | None = None,
    poll_seconds: float | None = None,
    stop: threading.Event | None = None,
) -> WorkerStats:
    """Deliver the outbox until stopped.

    ``once``: exit when nothing is due now. ``drain``: exit when nothing is pending any more
    (waiting for retries and leases). ``max_seconds``: exit after that long. ``stop``: an event
    that ends the loop after the current row."""
    worker = worker or new_worker_id()
    stats = WorkerStats()
    poll = float(poll_seconds if poll_seconds is not None else setting("GRADEBOOK_POLL_SECONDS"))
    deadline = time.monotonic() + max_seconds if max_seconds else None
    stop = stop or threading.Event()
    log.info("gradebook worker started: %s", worker)
    while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
        claimed = deliver_batch(worker, batch, stats)
        if claimed:
            continue
        if once:
            break
        wait = poll
        if drain:
            due_in = next_due_in()
            db.session.rollback()
            if due_in is None:
                break
            wait = min(poll, max(0.01, due_in))
        if deadline is not None:
            wait = min(wait, max(0.0, deadline - time.monotonic()))
        stop.wait(wait)
    db.session.rollback()
    log.info("gradebook worker stopped: %s %s", worker, dict(stats.outcomes))
    return stats


def status() -> dict[str, Any]:
    """Counts per state and the age of the oldest pending state, for ``flask gradebook status``."""
    counts = {state.value: 0 for state in OutboxState}
    for state, number in db.session.execute(
        select(GradebookOutbox.state, func.count()).group_by(GradebookOutbox.state)
    ):
        counts[state] = int(number)
    oldest = db.session.scalar(
        select(func.min(GradebookOutbox.state_at)).where(
            GradebookOutbox.state == OutboxState.PENDING.value
        )
    )
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    age = (utcnow() - oldest).total_seconds() if oldest is not None else None
    return {"counts": counts, "oldest_pending_seconds": age}


# --- wiring --------------------------------------------------------------------------------------


def _start_background_worker(app: Flask) -> None:
    """``make run``: a daemon thread delivers. Started by the first request, so the Flask
    reloader's watcher process (which serves none) never starts one, and the CLI never does."""
    lock = threading.Lock()

    def ensure_started() -> None:
        if app.extensions.get("gradebook_worker") is not None:
            return
        with lock:
            if app.extensions.get("gradebook_worker") is not None:
                return
            stop = threading.Event()

            def loop() -> None:
                while not stop.is_set():
                    try:
                        with app.app_context():
                            run_worker(stop=stop)
                    except Exception:  # keep the thread alive; the row stays pending
                        log.exception("gradebook background worker crashed; restarting")
                        stop.wait(5)

            thread = threading.Thread(target=loop, name="gradebook-worker", daemon=True)
            app.extensions["gradebook_worker"] = (thread, stop)
            thread.start()

    app.before_request(ensure_started)


def init_app(app: Flask) -> None:
    """Register the outbox listener, the Lotse's page, the CLI and (if asked) the thread."""
    from . import gradebook_cli, gradebook_views

    try:
        events = importlib.import_module("courses.events")
    except ImportError:  # pragma: no cover - courses/events.py is part of the Navigator work
        events = None
    if events is not None:
        events.register(on_progress_changed)
    gradebook_views.init_app(app)
    gradebook_cli.init_app(app)
    if app.config.get("GRADEBOOK_BACKGROUND_WORKER", False):
        _start_background_worker(app)
