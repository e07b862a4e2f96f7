"""The progress overview: a constant number of queries, the CSV for German Excel, the JSON,
filters, focus on the launched module, assignments with due dates, and no ranking."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import flask_babel
import pytest
from flask import Flask
from sqlalchemy import event, select

from courses.models import CourseModule, CourseModuleMember, MunicipalitySource, UnitProgress
from courses.services.municipalities import assign, by_key
from lti_tool.extensions import db
from tests import factories as f
from tests.courses.conftest import TokenClient

RATHEN = "14628310"
PIRNA = "14628270"


@contextmanager
def counted_queries() -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def _course(tc: TokenClient, registration: Any, context_id: str, navigators: int) -> f.Started:
    lotse = f.launch(registration, f"lotse-{context_id}", lotse=True, context_id=context_id)
    modules = [f.module(f"m-{context_id}-{i}", position=i) for i in range(3)]
    for catalog_module in modules:
        f.place(lotse.context, catalog_module)
    f.bulk_navigators(
        lotse.context,
        navigators,
        modules=modules,
        municipalities=[(RATHEN, "Rathen, Kurort"), (PIRNA, "Pirna, Stadt")],
    )
    # One limited module, so the member lookup is part of what is measured.
    placed, due, _other = db.session.scalars(
        select(CourseModule)
        .where(CourseModule.context_pk == lotse.context.id)
        .order_by(CourseModule.id)
    ).all()
    placed.limited_to_members = True
    placed.due_at = datetime.now(UTC) - timedelta(days=1)
    # And one past due for everyone, so that the overdue cells are part of what is measured.
    due.due_at = datetime.now(UTC) - timedelta(days=1)
    db.session.commit()
    # The first visit of a launch refreshes the roster; measure the visits after it.
    assert tc.get("/lotse/uebersicht", lotse.token).status_code == 200
    return lotse


@contextmanager
def counted_translations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How often a text is looked up in the catalogue: every ``_()``, template ``_()`` and lazy
    text turned into a string passes through ``Domain.get_translations``."""
    calls = [0]
    lookup = flask_babel.Domain.get_translations

    def counting(self: flask_babel.Domain) -> Any:
        calls[0] += 1
        return lookup(self)

    with monkeypatch.context() as patch:
        patch.setattr(flask_babel.Domain, "get_translations", counting)
        yield calls


PATHS = ("/lotse/uebersicht", "/lotse/uebersicht.csv", "/api/lotse/uebersicht")


