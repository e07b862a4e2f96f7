"""Grading end to end: the Navigator submits through the Navigator pages, the Lotse grades with
the rubric (the total computed on the server), the Navigator sees the feedback; a return for
revision, a resubmission and a second grade; the history of decisions."""

from __future__ import annotations

import io

from flask import Flask
from sqlalchemy import select

from courses.models import GradebookOutbox, GradingDecision, Submission, UnitProgress
from courses.services.submissions import latest_decision
from lti_tool.extensions import db
from tests import factories as f
from tests.courses.conftest import TokenClient

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _queued(user_pk: int, course_module_pk: int) -> tuple[int, dict[str, object]]:
    """Version and payload of the score queued for the LMS (the gradebook outbox row)."""
    db.session.rollback()
    row = db.session.scalars(
        select(GradebookOutbox).where(
            GradebookOutbox.user_pk == user_pk, GradebookOutbox.course_module_pk == course_module_pk
        )
    ).one()
    return row.version, row.payload


def _setup() -> tuple[f.Started, f.Started, str, int]:
    registration = f.platform()
    lotse = f.launch(registration, "lotse-1", lotse=True, name="Lotta Lotse")
    nav = f.launch(registration, "nav-1", name="Nora Navi")
    catalog_module = f.module("b1", title="Rechtsrahmen")
    placed = f.place(lotse.context, catalog_module)
    unit = next(u for u in catalog_module.active_units if u.kind == "assignment")
    return lotse, nav, f"/module/b1/einheit/{unit.slug}", placed.id


def _submit(tc: TokenClient, nav: f.Started, unit_path: str, text: str, files: bool = True) -> None:
    data: dict[str, object] = {"text": text, "aktion": "einreichen"}
    if files:
        data["dateien"] = [
            (io.BytesIO(PDF), "konzept.pdf"),
            (io.BytesIO(b"Zeile 1\nZeile 2\n"), "notizen.txt"),
        ]
    response = tc.post(unit_path + "/abgabe", nav.token, data, content_type="multipart/form-data")
    assert response.status_code == 303, response.text[:2000]


def _submission() -> Submission:
    db.session.rollback()
    submission = db.session.scalars(select(Submission)).one()
    return submission


def _unit_state() -> str:
    db.session.rollback()
    return db.session.scalars(
        select(UnitProgress.state).where(UnitProgress.unit_pk.isnot(None))
    ).all()[-1]


