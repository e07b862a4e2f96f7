"""The AGS client under the platform interface: Link headers, URL building, and every call
against the test platform."""

from __future__ import annotations

import pytest
from flask import Flask

from courses.models import CourseModule
from lti_tool.extensions import db
from lti_tool.models import Registration
from lti_tool.services.ags import AgsClient, service_url, with_query
from lti_tool.services.http import ServiceError, parse_link_header
from tests.courses.gradebook.conftest import Course, seed_course
from tests.support.platform import Platform
from tests.support.platform.vocab import GRADE_SYNC_ONLY


def client_for(course_module: CourseModule) -> AgsClient:
    """The AGS client of a placed module's course, as the platform interface builds it."""
    context = course_module.context
    return AgsClient(context.registration, context.ags_scopes, context.ags_lineitems_url)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            '<https://LMS.example/LineItems?Page=2>; rel="next"',
            "https://LMS.example/LineItems?Page=2",
        ),
        ("<https://lms.example/X?Page=3>; rel=next", "https://lms.example/X?Page=3"),
        (
            '<https://l/a?Page=1>; rel="first", <https://l/a?Page=2>; REL="prev next"',
            "https://l/a?Page=2",
        ),
        ("<https://l/a?x=1,2>; rel=first, <https://l/b?x=3>;rel=next", "https://l/b?x=3"),
        ("</relative?Page=2>; rel=next", "https://base.example/relative?Page=2"),
    ],
)
def test_link_header_keeps_the_urls_case_and_takes_bare_rel(header: str, expected: str) -> None:
    assert parse_link_header(header, "https://base.example/lineitems")["next"] == expected


def test_link_header_without_next() -> None:
    assert "next" not in parse_link_header('<https://l/a>; rel="first"')
    assert parse_link_header(None) == {}


def test_service_urls_go_into_the_path() -> None:
    moodle = "https://moodle.example/mod/lti/services.php/7/lineitems/3/lineitem?type_id=1"
    assert service_url(moodle, "scores") == (
        "https://moodle.example/mod/lti/services.php/7/lineitems/3/lineitem/scores?type_id=1"
    )
    assert service_url("https://l/items/3/", "results") == "https://l/items/3/results"
    assert with_query(moodle, resource_id="m1", tag=None) == moodle + "&resource_id=m1"


def test_only_granted_scopes_are_used() -> None:
    client = AgsClient(Registration(), (*GRADE_SYNC_ONLY, "openid"), "https://l/items")
    assert "openid" not in client.scopes
    assert not client.can_manage_line_items
    with pytest.raises(ServiceError) as caught:
        client.create_line_item(label="x", score_maximum=1)
    assert not caught.value.retryable


@pytest.mark.e2e
def test_line_item_crud_and_paginated_results(sqlite_gb_app: Flask, sqlite_course: Course) -> None:
    platform = sqlite_course.platform
    platform.page_size = 2
    client = client_for(db.session.get(CourseModule, sqlite_course.course_module_ids[0]))
    items = [
        client.create_line_item(label=f"L{n}", score_maximum=10, resource_id=f"r{n}", tag="t")
        for n in range(5)
    ]
    assert [i.label for i in client.line_items()] == ["L0", "L1", "L2", "L3", "L4"]
    assert [i.label for i in client.line_items(resource_id="r3")] == ["L3"]
    url = items[0].id
    assert "?type_id=1" in url
    assert client.line_item(url).resource_id == "r0"
    changed = client.update_line_item(url, {"label": "Neu", "scoreMaximum": 20})
    assert (changed.label, changed.score_maximum) == ("Neu", 20.0)
    assert platform.line_items[platform.item_id(url)]["label"] == "Neu"

    for n in range(5):
        assert client.post_score(
            url,
            {
                "userId": f"u{n}",
                "scoreGiven": n,
                "scoreMaximum": 20,
                "activityProgress": "Completed",
                "gradingProgress": "FullyGraded",
                "timestamp": "2026-11-22T10:00:00+01:00",
            },
        )
    # The same timestamp again: Moodle's 409, "already there".
    assert not client.post_score(
        url,
        {
            "userId": "u0",
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded",
            "timestamp": "2026-11-22T10:00:00+01:00",
        },
    )
    results = client.results(url)
    assert sorted(r["userId"] for r in results) == [f"u{n}" for n in range(5)]
    assert client.results(url, user_id="u2")[0]["resultScore"] == 2

    client.delete_line_item(url)
    assert platform.item_id(url) not in platform.line_items
    client.delete_line_item(url)  # gone already: fine
    assert len(client.line_items()) == 4


@pytest.mark.e2e
def test_score_content_type_is_exact(sqlite_gb_app: Flask, sqlite_platform: Platform) -> None:
    course = seed_course(sqlite_platform, modules=1, users=1)
    url = sqlite_platform.add_line_item(label="x", scoreMaximum=100)
    client = client_for(db.session.get(CourseModule, course.course_module_ids[0]))
    client.post_score(
        url,
        {
            "userId": "u",
            "activityProgress": "Started",
            "gradingProgress": "NotReady",
            "timestamp": "2026-11-22T10:00:00+00:00",
        },
    )
    assert [p.status for p in sqlite_platform.score_posts] == [200]


@pytest.mark.e2e
def test_module_line_item_update_and_delete(sqlite_gb_app: Flask, sqlite_course: Course) -> None:
    from courses.gradebook.line_items import delete_line_item, ensure_line_item, update_line_item

    platform = sqlite_course.platform
    cm = db.session.get(CourseModule, sqlite_course.course_module_ids[0])
    assert cm is not None
    url = ensure_line_item(cm)
    update_line_item(cm, label="Modul 1 (neu)", score_maximum=50)
    assert platform.line_items[platform.item_id(url)]["label"] == "Modul 1 (neu)"
    assert platform.line_items[platform.item_id(url)]["scoreMaximum"] == 50
    delete_line_item(cm)
    db.session.commit()
    assert cm.lineitem_url is None and platform.line_items == {}
