"""The outbox of the gradebook sync: queue a Navigator's score state in the transaction of the
change, queue rows again, and count them (see :mod:`courses.gradebook` for how delivery works)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from courses.models import (
    CatalogModule,
    CourseModule,
    GradebookOutbox,
    OutboxState,
    ProjectCourseSetting,
)
from lti_tool.extensions import db, dialect_insert
from lti_tool.models import LtiUser, utcnow

from .line_items import PROJECT_LINE_ITEM_LABEL
from .score import ScoreSource, ScoreState, build_score, same_score


def rowcount(result: Any) -> int:
    """Rows an UPDATE matched (0 where the driver reports none)."""
    return int(getattr(result, "rowcount", 0) or 0)


def _whole_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _new_state(score: dict[str, Any], stamp: datetime, now: datetime) -> dict[str, Any]:
    """The columns of a row that has a new score to send, due now."""
    return {
        "payload": {**score, "timestamp": stamp.isoformat()},
        "state_at": stamp,
        "state": OutboxState.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "updated_at": now,
    }


def enqueue_score(
    user_pk: int,
    course_module_pk: int,
    state: ScoreState | ScoreSource,
    *,
    force: bool = False,
) -> GradebookOutbox | None:
    """Record the score state of a Navigator in a placed module for delivery. Flushes, never
    commits: call it inside the transaction of the change.

    ``state`` is the score, or a function that computes it: that one is called after the row is
    locked (below), so pass a function whenever the score is computed from the database. An
    unchanged score is not queued again unless ``force`` (resync) or the row had failed; a
    changed one replaces what was pending. None if the user, the module or the score is missing."""
    if db.session.get(CourseModule, course_module_pk) is None:
        return None
    return _enqueue(user_pk, GradebookOutbox.course_module_pk, course_module_pk, state, force)


def enqueue_project_score(
    user_pk: int,
    project_column_pk: int,
    state: ScoreState | ScoreSource,
    *,
    force: bool = False,
) -> GradebookOutbox | None:
    """Like :func:`enqueue_score`, for the Praxisprojekt column of a course
    (:class:`~courses.models.ProjectCourseSetting`). Flushes."""
    if db.session.get(ProjectCourseSetting, project_column_pk) is None:
        return None
    return _enqueue(user_pk, GradebookOutbox.project_column_pk, project_column_pk, state, force)


def _enqueue(
    user_pk: int,
    column: Any,
    column_pk: int,
    state: ScoreState | ScoreSource,
    force: bool,
) -> GradebookOutbox | None:
    """The outbox row of (``column`` = ``column_pk``, user): written as :func:`enqueue_score`
    describes."""
    user = db.session.get(LtiUser, user_pk)
    if user is None:
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
                column == column_pk,
                GradebookOutbox.user_pk == user_pk,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        ).first()
        current = state if isinstance(state, ScoreState) else state()
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
                    user_pk=user_pk,
                    **{column.key: column_pk},
                    version=1,
                    created_at=now,
                    **_new_state(score, stamp, now),
                )
                .on_conflict_do_nothing(index_elements=[column.key, "user_pk"])
                # RETURNING says whether it inserted: psycopg reports rowcount -1 for this one.
                .returning(GradebookOutbox.id)
            )
            inserted = result.scalar_one_or_none()
            if inserted is None:
                continue  # another transaction created it at the same moment: update that one
            return db.session.get(GradebookOutbox, inserted, populate_existing=True)
        if not force and row.state != OutboxState.FAILED and same_score(row.payload, score):
            return row
        stamp = max(_whole_second(now), row.state_at + timedelta(seconds=1))
        # Optimistic: only if nobody bumped the version since it was read, else read again.
        result = db.session.execute(
            update(GradebookOutbox)
            .where(GradebookOutbox.id == row.id, GradebookOutbox.version == row.version)
            .values(
                version=row.version + 1,
                last_error=None,
                last_status=None,
                **_new_state(score, stamp, now),
            )
            .execution_options(synchronize_session=False)
        )
        if rowcount(result) == 1:
            db.session.expire(row)
            return row
    raise RuntimeError(f"outbox row for {column.key}={column_pk} user={user_pk} kept changing")


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
    return rowcount(result)


def row_in_course(outbox_id: int, context_pk: int) -> GradebookOutbox | None:
    """The outbox row ``outbox_id`` if it belongs to a column of ``context_pk`` (a module placed
    there, or its Praxisprojekt column)."""
    row = db.session.get(GradebookOutbox, outbox_id)
    if row is None:
        return None
    owner = row.course_module or row.project_column
    if owner is None or owner.context_pk != context_pk:
        return None
    return row


def rows_of_course(context_pk: int) -> tuple[list[Any], dict[str, int]]:
    """(outbox row, column title, user) of every Navigator × column of a course: the modules in
    catalogue order, then the Praxisprojekt column; and the number of rows per state."""
    rows: list[Any] = list(
        db.session.execute(
            select(
                GradebookOutbox,
                func.coalesce(CatalogModule.title, PROJECT_LINE_ITEM_LABEL),
                LtiUser,
            )
            .outerjoin(CourseModule, CourseModule.id == GradebookOutbox.course_module_pk)
            .outerjoin(CatalogModule, CatalogModule.id == CourseModule.module_pk)
            .outerjoin(
                ProjectCourseSetting,
                ProjectCourseSetting.id == GradebookOutbox.project_column_pk,
            )
            .join(LtiUser, LtiUser.id == GradebookOutbox.user_pk)
            .where(
                (CourseModule.context_pk == context_pk)
                | (ProjectCourseSetting.context_pk == context_pk)
            )
            .order_by(
                GradebookOutbox.project_column_pk.is_not(None),
                CatalogModule.position,
                CatalogModule.title,
                LtiUser.id,
            )
        )
    )
    counts = {state.value: 0 for state in OutboxState}
    for outbox, _title, _user in rows:
        counts[outbox.state] = counts.get(outbox.state, 0) + 1
    return rows, counts


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
