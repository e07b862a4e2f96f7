"""The Navigator's JSON API answers malformed bodies with 422 and a German message, never 500."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests import factories as f

NESTED = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("unit_kind", "action"), [("reading", "gelesen"), ("quiz", "quiz"), ("assignment", "abgabe")]
)
@pytest.mark.parametrize(
    "body", [NESTED, '{"answers": ' + NESTED + "}", '{"text": "\\ud800", "state": "draft"}']
)
def test_malformed_json_is_422_in_german(
    app: Flask, client: FlaskClient, unit_kind: str, action: str, body: str
) -> None:
    nav = f.launch(f.platform(), "nav-1")
    catalog_module = f.module("b1")
    f.place(nav.context, catalog_module)
    unit = next(u for u in catalog_module.active_units if u.kind == unit_kind)
    response = client.post(
        f"/api/module/b1/einheit/{unit.slug}/{action}",
        data=body,
        content_type="application/json",
        headers={"X-Launch-Token": nav.token},
    )
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert response.get_json()["message"] == "Einige Angaben sind nicht gültig."