def test_submit_grade_feedback_return_resubmit_grade(app: Flask, tc: TokenClient) -> None:
    lotse, nav, unit_path, course_module_pk = _setup()
    _submit(tc, nav, unit_path, "Unsere Bestandsaufnahme: 17 Leistungen.")
    submission = _submission()
    assert submission.state == "submitted"

    # The queue: submitted, oldest first, with filters.
    queue = tc.get("/lotse/bewertung", lotse.token)
    assert queue.status_code == 200 and "Nora Navi" in queue.text
    assert "Nora Navi" in tc.get("/lotse/bewertung", lotse.token, modul=course_module_pk).text
    assert "Nora Navi" not in tc.get("/lotse/bewertung", lotse.token, status="bewertet").text
    assert "Nora Navi" not in tc.get("/lotse/bewertung", lotse.token, gemeinde="14628310").text

    page = tc.get(f"/lotse/bewertung/{submission.id}", lotse.token)
    assert page.status_code == 200
    assert "Unsere Bestandsaufnahme: 17 Leistungen." in page.text
    assert 'max="6"' in page.text and 'max="4"' in page.text
    pdf, txt = submission.files
    assert f"/lotse/bewertung/{submission.id}/dateien/{pdf.id}" in page.text
    assert "<iframe" in page.text  # the PDF is previewed inline

    inline = tc.get(f"/lotse/bewertung/{submission.id}/dateien/{pdf.id}", lotse.token)
    assert inline.status_code == 200 and inline.data == PDF
    assert inline.headers["Content-Type"] == "application/pdf"
    assert inline.headers["Content-Disposition"].startswith("inline")
    inline.close()
    attachment = tc.get(f"/lotse/bewertung/{submission.id}/dateien/{txt.id}", lotse.token)
    assert attachment.headers["Content-Disposition"].startswith("attachment")
    assert attachment.headers["Content-Type"].startswith("text/plain")
    assert "sandbox" in attachment.headers["Content-Security-Policy"]
    attachment.close()

    # Out-of-range points are refused with a field error; nothing is stored.
    too_many = tc.post(
        f"/lotse/bewertung/{submission.id}",
        lotse.token,
        {"punkte-inhalt": "7", "punkte-form": "2", "entscheidung": "bewertet"},
    )
    assert too_many.status_code == 422 and "Erlaubt sind 0 bis 6 Punkte" in too_many.text
    assert latest_decision(_submission()) is None

    # Return for revision: what to change is required.
    missing = tc.post(
        f"/lotse/bewertung/{submission.id}", lotse.token, {"entscheidung": "zurueckgegeben"}
    )
    assert missing.status_code == 422 and "was überarbeitet werden soll" in missing.text
    returned = tc.post(
        f"/lotse/bewertung/{submission.id}",
        lotse.token,
        {
            "punkte-inhalt": "3",
            "entscheidung": "zurueckgegeben",
            "rueckmeldung": "Guter Anfang.",
            "ueberarbeitung": "Bitte ergänzen Sie die Fallzahlen.",
        },
    )
    assert returned.status_code == 303
    submission = _submission()
    assert submission.state == "returned"
    assert _unit_state() == "returned"
    assert _queued(nav.user.id, course_module_pk)[1]["gradingProgress"] == "Pending"

    # The Navigator sees the feedback and can work on the submission again.
    seen = tc.get(unit_path, nav.token)
    assert "Bitte ergänzen Sie die Fallzahlen." in seen.text and "Guter Anfang." in seen.text
    # A returned submission cannot be graded until it is resubmitted.
    early = tc.post(
        f"/lotse/bewertung/{submission.id}",
        lotse.token,
        {"punkte-inhalt": "6", "punkte-form": "4", "entscheidung": "bewertet"},
    )
    assert early.status_code == 409
    _submit(tc, nav, unit_path, "Ergänzt: Fallzahlen 2025.", files=False)
    assert _submission().state == "submitted"

    # Graded: the total comes from the rubric; forged totals are ignored.
    graded = tc.post(
        f"/lotse/bewertung/{submission.id}",
        lotse.token,
        {
            "punkte-inhalt": "5,5",
            "punkte-form": "4",
            "gesamt": "999",
            "total": "999",
            "entscheidung": "bewertet",
            "rueckmeldung": "Jetzt vollständig.",
        },
    )
    assert graded.status_code == 303
    submission = _submission()
    assert submission.state == "graded"
    assert _unit_state() == "graded"
    decision = latest_decision(submission)
    assert decision is not None
    assert decision.total == 9.5 and decision.max_total == 10
    assert decision.points == {"inhalt": 5.5, "form": 4.0}
    assert decision.lotse_pk == lotse.user.id
    history = db.session.scalars(
        select(GradingDecision.decision).order_by(GradingDecision.id)
    ).all()
    assert history == ["returned", "graded"]

    seen = tc.get(unit_path, nav.token)
    assert "Jetzt vollständig." in seen.text and "9.5" in seen.text
    lotse_view = tc.get(f"/lotse/bewertung/{submission.id}", lotse.token)
    assert "Bisherige Entscheidungen" in lotse_view.text
    assert lotse_view.text.index("bewertet") < lotse_view.text.index("zur Überarbeitung")

    # A corrected grade is another history row and queues the new score again.
    before, _payload = _queued(nav.user.id, course_module_pk)
    corrected = tc.post(
        f"/lotse/bewertung/{submission.id}",
        lotse.token,
        {"punkte-inhalt": "6", "punkte-form": "4", "entscheidung": "bewertet"},
    )
    assert corrected.status_code == 303
    assert latest_decision(_submission()).total == 10  # type: ignore[union-attr]
    version, payload = _queued(nav.user.id, course_module_pk)
    assert (version, payload["scoreGiven"]) == (before + 1, 10.0)


def test_a_draft_is_not_visible_to_the_lotse(app: Flask, tc: TokenClient) -> None:
    lotse, nav, unit_path, _cm = _setup()
    saved = tc.post(unit_path + "/abgabe", nav.token, {"text": "Entwurf", "aktion": "entwurf"})
    assert saved.status_code == 303
    submission = _submission()
    assert submission.state == "draft"
    assert tc.get(f"/lotse/bewertung/{submission.id}", lotse.token).status_code == 404
    assert "Nora Navi" not in tc.get("/lotse/bewertung", lotse.token, status="alle").text
