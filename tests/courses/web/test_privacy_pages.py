"""'Meine Daten' (courses/web/privacy.py): reachable from "Meine Module" and the Lotse's menu, it
shows a person everything the tool holds on them in an accessible page, offers it as JSON and as a
self-contained HTML document (each download recorded without content), and their own files from
any course. And data minimisation: a whole Navigator journey and a grading, with names, e-mail
addresses and texts, leave none of them in the logs."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from courses.models import PrivacyAudit, Submission
from courses.services import privacy
from lti_tool.extensions import db
from lti_tool.models import Launch, LtiUser
from tests import factories as f
from tests.courses.conftest import TokenClient
from tests.courses.services.privacy_world import ANNA, BRUNO, FEEDBACK, LENA, World, build


@pytest.fixture
def world(app: Flask, client: FlaskClient) -> World:
    return build(TokenClient(client))


def _audits() -> list[PrivacyAudit]:
    db.session.rollback()
    return list(db.session.scalars(select(PrivacyAudit).order_by(PrivacyAudit.id)))


def _launch_id(world: World, sub: str, context_pk: int) -> str:
    """The id of a person's launch in a course."""
    return db.session.scalars(
        select(Launch.id)
        .join(LtiUser, LtiUser.id == Launch.user_pk)
        .where(
            LtiUser.registration_pk == world.registration.id,
            LtiUser.sub == sub,
            Launch.context_pk == context_pk,
        )
    ).one()


def test_meine_module_and_the_lotse_menu_link_to_meine_daten(world: World, tc: TokenClient) -> None:
    page = tc.get("/module", ANNA.tokens["kurs-1"]).get_data(as_text=True)
    assert re.search(r'<a href="/meine-daten\?lt=[^"]+">Meine Daten</a>', page)
    lotse = tc.get("/lotse/uebersicht", LENA.tokens["kurs-1"]).get_data(as_text=True)
    assert re.search(r'<a href="/meine-daten\?lt=[^"]+"\s*>Meine Daten</a>', lotse)


def test_the_page_shows_everything_of_the_person_accessibly(world: World, tc: TokenClient) -> None:
    response = tc.get("/meine-daten", ANNA.tokens["kurs-2"])
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count("<h1") == 1 and "<h1>Meine Daten</h1>" in page
    assert "<title>Meine Daten – Lotsen-LTI</title>" in page
    # Every table has column headers and a name (the heading of its section).
    tables = re.findall(r"<table[^>]*>.*?</table>", page, re.S)
    assert len(tables) >= 6
    for table in tables:
        assert '<th scope="col">' in table
        labelled = re.search(r'<table aria-labelledby="([^"]+)"', table)
        assert labelled and f'id="{labelled.group(1)}"' in page
    text = f.text_of(page)
    for value in (ANNA.sub, ANNA.name, ANNA.email, ANNA.text, FEEDBACK[ANNA.sub], "Pirna"):
        assert value in text, value
    assert "Digital-Navigatoren 2026" in text or "kurs-1" in text
    for value in (*BRUNO.markers, LENA.name, FEEDBACK[BRUNO.sub]):
        assert value not in text, value
    # The downloads and her file, with the launch token; viewing is not a download.
    assert re.search(r'href="/meine-daten\.json\?lt=[^"]+" download>', page)
    assert re.search(r'href="/meine-daten\.html\?lt=[^"]+" download>', page)
    assert f'href="/meine-daten/dateien/{world.files[ANNA.sub]}?lt=' in page
    assert _audits() == []


