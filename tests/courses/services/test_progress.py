"""Progress rules: unit completeness, module percent and status, overdue, the AGS mapping of
``score_state`` and the score queued for the gradebook inside the transaction of the change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from courses.models import (
    CatalogUnit,
    CourseModule,
    GradebookOutbox,
    GradingDecision,
    Submission,
    SubmissionState,
    UnitProgress,
    UnitState,
)
from courses.services.learning import save_submission, take_quiz
from courses.services.progress import (
    ModuleStatus,
    current_version,
    module_progress,
    score_state,
    set_unit_state,
)
from lti_tool.extensions import db
from lti_tool.models import LtiUser
from lti_tool.vocab import ActivityProgress, GradingProgress
from tests.factories import (
    RIGHT,
    WRONG,
    make_context,
    make_module,
    make_navigator,
    place,
)


@pytest.fixture
def setting(app) -> tuple[LtiUser, CourseModule]:  # type: ignore[no-untyped-def]
    user = make_navigator()
    return user, place(make_context(), make_module("b9-test"))


def _record_decision(submission: Submission, total: float) -> None:
    """A Lotse's grading decision with ``total`` of 10 points, as the grading pages store it."""
    db.session.add(
        GradingDecision(
            submission_pk=submission.id,
            unit_version_pk=submission.unit_version_pk,
            decision="graded",
            points={"vollstaendig": total},
            total=total,
            max_total=10.0,
        )
    )
    db.session.flush()


def _unit(placed: CourseModule, slug: str) -> CatalogUnit:
    return next(u for u in placed.module.active_units if u.slug == slug)


def _set(user: LtiUser, placed: CourseModule, slug: str, state: UnitState) -> bool:
    version = current_version(_unit(placed, slug))
    assert version is not None
    return set_unit_state(user_pk=user.id, course_module=placed, version=version, state=state)


def _submit(user: LtiUser, placed: CourseModule) -> Submission:
    version = current_version(_unit(placed, "aufgabe"))
    assert version is not None
    outcome = save_submission(
        user_pk=user.id, course_module=placed, version=version, text="Abgabe", submit=True, files=[]
    )
    assert outcome.submitted
    return outcome.submission


def _grade(user: LtiUser, placed: CourseModule, submission: Submission, state: SubmissionState):  # type: ignore[no-untyped-def]
    submission.state = state.value
    unit_state = UnitState.GRADED if state == SubmissionState.GRADED else UnitState.RETURNED
    _set(user, placed, "aufgabe", unit_state)


def test_percent_and_status_follow_the_documented_rules(setting):
    user, placed = setting
    progress = module_progress(user.id, placed)
    assert (progress.percent, progress.status, progress.next_unit.slug) == (
        0,
        ModuleStatus.NOT_STARTED,
        "lesen",
    )
    _set(user, placed, "lesen", UnitState.IN_PROGRESS)
    assert module_progress(user.id, placed).status == ModuleStatus.IN_PROGRESS
    _set(user, placed, "lesen", UnitState.DONE)
    progress = module_progress(user.id, placed)
    assert (progress.percent, progress.next_unit.slug) == (33, "wissenstest")
    _set(user, placed, "wissenstest", UnitState.DONE)
    _set(user, placed, "aufgabe", UnitState.SUBMITTED)
    progress = module_progress(user.id, placed)
    assert (progress.percent, progress.status, progress.next_unit) == (
        100,
        ModuleStatus.PENDING_REVIEW,
        None,
    )
    assert progress.status_label == "eingereicht – Bewertung ausstehend"
    _set(user, placed, "aufgabe", UnitState.RETURNED)
    progress = module_progress(user.id, placed)
    assert (progress.percent, progress.status, progress.next_unit.slug) == (
        66,
        ModuleStatus.RETURNED,
        "aufgabe",
    )
    _set(user, placed, "aufgabe", UnitState.GRADED)
    progress = module_progress(user.id, placed)
    assert (progress.percent, progress.status) == (100, ModuleStatus.COMPLETED)


