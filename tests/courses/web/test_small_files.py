"""A small CSV handed in: it downloads with one charset in its Content-Type (not
``text/csv; charset=utf-8; charset=utf-8``), and every page lists its size in bytes, not as
"0,0 KB"."""

from __future__ import annotations

import io

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from courses.models import Submission, SubmissionFile
from courses.services.submissions import format_size
from lti_tool.extensions import db
from tests import factories as f
from tests.courses.conftest import TokenClient

CSV = b"Leistung;Ja\r\n"  # 13 bytes
assert len(CSV) == 13


def test_a_small_csv_downloads_with_one_charset_and_lists_its_bytes(
    app: Flask, client: FlaskClient
) -> None:
    f.make_module("b9-test")
    navigator = f.http_launch(client, module_id="b9-test")
    client.get(navigator.location)
    handed_in = client.post(
        "/module/b9-test/einheit/aufgabe/abgabe",
        data={
            "lt": navigator.token,
            "text": "Tabelle anbei",
            "aktion": "einreichen",
            "dateien": [(io.BytesIO(CSV), "bestand.csv")],
        },
        content_type="multipart/form-data",
    )
    assert handed_in.status_code == 303, handed_in.text[:300]
    stored = db.session.scalars(select(SubmissionFile)).one()
    submission = db.session.scalars(select(Submission)).one()
    lotse = f.http_launch(client, sub="lotsin", lotse=True)
    tc = TokenClient(client)

    for path, token in (
        (f"/abgabe/datei/{stored.id}", navigator.token),
        (f"/lotse/bewertung/{submission.id}/dateien/{stored.id}", lotse.token),
    ):
        download = tc.get(path, token)
        assert download.status_code == 200
        assert download.headers.getlist("Content-Type") == ["text/csv; charset=utf-8"], path
        assert download.data == CSV
        download.close()

    grading = f.text_of(tc.get(f"/lotse/bewertung/{submission.id}", lotse.token).data)
    assert "bestand.csv (13 Byte)" in grading and "KB" not in grading
    own = f.text_of(tc.get("/module/b9-test/einheit/aufgabe", navigator.token).data)
    assert "bestand.csv (13 Byte)" in own


def test_sizes_below_one_kilobyte_are_bytes() -> None:
    assert [format_size(n) for n in (0, 14, 1023, 1024, 1536, 20 * 1024 * 1024)] == [
        "0 Byte",
        "14 Byte",
        "1023 Byte",
        "1 KB",
        "1,5 KB",
        "20 MB",
    ]
