"""Layout and structure in real Chromium: text reflows at 320 CSS pixels (WCAG 1.4.10) and at
200 % zoom (1.4.4) without horizontal scrolling of the page; the progress chart has a table with
the same numbers; the Notenbuch is part of the Lotse area; every page links the legal pages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page

from config.settings import PROJECT_ROOT

from .conftest import (
    ASSIGNMENT,
    DRAFTING,
    LOTSE,
    MODULE,
    NAVIGATOR,
    QUIZ,
    READING,
    WITH_FILE,
    Site,
)

pytestmark = pytest.mark.browser


def main_pages(site: Site) -> dict[str, str]:
    """The pages a Navigator and a Lotse use most, and the legal pages."""
    return {
        "Meine Module": site.url("/module", NAVIGATOR),
        "Modul": site.url(f"/module/{MODULE}", NAVIGATOR),
        "Lesetext": site.unit(READING),
        "Quiz": site.unit(QUIZ),
        "Praxisaufgabe mit Datei": site.unit(ASSIGNMENT, DRAFTING),
        "Lotse-Übersicht": site.url("/lotse/uebersicht", LOTSE),
        "Teilnehmende": site.url("/lotse/teilnehmende", LOTSE),
        "Bewertungsliste": site.url("/lotse/bewertung", LOTSE, status="alle"),
        "Bewertungsformular": site.url(
            f"/lotse/bewertung/{site.ids['submission-' + WITH_FILE]}", LOTSE
        ),
        "Notenbuch": site.url("/lotse/notenbuch", LOTSE),
        "Deep-Linking-Auswahl": site.url("/lotse/auswahl", "picker"),
        "Datenschutzerklärung": site.url("/datenschutz"),
        "Erklärung zur Barrierefreiheit": site.url("/barrierefreiheit"),
    }


#: 320 px: WCAG 1.4.10 Reflow. 640 × 450: the default 1280 × 900 window at 200 % zoom.
@pytest.mark.parametrize(("width", "height"), [(320, 640), (640, 450)], ids=["320px", "zoom200"])
def test_text_reflows_without_horizontal_scrolling(
    site: Site, page: Page, width: int, height: int
) -> None:
    page.set_viewport_size({"width": width, "height": height})
    too_wide = {}
    for name, url in main_pages(site).items():
        page.goto(url)
        # Data tables may scroll inside their own region (the 1.4.10 exception); the page not.
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        if scroll_width > width:
            too_wide[name] = scroll_width
    assert not too_wide, f"Seiten breiter als {width} px: {too_wide}"


def test_progress_chart_has_a_table_with_the_same_numbers(site: Site, page: Page) -> None:
    page.goto(site.url("/lotse/uebersicht", LOTSE))
    chart = page.locator("svg.lotse-chart")
    assert chart.get_attribute("role") == "img"
    name_ids = (chart.get_attribute("aria-labelledby") or "").split()
    assert name_ids and all(page.locator(f"#{i}").text_content() for i in name_ids)
    bars = chart.locator("g.lotse-chart-row")
    in_chart = {
        bars.nth(i).locator(".lotse-chart-label").text_content(): bars.nth(i)
        .locator(".lotse-chart-value")
        .text_content()
        for i in range(bars.count())
    }
    table = page.get_by_role("table", name="Verteilung des Fortschritts als Tabelle")
    rows = table.locator("tbody tr")
    in_table = {
        rows.nth(i).locator("th").inner_text(): rows.nth(i).locator("td").inner_text()
        for i in range(rows.count())
    }
    assert in_chart == in_table
    assert sum(int(n) for n in in_table.values()) >= 4, "die Navigatoren des Kurses fehlen"


def test_notenbuch_is_part_of_the_lotse_area(site: Site, page: Page) -> None:
    page.goto(site.url("/lotse/notenbuch", LOTSE))
    assert page.title() == "Notenbuch – Lotsen-Bereich – Lotsen-LTI"
    assert page.locator("h1").inner_text() == "Notenbuch"
    nav = page.get_by_role("navigation", name="Lotsen-Bereich")
    assert nav.get_by_role("link", name="Notenbuch").get_attribute("aria-current") == "page"
    with page.expect_navigation():
        nav.get_by_role("link", name="Übersicht").click()
    assert page.title().startswith("Übersicht – Lotsen-Bereich")


@pytest.mark.parametrize(
    "path", ["/module", "/lotse/bewertung", "/", "/gibt-es-nicht", "/impressum"]
)
def test_every_page_links_the_legal_pages_without_a_launch(
    site: Site, page: Page, path: str
) -> None:
    who = {"/module": NAVIGATOR, "/lotse/bewertung": LOTSE}.get(path)
    page.goto(site.url(path, who))
    footer = page.get_by_role("navigation", name="Rechtliches")
    for name, title in [
        ("Datenschutz", "Datenschutzerklärung"),
        ("Barrierefreiheit", "Erklärung zur Barrierefreiheit"),
        ("Impressum", "Impressum"),
    ]:
        link = footer.get_by_role("link", name=name, exact=True)
        assert "lt=" not in (link.get_attribute("href") or "")
        answer = page.request.get(site.base + (link.get_attribute("href") or ""))
        assert answer.status == 200 and f"<title>{title} – Lotsen-LTI</title>" in answer.text()
    assert footer.get_by_role("link", name="Barriere melden").get_attribute("href") == (
        "/barrierefreiheit#feedback"
    )


SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"


@pytest.mark.screenshots
@pytest.mark.skipif(
    os.environ.get("LOTSEN_SCREENSHOTS") != "1", reason="nur mit LOTSEN_SCREENSHOTS=1"
)
def test_screenshots_of_the_main_pages(site: Site, page: Page) -> None:
    """Writes the README's pictures: ``LOTSEN_SCREENSHOTS=1 pytest -m screenshots``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1100, "height": 800})
    shots = {
        "navigator-meine-module.png": site.url("/module", NAVIGATOR),
        "navigator-modul.png": site.url(f"/module/{MODULE}", NAVIGATOR),
        "navigator-quiz.png": site.unit(QUIZ),
        "lotse-uebersicht.png": site.url("/lotse/uebersicht", LOTSE),
        "lotse-bewertung.png": site.url(
            f"/lotse/bewertung/{site.ids['submission-' + WITH_FILE]}", LOTSE
        ),
    }
    for name, url in shots.items():
        page.goto(url)
        target: Path = SCREENSHOTS / name
        page.screenshot(path=str(target), full_page=False)
        assert target.stat().st_size > 10_000
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto(site.url(f"/module/{MODULE}", NAVIGATOR))
    page.screenshot(path=str(SCREENSHOTS / "navigator-modul-320px.png"))
