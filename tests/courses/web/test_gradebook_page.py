"""The Lotse's Notenbuch page: sync state per Navigator and module, retry of a failed row, own
course only."""

from __future__ import annotations

import re
import uuid

from flask import Flask
from flask.testing import FlaskClient

from courses.models import GradebookOutbox
from lti_tool.extensions import db
from lti_tool.models import Registration
from tests import factories as f
from tests.courses.conftest import TokenClient
from tests.courses.gradebook import conftest as gradebook_fixtures
from tests.courses.gradebook.conftest import Course, drain, outbox_rows

# The gradebook tests' fixtures: the tool on a real port, the AGS test platform, a course.
sqlite_gb_app = gradebook_fixtures.sqlite_gb_app
sqlite_tool = gradebook_fixtures.sqlite_tool
sqlite_platform = gradebook_fixtures.sqlite_platform
sqlite_course = gradebook_fixtures.sqlite_course


def _token(course: Course, role: str, *, context_id: str = "course-7") -> str:
    """A launch of a new person in ``role`` into the course (or another one), recorded by the
    tool's own code; its token."""
    registration = db.session.get(Registration, course.registration_id)
    assert registration is not None
    started = f.launch(
        registration, f"{role}-{uuid.uuid4().hex[:8]}", lotse=role == "lotse", context_id=context_id
    )
    return started.token


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

    foreign = _token(course, "lotse", context_id="other-course")
    page = client.get("/lotse/notenbuch", query_string={"lt": foreign})
    assert page.status_code == 200 and "Noch keine Bewertungen" in page.text
    row_id = outbox_rows()[0].id
    answer = client.post(f"/lotse/notenbuch/{row_id}/wiederholen", data={"lt": foreign})
    assert answer.status_code == 404
    # The token must come in the form, not in the query string of a POST.
    own = _token(course, "lotse")
    answer = client.post(f"/lotse/notenbuch/{row_id}/wiederholen", query_string={"lt": own})
    assert answer.status_code in (401, 403)


def test_retry_of_an_impossible_outbox_id_is_404(app: Flask, client: FlaskClient) -> None:
    """Ids beyond the database's integer range in the retry route are 404, not 500."""
    tc = TokenClient(client)
    lotse = f.launch(f.platform(), "lotsin", lotse=True)
    for outbox_id in (2**31, 2**63 + 1):
        response = tc.post(f"/lotse/notenbuch/{outbox_id}/wiederholen", lotse.token)
        assert response.status_code == 404