def test_overdue_only_while_not_complete(setting):
    user, placed = setting
    placed.due_at = datetime.now(UTC) - timedelta(days=1)
    assert module_progress(user.id, placed).is_overdue()
    for slug, state in (("lesen", UnitState.DONE), ("wissenstest", UnitState.DONE)):
        _set(user, placed, slug, state)
    assert module_progress(user.id, placed).is_overdue()
    _set(user, placed, "aufgabe", UnitState.SUBMITTED)
    assert not module_progress(user.id, placed).is_overdue()
    placed.due_at = None
    assert not module_progress(user.id, placed).is_overdue()


def test_score_state_maps_every_status_to_ags_values(setting):
    user, placed = setting

    def state() -> tuple[str, str, float | None, float | None]:
        s = score_state(user, placed)
        return s.activity_progress, s.grading_progress, s.score_given, s.score_maximum

    assert state() == (ActivityProgress.INITIALIZED, GradingProgress.NOT_READY, None, None)
    _set(user, placed, "lesen", UnitState.DONE)
    assert state() == (ActivityProgress.STARTED, GradingProgress.NOT_READY, None, None)
    _set(user, placed, "wissenstest", UnitState.DONE)
    submission = _submit(user, placed)
    assert state() == (ActivityProgress.SUBMITTED, GradingProgress.PENDING_MANUAL, None, None)
    _grade(user, placed, submission, SubmissionState.RETURNED)
    assert state() == (ActivityProgress.IN_PROGRESS, GradingProgress.PENDING, None, None)
    _grade(user, placed, submission, SubmissionState.GRADED)
    # Graded, but no decision with points recorded: the maximum from the rubric, no score.
    assert state() == (ActivityProgress.COMPLETED, GradingProgress.FULLY_GRADED, None, 10.0)
    _record_decision(submission, 7.5)
    assert state() == (ActivityProgress.COMPLETED, GradingProgress.FULLY_GRADED, 7.5, 10.0)


def test_quiz_only_module_completes_with_the_quiz_score(app):
    user = make_navigator()
    placed = place(
        make_context(), make_module("q9-test", units=(("lesen", "reading"), ("test", "quiz")))
    )
    _set(user, placed, "lesen", UnitState.DONE)
    version = current_version(_unit(placed, "test"))
    assert version is not None
    take_quiz(user.id, placed, version, WRONG)
    state = score_state(user, placed)
    assert (state.activity_progress, state.grading_progress) == (
        ActivityProgress.STARTED,
        GradingProgress.NOT_READY,
    )
    take_quiz(user.id, placed, version, {"q1": ["a"], "q2": ["true"], "q3": ["c"]})
    state = score_state(user, placed)
    assert (state.activity_progress, state.grading_progress) == (
        ActivityProgress.COMPLETED,
        GradingProgress.FULLY_GRADED,
    )
    assert (state.score_given, state.score_maximum) == (66.67, 100.0)
    take_quiz(user.id, placed, version, RIGHT)  # best attempt counts
    assert score_state(user, placed).score_given == 100.0


def test_reading_only_module_completes_with_full_score(app):
    user = make_navigator()
    placed = place(make_context(), make_module("r9-test", units=(("lesen", "reading"),)))
    _set(user, placed, "lesen", UnitState.DONE)
    state = score_state(user, placed)
    assert (state.activity_progress, state.score_given, state.score_maximum) == (
        ActivityProgress.COMPLETED,
        100.0,
        100.0,
    )


def test_score_is_queued_on_change_only_and_inside_the_transaction(setting):
    user, placed = setting

    def outbox_versions() -> list[int]:
        return list(db.session.scalars(select(GradebookOutbox.version)))

    assert _set(user, placed, "lesen", UnitState.IN_PROGRESS)
    # Flushed but not committed: the outbox row joins the change.
    assert outbox_versions() == [1]
    assert not _set(user, placed, "lesen", UnitState.IN_PROGRESS)
    assert outbox_versions() == [1]
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(UnitProgress)) == 0
    assert outbox_versions() == []
    assert _set(user, placed, "lesen", UnitState.DONE)
    db.session.commit()
    [row] = db.session.scalars(select(GradebookOutbox)).all()
    assert (row.user_pk, row.course_module_pk, row.payload["activityProgress"]) == (
        user.id,
        placed.id,
        "Started",
    )
