"""What the LMS and the users send is shown as text, never as HTML: names, course titles,
pseudonyms, submission text, file names and the Lotse's feedback, on every page that shows them
(the Lotse's overview, roster, module settings, grading list and page; the Navigator's pages)."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Flask, current_app
from flask.testing import FlaskClient
from sqlalchemy import select

from courses.models import CourseModule, GradingDecision, Submission, SubmissionFile
from lti_tool.extensions import db
from lti_tool.models import utcnow
from tests import factories as f
from tests.courses.conftest import TokenClient

NAME = '<script>alert("name")</script>'
TITLE = "<img src=x onerror=alert(1)>"
SUB = '"><svg onload=alert(2)>'
TEXT = "<iframe src=javascript:alert(3)></iframe>"
FILE = "<b onmouseover=alert(4)>.pdf"
FEEDBACK = "</textarea><script>alert(5)</script>"
PAYLOADS = (NAME, TITLE, SUB[:12], TEXT, FILE, FEEDBACK)


def _hostile_course() -> tuple[f.Started, f.Started, Submission]:
    moodle = f.platform()
    lotse = f.launch(moodle, "lotse-a", lotse=True)
    nav = f.launch(moodle, SUB, name=NAME)
    lotse.context.title = TITLE
    catalog_module = f.module("b1")
    placed = f.place(lotse.context, catalog_module)
    placed.due_at = utcnow()
    unit = next(u for u in catalog_module.active_units if u.kind == "assignment")
    submission = Submission(
        user_pk=nav.user.id,
        context_pk=lotse.context.id,
        unit_pk=unit.id,
        unit_version_pk=unit.versions[0].id,
        text=TEXT,
        state="returned",
        submitted_at=utcnow(),
    )
    db.session.add(submission)
    db.session.flush()
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / str(lotse.context.id)
    folder.mkdir(parents=True, exist_ok=True)
    stored_name = secrets.token_urlsafe(16)
    (folder / stored_name).write_bytes(b"%PDF-1.4\n%%EOF\n")
    db.session.add(
        SubmissionFile(
            submission_pk=submission.id,
            original_name=FILE,  # as if the sanitiser had let it through
            stored_name=stored_name,
            content_type="application/pdf",
            size=15,
            sha256="0" * 64,
        )
    )
    db.session.add(
        GradingDecision(
            submission_pk=submission.id,
            lotse_pk=lotse.user.id,
            unit_version_pk=unit.versions[0].id,
            decision="returned",
            points={},
            total=None,
            max_total=10,
            feedback=FEEDBACK,
            revision_notes=FEEDBACK,
            created_at=utcnow(),
        )
    )
    db.session.commit()
    return lotse, nav, submission


def _assert_escaped(page: str, where: str) -> None:
    for payload in PAYLOADS:
        assert payload not in page, (where, payload)
    for tag in (
        "<script>alert",
        "<img src=x",
        "<svg onload",
        "<iframe src=javascript",
        "<b onmouseover",
    ):
        assert tag not in page, (where, tag)


def test_lotse_pages_escape_what_the_lms_and_users_send(app: Flask, client: FlaskClient) -> None:
    tc = TokenClient(client)
    lotse, _nav, submission = _hostile_course()
    placed = db.session.scalars(
        select(CourseModule).where(CourseModule.module_pk == submission.unit.module_pk)
    ).one()
    pages = [
        ("/lotse/uebersicht", {}),
        ("/lotse/uebersicht", {"modul": "alle"}),
        ("/lotse/teilnehmende", {}),
        ("/lotse/module", {}),
        ("/lotse/bewertung", {"status": "alle"}),
        (f"/lotse/bewertung/{submission.id}", {}),
        (f"/lotse/module/{placed.id}", {}),
    ]
    for path, query in pages:
        response = tc.get(path, lotse.token, **query)
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        _assert_escaped(page, path)
    grading_page = tc.get(f"/lotse/bewertung/{submission.id}", lotse.token).get_data(as_text=True)
    assert "&lt;iframe src=javascript:alert(3)&gt;&lt;/iframe&gt;" in grading_page
    assert "&lt;/textarea&gt;&lt;script&gt;" in grading_page
    roster = tc.get("/lotse/teilnehmende", lotse.token).get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;" in roster
    assert "&lt;img src=x onerror=alert(1)&gt;" in roster


def test_navigator_pages_escape_names_titles_and_feedback(app: Flask, client: FlaskClient) -> None:
    tc = TokenClient(client)
    _lotse, nav, submission = _hostile_course()
    unit = submission.unit
    for path in ("/module", "/module/b1", f"/module/b1/einheit/{unit.slug}"):
        response = tc.get(path, nav.token)
        assert response.status_code == 200, path
        _assert_escaped(response.get_data(as_text=True), path)
    assignment = tc.get(f"/module/b1/einheit/{unit.slug}", nav.token).get_data(as_text=True)
    assert "&lt;/textarea&gt;&lt;script&gt;alert(5)&lt;/script&gt;" in assignment
