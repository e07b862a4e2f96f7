"""Scores reach the platform over real HTTP: line items created or reused, the right values and
progress fields, Moodle-style URLs, one token for many scores."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from courses.gradebook.line_items import ensure_line_item
from courses.gradebook.outbox import enqueue_score
from courses.gradebook.score import ScoreState
from courses.gradebook.worker import Outcome, sync_grade
from courses.models import CourseModule, GradebookOutbox
from lti_tool.extensions import db
from lti_tool.models import AccessToken
from lti_tool.services.ags import AgsClient
from tests.courses.gradebook.conftest import (
    COMPLETED,
    Course,
    assert_gradebook_matches,
    drain,
    outbox_rows,
    seed_course,
)
from tests.support.platform import Platform
from tests.support.platform.vocab import GRADE_SYNC_ONLY

pytestmark = pytest.mark.e2e


def test_many_scores_one_token_and_created_line_items(gb_app: Flask, course: Course) -> None:
    platform = course.platform
    course.enqueue_all()
    drain()

    # One line item per placed module, described as the issue asks.
    assert len(platform.line_items) == 2
    for cm_id in course.course_module_ids:
        cm = db.session.get(CourseModule, cm_id)
        assert cm is not None and cm.lineitem_url
        item = platform.line_items[platform.item_id(cm.lineitem_url)]
        assert item["resourceId"] == course.slugs[cm_id]
        assert item["tag"] == "lotsen-lti"
        assert item["scoreMaximum"] == 100
        assert item["label"] == cm.module.title
        assert item["resourceLinkId"] == cm.resource_link.resource_link_id
        # Moodle's URL keeps its query; /scores went into the path.
        assert cm.lineitem_url.endswith("/lineitem?type_id=1")
    assert all(
        "/lineitem/scores?type_id=1" in p
        for m, p in platform.requests
        if m == "POST" and "scores" in p
    )

    assert len(platform.score_posts) == 6
    assert all(p.status == 200 for p in platform.score_posts)
    assert platform.token_requests == 1
    assert db.session.scalar(select(AccessToken.requested_count)) == 1
    assert all(
        row.state == "delivered" and row.delivered_version == row.version for row in outbox_rows()
    )
    assert_gradebook_matches(course)


def test_score_values_and_progress(sqlite_gb_app: Flask, sqlite_course: Course) -> None:
    course = sqlite_course
    cm, user = course.course_module_ids[0], course.user_ids[0]
    states = [
        (ScoreState("Started", "NotReady"), None),
        (ScoreState("Submitted", "PendingManual"), None),
        (ScoreState("InProgress", "Pending"), None),
        (ScoreState("Completed", "FullyGraded", 17.5, 20), (17.5, 20.0)),
    ]
    lineitem = None
    for state, score in states:
        enqueue_score(user, cm, state)
        db.session.commit()
        drain()
        lineitem = db.session.get(CourseModule, cm).lineitem_url
        assert lineitem
        got = course.platform.grade(lineitem, course.subs[user])
        assert got is not None
        assert got["userId"] == course.subs[user]
        assert got["activityProgress"] == state.activity_progress
        assert got["gradingProgress"] == state.grading_progress
        if score is None:
            assert "scoreGiven" not in got and "scoreMaximum" not in got
        else:
            assert (got["scoreGiven"], got["scoreMaximum"]) == score
        # Timezone-aware ISO 8601 with an offset, whole seconds.
        assert got["timestamp"].endswith("+00:00") and "." not in got["timestamp"]
    # Four states within a second or two: each had a newer timestamp, none was refused (409).
    assert [p.status for p in course.platform.score_posts] == [200] * 4


def test_deep_linking_line_item_is_reused(sqlite_gb_app: Flask, sqlite_course: Course) -> None:
    course = sqlite_course
    platform = course.platform
    url = platform.add_line_item(label="Aus Deep Linking", scoreMaximum=100)
    cm = db.session.get(CourseModule, course.course_module_ids[0])
    cm.lineitem_url = url  # the Lotse side stores what Deep Linking created
    db.session.commit()
    enqueue_score(course.user_ids[0], cm.id, COMPLETED)
    db.session.commit()
    drain()
    assert len(platform.line_items) == 1
    assert platform.grade(url, course.subs[course.user_ids[0]]) is not None
    assert not [r for r in platform.requests if r[0] == "GET"]  # no search, no creation


def test_grade_sync_only_uses_the_resource_links_own_line_item(
    sqlite_gb_app: Flask, sqlite_platform: Platform
) -> None:
    platform = sqlite_platform
    platform.allowed_scopes = GRADE_SYNC_ONLY
    course = seed_course(platform, modules=2, users=2, scopes=GRADE_SYNC_ONLY, link_lineitems=True)
    own = set(platform.line_items)
    course.enqueue_all()
    drain()
    assert set(platform.line_items) == own  # nothing created
    for cm_id in course.course_module_ids:
        cm = db.session.get(CourseModule, cm_id)
        assert cm.lineitem_url == cm.resource_link.lineitem_url
    assert len(platform.accepted()) == 4
    assert_gradebook_matches(course)


def test_grade_sync_only_refused_post_falls_back_to_the_links_line_item(
    sqlite_gb_app: Flask, sqlite_platform: Platform
) -> None:
    platform = sqlite_platform
    # The launch claimed the lineitem scope, but the platform refuses to create (Moodle: 401).
    course = seed_course(platform, modules=1, users=1, link_lineitems=True)
    platform.allowed_scopes = GRADE_SYNC_ONLY
    course.enqueue_all()
    drain()
    cm = db.session.get(CourseModule, course.course_module_ids[0])
    assert cm.lineitem_url == cm.resource_link.lineitem_url
    assert len(platform.line_items) == 1


def test_existing_line_item_found_by_resource_id_across_pages(
    sqlite_gb_app: Flask, sqlite_platform: Platform
) -> None:
    platform = sqlite_platform
    # Five foreign columns first: the search must follow the mixed-case next links.
    for number in range(5):
        platform.add_line_item(label=f"Fremd {number}", scoreMaximum=10, resourceId=f"x{number}")
    course = seed_course(platform, modules=1, users=1)
    url = platform.add_line_item(
        label="Schon da", scoreMaximum=100, resourceId=course.slugs[course.course_module_ids[0]]
    )
    course.enqueue_all()
    drain()
    assert db.session.get(CourseModule, course.course_module_ids[0]).lineitem_url == url
    assert len(platform.line_items) == 6
    # The platform filters by resource_id itself here, so check the unfiltered walk as well.
    cm = db.session.get(CourseModule, course.course_module_ids[0])
    every = AgsClient(
        cm.context.registration, cm.context.ags_scopes, cm.context.ags_lineitems_url
    ).line_items()
    assert len(every) == 6
    assert any("/LineItems?" in path and "Page=3" in path for _m, path in platform.requests)


def test_sync_grade_by_id_is_idempotent(gb_app: Flask, course: Course) -> None:
    enqueue_score(course.user_ids[0], course.course_module_ids[0], COMPLETED)
    db.session.commit()
    row_id = db.session.scalar(select(GradebookOutbox.id))
    assert sync_grade(outbox_id=row_id) == Outcome.DELIVERED
    assert sync_grade(outbox_id=row_id) == Outcome.NOT_CLAIMED  # delivered rows are left alone
    # Re-queued without a new state: the same timestamp again, Moodle says 409 = already there.
    row = db.session.get(GradebookOutbox, row_id)
    row.state = "pending"
    db.session.commit()
    assert sync_grade(outbox_id=row_id) == Outcome.ALREADY_THERE
    assert [p.status for p in course.platform.score_posts] == [200, 409]
    assert db.session.get(GradebookOutbox, row_id).state == "delivered"


def test_ensure_line_item_is_reused_once_stored(
    sqlite_gb_app: Flask, sqlite_course: Course
) -> None:
    course = sqlite_course
    cm = db.session.get(CourseModule, course.course_module_ids[0])
    first = ensure_line_item(cm)
    second = ensure_line_item(db.session.get(CourseModule, cm.id))
    assert first == second
    assert len(course.platform.line_items) == 1
