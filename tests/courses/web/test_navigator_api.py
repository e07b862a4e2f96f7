"""The Navigator's JSON API: modules with progress, units, reading, quiz and submission; bad
input is 422 with German field errors."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from courses.models import QuizAttempt, Submission
from lti_tool.extensions import db
from tests.factories import RIGHT, http_launch, make_module


@pytest.fixture
def nav(app, client):  # type: ignore[no-untyped-def]
    make_module("b9-test", title="API-Modul")
    launched = http_launch(client, module_id="b9-test")
    client.get(launched.location)
    return launched


def test_modules_and_module_detail(client, nav):
    modules = client.get("/api/module", headers=nav.headers)
    assert modules.status_code == 200
    [module] = modules.get_json()["modules"]
    assert module["slug"] == "b9-test" and module["title"] == "API-Modul"
    assert (module["percent"], module["status"], module["next_unit"]) == (0, "not_started", "lesen")
    assert module["status_label"] == "nicht begonnen"

    read = client.post("/api/module/b9-test/einheit/lesen/gelesen", headers=nav.headers)
    assert read.status_code == 200
    assert read.get_json()["state"] == "done" and read.get_json()["module_percent"] == 33

    detail = client.get("/api/module/b9-test", headers=nav.headers).get_json()
    assert detail["objectives"] == ["Sie können Tests schreiben."]
    assert [u["state"] for u in detail["units"]] == ["done", "not_started", "not_started"]
    assert detail["status"] == "in_progress" and detail["next_unit"] == "wissenstest"


def test_quiz_and_submission_through_the_api(client, nav):
    unit = client.get("/api/module/b9-test/einheit/wissenstest", headers=nav.headers).get_json()
    assert [q["id"] for q in unit["questions"]] == ["q1", "q2", "q3"]
    attempt = client.post(
        "/api/module/b9-test/einheit/wissenstest/quiz", json={"answers": RIGHT}, headers=nav.headers
    )
    assert attempt.status_code == 201
    body = attempt.get_json()
    assert (body["percent"], body["passed"], body["counted"], body["unit_state"]) == (
        100.0,
        True,
        True,
        "done",
    )
    assert body["questions"][0]["explanation"].startswith("Das OZG-Änderungsgesetz")

    draft = client.post(
        "/api/module/b9-test/einheit/aufgabe/abgabe",
        json={"text": "Entwurf", "state": "draft"},
        headers=nav.headers,
    )
    assert draft.status_code == 200 and draft.get_json()["state"] == "draft"
    submitted = client.post(
        "/api/module/b9-test/einheit/aufgabe/abgabe",
        json={"text": "Fertig", "state": "submitted"},
        headers=nav.headers,
    )
    assert submitted.get_json()["state"] == "submitted"
    assert submitted.get_json()["state_label"] == "eingereicht – wartet auf Bewertung"
    module = client.get("/api/module/b9-test", headers=nav.headers).get_json()
    # Handed in, the reading not confirmed: the assignment decides (courses.services.progress).
    assert (module["percent"], module["status"]) == (66, "pending_review")
    locked = client.post(
        "/api/module/b9-test/einheit/aufgabe/abgabe",
        json={"text": "Nachher", "state": "draft"},
        headers=nav.headers,
    )
    assert locked.status_code == 409


@pytest.mark.parametrize(
    ("path", "payload", "field", "message"),
    [
        ("wissenstest/quiz", {}, "answers", "Diese Angabe fehlt."),
        ("wissenstest/quiz", {"answers": ["q1"]}, "answers", "Hier wird ein Objekt erwartet."),
        ("wissenstest/quiz", {"answers": {"q1": "a"}}, "answers", "Hier wird eine Liste erwartet."),
        ("wissenstest/quiz", [], "_schema", "Der Inhalt muss ein JSON-Objekt sein."),
        ("aufgabe/abgabe", {"text": "x", "state": "fertig"}, "state", "Erlaubt sind nur"),
        ("aufgabe/abgabe", {"state": "draft"}, "text", "Diese Angabe fehlt."),
        ("aufgabe/abgabe", {"text": 5, "state": "draft"}, "text", "Hier wird ein Text erwartet."),
        ("aufgabe/abgabe", {"text": "x", "state": "draft", "points": 9}, "points", "Unbekanntes"),
        ("lesen/gelesen", {"done": True}, "done", "Unbekanntes Feld"),
    ],
)
def test_bad_input_is_422_with_german_field_errors(client, nav, path, payload, field, message):
    response = client.post(f"/api/module/b9-test/einheit/{path}", json=payload, headers=nav.headers)
    assert response.status_code == 422
    body = response.get_json()
    assert body["message"] == "Einige Angaben sind nicht gültig."
    assert message in str(body["errors"][field])
    assert db.session.scalar(select(func.count()).select_from(QuizAttempt)) == 0


def test_a_body_that_is_not_json_is_422(client, nav):
    response = client.post(
        "/api/module/b9-test/einheit/wissenstest/quiz",
        data="answers=q1",
        content_type="application/json",
        headers=nav.headers,
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"_schema": ["Der Inhalt muss ein JSON-Objekt sein."]}
    too_long = client.post(
        "/api/module/b9-test/einheit/aufgabe/abgabe",
        json={"text": "x" * 100_001, "state": "draft"},
        headers=nav.headers,
    )
    assert too_long.status_code == 422
    assert "zu lang" in too_long.get_json()["errors"]["text"][0]
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0


def test_actions_on_the_wrong_kind_of_unit_are_404(client, nav):
    assert (
        client.post("/api/module/b9-test/einheit/aufgabe/gelesen", headers=nav.headers).status_code
        == 404
    )
    wrong_kind = client.post(
        "/api/module/b9-test/einheit/lesen/quiz", json={"answers": RIGHT}, headers=nav.headers
    )
    assert wrong_kind.status_code == 404
