"""Faults of real platforms: timeouts, 500, 429 with Retry-After, an expired token, a user who is
not gradable. Every deliverable score arrives once the platform recovers; the 400 is reported;
nothing is sent twice at the same time."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from courses.gradebook.outbox import enqueue_score
from courses.gradebook.worker import Outcome, backoff_seconds, claim_batch, deliver, run_worker
from lti_tool.extensions import db
from lti_tool.models import AccessToken, utcnow
from tests.courses.gradebook.conftest import (
    COMPLETED,
    Course,
    assert_gradebook_matches,
    drain,
    gradebook_app,
    outbox_rows,
)

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("kind", ["timeout", "500", "429"])
def test_transient_faults_heal(gb_app: Flask, course: Course, kind: str) -> None:
    platform = course.platform
    course.enqueue_all()
    count = 2 if kind == "429" else 3  # Retry-After is in whole seconds
    platform.fail_next(count, kind)
    drain()
    assert platform.faults_served[kind] == count
    assert sum(platform.accepted().values()) == 6
    assert set(platform.accepted().values()) == {1}
    assert platform.overlaps == []
    assert_gradebook_matches(course)


def test_429_waits_for_retry_after(sqlite_gb_app: Flask, sqlite_course: Course) -> None:
    course = sqlite_course
    platform = course.platform
    platform.retry_after = 2
    enqueue_score(course.user_ids[0], course.course_module_ids[0], COMPLETED)
    db.session.commit()
    platform.fail_next(1, "429")
    worker = "w-429"
    [row_id] = claim_batch(worker, 10)
    before = utcnow()
    outcome, error = deliver(row_id, worker)
    assert outcome == Outcome.RETRY and error is not None and error.retry_after == 2
    row = outbox_rows()[0]
    assert row.state == "pending" and row.last_status == 429
    assert (row.next_attempt_at - before).total_seconds() >= 1.9  # not before Retry-After
    assert claim_batch(worker, 10) == []  # not due yet


def test_expired_token_is_refreshed_once(gb_app: Flask, course: Course) -> None:
    platform = course.platform
    course.enqueue_all()
    platform.fail_next(1, "401")
    drain()
    assert platform.token_requests == 2
    assert db.session.scalar(select(AccessToken.requested_count)) == 2
    assert sum(platform.accepted().values()) == 6
    assert all(row.state == "delivered" for row in outbox_rows())
    assert all(row.attempts == 1 for row in outbox_rows())  # the 401 cost no attempt


def test_non_gradable_user_fails_visibly_and_the_rest_arrives(
    gb_app: Flask, course: Course
) -> None:
    platform = course.platform
    bad = course.subs[course.user_ids[1]]
    platform.non_gradable.add(bad)
    course.enqueue_all()
    drain()
    rows = outbox_rows()
    failed = [r for r in rows if r.state == "failed"]
    assert {r.user_pk for r in failed} == {course.user_ids[1]}
    for row in failed:
        assert row.attempts == 1  # a 4xx is not retried
        assert row.last_status == 400
        assert "Incorrect score received" in (row.last_error or "")
        assert bad not in (row.last_error or "")
    assert sum(platform.accepted().values()) == 4
    assert all(r.state == "delivered" for r in rows if r.user_pk != course.user_ids[1])


def test_capped_attempts_end_in_failed(sqlite_gb_app: Flask, sqlite_course: Course) -> None:
    course = sqlite_course
    sqlite_gb_app.config["GRADEBOOK_MAX_ATTEMPTS"] = 3
    enqueue_score(course.user_ids[0], course.course_module_ids[0], COMPLETED)
    db.session.commit()
    course.platform.fail_next(50, "500")
    drain()
    [row] = outbox_rows()
    assert row.state == "failed" and row.attempts == 3 and row.last_status == 500
    assert "Internal error" in (row.last_error or "")


def test_backoff_grows_with_jitter_and_cap(sqlite_gb_app: Flask) -> None:
    sqlite_gb_app.config.update(GRADEBOOK_RETRY_BASE_SECONDS=15, GRADEBOOK_RETRY_MAX_SECONDS=1800)
    for attempt, ceiling in [(1, 15), (2, 30), (3, 60), (7, 960), (8, 1800), (12, 1800)]:
        delays = [backoff_seconds(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jitter
    assert backoff_seconds(1, retry_after=120) == 120


def test_two_workers_during_faults_never_send_one_score_twice_at_once(
    gb_app: Flask, course: Course, database_url: str, tmp_path: Path
) -> None:
    platform = course.platform
    platform.score_delay = 0.02
    course.enqueue_all()
    platform.fail_next(2, "500")
    platform.fail_next(1, "timeout")
    platform.fail_next(1, "401")

    errors: list[BaseException] = []

    def work(name: str) -> None:
        # A separate application instance: its own engine and connections, like another process.
        other = gradebook_app(database_url, tmp_path / name)
        try:
            with other.app_context():
                run_worker(drain=True, max_seconds=30, batch=2)
                db.session.remove()
                db.engine.dispose()
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert platform.overlaps == []
    assert set(platform.accepted().values()) == {1}
    assert len(platform.accepted()) == 6
    assert all(row.state == "delivered" for row in outbox_rows())
    assert len(platform.line_items) == 2
    assert_gradebook_matches(course)
