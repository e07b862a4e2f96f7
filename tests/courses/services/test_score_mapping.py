"""The AGS mapping of ``courses.services.progress.score_state``: submitted →
Submitted/PendingManual, graded → Completed/FullyGraded, returned → InProgress/Pending, whatever
the state of the module's other units, and the module status the pages show says the same
(README, "Notenbuch-Synchronisation" and "Wann ein Modul abgeschlossen ist")."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from courses.models import CatalogUnit, CourseModule, Decision, GradebookOutbox
from courses.services.grading import GradingInput, decide
from courses.services.learning import save_submission
from courses.services.progress import ModuleStatus, current_version, module_progress, score_state
from lti_tool.extensions import db
from lti_tool.models import LtiUser
from tests.factories import make_context, make_module, make_navigator, place


def _unit(placed: CourseModule, slug: str) -> CatalogUnit:
    return next(u for u in placed.module.active_units if u.slug == slug)


def _ags(user: LtiUser, placed: CourseModule) -> tuple[str, str, float | None, float | None]:
    state = score_state(user, placed)
    return (
        state.activity_progress,
        state.grading_progress,
        state.score_given,
        state.score_maximum,
    )


def _outbox_payload(user: LtiUser, placed: CourseModule) -> dict[str, object]:
    db.session.expire_all()
    return db.session.scalars(
        select(GradebookOutbox.payload).where(
            GradebookOutbox.user_pk == user.id, GradebookOutbox.course_module_pk == placed.id
        )
    ).one()


def test_the_assignment_decides_even_before_every_reading_is_confirmed(app: Flask) -> None:
    """A Navigator hands in the practical assignment before confirming the readings and passing
    the quiz (nothing enforces the order). The Lotse's grade must reach the LMS; before, the
    module counted as "in Bearbeitung" and the gradebook got Started/NotReady without a score,
    while the Lotse's gradebook page said "übertragen"."""
    navigator = make_navigator()
    lotse = make_navigator("lotse-1")
    placed = place(make_context(), make_module("b8-test"))  # reading, quiz, assignment
    version = current_version(_unit(placed, "aufgabe"))
    assert version is not None

    outcome = save_submission(
        user_pk=navigator.id,
        course_module=placed,
        version=version,
        text="Soll-Prozess",
        submit=True,
        files=[],
    )
    db.session.commit()
    assert module_progress(navigator.id, placed).status == ModuleStatus.PENDING_REVIEW
    assert _ags(navigator, placed) == ("Submitted", "PendingManual", None, None)
    assert _outbox_payload(navigator, placed)["gradingProgress"] == "PendingManual"

    decide(
        outcome.submission,
        lotse.id,
        GradingInput(Decision.RETURNED, revision_notes="Bitte den Bezug zur Kommune ergänzen."),
    )
    db.session.commit()
    assert module_progress(navigator.id, placed).status == ModuleStatus.RETURNED
    assert _ags(navigator, placed) == ("InProgress", "Pending", None, None)

    outcome = save_submission(
        user_pk=navigator.id,
        course_module=placed,
        version=version,
        text="Soll-Prozess, überarbeitet",
        submit=True,
        files=[],
    )
    decide(
        outcome.submission,
        lotse.id,
        GradingInput(Decision.GRADED, points={"vollstaendig": 5, "bezug": 2.5}),
    )
    db.session.commit()
    # Graded is abgeschlossen, on the pages as in the LMS, with the reading still unconfirmed.
    progress = module_progress(navigator.id, placed)
    assert (progress.status, progress.percent) == (ModuleStatus.COMPLETED, 100)
    assert _ags(navigator, placed) == ("Completed", "FullyGraded", 7.5, 10.0)
    payload = _outbox_payload(navigator, placed)
    assert (payload["gradingProgress"], payload["scoreGiven"], payload["scoreMaximum"]) == (
        "FullyGraded",
        7.5,
        10.0,
    )
