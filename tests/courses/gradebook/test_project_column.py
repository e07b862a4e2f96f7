"""The Praxisprojekt column over real HTTP: its own line item (its own ``resourceId``, never a
module's), one score per member, Completed once the project is in Betrieb, and module scores
of the same Navigatoren untouched beside it."""

from __future__ import annotations

import pytest
from flask import Flask

from courses.gradebook.line_items import PROJECT_RESOURCE_ID
from courses.gradebook.outbox import row_in_course, rows_of_course
from courses.models import CourseModule, ProjectCourseSetting
from courses.services import projects
from lti_tool.extensions import db
from lti_tool.models import LtiContext, LtiUser
from tests import factories as f
from tests.courses.gradebook.conftest import COMPLETED, Course, drain, outbox_rows

pytestmark = pytest.mark.e2e


def test_projects_get_their_own_column(sqlite_gb_app: Flask, sqlite_course: Course) -> None:
    course = sqlite_course
    platform = course.platform
    context = db.session.get(LtiContext, course.context_id)
    first, second, third = (db.session.get(LtiUser, pk) for pk in course.user_ids)
    shared = f.make_project(context, first, second, title="Hundesteuer online")
    f.make_project(context, third, title="E-Rechnung", status="in_betrieb")
    course.enqueue_all(COMPLETED)
    projects.set_gradebook_column(course.context_id, True)
    db.session.commit()
    drain()

    setting = db.session.query(ProjectCourseSetting).one()
    assert setting.lineitem_url
    item = platform.line_items[platform.item_id(setting.lineitem_url)]
    assert item["resourceId"] == PROJECT_RESOURCE_ID
    assert item["label"] == "Praxisprojekt"
    module_items = {
        db.session.get(CourseModule, pk).lineitem_url for pk in course.course_module_ids
    }
    assert setting.lineitem_url not in module_items and len(platform.line_items) == 3
    column = platform.item_id(setting.lineitem_url)
    posted = {p.user_id: p.body for p in platform.score_posts if p.line_item == column}
    assert posted[first.sub]["activityProgress"] == "InProgress"
    assert posted[first.sub]["gradingProgress"] == "Pending"
    assert posted[third.sub]["activityProgress"] == "Completed"
    assert posted[third.sub]["scoreGiven"] == 100.0

    projects.update_project(shared, user_pk=first.id, data={"status": "in_betrieb"})
    db.session.commit()
    drain()
    for user in (first, second):
        assert platform.grade(setting.lineitem_url, user.sub)["gradingProgress"] == "FullyGraded"
    assert all(row.state == "delivered" for row in outbox_rows())
    for pk in course.course_module_ids:
        url = db.session.get(CourseModule, pk).lineitem_url
        assert platform.grade(url, first.sub)["scoreGiven"] == 80.0

    # The Lotse's gradebook page lists the column after the modules, and can retry its rows.
    rows, counts = rows_of_course(course.context_id)
    titles = [title for _row, title, _user in rows]
    assert titles[-3:] == ["Praxisprojekt"] * 3 and "Praxisprojekt" not in titles[:-3]
    assert counts["delivered"] == len(rows) == 9
    project_row = rows[-1][0]
    assert row_in_course(project_row.id, course.context_id) is project_row
    assert row_in_course(project_row.id, course.context_id + 1) is None
