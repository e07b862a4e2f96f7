"""The gradebook sync under concurrency and odd platform answers: every change of a Navigator's AGS
score reaches the outbox in the transaction of the change, with the score of what is committed in
the end; a bogus Retry-After never crashes the worker."""

from __future__ import annotations

import threading
from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from courses.gradebook.outbox import enqueue_score
from courses.gradebook.score import build_score
from courses.gradebook.worker import Outcome, backoff_seconds, sync_grade
from courses.models import CatalogUnit, CourseModule, GradebookOutbox, UnitState, UnitVersion
from courses.services.learning import take_quiz
from courses.services.progress import current_version, score_state, set_unit_state
from lti_tool.extensions import db
from lti_tool.models import LtiUser, utcnow
from tests.courses.gradebook import conftest as gradebook_fixtures
from tests.courses.gradebook.conftest import COMPLETED, STARTED, Course, drain, outbox_rows
from tests.factories import RIGHT, make_context, make_module, make_navigator, place

# The gradebook tests' fixtures: the tool on a real port, the AGS test platform, a course.
gb_app = gradebook_fixtures.gb_app
tool = gradebook_fixtures.tool
platform = gradebook_fixtures.platform
course = gradebook_fixtures.course

#: Two of three questions right: passes (60 %) with 66.67 %.
TWO_RIGHT = {"q1": ["a"], "q2": ["true"], "q3": ["c"]}


def _unit(placed: CourseModule, slug: str) -> CatalogUnit:
    return next(u for u in placed.module.active_units if u.slug == slug)


def _outbox(user: LtiUser, placed: CourseModule) -> GradebookOutbox:
    db.session.expire_all()
    row = db.session.scalars(
        select(GradebookOutbox).where(
            GradebookOutbox.user_pk == user.id, GradebookOutbox.course_module_pk == placed.id
        )
    ).one()
    return row


def test_a_better_quiz_attempt_reaches_the_outbox(app: Flask) -> None:
    """A quiz-only module is graded with the quiz score; a better attempt keeps the unit "done"
    (no unit state change) but changes the score, which must be queued like any other change."""
    user = make_navigator()
    placed = place(make_context(), make_module("q8-test", units=(("test", "quiz"),)))
    version = current_version(_unit(placed, "test"))
    assert version is not None

    take_quiz(user.id, placed, version, TWO_RIGHT)
    db.session.commit()
    assert _outbox(user, placed).payload["scoreGiven"] == 66.67

    take_quiz(user.id, placed, version, RIGHT)  # "best" scoring: this attempt counts now
    db.session.commit()
    assert score_state(user, placed).score_given == 100.0
    row = _outbox(user, placed)
    assert row.payload["scoreGiven"] == 100.0
    assert row.state == "pending"
    assert {k: v for k, v in row.payload.items() if k != "timestamp"} == build_score(
        user.sub, score_state(user, placed)
    )


def test_concurrent_changes_leave_the_committed_score_in_the_outbox(app: Flask) -> None:
    """Two transactions change one Navigator's module at once (two tabs, or a Lotse grading while
    the Navigator reads). Each computes the score from what it sees; the outbox must end up with
    the score of what both committed, not with one computed without the other's change (on
    PostgreSQL, READ COMMITTED let the second compute from a snapshot without the first)."""
    user = make_navigator()
    placed = place(
        make_context(), make_module("r8-test", units=(("a", "reading"), ("b", "reading")))
    )
    version_a = current_version(_unit(placed, "a"))
    version_b = current_version(_unit(placed, "b"))
    assert version_a is not None and version_b is not None
    set_unit_state(
        user_pk=user.id, course_module=placed, version=version_a, state=UnitState.IN_PROGRESS
    )
    db.session.commit()
    assert _outbox(user, placed).payload["activityProgress"] == "Started"
    user_pk, placed_pk, version_b_pk = user.id, placed.id, version_b.id

    # This transaction confirms reading a and stays open ...
    placed = db.session.get(CourseModule, placed_pk)
    set_unit_state(user_pk=user_pk, course_module=placed, version=version_a, state=UnitState.DONE)
    errors: list[BaseException] = []

    def confirm_b() -> None:
        # ... while another request confirms reading b.
        try:
            with app.app_context():
                other = db.session.get(CourseModule, placed_pk)
                version = db.session.get(UnitVersion, version_b_pk)
                assert other is not None and version is not None
                set_unit_state(
                    user_pk=user_pk, course_module=other, version=version, state=UnitState.DONE
                )
                db.session.commit()
                db.session.remove()
        except BaseException as error:  # reported in the test's thread
            errors.append(error)

    thread = threading.Thread(target=confirm_b)
    thread.start()
    thread.join(timeout=1.5)  # it finishes, or waits for this transaction's locks
    db.session.commit()
    thread.join(timeout=30)
    assert not thread.is_alive() and not errors, errors

    placed = db.session.get(CourseModule, placed_pk)
    navigator = db.session.get(LtiUser, user_pk)
    assert navigator is not None and placed is not None
    truth = score_state(navigator, placed)
    assert (truth.activity_progress, truth.grading_progress) == ("Completed", "FullyGraded")
    row = _outbox(navigator, placed)
    assert {k: v for k, v in row.payload.items() if k != "timestamp"} == build_score(
        navigator.sub, truth
    )
    assert row.state == "pending"


def test_backoff_stays_finite_for_any_attempt_count_and_retry_after(app: Flask) -> None:
    """A platform's Retry-After (seconds or an HTTP date) or a high GRADEBOOK_MAX_ATTEMPTS must
    not turn into a delay that overflows the date (the worker crashed on every retry) or parks a
    grade for years."""
    app.config.update(GRADEBOOK_RETRY_BASE_SECONDS=15, GRADEBOOK_RETRY_MAX_SECONDS=1800)
    day = 24 * 3600
    assert 900 <= backoff_seconds(5000) <= 1800
    assert backoff_seconds(1, retry_after=7200) == 7200  # a real Retry-After is still honoured
    for absurd in (10.0**12, float("inf"), 2.5e11):
        delay = backoff_seconds(3, retry_after=absurd)
        assert delay == day
        utcnow() + timedelta(seconds=delay)  # no OverflowError


def test_a_bogus_retry_after_does_not_crash_the_worker(gb_app: Flask, course: Course) -> None:
    lms = course.platform
    user, cm = course.user_ids[0], course.course_module_ids[0]
    enqueue_score(user, cm, STARTED)
    db.session.commit()
    drain()  # line item made, first score there
    enqueue_score(user, cm, COMPLETED)
    db.session.commit()
    lms.retry_after = 10**12
    lms.fail_next(1, "429")
    [row] = outbox_rows()
    assert sync_grade(outbox_id=row.id) == Outcome.RETRY
    [row] = outbox_rows()
    assert row.state == "pending" and row.last_status == 429
    assert row.next_attempt_at <= utcnow() + timedelta(days=1, seconds=5)