def test_json_download_is_everything_and_recorded(world: World, tc: TokenClient) -> None:
    response = tc.get("/meine-daten.json", ANNA.tokens["kurs-1"])
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="meine-daten-\d{4}-\d{2}-\d{2}\.json"', disposition)
    assert response.headers["Cache-Control"] == "private, no-store"
    data = json.loads(response.get_data(as_text=True))
    assert data["person"]["sub"] == ANNA.sub and data["person"]["email"] == ANNA.email
    assert data["submissions"][0]["text"] == ANNA.text
    assert {c["context_id"] for c in data["courses"]} == {"kurs-1", "kurs-2"}
    audit = _audits()
    assert [(a.action, a.format, a.actor) for a in audit] == [("export", "json", "self")]
    assert audit[0].actor_ref == _launch_id(world, ANNA.sub, world.course.id)
    assert audit[0].counts == data["counts"]
    assert audit[0].subject_ref == privacy.subject_ref(world.registration.id, ANNA.sub)


def test_html_download_is_a_self_contained_document(world: World, tc: TokenClient) -> None:
    response = tc.get("/meine-daten.html", ANNA.tokens["kurs-1"])
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="meine-daten-')
    assert "script-src" not in response.headers["Content-Security-Policy"]
    page = response.get_data(as_text=True)
    assert page.startswith("<!doctype html>") and '<html lang="de">' in page
    assert page.count("<h1") == 1 and "<script" not in page
    # No link into the tool: it would need a launch, and a token must not sit in a file.
    assert "href=" not in page and "lt=" not in page
    for value in (ANNA.name, ANNA.email, ANNA.text, ANNA.file_name, FEEDBACK[ANNA.sub]):
        assert value in page, value
    assert [(a.action, a.format) for a in _audits()] == [("export", "html")]


def test_own_files_from_any_course_and_nobody_elses(world: World, tc: TokenClient) -> None:
    file_id = world.files[ANNA.sub]
    # Anna, launched in her second course, gets the file she handed in in the first.
    response = tc.get(f"/meine-daten/dateien/{file_id}", ANNA.tokens["kurs-2"])
    assert response.status_code == 200
    assert ANNA.file_marker in response.data
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert ANNA.file_name in response.headers["Content-Disposition"]
    response.close()
    for token in (BRUNO.tokens["kurs-1"], LENA.tokens["kurs-1"]):
        assert tc.get(f"/meine-daten/dateien/{file_id}", token).status_code == 404
    for missing in (0, 999_999, 2**40):
        assert tc.get(f"/meine-daten/dateien/{missing}", ANNA.tokens["kurs-1"]).status_code == 404


def test_a_lotse_sees_and_downloads_their_own_data(world: World, tc: TokenClient) -> None:
    page = tc.get("/meine-daten", LENA.tokens["kurs-1"]).get_data(as_text=True)
    text = f.text_of(page)
    assert LENA.email in text and "Von Ihnen abgegebene Bewertungen" in text
    assert "Lotsen-Bereich" in text  # the way back
    for value in (*ANNA.markers, *BRUNO.markers):
        assert value not in text, value
    data = tc.get("/meine-daten.json", LENA.tokens["kurs-1"]).get_json()
    assert len(data["decisions_made"]) == 2 and data["lotse_grant"] is not None


def test_without_a_launch_nothing(app: Flask, client: FlaskClient) -> None:
    for path in (
        "/meine-daten",
        "/meine-daten.json",
        "/meine-daten.html",
        "/meine-daten/dateien/1",
    ):
        assert client.get(path).status_code == 401, path
    assert _audits() == []


# --- data minimisation ----------------------------------------------------------------------

NAVIGATOR = {
    "sub": "nav-3c9e1f",
    "name": "Gertrud Geheimname",
    "email": "gertrud.geheim@rathaus.example",
}
LOTSE = {"sub": "lotse-8d2a", "name": "Lothar Lotsenname", "email": "lothar.lotse@hsf.example"}
ANSWER = "GEHEIMER-ABGABETEXT-2718 über die Kasse der Gemeinde"
FEEDBACK_TEXT = "GEHEIME-RUECKMELDUNG-3141 an Gertrud"
FILE_NAME = "gertrud-geheim-prozess.pdf"


