"""The platform interface (lti_tool.services.platform) against platforms that behave like ILIAS'
grade service and Moodle's gradebookservices, over real HTTP: which line item a score goes to,
what each platform records, the roster, and the Deep Linking answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.launch.token import launch_from_token
from lti_tool.models import LtiContext, LtiResourceLink, Registration
from lti_tool.services.deep_linking import LineItem, ResourceLinkItem
from lti_tool.services.platform import (
    LINEITEM_TAG,
    CoursePlatform,
    Score,
    ServiceError,
    deep_linking_answer,
)
from lti_tool.vocab import ActivityProgress, GradingProgress
from tests.support.platform import (
    COLUMN_MANAGEMENT,
    GENERIC,
    GRADE_SYNC,
    ILIAS,
    MOODLE,
    Link,
    Person,
    Platform,
    token_of,
)
from tests.support.platform.vocab import INSTRUCTOR, LEARNER, SCOPE_LINEITEM
from tests.support.protocol_app import PlatformFactory

COMPLETED = (ActivityProgress.COMPLETED, GradingProgress.FULLY_GRADED)


def launch(platform: Platform, person: Person, link: Link, roles: list[str] | None = None) -> None:
    page = platform.launch(requests.Session(), person, roles or [LEARNER], link=link)
    assert page.status_code == 200, (page.status_code, page.text[:300])


def course_platform(platform: Platform) -> CoursePlatform:
    db.session.rollback()
    context = db.session.scalars(
        select(LtiContext).where(LtiContext.context_id == platform.course.id)
    ).one()
    return CoursePlatform.of_course(context.id)


def link_pk(link: Link) -> int:
    db.session.rollback()
    return int(
        db.session.scalars(
            select(LtiResourceLink.id).where(LtiResourceLink.resource_link_id == link.id)
        ).one()
    )


def score(person: Person, given: float, maximum: float = 10) -> Score:
    """A completed, fully graded score."""
    return Score(person.sub, *COMPLETED, given, maximum)


def now(offset: int = 0) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=offset)


def line_item_requests(platform: Platform, method: str) -> list[str]:
    return [p for m, p in platform.requests if m == method and "/lineitems" in p.lower()]


# --- ILIAS: one line item per LTI object -------------------------------------------------------


def test_ilias_score_goes_to_the_links_own_line_item(make_platform: PlatformFactory) -> None:
    platform = make_platform(ILIAS)
    link = platform.add_link("Modul 1: Basiswissen")
    navigator = platform.person("Nora", "Navigator")
    launch(platform, navigator, link)

    cp = course_platform(platform)
    url = cp.line_item_for(resource_link_pk=link_pk(link), resource_id="m1", label="Modul 1")

    # ILIAS grants column management in every launch, yet the link's own item is used and the
    # container is neither listed nor posted to.
    assert url == platform.lineitem_url(link.obj_id or 0)
    assert line_item_requests(platform, "GET") == line_item_requests(platform, "POST") == []
    assert cp.send_score(url, score(navigator, 8).to_json(now())) is True
    assert platform.result(link, navigator.sub) == pytest.approx(0.8)
    assert platform.progress(link, navigator.sub) == ("completed", 80)


def test_ilias_records_a_result_only_for_fully_graded(make_platform: PlatformFactory) -> None:
    platform = make_platform(ILIAS)
    link = platform.add_link("Modul 2")
    navigator = platform.person("Nora", "Navigator")
    launch(platform, navigator, link)
    cp = course_platform(platform)
    url = cp.line_item_for(resource_link_pk=link_pk(link), resource_id="m2", label="Modul 2")

    pending = Score(navigator.sub, ActivityProgress.SUBMITTED, GradingProgress.PENDING)
    assert cp.send_score(url, pending.to_json(now())) is True  # 200, accepted
    assert platform.result(link, navigator.sub) is None  # … but no result
    assert platform.progress(link, navigator.sub) == ("in_progress", 0)
    manual = Score(navigator.sub, ActivityProgress.COMPLETED, GradingProgress.PENDING_MANUAL, 9, 10)
    assert cp.send_score(url, manual.to_json(now(1))) is True
    assert platform.result(link, navigator.sub) is None

    assert cp.send_score(url, score(navigator, 3).to_json(now(2))) is True
    assert platform.result(link, navigator.sub) == pytest.approx(0.3)
    # Below the mastery score (50 %): completed work, learning progress still "in progress".
    assert platform.progress(link, navigator.sub) == ("in_progress", 30)
    assert [p.status for p in platform.score_posts] == [200, 200, 200]


def test_ilias_refusing_to_create_is_remembered_and_not_asked_again(
    make_platform: PlatformFactory,
) -> None:
    # Registered by hand without the ILIAS preset: the tool learns from the platform's answer.
    platform = make_platform(ILIAS, product_family=None)
    link = platform.add_link("Einstieg")
    launch(platform, platform.person(), link)

    # A placement without a resource link of its own: column management would create one.
    with pytest.raises(ServiceError) as refused:
        course_platform(platform).line_item_for(
            resource_link_pk=None, resource_id="m3", label="Modul 3"
        )
    assert refused.value.status == 405  # ILIAS 8/9: the container takes GET only
    assert "keine Bewertungsspalten" in refused.value.message
    assert len(line_item_requests(platform, "POST")) == 1
    db.session.rollback()
    assert db.session.scalars(select(Registration)).one().line_item_create_refused == 405

    with pytest.raises(ServiceError):
        course_platform(platform).line_item_for(
            resource_link_pk=None, resource_id="m4", label="Modul 4"
        )
    assert len(line_item_requests(platform, "POST")) == 1  # not asked again


def test_ilias_that_accepts_a_column_is_not_given_one(make_platform: PlatformFactory) -> None:
    # The later ILIAS variant takes a line item POST but keeps the item apart from the LTI
    # object: scores to it are refused (404), learning progress never sees them (lti-notes §3).
    # Known as ILIAS (its preset), the tool does not create columns there at all.
    platform = make_platform(ILIAS, ilias_container_post=True)
    link = platform.add_link("Einstieg")
    navigator = platform.person()
    launch(platform, navigator, link)

    with pytest.raises(ServiceError) as refused:
        course_platform(platform).line_item_for(
            resource_link_pk=None, resource_id="m3", label="Modul 3"
        )
    assert refused.value.retryable is False
    assert "keine Bewertungsspalten" in refused.value.message
    assert line_item_requests(platform, "POST") == []
    assert platform.stored_line_items == {}
    # The link's own line item still takes the scores.
    cp = course_platform(platform)
    url = cp.line_item_for(resource_link_pk=link_pk(link), resource_id="m1", label="Einstieg")
    assert cp.send_score(url, score(navigator, 10).to_json(now())) is True
    assert platform.result(link, navigator.sub) == 1.0


def test_ilias_refuses_scores_of_someone_who_never_launched(
    make_platform: PlatformFactory,
) -> None:
    platform = make_platform(ILIAS)
    link = platform.add_link("Modul 1")
    launch(platform, platform.person(), link)
    cp = course_platform(platform)
    url = cp.line_item_for(resource_link_pk=link_pk(link), resource_id="m1", label="Modul 1")
    stranger = platform.person("Fremd", "Person")
    with pytest.raises(ServiceError) as refused:
        cp.send_score(url, score(stranger, 5).to_json(now()))
    assert refused.value.status == 404 and refused.value.retryable is False


# --- Moodle ------------------------------------------------------------------------------------


def test_moodle_grade_sync_only_uses_the_links_own_line_item(
    make_platform: PlatformFactory,
) -> None:
    platform = make_platform(MOODLE, grade_sync=GRADE_SYNC)
    link = platform.add_link("Modul 1", graded=True, score_maximum=100)
    navigator = platform.person("Nora", "Navigator")
    launch(platform, navigator, link)
    cp = course_platform(platform)
    assert cp.can_send_scores

    url = cp.line_item_for(resource_link_pk=link_pk(link), resource_id="m1", label="Modul 1")

    assert url == platform.lineitem_url(link.line_item_id or 0)
    assert line_item_requests(platform, "GET") == line_item_requests(platform, "POST") == []
    body = score(navigator, 8).to_json(now())
    assert cp.send_score(url, body) is True
    assert platform.grade(url, navigator.sub) == body
    assert platform.final_grade(url, navigator.sub) == pytest.approx(80.0)  # 8/10 of 100
    assert all(SCOPE_LINEITEM not in t.scopes for t in platform.tokens.values())


def test_moodle_grade_sync_only_without_own_line_item_asks_nothing(
    make_platform: PlatformFactory,
) -> None:
    platform = make_platform(MOODLE, grade_sync=GRADE_SYNC)
    link = platform.add_link("Ohne Bewertung")  # an activity without grade
    launch(platform, platform.person(), link)
    before = len(platform.requests)
    with pytest.raises(ServiceError) as refused:
        course_platform(platform).line_item_for(
            resource_link_pk=link_pk(link), resource_id="m1", label="Modul 1"
        )
    assert "nur Notenübertragung" in refused.value.message
    assert line_item_requests(platform, "POST") == []
    assert len(platform.requests) - before <= 1  # at most the search, never a POST


def test_moodle_column_management_finds_the_column_by_resource_id(
    make_platform: PlatformFactory,
) -> None:
    platform = make_platform(MOODLE, grade_sync=COLUMN_MANAGEMENT)
    link = platform.add_link("Ohne Bewertung")
    for number in range(3):  # other columns, on more than one page
        platform.add_line_item(label=f"Fremd {number}", scoreMaximum=10, resourceId=f"x{number}")
    existing = platform.add_line_item(
        label="Modul 1", scoreMaximum=100, resourceId="m1", tag=LINEITEM_TAG
    )
    navigator = platform.person()
    launch(platform, navigator, link)

    url = course_platform(platform).line_item_for(
        resource_link_pk=link_pk(link), resource_id="m1", label="Modul 1"
    )

    assert url == existing
    assert line_item_requests(platform, "POST") == []


def test_moodle_column_management_creates_a_column_once(make_platform: PlatformFactory) -> None:
    platform = make_platform(MOODLE, grade_sync=COLUMN_MANAGEMENT)
    link = platform.add_link("Ohne Bewertung")
    navigator = platform.person()
    launch(platform, navigator, link)
    cp = course_platform(platform)

    url = cp.line_item_for(
        resource_link_pk=link_pk(link), resource_id="m1", label="Modul 1", score_maximum=20
    )
    again = course_platform(platform).line_item_for(
        resource_link_pk=link_pk(link), resource_id="m1", label="Modul 1", score_maximum=20
    )

    assert url == again
    assert len(line_item_requests(platform, "POST")) == 1
    item = platform.line_items[platform.item_id(url)]
    assert item["label"] == "Modul 1" and item["scoreMaximum"] == 20
    assert item["resourceId"] == "m1" and item["tag"] == LINEITEM_TAG
    assert item["resourceLinkId"] == link.id

    first = score(navigator, 10).to_json(now())
    assert cp.send_score(url, first) is True
    assert cp.send_score(url, first) is False  # 409: the same state is already there
    assert cp.send_score(url, score(navigator, 15).to_json(now(-5))) is False  # older: 409
    assert platform.grade(url, navigator.sub) == first
    newer = score(navigator, 15).to_json(now(1))
    assert cp.send_score(url, newer) is True
    assert platform.final_grade(url, navigator.sub) == pytest.approx(30.0)  # 15/10 of 20
    assert [p.status for p in platform.score_posts] == [200, 409, 409, 200]


def test_moodle_refuses_a_score_of_a_user_it_cannot_grade(make_platform: PlatformFactory) -> None:
    platform = make_platform(MOODLE, gradable="enrolled", score_status=204)
    link = platform.add_link("Modul 1", graded=True)
    teacher, navigator = platform.person("Lea", "Lotse"), platform.person()
    launch(platform, teacher, link, [INSTRUCTOR])
    launch(platform, navigator, link)
    cp = course_platform(platform)
    url = cp.line_item_for(resource_link_pk=link_pk(link), resource_id="m1", label="Modul 1")

    assert cp.send_score(url, score(navigator, 5).to_json(now())) is True  # 204
    with pytest.raises(ServiceError) as refused:
        cp.send_score(url, score(teacher, 5).to_json(now()))
    assert refused.value.status == 400 and refused.value.retryable is False
    assert "Incorrect score received" in refused.value.message


# --- Score.to_json -----------------------------------------------------------------------------


def test_score_json_is_what_moodle_and_ilias_accept() -> None:
    stamp = now()
    body = Score("u1", ActivityProgress.COMPLETED, GradingProgress.FULLY_GRADED, 7).to_json(stamp)
    assert body == {
        "userId": "u1",
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "scoreGiven": 7.0,
        "scoreMaximum": 100.0,  # never scoreGiven alone
        "timestamp": stamp.isoformat(),
    }
    assert body["timestamp"].endswith("+00:00")
    bare = Score("u1", ActivityProgress.STARTED, GradingProgress.NOT_READY).to_json(stamp)
    assert "scoreGiven" not in bare and "scoreMaximum" not in bare


def test_score_json_refuses_a_timestamp_without_zone() -> None:
    # Moodle and ILIAS read a bare timestamp as their server's local time (lti-notes §6).
    with pytest.raises(ValueError, match="Zeitzone"):
        Score("u1", ActivityProgress.STARTED, GradingProgress.NOT_READY).to_json(
            datetime(2026, 12, 3, 10, 0, 0)  # no zone: the point of the test
        )


# --- roster ------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", [MOODLE, GENERIC])
def test_members_come_from_every_page(make_platform: PlatformFactory, flavour: str) -> None:
    platform = make_platform(flavour, page_size=2)
    link = platform.add_link("Modul 1")
    people = [platform.person(f"Person{n}", "Test") for n in range(5)]
    for person in people[1:]:
        platform.enrol(person, [LEARNER])
    launch(platform, people[0], link, [INSTRUCTOR])
    cp = course_platform(platform)

    assert cp.has_roster
    members = {m.user_id: m for m in cp.members()}

    assert set(members) == {p.sub for p in people}
    assert members[people[0].sub].roles == [INSTRUCTOR]
    assert members[people[3].sub].email == people[3].email
    assert len(platform.nrps_requests) == 3  # every page, the mixed-case ones too


def test_ilias_has_no_roster(make_platform: PlatformFactory) -> None:
    platform = make_platform(ILIAS)
    link = platform.add_link("Modul 1")
    launch(platform, platform.person(), link)
    cp = course_platform(platform)
    assert not cp.has_roster
    with pytest.raises(ServiceError):
        cp.members()


# --- Deep Linking ------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", [MOODLE, ILIAS, GENERIC])
def test_deep_linking_answer_places_a_graded_link(
    make_platform: PlatformFactory, flavour: str
) -> None:
    platform = make_platform(flavour)
    teacher = platform.person("Lea", "Lotse")
    session = requests.Session()
    page = platform.launch(session, teacher, [INSTRUCTOR], deep_linking=True, data="abc-123")
    assert page.status_code == 200, page.text[:300]
    db.session.rollback()
    context = launch_from_token(token_of(page.url))
    assert context.is_deep_linking and context.deep_linking is not None

    answer = deep_linking_answer(
        context,
        [
            ResourceLinkItem(
                title="Modul 1: Basiswissen",
                url=platform.tool_launch_url,
                custom={"modul": "m1"},
                line_item=LineItem(label="Modul 1", resource_id="m1", tag=LINEITEM_TAG),
            )
        ],
    )
    returned = session.post(context.deep_linking.return_url, data={"JWT": answer}, timeout=10)

    assert returned.status_code == 200, (returned.text, platform.dl_errors)
    [placed] = [lk for lk in platform.course.links.values() if lk.custom.get("modul") == "m1"]
    assert placed.title == "Modul 1: Basiswissen"
    assert placed.line_item_id is not None  # Moodle: a column only because of lineItem
    navigator = platform.person()
    launch(platform, navigator, placed)
    cp = course_platform(platform)
    url = cp.line_item_for(resource_link_pk=link_pk(placed), resource_id="m1", label="Modul 1")
    assert url == platform.lineitem_url(placed.line_item_id)
    assert line_item_requests(platform, "POST") == []
    assert cp.send_score(url, score(navigator, 10).to_json(now())) is True
    if flavour == ILIAS:
        assert platform.result(placed, navigator.sub) == 1.0
    else:
        item = platform.line_items[placed.line_item_id]
        assert item["resourceId"] == "m1" and item["tag"] == LINEITEM_TAG


def test_a_replayed_deep_linking_answer_is_refused(make_platform: PlatformFactory) -> None:
    platform = make_platform(MOODLE)
    session = requests.Session()
    page = platform.launch(session, platform.person(), [INSTRUCTOR], deep_linking=True)
    db.session.rollback()
    context = launch_from_token(token_of(page.url))
    assert context.deep_linking is not None
    answer = deep_linking_answer(
        context, [ResourceLinkItem(title="Modul 1", url=platform.tool_launch_url)]
    )
    return_url = context.deep_linking.return_url
    assert session.post(return_url, data={"JWT": answer}, timeout=10).status_code == 200
    assert session.post(return_url, data={"JWT": answer}, timeout=10).status_code == 400
    assert platform.dl_errors == ["nonce wiederholt"]
