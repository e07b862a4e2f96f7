"""The Praxisprojekt pages in real Chromium: keyboard-only journeys (a Navigator creates a
project, adds a milestone and publishes it; a Lotse marks a milestone as discussed and writes a
note) and axe-core (WCAG 2.1 A/AA) with no violation on every new page, on its own and inside an
LMS-like iframe."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import requests
from playwright.sync_api import Page
from sqlalchemy import select

from courses.models import CatalogModule, CourseModule, Project
from courses.services.learning import ensure_course_module
from courses.services.projects import consent_text
from lti_tool.extensions import db
from lti_tool.models import LtiContext

from .conftest import (
    DRAFTING,
    GRADED_BY_KEYBOARD,
    LOTSE,
    WITH_FILE,
    Site,
    embed,
    open_page,
    run_axe,
)
from .test_keyboard import (
    assert_error_summary_has_focus,
    assert_focus_on_notice,
    focused,
    follow,
    tab_to,
)

pytestmark = pytest.mark.browser

BEST_PRACTICE = "p1-hundesteuer-online"
#: Petra's project: in Betrieb, a milestone, a note of the Lotse, published.
SHARED = "Hundesteuer online in Freital"


@dataclass
class Projects:
    """The rows the pages below are about."""

    shared: int = 0
    course_module: int = 0
    milestone: int = 0
    extra: dict[str, int] = field(default_factory=dict)


def _post(site: Site, who: str, path: str, form: dict[str, str]) -> requests.Response:
    with requests.Session() as http:
        http.trust_env = False
        answer = http.post(
            site.url(path),
            data={"lt": site.tokens[who], **form},
            allow_redirects=False,
            timeout=10,
        )
    assert answer.status_code == 303, answer.text[:500]
    return answer


@pytest.fixture(scope="module")
def projects(site: Site) -> Projects:
    """The Best-Practice module P1 placed in the demo course; Petra's project made through the
    pages and published; a note of the Lotse on it."""
    with site.app.app_context():
        p1 = db.session.scalars(
            select(CatalogModule).where(CatalogModule.slug == BEST_PRACTICE)
        ).one()
        course = db.session.scalars(
            select(LtiContext).where(LtiContext.context_id == "demo-kurs-1")
        ).one()
        placed = ensure_course_module(course.id, p1)
        db.session.commit()
        built = Projects(course_module=placed.id)
        p1_pk = p1.id
        version = consent_text().version
    form = {
        "titel": SHARED,
        "ziel": "Hunde werden online über Amt24 angemeldet.",
        "modul": str(p1_pk),
        "leistungen": "Hundesteuer über Amt24",
        "status": "in_betrieb",
        "groesse": "20000_100000",
        "ergebnis": "Die Hälfte der Anmeldungen kommt online.",
        "erkenntnisse": "Früh mit der Kämmerei sprechen.",
    }
    created = _post(site, WITH_FILE, "/projekte/neu", form)
    built.shared = int(re.search(r"/projekte/(\d+)", created.headers["Location"]).group(1))  # type: ignore[union-attr]
    _post(
        site,
        WITH_FILE,
        f"/projekte/{built.shared}/meilensteine",
        {"titel": "Satzung angepasst", "faellig_am": "2027-01-31", "zustand": "erledigt"},
    )
    _post(
        site,
        WITH_FILE,
        f"/projekte/{built.shared}",
        {**form, "ergebnis": "Mehr als die Hälfte online."},
    )
    _post(site, LOTSE, f"/lotse/projekte/{built.shared}/notizen", {"notiz": "Schön dokumentiert."})
    _post(
        site,
        WITH_FILE,
        f"/projekte/{built.shared}/veroeffentlichen",
        {"einwilligung": "ja", "version": version, "mit_name": "ja"},
    )
    with site.app.app_context():
        project = db.session.get(Project, built.shared)
        assert project is not None
        built.milestone = project.milestones[0].id
        assert db.session.get(CourseModule, built.course_module) is not None
    return built


# --- keyboard ---------------------------------------------------------------------------------


def test_navigator_creates_and_publishes_a_project_by_keyboard(
    site: Site, page: Page, projects: Projects
) -> None:
    page.goto(site.url("/module", DRAFTING))
    follow(page, r"^Meine Praxisprojekte$")
    assert page.title() == "Meine Praxisprojekte – Lotsen-LTI"
    follow(page, r"^Leeres Praxisprojekt anlegen$")
    assert page.title() == "Neues Praxisprojekt – Lotsen-LTI"

    # Sent without a title: the summary has focus, its link leads to the field.
    follow(page, r"^Praxisprojekt anlegen$")
    assert_error_summary_has_focus(page)
    tab_to(page, r"^Titel:")
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "titel"
    page.keyboard.type("Gremienarbeit papierlos")
    tab_to(page, r"^Ziel$")
    page.keyboard.type("Der Gemeinderat arbeitet ohne Papier.")
    tab_to(page, r"^Status$")
    for _ in range(6):  # the arrow keys move through the options of the closed select
        if focused(page)["value"] == "in_betrieb":
            break
        page.keyboard.press("ArrowDown")
    assert focused(page)["value"] == "in_betrieb"
    follow(page, r"^Praxisprojekt anlegen$")
    assert_focus_on_notice(page)
    assert "angelegt" in focused(page)["text"]
    assert page.title() == "Gremienarbeit papierlos – Meine Praxisprojekte – Lotsen-LTI"

    # A milestone.
    tab_to(page, r"^Meilenstein \(Pflichtfeld\)$")
    page.keyboard.type("Tablets ausgegeben")
    follow(page, r"^Meilenstein hinzufügen$")
    assert_focus_on_notice(page)
    assert "Meilenstein ist gespeichert" in focused(page)["text"]
    assert page.get_by_role("heading", name="Tablets ausgegeben").count() == 1

    # Publish: first without the consent (refused, focus on the summary), then with it.
    follow(page, r"^Als Praxisbeispiel veröffentlichen$")
    assert page.locator("h1").inner_text() == "Als Praxisbeispiel veröffentlichen"
    follow(page, r"^Einwilligen und veröffentlichen$")
    assert_error_summary_has_focus(page)
    tab_to(page, r"^Ich willige ein")
    page.keyboard.press("Space")
    assert focused(page)["checked"]
    follow(page, r"^Einwilligen und veröffentlichen$")
    assert_focus_on_notice(page)
    assert "als Praxisbeispiel im Programm sichtbar" in focused(page)["text"]

    page.goto(site.url("/praxisbeispiele", DRAFTING))
    assert page.get_by_role("link", name="Gremienarbeit papierlos").count() == 1


def test_lotse_discusses_a_milestone_and_writes_a_note_by_keyboard(
    site: Site, page: Page, projects: Projects
) -> None:
    page.goto(site.url("/lotse/uebersicht", LOTSE))
    follow(page, r"^Praxisprojekte$")
    assert page.title() == "Praxisprojekte – Lotsen-Bereich – Lotsen-LTI"
    follow(page, rf"^{SHARED}")
    assert page.title() == f"{SHARED} – Praxisprojekte – Lotsen-LTI"
    follow(page, r"^Meilenstein besprochen")
    assert_focus_on_notice(page)
    assert "als besprochen markiert" in focused(page)["text"]

    # An empty note is refused; then a note is written and saved.
    follow(page, r"^Notiz speichern$")
    assert_error_summary_has_focus(page)
    tab_to(page, r"^Notiz:")
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "notiz"
    page.keyboard.type("Bitte beim nächsten Termin die Zahlen mitbringen.")
    follow(page, r"^Notiz speichern$")
    assert_focus_on_notice(page)
    assert "Coaching-Notiz ist gespeichert" in focused(page)["text"]
    assert "Bitte beim nächsten Termin die Zahlen mitbringen." in page.locator("main").inner_text()


# --- axe ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    url: str
    post: dict[str, str] | None = None


def _form(site: Site, who: str, **fields: str) -> dict[str, str]:
    return {"lt": site.tokens[who], **fields}


PAGES: dict[str, Callable[[Site, Projects], Visit]] = {
    # Navigator
    "Meine Praxisprojekte": lambda s, p: Visit(s.url("/projekte", WITH_FILE)),
    "Meine Praxisprojekte (Kommune ohne Projekt)": lambda s, p: Visit(
        s.url("/projekte", GRADED_BY_KEYBOARD)
    ),
    "Neues Praxisprojekt": lambda s, p: Visit(s.url("/projekte/neu", WITH_FILE)),
    "Neues Praxisprojekt ohne Titel (Fehler)": lambda s, p: Visit(
        s.url("/projekte/neu"), _form(s, WITH_FILE, titel="", status="fertig")
    ),
    "Praxisprojekt": lambda s, p: Visit(s.url(f"/projekte/{p.shared}", WITH_FILE)),
    "Praxisprojekt mit Fehlern": lambda s, p: Visit(
        s.url(f"/projekte/{p.shared}"), _form(s, WITH_FILE, titel="", status="idee")
    ),
    "Meilenstein mit Fehlern": lambda s, p: Visit(
        s.url(f"/projekte/{p.shared}/meilensteine"),
        _form(s, WITH_FILE, titel="", faellig_am="morgen"),
    ),
    "Verlauf": lambda s, p: Visit(s.url(f"/projekte/{p.shared}/verlauf", WITH_FILE)),
    "Veröffentlichen (schon veröffentlicht)": lambda s, p: Visit(
        s.url(f"/projekte/{p.shared}/veroeffentlichen", WITH_FILE)
    ),
    "Praxisbeispiele": lambda s, p: Visit(s.url("/praxisbeispiele", WITH_FILE)),
    "Praxisbeispiele ohne Treffer": lambda s, p: Visit(
        s.url("/praxisbeispiele", WITH_FILE, thema="gibt es nicht")
    ),
    "Praxisbeispiel": lambda s, p: Visit(s.url(f"/praxisbeispiele/{p.shared}", DRAFTING)),
    "Best-Practice-Modul mit Praxisbeispielen": lambda s, p: Visit(
        s.url(f"/module/{BEST_PRACTICE}", DRAFTING)
    ),
    # Lotse
    "Praxisprojekte des Kurses": lambda s, p: Visit(s.url("/lotse/projekte", LOTSE)),
    "Praxisprojekte gefiltert leer": lambda s, p: Visit(
        s.url("/lotse/projekte", LOTSE, status="pausiert")
    ),
    "Praxisprojekt (Lotse)": lambda s, p: Visit(s.url(f"/lotse/projekte/{p.shared}", LOTSE)),
    "Leere Notiz (Fehler)": lambda s, p: Visit(
        s.url(f"/lotse/projekte/{p.shared}/notizen"), _form(s, LOTSE, notiz=" ")
    ),
    "Notenbuch-Spalte": lambda s, p: Visit(s.url("/lotse/projekte/einstellungen", LOTSE)),
    "Notenbuch-Spalte ohne Auswahl (Fehler)": lambda s, p: Visit(
        s.url("/lotse/projekte/einstellungen"), _form(s, LOTSE)
    ),
    "Programmansicht": lambda s, p: Visit(s.url("/lotse/programm", LOTSE)),
    "Praxisbeispiele (Lotse)": lambda s, p: Visit(s.url("/praxisbeispiele", LOTSE)),
    "Praxisbeispiel (Lotse)": lambda s, p: Visit(s.url(f"/praxisbeispiele/{p.shared}", LOTSE)),
    "Moduleinstellungen mit Praxisbeispielen": lambda s, p: Visit(
        s.url(f"/lotse/module/{p.course_module}", LOTSE)
    ),
}
WHERE = ["eigenständig", "im iframe"]


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("name", list(PAGES))
def test_page_has_no_axe_violations(
    site: Site, page: Page, projects: Projects, name: str, where: str
) -> None:
    visit = PAGES[name](site, projects)
    # The page itself, not an error page (those have their own axe test).
    with requests.Session() as http:
        http.trust_env = False
        answer = http.request(
            "POST" if visit.post else "GET", visit.url, data=visit.post, timeout=10
        )
    assert answer.status_code == (422 if visit.post else 200), (name, answer.status_code)
    frame = (
        open_page(page, visit.url, visit.post)
        if where == "eigenständig"
        else embed(page, visit.url, visit.post)
    )
    assert frame.locator("h1").count() == 1, f"{name}: genau eine Hauptüberschrift erwartet"
    title = frame.title()
    assert re.fullmatch(r"\S.* – Lotsen-LTI", title), f"{name}: Titel {title!r}"
    if "(Fehler)" in name or "mit Fehlern" in name:
        assert title.startswith("Fehler: "), title
    if "mit Praxisbeispielen" in name:
        assert frame.get_by_role("heading", name="So haben es andere umgesetzt").count() == 1
    result = run_axe(frame)
    assert not result.violations, result.summary()


#: The new pages, and the pages whose navigation gained the new links, at 320 CSS pixels
#: (WCAG 1.4.10) and at 200 % zoom: no horizontal scrolling of the page.
REFLOW = [
    "Meine Praxisprojekte",
    "Praxisprojekt",
    "Verlauf",
    "Praxisbeispiele",
    "Praxisbeispiel",
    "Best-Practice-Modul mit Praxisbeispielen",
    "Praxisprojekte des Kurses",
    "Praxisprojekt (Lotse)",
    "Programmansicht",
]


@pytest.mark.parametrize(("width", "height"), [(320, 640), (640, 450)], ids=["320px", "zoom200"])
def test_new_pages_reflow(
    site: Site, page: Page, projects: Projects, width: int, height: int
) -> None:
    page.set_viewport_size({"width": width, "height": height})
    too_wide = {}
    for name in [*REFLOW, "Meine Module"]:
        url = (
            site.url("/module", WITH_FILE)
            if name == "Meine Module"
            else PAGES[name](site, projects).url
        )
        page.goto(url)
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        if scroll_width > width:
            too_wide[name] = scroll_width
    assert not too_wide, f"Seiten breiter als {width} px: {too_wide}"


def test_programme_chart_has_a_table_with_the_same_numbers(
    site: Site, page: Page, projects: Projects
) -> None:
    page.goto(site.url("/lotse/programm", LOTSE))
    chart = page.locator("svg.lotse-chart")
    assert chart.get_attribute("role") == "img"
    names = (chart.get_attribute("aria-labelledby") or "").split()
    assert names and all(page.locator(f"#{i}").text_content() for i in names)
    table = page.get_by_role("table", name=re.compile("^Praxisprojekte je Landkreis"))
    assert "Landkreis Meißen" in table.inner_text() or table.locator("tbody tr").count() >= 1
    assert int(table.locator("tfoot td").last.inner_text()) >= 1