def test_no_names_emails_or_texts_in_the_logs(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A whole Navigator journey and a grading through real launches (login, signed id_token)
    and the pages, the person's export and erasure: every log record of the app's loggers, at
    DEBUG, is free of the names, e-mail addresses, texts and file names involved."""
    caplog.set_level(logging.DEBUG)
    for name in ("lti_tool", "courses", "demo_lms", "werkzeug", app.logger.name):
        caplog.set_level(logging.DEBUG, logger=name)
    tc = TokenClient(client)
    f.make_module("b1")
    navigator = f.http_launch(client, module_id="b1", **NAVIGATOR)  # type: ignore[arg-type]
    token = navigator.token
    assert client.get(navigator.location).status_code in (200, 303)
    assert tc.post("/gemeinde", token, {"gemeinde": "Pirna"}).status_code == 303
    assert tc.get("/module", token).status_code == 200
    assert tc.get("/module/b1", token).status_code == 200
    assert tc.get("/module/b1/einheit/lesen", token).status_code == 200
    assert tc.post("/module/b1/einheit/lesen/gelesen", token).status_code == 303
    wrong = {f"antwort-{q}": v for q, v in f.WRONG.items()}
    right = {f"antwort-{q}": v for q, v in f.RIGHT.items()}
    assert tc.post("/module/b1/einheit/wissenstest/quiz", token, wrong).status_code == 303
    assert tc.post("/module/b1/einheit/wissenstest/quiz", token, right).status_code == 303
    pdf = io.BytesIO(b"%PDF-1.7\n%%EOF\n")
    refused = tc.post(
        "/module/b1/einheit/aufgabe/abgabe",
        token,
        {"text": ANSWER, "aktion": "entwurf", "dateien": [(io.BytesIO(b"kein pdf"), FILE_NAME)]},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422  # a refused file: the problem names it, the log must not
    saved = tc.post(
        "/module/b1/einheit/aufgabe/abgabe",
        token,
        {"text": ANSWER, "aktion": "einreichen", "dateien": [(pdf, FILE_NAME)]},
        content_type="multipart/form-data",
    )
    assert saved.status_code == 303

    lotse = f.http_launch(client, lotse=True, module_id="b1", **LOTSE)  # type: ignore[arg-type]
    lotse_token = lotse.token
    assert client.get(lotse.location).status_code == 303  # to the Lotse's overview
    for path in (
        "/lotse/uebersicht",
        "/lotse/teilnehmende",
        "/lotse/bewertung",
        "/lotse/notenbuch",
    ):
        assert tc.get(path, lotse_token).status_code == 200, path
    submission = db.session.scalars(select(Submission)).one()
    assert tc.get(f"/lotse/bewertung/{submission.id}", lotse_token).status_code == 200
    form = {"entscheidung": "bewertet", "rueckmeldung": FEEDBACK_TEXT}
    invalid = tc.post(f"/lotse/bewertung/{submission.id}", lotse_token, form)
    assert invalid.status_code == 422  # points missing
    form |= {"punkte-vollstaendig": "6", "punkte-bezug": "4"}
    assert tc.post(f"/lotse/bewertung/{submission.id}", lotse_token, form).status_code == 303
    assert tc.get("/lotse/uebersicht.csv", lotse_token).status_code == 200

    page = tc.get("/module/b1/einheit/aufgabe", token)
    assert FEEDBACK_TEXT in page.get_data(as_text=True)
    for path in ("/meine-daten", "/meine-daten.json", "/meine-daten.html"):
        assert tc.get(path, token).status_code == 200, path
    erasure = privacy.erase(navigator.user, actor=privacy.PrivacyActor.CLI, actor_ref="admin")
    db.session.commit()
    privacy.remove_files(erasure.paths)

    logged = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
    # The log is not empty: the journey was logged, by ids.
    for expected in ("launch accepted", "quiz attempt", "grading decision", "privacy export"):
        assert expected in logged, expected
    secrets = (*NAVIGATOR.values(), *LOTSE.values(), ANSWER, FEEDBACK_TEXT, FILE_NAME)
    for secret in (*secrets, "Gertrud", "Lothar"):
        assert secret not in logged, secret
