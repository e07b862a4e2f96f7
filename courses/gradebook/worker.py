"""The workers that deliver the outbox to the LMS: claim due rows, send each score once, retry
with backoff, and the background thread of ``make run`` (see :mod:`courses.gradebook`)."""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from flask import Flask, current_app
from sqlalchemy import func, select, update

from courses.models import CourseModule, GradebookOutbox, OutboxState, ProjectCourseSetting
from lti_tool.extensions import db
from lti_tool.models import LtiContext, utcnow
from lti_tool.services.platform import CoursePlatform, ServiceError

from .line_items import ensure_line_item, ensure_project_line_item, platform_for
from .outbox import rowcount

log = logging.getLogger(__name__)

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
            if rowcount(result) == 1:
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
    return rowcount(result) == 1


def _release(row_id: int, worker: str, **values: Any) -> int:
    result = db.session.execute(
        update(GradebookOutbox)
        .where(GradebookOutbox.id == row_id, GradebookOutbox.claimed_by == worker)
        .values(claimed_by=None, claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


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
    written = rowcount(result) == 1
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

    platform: CoursePlatform
    lineitem_url: str


def _target(column: tuple[str, int]) -> _Target:
    """Where the scores of a column go: ``("module", course_module_pk)`` or
    ``("project", project_column_pk)``."""
    kind, pk = column
    if kind == "project":
        setting = db.session.get(ProjectCourseSetting, pk)
        if setting is None:
            raise ServiceError("Die Praxisprojekt-Spalte gibt es nicht mehr.", retryable=False)
        platform = CoursePlatform(setting.context)
        return _Target(platform, ensure_project_line_item(setting, platform))
    course_module = db.session.get(CourseModule, pk)
    if course_module is None:
        raise ServiceError("Das Modul ist nicht mehr im Kurs.", retryable=False)
    platform = platform_for(course_module)
    return _Target(platform, ensure_line_item(course_module, platform))


def _column_of(row: GradebookOutbox) -> tuple[str, int]:
    if row.project_column_pk is not None:
        return ("project", row.project_column_pk)
    assert row.course_module_pk is not None  # the table's check: exactly one column is set
    return ("module", row.course_module_pk)


def deliver(
    row_id: int,
    worker: str,
    *,
    renew: bool = True,
    targets: dict[tuple[str, int], _Target] | None = None,
) -> tuple[Outcome, ServiceError | None]:
    """Send one row this worker has claimed. Commits.

    ``renew``: extend the lease first (a batch skips it while its claim is fresh).
    ``targets``: per-batch cache of where each column's scores go."""
    db.session.rollback()
    row = db.session.get(GradebookOutbox, row_id, populate_existing=True)
    if row is None or row.claimed_by != worker:
        db.session.rollback()
        return Outcome.NOT_CLAIMED, None
    version, payload, attempts = row.version, dict(row.payload), row.attempts
    column = _column_of(row)
    if renew and not _renew_lease(row_id, worker):
        return Outcome.NOT_CLAIMED, None
    user_sub = str(payload.get("userId", ""))
    try:
        target = targets.get(column) if targets is not None else None
        if target is None:
            target = _target(column)
            if targets is not None:
                targets[column] = target
        created = target.platform.send_score(target.lineitem_url, payload)
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
        select(GradebookOutbox.id, LtiContext.registration_pk)
        .outerjoin(CourseModule, CourseModule.id == GradebookOutbox.course_module_pk)
        .outerjoin(
            ProjectCourseSetting, ProjectCourseSetting.id == GradebookOutbox.project_column_pk
        )
        .join(
            LtiContext,
            LtiContext.id
            == func.coalesce(CourseModule.context_pk, ProjectCourseSetting.context_pk),
        )
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
    targets: dict[tuple[str, int], _Target] = {}
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
    idle: Callable[[], object] | None = None,
) -> WorkerStats:
    """Deliver the outbox until stopped.

    ``once``: exit when nothing is due now. ``drain``: exit when nothing is pending any more
    (waiting for retries and leases). ``max_seconds``: exit after that long. ``stop``: an event
    that ends the loop after the current row. ``idle``: other background work of the caller
    (the domain's roster refreshes), run whenever no score is due; a failure is logged."""
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
        if idle is not None:
            try:
                idle()
            except Exception:  # the scores must keep flowing whatever the other work does
                db.session.rollback()
                log.exception("worker idle work failed: %s", worker)
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


def start_background_worker(app: Flask, idle: Callable[[], object] | None = None) -> None:
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
                            run_worker(stop=stop, idle=idle)
                    except Exception:  # keep the thread alive; the row stays pending
                        log.exception("gradebook background worker crashed; restarting")
                        stop.wait(5)

            thread = threading.Thread(target=loop, name="gradebook-worker", daemon=True)
            app.extensions["gradebook_worker"] = (thread, stop)
            thread.start()

    app.before_request(ensure_started)
