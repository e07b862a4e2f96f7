"""The outbox itself: written in the change's transaction, one row per (module, Navigator) with
the newest state, claimed by one worker at a time, leases that end, version checks, the CLI."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, update

from courses.gradebook.outbox import enqueue_score, status
from courses.gradebook.score import ScoreState
from courses.gradebook.worker import Outcome, claim_batch, deliver
from courses.models import CourseModule, GradebookOutbox, UnitProgress
from courses.services import progress
from lti_tool.extensions import db
from lti_tool.models import utcnow
from tests.courses.gradebook.conftest import (
    COMPLETED,
    STARTED,
    Course,
    drain,
    gradebook_app,
    outbox_rows,
    seed_course,
)
from tests.support.platform import Platform


def test_enqueue_writes_in_the_same_transaction(gb_app: Flask, course: Course) -> None:
    """The score source is called by the outbox itself, and its row joins the caller's
    transaction: rolled back with it, committed with it."""
    user, cm = course.user_ids[0], course.course_module_ids[0]
    calls: list[int] = []

    def source() -> ScoreState:
        calls.append(len(outbox_rows()))
        return COMPLETED

    enqueue_score(user, cm, source)
    assert calls == [0]
    db.session.rollback()  # the change is rolled back: so is its outbox row
    assert outbox_rows() == []
    enqueue_score(user, cm, source)
    db.session.commit()
    [row] = outbox_rows()
    assert row.payload["activityProgress"] == "Completed"


def test_one_row_per_module_and_user_newest_state_wins(gb_app: Flask, course: Course) -> None:
    user, cm = course.user_ids[0], course.course_module_ids[0]
    enqueue_score(user, cm, STARTED)
    db.session.commit()
    [first] = outbox_rows()
    first_id, first_at = first.id, first.state_at
    enqueue_score(user, cm, STARTED)  # unchanged: not queued again
    db.session.commit()
    assert outbox_rows()[0].version == 1
    enqueue_score(user, cm, ScoreState("Submitted", "PendingManual"))
    enqueue_score(user, cm, COMPLETED)
    db.session.commit()
    [row] = outbox_rows()
    assert row.id == first_id and row.version == 3
    assert row.payload["activityProgress"] == "Completed" and row.payload["scoreGiven"] == 80.0
    # Strictly newer whole seconds, even within one second (Moodle compares seconds).
    assert row.state_at >= first_at + timedelta(seconds=2)
    assert row.state_at.microsecond == 0
    assert row.payload["timestamp"] == row.state_at.isoformat()


def test_claims_are_exclusive_and_leases_end(gb_app: Flask, course: Course) -> None:
    course.enqueue_all()
    first = claim_batch("worker-a", 4)
    second = claim_batch("worker-b", 10)
    assert len(first) == 4 and len(second) == 2 and not set(first) & set(second)
    assert claim_batch("worker-c", 10) == []
    # worker-a dies: when its lease ends its rows come back, with the attempt counted.
    db.session.execute(
        update(GradebookOutbox)
        .where(GradebookOutbox.id.in_(first))
        .values(claimed_until=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    assert claim_batch("worker-c", 10) == first
    assert {r.attempts for r in outbox_rows() if r.id in first} == {2}
    # worker-a wakes up: it no longer holds them and sends nothing.
    assert deliver(first[0], "worker-a")[0] == Outcome.NOT_CLAIMED
    assert course.platform.score_posts == []


def test_a_state_changed_while_sending_is_sent_again(gb_app: Flask, course: Course) -> None:
    user, cm = course.user_ids[0], course.course_module_ids[0]
    enqueue_score(user, cm, STARTED)
    db.session.commit()
    [row_id] = claim_batch("w", 1)
    # The Navigator finishes while the worker is on its way: the row gets version 2.
    from lti_tool.services.platform import CoursePlatform

    original = CoursePlatform.send_score

    def post_then_change(self, url, score):  # type: ignore[no-untyped-def]
        result = original(self, url, score)
        enqueue_score(user, cm, COMPLETED)
        db.session.commit()
        return result

    CoursePlatform.send_score = post_then_change  # type: ignore[method-assign]
    try:
        assert deliver(row_id, "w")[0] == Outcome.SUPERSEDED
    finally:
        CoursePlatform.send_score = original  # type: ignore[method-assign]
    [row] = outbox_rows()
    assert row.state == "pending" and row.version == 2 and row.claimed_by is None
    drain()
    lineitem = db.session.get(CourseModule, cm).lineitem_url
    assert course.platform.grade(lineitem, course.subs[user])["activityProgress"] == "Completed"


def test_cli_status_retry_resync(
    gb_app: Flask, course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = gb_app.test_cli_runner()
    course.platform.non_gradable.add(course.subs[course.user_ids[0]])
    course.enqueue_all()
    result = runner.invoke(args=["gradebook", "status"])
    assert "ausstehend:      6" in result.output
    drain()
    result = runner.invoke(args=["gradebook", "status"])
    assert "übertragen:      4" in result.output and "fehlgeschlagen:  2" in result.output

    course.platform.non_gradable.clear()
    result = runner.invoke(args=["gradebook", "retry", "--failed"])
    assert "2 Zeile(n)" in result.output
    drain()
    assert status()["counts"] == {"pending": 0, "delivered": 6, "failed": 0}

    # resync: every Navigator with progress or a row, with a newer timestamp.
    unit_pk = db.session.get(CourseModule, course.course_module_ids[0]).module.units[0].id
    from courses.models import CatalogUnit, UnitVersion

    version = UnitVersion(unit_pk=unit_pk, version=1, content_hash="x")
    db.session.add(version)
    db.session.flush()
    db.session.add(
        UnitProgress(
            user_pk=course.user_ids[0],
            context_pk=course.context_id,
            unit_pk=unit_pk,
            unit_version_pk=version.id,
        )
    )
    db.session.commit()
    assert db.session.get(CatalogUnit, unit_pk) is not None
    monkeypatch.setattr(progress, "score_state", lambda user, course_module: COMPLETED)
    result = runner.invoke(args=["gradebook", "resync", "--course", str(course.context_id)])
    assert "6 Bewertung(en)" in result.output, result.output
    drain()
    assert all(r.version == 2 and r.state == "delivered" for r in outbox_rows())
    assert sum(course.platform.accepted().values()) == 12  # every resent state was newer
    result = runner.invoke(args=["gradebook", "resync", "--course", "999"])
    assert result.exit_code != 0 and "Kein Kurs" in result.output


def test_cli_worker_once(sqlite_gb_app: Flask, sqlite_course: Course) -> None:
    sqlite_course.enqueue_all()
    result = sqlite_gb_app.test_cli_runner().invoke(
        args=["gradebook", "worker", "--once", "--batch", "4"]
    )
    assert result.exit_code == 0, result.output
    assert "delivered=6" in result.output
    assert status()["oldest_pending_seconds"] is None


def test_unknown_rows_and_users_are_ignored(sqlite_gb_app: Flask, sqlite_course: Course) -> None:
    course = sqlite_course
    assert enqueue_score(99999, course.course_module_ids[0], COMPLETED) is None
    assert enqueue_score(course.user_ids[0], 99999, COMPLETED) is None
    with pytest.raises(ValueError):
        enqueue_score(
            course.user_ids[0], course.course_module_ids[0], ScoreState("Bogus", "NotReady")
        )


def test_course_without_ags_fails_visibly(sqlite_gb_app: Flask, sqlite_platform: Platform) -> None:
    course = seed_course(sqlite_platform, modules=1, users=1, scopes=())
    course.enqueue_all()
    drain()
    [row] = outbox_rows()
    assert row.state == "failed" and "keine Notenübertragung" in (row.last_error or "")
    assert db.session.scalar(select(GradebookOutbox.attempts)) == 1


def test_background_worker_starts_with_the_first_request_only_when_asked(
    sqlite_gb_app: Flask, sqlite_course: Course, sqlite_url: str, tmp_path: Path
) -> None:
    # Not asked (tests, production web workers): no thread.
    sqlite_gb_app.test_client().get("/")
    assert "gradebook_worker" not in sqlite_gb_app.extensions

    sqlite_course.enqueue_all()
    dev = gradebook_app(sqlite_url, tmp_path / "dev", GRADEBOOK_BACKGROUND_WORKER=True)
    assert "gradebook_worker" not in dev.extensions  # not at import: the reloader's watcher
    dev.test_client().get("/")
    dev.test_client().get("/")
    thread, stop = dev.extensions["gradebook_worker"]
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if all(r.state == "delivered" for r in outbox_rows()):
                break
            time.sleep(0.05)
        assert all(r.state == "delivered" for r in outbox_rows())
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert len(sqlite_course.platform.accepted()) == 6
