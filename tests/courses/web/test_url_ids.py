"""Ids in URLs and query parameters beyond the database's integer range are "not found", never a
database error (500): PostgreSQL refuses them as ``integer out of range``, SQLite as an overflow,
and the error log would carry the request's parameters."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests import factories as f
from tests.courses.conftest import TokenClient

TOO_BIG = str(2**31)  # one above PostgreSQL's integer
HUGE = "9" * 25


@pytest.mark.parametrize("number", [TOO_BIG, HUGE])
def test_out_of_range_ids_are_404(app: Flask, client: FlaskClient, number: str) -> None:
    tc = TokenClient(client)
    moodle = f.platform()
    lotse = f.launch(moodle, "lotse-a", lotse=True)
    nav = f.launch(moodle, "nav-1")
    catalog_module = f.module("b1")
    f.place(lotse.context, catalog_module)
    quiz = next(u for u in catalog_module.active_units if u.kind == "quiz")
    assignment = next(u for u in catalog_module.active_units if u.kind == "assignment")

    lotse_gets = [
        f"/lotse/module/{number}",
        f"/lotse/bewertung/{number}",
        f"/lotse/bewertung/{number}/dateien/1",
    ]
    for path in lotse_gets:
        assert tc.get(path, lotse.token).status_code == 404, path
    lotse_posts = [
        f"/lotse/module/{number}",
        f"/lotse/bewertung/{number}",
        f"/lotse/teilnehmende/{number}/gemeinde",
    ]
    for path in lotse_posts:
        assert tc.post(path, lotse.token, {"gemeinde": "Pirna"}).status_code == 404, path
    for path in ("/lotse/uebersicht", "/lotse/uebersicht.csv", "/api/lotse/uebersicht"):
        assert tc.get(path, lotse.token, modul=number).status_code == 404, path
    assert tc.get("/lotse/bewertung", lotse.token, modul=number).status_code == 404

    assert tc.get(f"/abgabe/datei/{number}", nav.token).status_code == 404
    assert tc.get(f"/abgabe/datei/{number}", lotse.token).status_code == 404
    attempt = f"/module/b1/einheit/{quiz.slug}/versuch/{number}"
    assert tc.get(attempt, nav.token).status_code == 404
    removal = f"/module/b1/einheit/{assignment.slug}/abgabe/datei/{number}/entfernen"
    assert tc.post(removal, nav.token).status_code == 404


def test_ids_in_range_still_work(app: Flask, client: FlaskClient) -> None:
    tc = TokenClient(client)
    moodle = f.platform()
    lotse = f.launch(moodle, "lotse-a", lotse=True)
    placed = f.place(lotse.context, f.module("b1"))
    assert tc.get(f"/lotse/module/{placed.id}", lotse.token).status_code == 200
    overview = tc.get("/api/lotse/uebersicht", lotse.token, modul=str(placed.id))
    assert overview.status_code == 200
    assert overview.get_json()["filters"]["course_module_id"] == placed.id
    # Not a number at all: still "not found", as before.
    assert tc.get("/lotse/uebersicht", lotse.token, modul="abc").status_code == 404
    assert tc.get("/lotse/bewertung", lotse.token, modul="-1").status_code == 404
