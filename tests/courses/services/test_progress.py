"""Progress rules: unit completeness, module percent and status, overdue, the AGS mapping of
``score_state`` and the progress event inside the transaction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from courses import events, submissions
from courses.learning import save_submission, take_quiz
from courses.models import CatalogUnit, CourseModule, UnitProgress, UnitState
from courses.progress import (
    ModuleStatus,
    current_version,
    module_progress,
    score_state,
    set_unit_state,
)
from courses.submissions import Review, Submission, SubmissionState
from lti_tool.extensions import db
from lti_tool.models import LtiUser
from lti_tool.vocab import ActivityProgress, GradingProgress
from tests.courses.factories import (
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


@pytest.fixture
def reviews() -> Iterator[dict[int, Review]]:
    """Reviews by submission id, as the grading module would report them."""
    found: dict[int, Review] = {}
    saved = list(submissions._review_lookup)
    submissions.register_review_lookup(lambda submission: found.get(submission.id))
    yield found
    submissions._review_lookup[:] = saved


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


def test_score_state_maps_every_status_to_ags_values(setting, reviews):
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
    # Graded, but the grading module reports no points: the maximum from the rubric, no score.
    assert state() == (ActivityProgress.COMPLETED, GradingProgress.FULLY_GRADED, None, 10.0)
    reviews[submission.id] = Review(points=7.5, max_points=10.0)
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


def test_progress_event_fires_on_change_only_and_inside_the_transaction(setting):
    user, placed = setting
    calls: list[tuple[int, int]] = []

    def listener(user_pk: int, course_module_pk: int) -> None:
        # What a listener sees is flushed but not committed: the outbox row joins the change.
        assert db.session.scalar(select(func.count()).select_from(UnitProgress)) == 1
        calls.append((user_pk, course_module_pk))

    events.register(listener)
    events.register(listener)  # registering twice is a no-op
    try:
        assert _set(user, placed, "lesen", UnitState.IN_PROGRESS)
        assert not _set(user, placed, "lesen", UnitState.IN_PROGRESS)
        assert calls == [(user.id, placed.id)]
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(UnitProgress)) == 0
    finally:
        events.unregister(listener)
    assert _set(user, placed, "lesen", UnitState.DONE)
    assert calls == [(user.id, placed.id)]
