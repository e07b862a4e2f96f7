"""The overview's exports are downloads named after the course and the day: the "Als JSON" link
used to open a bare JSON page (no title, no language, no landmarks) in the Lotse's browser."""

from __future__ import annotations

import re

from flask import Flask

from courses.services.dates import iso_day
from lti_tool.extensions import db
from lti_tool.models import utcnow
from tests import factories as f
from tests.courses.conftest import TokenClient


def test_csv_and_json_are_downloads_named_after_course_and_day(app: Flask, tc: TokenClient) -> None:
    lotse = f.launch(f.platform(), "lotsin", lotse=True)
    lotse.context.label = "DN 2026/1 Meißen-Süd"
    db.session.commit()
    day = iso_day(utcnow())

    page = tc.get("/lotse/uebersicht", lotse.token).text
    links = re.findall(r'<a href="([^"]+)" download>([^<]+)</a>', page)
    assert [text for _href, text in links] == [
        "Als CSV für Excel herunterladen",
        "Als JSON herunterladen",
    ]
    for extension, content_type in (
        ("csv", "text/csv; charset=utf-8"),
        ("json", "application/json"),
    ):
        href = next(h for h, _t in links if ("uebersicht.csv" in h) == (extension == "csv"))
        response = tc.client.get(href.replace("&amp;", "&"))
        assert response.status_code == 200, href
        assert response.headers.getlist("Content-Type") == [content_type]
        assert response.headers["Content-Disposition"] == (
            f'attachment; filename="uebersicht-dn-2026-1-meissen-sued-{day}.{extension}"'
        )
        assert response.headers["Cache-Control"] == "private, no-store"
    data = tc.get("/api/lotse/uebersicht", lotse.token).get_json()
    assert data["course"]["context_id"] == lotse.context.context_id  # scripts read the same body
