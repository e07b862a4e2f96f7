"""Review findings on the gradebook sync: every change of a Navigator's AGS score reaches the outbox
in the transaction of the change, with the score of what is committed in the end."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from courses.gradebook import GradebookOutbox, build_score
from courses.learning import take_quiz
from courses.models import CatalogUnit, CourseModule
from courses.progress import current_version, score_state
from lti_tool.extensions import db
from lti_tool.models import LtiUser
from tests.courses.factories import RIGHT, make_context, make_module, make_navigator, place

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
