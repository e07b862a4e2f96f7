"""Bad form input on the Lotse's pages gets a 4xx with a German message, never a 500; a due date
in the format the message asks for (TT.MM.JJJJ, typed where the browser shows no date picker) is
accepted."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from courses.models import CourseModule
from lti_tool.extensions import db
from tests import factories as f
from tests.courses.conftest import TokenClient
from tests.factories import text_of

BERLIN = ZoneInfo("Europe/Berlin")


def _due_at(pk: int) -> datetime | None:
    db.session.rollback()
    placed = db.session.get(CourseModule, pk)
    assert placed is not None
    return placed.due_at


@pytest.mark.parametrize("typed", ["31.12.2026", "2026-12-31", " 31.12.2026 "])
def test_due_date_in_german_or_iso_format(app: Flask, client: FlaskClient, typed: str) -> None:
    tc = TokenClient(client)
    lotse = f.launch(f.platform(), "lotse-a", lotse=True)
    placed = f.place(lotse.context, f.module("b1"))
    saved = tc.post(
        f"/lotse/module/{placed.id}", lotse.token, {"faellig_am": typed, "beschraenkt": "0"}
    )
    assert saved.status_code == 303
    due = _due_at(placed.id)
    assert due is not None
    assert due.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 12, 31, 23, 59, 59)
    assert due.tzinfo is not None and due.utcoffset() == UTC.utcoffset(None)


@pytest.mark.parametrize(
    "typed", ["32.13.2026", "31.02.2026", "24.12.", "morgen", "9" * 5000, "2026-13-01"]
)
def test_impossible_due_dates_are_refused_in_german(
    app: Flask, client: FlaskClient, typed: str
) -> None:
    tc = TokenClient(client)
    lotse = f.launch(f.platform(), "lotse-a", lotse=True)
    placed = f.place(lotse.context, f.module("b1"))
    refused = tc.post(
        f"/lotse/module/{placed.id}", lotse.token, {"faellig_am": typed, "beschraenkt": "0"}
    )
    assert refused.status_code == 422
    assert "Bitte geben Sie ein Datum im Format TT.MM.JJJJ an." in text_of(refused.data)
    assert _due_at(placed.id) is None
