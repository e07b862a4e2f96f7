"""A NUL character in a path, query, form field or JSON text is refused with a 4xx and a German
message, on both backends. PostgreSQL can neither store nor compare text containing NUL; before,
such a request failed in the database (500) and the error log carried the query's parameters,
among them the Navigator's submission text."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from courses.models import GradingDecision, Submission
from lti_tool.extensions import db
from lti_tool.models import utcnow
from tests import factories as f
from tests.courses.conftest import TokenClient

SECRET = "Vertraulicher Abgabetext"


def _count(model: type) -> int:
    db.session.rollback()
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def test_navigator_text_with_nul_is_refused(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tc = TokenClient(client)
    moodle = f.platform()
    nav = f.launch(moodle, "nav-1")
    catalog_module = f.module("b1")
    f.place(nav.context, catalog_module)
    unit = next(u for u in catalog_module.active_units if u.kind == "assignment")

    page = tc.post(
        f"/module/b1/einheit/{unit.slug}/abgabe",
        nav.token,
        {"text": SECRET + "\x00", "aktion": "entwurf"},
    )
    assert page.status_code == 400
    assert "Ungültige Anfrage" in page.get_data(as_text=True)

    api = client.post(
        f"/api/module/b1/einheit/{unit.slug}/abgabe",
        json={"text": SECRET + "\x00", "state": "draft"},
        headers={"X-Launch-Token": nav.token},
    )
    assert api.status_code == 422
    assert "Nullzeichen" in api.get_json()["errors"]["text"][0]

    assert tc.get("/module/b\x001", nav.token).status_code == 400
    assert tc.get("/module", nav.token, hinweis="x\x00").status_code == 400
    assert _count(Submission) == 0
    assert SECRET not in caplog.text


def test_lotse_input_with_nul_is_refused(app: Flask, client: FlaskClient) -> None:
    tc = TokenClient(client)
    moodle = f.platform()
    lotse = f.launch(moodle, "lotse-a", lotse=True)
    nav = f.launch(moodle, "nav-1")
    catalog_module = f.module("b1")
    f.place(lotse.context, catalog_module)
    unit = next(u for u in catalog_module.active_units if u.kind == "assignment")
    submission = Submission(
        user_pk=nav.user.id,
        context_pk=lotse.context.id,
        unit_pk=unit.id,
        unit_version_pk=unit.versions[0].id,
        text="Abgabe",
        state="submitted",
        submitted_at=utcnow(),
    )
    db.session.add(submission)
    db.session.commit()

    assert tc.get("/lotse/bewertung", lotse.token, gemeinde="\x00").status_code == 400
    graded = tc.post(
        f"/lotse/bewertung/{submission.id}",
        lotse.token,
        {
            "punkte-inhalt": "6",
            "punkte-form": "4",
            "entscheidung": "bewertet",
            "rueckmeldung": "Gut\x00",
        },
    )
    assert graded.status_code == 400
    assert _count(GradingDecision) == 0

    picker = f.launch(moodle, "lotse-a", lotse=True, deep_linking=f.DL_SETTINGS)
    assert tc.get("/lotse/auswahl/modul/b\x001", picker.token).status_code == 400
    assert tc.post("/lotse/auswahl", picker.token, {"modul": "b\x001"}).status_code == 400