def test_queries_and_translations_are_constant_from_10_to_1000_navigators(
    app: Flask, tc: TokenClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    registration = f.platform()
    small = _course(tc, registration, "klein", 10)
    large = _course(tc, registration, "gross", 1000)
    queries, translations = {}, {}
    for name, started in (("small", small), ("large", large)):
        for path in PATHS:
            db.session.remove()
            with counted_queries() as statements, counted_translations(monkeypatch) as lookups:
                response = tc.get(path, started.token)
                assert response.status_code == 200, response.text[:300]
                response.get_data()  # the streamed CSV is written here
            queries[(name, path)] = len(statements)
            translations[(name, path)] = lookups[0]
    for path in PATHS:
        assert queries[("small", path)] == queries[("large", path)], queries
        # Each status label once per request, not once per cell (3,000 cells in the large one).
        assert translations[("small", path)] == translations[("large", path)], translations
    assert queries[("large", "/lotse/uebersicht")] <= 15, queries
    assert queries[("large", "/lotse/uebersicht.csv")] <= 12, queries
    assert queries[("large", "/api/lotse/uebersicht")] <= 12, queries
    assert max(translations.values()) < 300, translations
    data = tc.get("/api/lotse/uebersicht", large.token).get_json()
    assert data["total_navigators"] == 1000
    assert len(data["navigators"]) == 1000
    cells = [cell for navigator in data["navigators"] for cell in navigator["modules"]]
    assert len(cells) == 3000
    assert sum(1 for c in cells if not c["assigned"]) > 0
    # The page shows every cell, though it renders each distinct one once.
    page = tc.get("/lotse/uebersicht", large.token, modul="alle").text
    assert page.count('<td class="lotse-cell') == 3000
    assert page.count('class="badge lotse-overdue"') == data["overdue"] > 0
    assert page.count('aria-label="nicht zugewiesen"') == sum(1 for c in cells if not c["assigned"])
    assert {c["status_label"] for c in cells} <= {
        "nicht begonnen",
        "in Bearbeitung",
        "zur Überarbeitung zurückgegeben",
        "eingereicht – Bewertung ausstehend",
        "abgeschlossen",
        "nicht zugewiesen",
    }


def test_csv_is_streamed_in_chunks(app: Flask, tc: TokenClient) -> None:
    registration = f.platform()
    lotse = _course(tc, registration, "kurs-csv", 250)
    response = tc.get("/lotse/uebersicht.csv", lotse.token)
    assert response.status_code == 200
    assert response.is_streamed and "Content-Length" not in response.headers
    chunks = list(response.response)  # the body as the server sends it, chunk by chunk
    assert len(chunks) == 3  # 100 Navigatoren per chunk
    assert chunks[0].startswith(b"\xef\xbb\xbfName;")
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 1 + 250 * 3
    assert rows[1][0] == "Person 00000" and rows[-1][0] == "Person 00249"


def _small_course(app: Flask) -> tuple[Any, f.Started, f.Started]:
    registration = f.platform()
    lotse = f.launch(registration, "lotse-1", lotse=True, name="Lotta Lotse")
    nav = f.launch(registration, "nav-1", name="Nora Navi")
    f.launch(registration, "nav-2", name="Anton Anfang")
    catalog_module = f.module("b1", title="Rechtsrahmen")
    placed = f.place(lotse.context, catalog_module)
    unit = catalog_module.active_units[0]
    db.session.add(
        UnitProgress(
            user_pk=nav.user.id,
            context_pk=lotse.context.id,
            unit_pk=unit.id,
            unit_version_pk=unit.versions[0].id,
            state="done",
        )
    )
    placed.due_at = datetime(2026, 3, 1, 22, 59, 59, tzinfo=UTC)  # 01.03.2026, 23:59:59 Berlin
    rathen = by_key(RATHEN)
    assert rathen is not None
    assign(nav.user.id, rathen, MunicipalitySource.NAVIGATOR)
    db.session.commit()
    return placed, lotse, nav


def test_csv_opens_in_german_excel(app: Flask, tc: TokenClient) -> None:
    _placed, lotse, _nav = _small_course(app)
    response = tc.get("/lotse/uebersicht.csv", lotse.token)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    body = response.data
    assert body.startswith(b"\xef\xbb\xbf")
    text = body[3:].decode("utf-8")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert rows[0] == [
        "Name",
        "Kennung im LMS",
        "Gemeinde",
        "Gemeindeschlüssel",
        "Landkreis",
        "Im Werkzeug gestartet",
        "Modul",
        "Modul-ID",
        "Zugewiesen",
        "Status",
        "Fortschritt in %",
        "Fällig am",
        "Überfällig",
    ]
    assert [
        "Nora Navi",
        "nav-1",
        "Kurort Rathen",
        RATHEN,
        "Landkreis Sächsische Schweiz-Osterzgebirge",
        "ja",
        "Rechtsrahmen",
        "b1",
        "ja",
        "in Bearbeitung",
        "33",
        "01.03.2026",
        "ja",
    ] in rows
    # Alphabetical: Anton before Nora, whatever their progress.
    assert [r[0] for r in rows[1:]] == ["Anton Anfang", "Nora Navi"]


def test_csv_cells_cannot_become_formulas(app: Flask, tc: TokenClient) -> None:
    registration = f.platform()
    lotse = f.launch(registration, "lotse-1", lotse=True)
    f.launch(registration, "nav-x", name='=HYPERLINK("http://evil")')
    f.place(lotse.context, f.module("b1"))
    text = tc.get("/lotse/uebersicht.csv", lotse.token).data.decode("utf-8-sig")
    assert "'=HYPERLINK" in text


def test_overview_page_json_chart_and_filters(app: Flask, tc: TokenClient) -> None:
    placed, lotse, _nav = _small_course(app)
    page = tc.get("/lotse/uebersicht", lotse.token)
    assert page.status_code == 200
    html = page.text
    assert "<svg" in html and 'role="img"' in html and '<title id="chart-title">' in html
    assert "Verteilung des Fortschritts als Tabelle" in html
    assert "01.03.2026" in html and "überfällig" in html
    assert html.index("Anton Anfang") < html.index("Nora Navi")
    assert "nicht nach Leistung" in html
    assert "https://" not in html.split("<svg", 1)[1].split("</svg>", 1)[0].replace(
        "http://www.w3.org/2000/svg", ""
    )

    data = tc.get("/api/lotse/uebersicht", lotse.token).get_json()
    assert set(data) == {
        "course",
        "generated_at",
        "filters",
        "modules",
        "navigators",
        "counts",
        "overdue",
        "not_launched",
        "total_navigators",
        "municipalities",
        "distribution",
    }
    nora = next(n for n in data["navigators"] if n["sub"] == "nav-1")
    assert nora["municipality"] == {
        "ags": RATHEN,
        "name": "Kurort Rathen",
        "kreis": "Landkreis Sächsische Schweiz-Osterzgebirge",
    }
    assert nora["modules"][0] == {
        "course_module_id": placed.id,
        "assigned": True,
        "status": "in_progress",
        "status_label": "in Bearbeitung",
        "percent": 33,
        "overdue": True,
    }
    assert data["counts"]["in_progress"] == 1 and data["counts"]["not_started"] == 1
    assert [m["name"] for m in data["municipalities"]] == ["Kurort Rathen", "ohne Gemeinde"]

    only_rathen = tc.get("/api/lotse/uebersicht", lotse.token, gemeinde=RATHEN).get_json()
    assert [n["sub"] for n in only_rathen["navigators"]] == ["nav-1"]
    not_started = tc.get("/api/lotse/uebersicht", lotse.token, status="not_started").get_json()
    assert [n["sub"] for n in not_started["navigators"]] == ["nav-2"]
    filtered_csv = tc.get("/lotse/uebersicht.csv", lotse.token, gemeinde="ohne").data.decode()
    assert "Anton Anfang" in filtered_csv and "Nora Navi" not in filtered_csv
    assert tc.get("/lotse/uebersicht", lotse.token, modul="999999").status_code == 404


def test_overview_focuses_the_module_of_the_launched_link(app: Flask, tc: TokenClient) -> None:
    registration = f.platform()
    lotse = f.launch(registration, "lotse-1", lotse=True)
    f.launch(registration, "nav-1", name="Nora Navi")
    f.place(lotse.context, f.module("b1", title="Rechtsrahmen"))
    f.place(lotse.context, f.module("p1", title="Hundesteuer", kind="best-practice"))
    from_link = f.launch(registration, "lotse-1", lotse=True, custom={"module_id": "p1"})
    page = tc.get("/lotse/uebersicht", from_link.token)
    assert "Ansicht für das Modul" in page.text
    matrix = page.text.split("Personen und Module", 1)[1]
    assert "Hundesteuer" in matrix and "Rechtsrahmen" not in matrix.split("<tbody>")[0]
    everything = tc.get("/lotse/uebersicht", from_link.token, modul="alle")
    assert "Ansicht für das Modul" not in everything.text


def test_assignment_due_date_and_limit(app: Flask, tc: TokenClient) -> None:
    placed, lotse, nav = _small_course(app)
    settings = tc.get(f"/lotse/module/{placed.id}", lotse.token)
    assert settings.status_code == 200 and 'type="date"' in settings.text
    saved = tc.post(
        f"/lotse/module/{placed.id}",
        lotse.token,
        {"faellig_am": "2026-12-24", "beschraenkt": "1", "navigator": [str(nav.user.id)]},
    )
    assert saved.status_code == 303
    db.session.rollback()
    stored = db.session.get(CourseModule, placed.id)
    assert stored is not None
    assert stored.due_at == datetime(2026, 12, 24, 22, 59, 59, tzinfo=UTC)
    assert stored.due_at.tzinfo is not None
    assert stored.limited_to_members
    members = db.session.scalars(select(CourseModuleMember.user_pk)).all()
    assert members == [nav.user.id]
    listing = tc.get("/lotse/module", lotse.token)
    assert "24.12.2026" in listing.text and "ausgewählte Personen" in listing.text
    data = tc.get("/api/lotse/uebersicht", lotse.token).get_json()
    anton = next(n for n in data["navigators"] if n["name"] == "Anton Anfang")
    assert anton["modules"][0]["assigned"] is False and anton["modules"][0]["percent"] is None

    refused = tc.post(
        f"/lotse/module/{placed.id}", lotse.token, {"faellig_am": "24.12.", "beschraenkt": "1"}
    )
    assert refused.status_code == 422
    assert "TT.MM.JJJJ" in refused.text and "mindestens eine Person" in refused.text
    back = tc.post(
        f"/lotse/module/{placed.id}", lotse.token, {"faellig_am": "", "beschraenkt": "0"}
    )
    assert back.status_code == 303
    db.session.rollback()
    stored = db.session.get(CourseModule, placed.id)
    assert stored is not None and stored.due_at is None and not stored.limited_to_members
    assert db.session.scalars(select(CourseModuleMember)).all() == []


def test_counts_of_modules_with_many_and_few_units(app: Flask, tc: TokenClient) -> None:
    """The unit counts come packed in one sum per Navigator and module; a module with more
    units than another must not spill into the next count."""
    registration = f.platform()
    lotse = f.launch(registration, "lotse-1", lotse=True)
    nav = f.launch(registration, "nav-1", name="Nora Navi")
    long = f.module("lang", units=("reading",) * 9, position=1)
    short = f.module("kurz", units=("reading", "assignment"), position=2)
    f.place(lotse.context, long)
    f.place(lotse.context, short)
    states = {
        **{u.id: "done" for u in long.active_units[:8]},
        long.active_units[8].id: "in_progress",
    }
    states[short.active_units[1].id] = "submitted"
    for catalog_module in (long, short):
        for unit in catalog_module.active_units:
            if unit.id in states:
                db.session.add(
                    UnitProgress(
                        user_pk=nav.user.id,
                        context_pk=lotse.context.id,
                        unit_pk=unit.id,
                        unit_version_pk=unit.versions[0].id,
                        state=states[unit.id],
                    )
                )
    db.session.commit()
    data = tc.get("/api/lotse/uebersicht", lotse.token).get_json()
    nora = next(n for n in data["navigators"] if n["sub"] == "nav-1")
    assert [(m["status"], m["percent"]) for m in nora["modules"]] == [
        ("in_progress", 88),  # 8 of 9
        ("pending_review", 50),  # the assignment submitted, the reading not done
    ]
