"""From a Navigator's state change to the LMS gradebook: ``set_unit_state`` queues the score in
the outbox in the same transaction, a worker delivers the score that ``score_state`` computes
(both in :mod:`courses.services.progress`)."""

from __future__ import annotations

import pytest
from flask import Flask

from courses.models import CourseModule, UnitState, UnitVersion
from courses.services import progress
from lti_tool.extensions import db
from tests.courses.gradebook.conftest import drain, outbox_rows, seed_course
from tests.support.platform import Platform

pytestmark = pytest.mark.e2e


def test_navigator_progress_reaches_the_gradebook(gb_app: Flask, platform: Platform) -> None:
    course = seed_course(platform, modules=1, users=1)
    cm = db.session.get(CourseModule, course.course_module_ids[0])
    unit = cm.module.units[0]
    unit.kind = "reading"
    version = UnitVersion(unit_pk=unit.id, version=1, content_hash="h", body_html="<p>Text</p>")
    db.session.add(version)
    db.session.commit()
    user, sub = course.user_ids[0], course.subs[course.user_ids[0]]

    progress.set_unit_state(
        user_pk=user, course_module=cm, version=version, state=UnitState.IN_PROGRESS
    )
    db.session.rollback()  # the change did not happen: neither did its outbox row
    assert outbox_rows() == []

    cm = db.session.get(CourseModule, course.course_module_ids[0])
    progress.set_unit_state(
        user_pk=user, course_module=cm, version=version, state=UnitState.IN_PROGRESS
    )
    db.session.commit()
    drain()
    lineitem = db.session.get(CourseModule, cm.id).lineitem_url
    started = platform.grade(lineitem, sub)
    assert started is not None
    assert (started["activityProgress"], started["gradingProgress"]) == ("Started", "NotReady")

    cm = db.session.get(CourseModule, course.course_module_ids[0])
    progress.set_unit_state(user_pk=user, course_module=cm, version=version, state=UnitState.DONE)
    db.session.commit()
    drain()
    done = platform.grade(lineitem, sub)
    assert done is not None
    assert (done["activityProgress"], done["gradingProgress"]) == ("Completed", "FullyGraded")
    assert (done["scoreGiven"], done["scoreMaximum"]) == (100.0, 100.0)
    assert [r.version for r in outbox_rows()] == [2]
