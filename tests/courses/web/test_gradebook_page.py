"""The Lotse's page: sync state per Navigator and module, retry of a failed row, own course only."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask

from courses.gradebook import GradebookOutbox
from lti_tool.extensions import db
from lti_tool.models import Deployment, Launch, LtiContext, LtiUser, utcnow
from lti_tool.sessions import issue_token
from tests.gradebook.conftest import Course, drain, outbox_rows


def _token(course: Course, role: str, *, context_pk: int | None = None) -> str:
    user = LtiUser(registration_id=course.registration_id, sub=f"{role}-{utcnow().timestamp()}")
    db.session.add(user)
    db.session.flush()
    deployment = (
        db.session.query(Deployment).filter_by(registration_id=course.registration_id).one()
    )
    launch = Launch(
        registration_id=course.registration_id,
        deployment_pk=deployment.id,
        user_id=user.id,
        context_pk=context_pk or course.context_id,
        message_type="LtiResourceLinkRequest",
        role=role,
        expires_at=utcnow() + timedelta(hours=1),
    )
    db.session.add(launch)
    db.session.commit()
    return issue_token(launch)


def test_lotse_sees_states_and_retries_a_failed_one(
    sqlite_gb_app: Flask, sqlite_course: Course
) -> None:
    course = sqlite_course
    bad = course.subs[course.user_ids[0]]
    course.platform.non_gradable.add(bad)
    course.enqueue_all()
    drain()
    token = _token(course, "lotse")
    client = sqlite_gb_app.test_client()

    page = client.get("/lotse/notenbuch", query_string={"lt": token})
    assert page.status_code == 200
    text = page.text
    assert "<table>" in text and '<th scope="col">' in text
    assert text.count("übertragen</span>") == 4
    assert text.count("fehlgeschlagen</strong>") == 2
    assert "Incorrect score received" in text
    assert bad not in re.sub(r"Pseudonym [^<]*", "", text)  # no sub beyond the short pseudonym
    assert "Modul 1" in text and "Modul 2" in text

    failed = [r.id for r in outbox_rows() if r.state == "failed"]
    course.platform.non_gradable.clear()
    answer = client.post(f"/lotse/notenbuch/{failed[0]}/wiederholen", data={"lt": token})
    assert answer.status_code == 303 and "/lotse/notenbuch?lt=" in answer.headers["Location"]
    row = db.session.get(GradebookOutbox, failed[0])
    db.session.refresh(row)
    assert row.state == "pending" and row.attempts == 0
    drain()
    assert db.session.get(GradebookOutbox, failed[0]).state == "delivered"


def test_page_is_for_lotsen_of_this_course_only(
    sqlite_gb_app: Flask, sqlite_course: Course
) -> None:
    course = sqlite_course
    course.enqueue_all()
    client = sqlite_gb_app.test_client()
    navigator = _token(course, "navigator")
    assert client.get("/lotse/notenbuch", query_string={"lt": navigator}).status_code == 403
    assert client.get("/lotse/notenbuch").status_code in (401, 403)

    other = LtiContext(registration_id=course.registration_id, context_id="other-course")
    db.session.add(other)
    db.session.commit()
    foreign = _token(course, "lotse", context_pk=other.id)
    page = client.get("/lotse/notenbuch", query_string={"lt": foreign})
    assert page.status_code == 200 and "Noch keine Bewertungen" in page.text
    row_id = outbox_rows()[0].id
    answer = client.post(f"/lotse/notenbuch/{row_id}/wiederholen", data={"lt": foreign})
    assert answer.status_code == 404
    # The token must come in the form, not in the query string of a POST.
    own = _token(course, "lotse")
    answer = client.post(f"/lotse/notenbuch/{row_id}/wiederholen", query_string={"lt": own})
    assert answer.status_code in (401, 403)
