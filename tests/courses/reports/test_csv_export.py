"""CSV export (formula injection): a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is a formula to Excel and LibreOffice. Names and pseudonyms come from the LMS, so
every such cell is prefixed with ``'`` and stays text."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient

from lti_tool.extensions import db
from tests import factories as f
from tests.courses.conftest import TokenClient

FORMULAS = ['=HYPERLINK("http://evil")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)"]


def _rows(body: bytes) -> list[list[str]]:
    text = body.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text), delimiter=";"))


@pytest.mark.parametrize("formula", FORMULAS)
def test_lms_names_and_pseudonyms_cannot_become_formulas(
    app: Flask, client: FlaskClient, formula: str
) -> None:
    tc = TokenClient(client)
    moodle = f.platform()
    lotse = f.launch(moodle, "lotse-a", lotse=True)
    f.launch(moodle, "nav-name", name=formula)
    split = f.launch(moodle, "nav-split")
    split.user.given_name, split.user.family_name = formula, "Muster"
    f.launch(moodle, formula + "-sub")
    tabbed = f.launch(moodle, "nav-tab")
    tabbed.user.sub = "\t" + formula
    db.session.commit()
    f.place(lotse.context, f.module("b1"))

    response = tc.get("/lotse/uebersicht.csv", lotse.token)
    assert response.status_code == 200
    rows = _rows(response.data)
    cells = [cell for row in rows[1:] for cell in row]
    assert cells, rows
    for cell in cells:
        assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), cell
    assert "'" + formula in cells
    assert "'" + formula + " Muster" in cells
    assert "'" + formula + "-sub" in cells
    assert "'\t" + formula in cells
