"""axe-core (WCAG 2.1 A and AA) finds nothing on any page of the tool, in real Chromium: every
Navigator and Lotse page, the Deep Linking picker, the error pages and the empty states, each
opened on its own and inside an LMS-like iframe."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page

from .conftest import (
    ASSIGNMENT,
    DRAFTING,
    EMPTY_STATES,
    LOTSE,
    MODULE,
    NAVIGATOR,
    QUIZ,
    READING,
    WITH_FILE,
    Site,
    embed,
    open_page,
    run_axe,
)

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Visit:
    """Where a page is: a URL, and the form fields when it is the answer to a POST."""

    url: str
    post: dict[str, str] | None = None


PAGES: dict[str, Callable[[Site], Visit]] = {
    # Navigator
    "Meine Module": lambda s: Visit(s.url("/module", NAVIGATOR)),
    "Modul": lambda s: Visit(s.url(f"/module/{MODULE}", NAVIGATOR)),
    "Lesetext": lambda s: Visit(s.unit(READING)),
    "Quiz": lambda s: Visit(s.unit(QUIZ)),
    "Quiz leer abgegeben (Fehler)": lambda s: Visit(
        s.unit(QUIZ).split("?")[0] + "/quiz", {"lt": s.tokens[NAVIGATOR]}
    ),
    "Quiz-Ergebnis": lambda s: Visit(
        s.url(f"/module/{MODULE}/einheit/{QUIZ}/versuch/{s.ids['attempt']}", DRAFTING)
    ),
    "Praxisaufgabe": lambda s: Visit(s.unit(ASSIGNMENT)),
    "Praxisaufgabe mit Datei (Entwurf)": lambda s: Visit(s.unit(ASSIGNMENT, DRAFTING)),
    "Praxisaufgabe eingereicht": lambda s: Visit(s.unit(ASSIGNMENT, WITH_FILE)),
    "Praxisaufgabe zu langer Text (Fehler)": lambda s: Visit(
        s.unit(ASSIGNMENT).split("?")[0] + "/abgabe",
        {"lt": s.tokens[NAVIGATOR], "text": "x" * 100_001, "aktion": "entwurf"},
    ),
    "Gemeinde": lambda s: Visit(s.url("/gemeinde", NAVIGATOR)),
    "Querverweis auf ein Modul außerhalb des Kurses": lambda s: Visit(
        s.url("/module/b2-basiskomponenten", NAVIGATOR, von=f"{MODULE}/{READING}")
    ),
    "Meine Daten": lambda s: Visit(s.url("/meine-daten", WITH_FILE)),
    "Meine Daten (Lotse)": lambda s: Visit(s.url("/meine-daten", LOTSE)),
    # Lotse
    "Lotse-Übersicht": lambda s: Visit(s.url("/lotse/uebersicht", LOTSE)),
    "Lotse-Übersicht gefiltert leer": lambda s: Visit(
        s.url("/lotse/uebersicht", LOTSE, gemeinde="ohne", modul="alle")
    ),
    "Teilnehmende": lambda s: Visit(s.url("/lotse/teilnehmende", LOTSE)),
    "Module und Fristen": lambda s: Visit(s.url("/lotse/module", LOTSE)),
    "Moduleinstellungen": lambda s: Visit(s.url(f"/lotse/module/{s.ids['course-module']}", LOTSE)),
    "Moduleinstellungen ohne Auswahl (Fehler)": lambda s: Visit(
        s.url(f"/lotse/module/{s.ids['course-module']}"),
        {"lt": s.tokens[LOTSE], "beschraenkt": "1", "faellig_am": "kein Datum"},
    ),
    "Bewertungsliste": lambda s: Visit(s.url("/lotse/bewertung", LOTSE)),
    "Bewertungsliste gefiltert leer": lambda s: Visit(
        s.url("/lotse/bewertung", LOTSE, status="zurueckgegeben")
    ),
    "Bewertungsformular (mit Bildvorschau)": lambda s: Visit(
        s.url(f"/lotse/bewertung/{s.ids['submission-' + WITH_FILE]}", LOTSE)
    ),
    "Bewertungsformular mit Fehlern": lambda s: Visit(
        s.url(f"/lotse/bewertung/{s.ids['submission-' + WITH_FILE]}"),
        {"lt": s.tokens[LOTSE], "punkte-vollstaendigkeit": "999", "entscheidung": "zurueckgegeben"},
    ),
    "Notenbuch": lambda s: Visit(s.url("/lotse/notenbuch", LOTSE)),
    "Deep-Linking-Auswahl": lambda s: Visit(s.url("/lotse/auswahl", "picker")),
    "Deep-Linking-Auswahl ohne Treffer": lambda s: Visit(
        s.url("/lotse/auswahl", "picker", suche="gibt es nicht")
    ),
    "Deep-Linking-Vorschau": lambda s: Visit(s.url(f"/lotse/auswahl/modul/{MODULE}", "picker")),
    # Without a launch, and errors
    "Startseite ohne Start": lambda s: Visit(s.url("/")),
    "Datenschutzerklärung": lambda s: Visit(s.url("/datenschutz")),
    "Erklärung zur Barrierefreiheit": lambda s: Visit(s.url("/barrierefreiheit")),
    "Impressum": lambda s: Visit(s.url("/impressum")),
    "401 ohne Start": lambda s: Visit(s.url("/module")),
    "403 Navigator auf Lotsen-Seite": lambda s: Visit(s.url("/lotse/uebersicht", NAVIGATOR)),
    "404 unbekanntes Modul": lambda s: Visit(s.url("/module/gibt-es-nicht", NAVIGATOR)),
    "422 ungültige Person": lambda s: Visit(
        s.url(f"/lotse/module/{s.ids['course-module']}"),
        {"lt": s.tokens[LOTSE], "beschraenkt": "1", "navigator": "keine-zahl"},
    ),
    "Startfehler (id_token kaputt)": lambda s: Visit(
        s.url("/lti/launch"), {"id_token": "kaputt", "state": "unbekannt"}
    ),
}

WHERE = ["eigenständig", "im iframe"]


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("name", list(PAGES))
def test_page_has_no_axe_violations(site: Site, page: Page, name: str, where: str) -> None:
    visit = PAGES[name](site)
    if where == "eigenständig":
        frame = open_page(page, visit.url, visit.post)
    else:
        frame = embed(page, visit.url, visit.post)
    assert frame.locator("h1").count() == 1, f"{name}: genau eine Hauptüberschrift erwartet"
    title = frame.title()
    assert re.fullmatch(r"\S.* – Lotsen-LTI", title), f"{name}: Titel {title!r}"
    if "(Fehler)" in name or "mit Fehlern" in name:
        assert title.startswith("Fehler: "), title
    result = run_axe(frame)
    assert not result.violations, result.summary()


@pytest.mark.parametrize("name", [f"{n} ({w})" for n in EMPTY_STATES for w in WHERE])
def test_empty_state_has_no_axe_violations(site: Site, name: str) -> None:
    """The empty course (no module yet) was checked while the session's course was built."""
    result = site.early[name]
    assert not result.violations, result.summary()
