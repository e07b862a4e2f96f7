"""Browser tests: the tool with the demo LMS over real HTTP on 127.0.0.1, driven in Debian's
``chromium`` through Playwright, with axe-core from ``node_modules`` (``npm ci``, see Makefile).

One server, one Chromium and one set of launches for the whole session (:class:`Site`): the
browser tests must stay well under two minutes on two cores.

SQLite only, on purpose: these tests are about pages (markup, focus, keyboard, layout) that do
not change with the database; the SQLite/PostgreSQL matrix runs in every other suite. They take
no ``app``/``database_url`` fixture, so they run once.

Without chromium or axe-core (a machine where ``make test`` ran without root), the tests skip
with the reason; in CI (``CI=true``) they fail instead, so a missing install step is noticed.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import flask_migrate
import pytest
import requests
import yaml
from flask import Flask
from playwright.sync_api import BrowserContext, Frame, Page, Playwright, sync_playwright
from werkzeug.serving import make_server

import courses
import demo_lms
from config.settings import PROJECT_ROOT
from demo_lms import store
from lti_tool import create_app
from lti_tool.extensions import db
from tests.factories import token_of

CHROMIUM = Path(os.environ.get("LOTSEN_CHROMIUM", "/usr/bin/chromium"))
AXE_SOURCE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
#: Debian's chromium, headless, quiet: no sandbox (root in CI), no GPU, and nothing that talks to
#: the internet on its own. Host names other than loopback resolve to nothing.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
#: The WCAG 2.1 A and AA rules of axe-core (BITV 2.0 / EN 301 549 refer to WCAG 2.1 AA).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

# The demo course's people, by the names its course page shows (the demo LMS's course.py).
LOTSE = "Frank Demo-Lotse"
NAVIGATOR = "Anna Demo-Beispiel"  # the keyboard journey's Navigator
GRADED_BY_KEYBOARD = "Jonas Demo-Muster"  # submits the assignment the Lotse grades by keyboard
WITH_FILE = "Petra Demo-Probe"  # submitted with a PNG: the grading form with an image preview
DRAFTING = "Lena Demo-Erzgebirge"  # a draft with a file, and a quiz attempt
UNASSIGNED = "Tom Demo-Fallbeispiel"  # launched only while the course has no module

MODULE = "b1-rechtsrahmen"
READING = "ozg-entwicklung"
QUIZ = "quiz-rechtsgrundlagen"
QUIZ_FILE = "05-quiz.yaml"
ASSIGNMENT = "bestandsaufnahme"

#: A real 1×1 PNG: uploads are checked by content.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5f0ae"
    "e90000000049454e44ae426082"
)


#: The pages of an empty course: name → (path, whose launch).
EMPTY_STATES = {
    "Lotse-Übersicht ohne Module": ("/lotse/uebersicht", LOTSE),
    "Module und Fristen leer": ("/lotse/module", LOTSE),
    "Bewertung ohne Abgaben": ("/lotse/bewertung", LOTSE),
    "Notenbuch leer": ("/lotse/notenbuch", LOTSE),
    "Teilnehmende (nur die ersten)": ("/lotse/teilnehmende", LOTSE),
    "Meine Module leer": ("/module", UNASSIGNED),
}


def _missing() -> str | None:
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} fehlt (Debian-Paket chromium; `make test` installiert es als root)"
    if not AXE_SOURCE.is_file():
        return f"{AXE_SOURCE} fehlt (`npm ci` aus dem Makefile; braucht npm)"
    return None


def require_browser() -> None:
    """Skip (locally) or fail (in CI) when chromium or axe-core is not installed."""
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"Browser-Tests können in CI nicht laufen: {reason}", pytrace=False)
    pytest.skip(f"Browser-Tests übersprungen: {reason}")


# --- Chromium -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    require_browser()
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def context(
    playwright: Playwright, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrowserContext]:
    """One Chromium with a fresh profile (user-data-dir) for the session."""
    browser_context = playwright.chromium.launch_persistent_context(
        str(tmp_path_factory.mktemp("chromium-profile")),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_FLAGS,
        locale="de-DE",
        timezone_id="Europe/Berlin",
        viewport={"width": 1280, "height": 900},
    )
    browser_context.set_default_timeout(10_000)
    yield browser_context
    browser_context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(context: BrowserContext, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Page]:
    """A fresh tab; on failure its screenshot is kept as ``failure.png`` in the test's tmp_path."""
    tab = context.new_page()
    yield tab
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed and not tab.is_closed():
        shot = tmp_path / "failure.png"
        tab.screenshot(path=str(shot), full_page=True)
        print(f"Bildschirmfoto des Fehlers: {shot}")
    tab.close()


# --- axe-core -------------------------------------------------------------------------------------


@dataclass
class AxeResult:
    """The violations axe-core found on one page (or frame)."""

    url: str
    violations: list[dict[str, Any]]
    screenshot: Path | None = None

    def summary(self) -> str:
        lines = [f"{len(self.violations)} axe-Verstöße (WCAG 2.1 A/AA) auf {self.url}:"]
        for violation in self.violations:
            lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
            for node in violation["nodes"][:5]:
                lines.append(f"    {' '.join(node['target'])}: {node['failureSummary']}")
        if self.screenshot:
            lines.append(f"Bildschirmfoto: {self.screenshot}")
        return "\n".join(lines)


def run_axe(frame: Frame | Page) -> AxeResult:
    """axe-core's WCAG 2.1 A/AA rules on ``frame``. The script is evaluated over the DevTools
    protocol, so the tool's CSP (``script-src 'self'``) needs no exception for it."""
    if not frame.evaluate("typeof window.axe !== 'undefined'"):
        frame.evaluate(AXE_SOURCE.read_text(encoding="utf-8") + "\n;void 0")
    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    result = frame.evaluate(
        "options => axe.run(document, options).then(r => r.violations)", options
    )
    return AxeResult(url=frame.url, violations=result)


def _form(url: str, fields: dict[str, str], target: str = "_self") -> str:
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in fields.items()
    )
    return (
        f'<form id="senden" method="post" action="{html.escape(url)}" target="{target}">'
        f"{inputs}<button>Senden</button></form>"
    )


def open_page(page: Page, url: str, post: dict[str, str] | None = None) -> Page:
    """``url`` in the tab itself (GET, or a form POST of ``post``)."""
    if post is None:
        page.goto(url)
    else:
        page.set_content(_form(url, post))
        with page.expect_navigation():
            page.locator("#senden").evaluate("form => form.submit()")
    return page


class LmsPages:
    """The LMS page that embeds the tool in an iframe (Moodle's "Embed" launch container), served
    from the launching platform's own origin: the tool's CSP lets only a registered platform
    frame it, and the demo LMS lives on the tool's origin. Mounted on the site's app."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        self.base = ""

    def mount(self, app: Flask, base: str) -> None:
        """Serve the pages under ``/_browsertest/kurs/<key>`` of ``app`` (before it serves)."""

        def course_page(key: str) -> str:
            return self.pages.pop(key)

        app.add_url_rule("/_browsertest/kurs/<key>", "browsertest_course", course_page)
        self.base = base

    def serve(self, body: str) -> str:
        key = uuid.uuid4().hex
        self.pages[key] = body
        return f"{self.base}/_browsertest/kurs/{key}"


_LMS_PAGES: list[LmsPages] = []


@pytest.fixture(scope="session", autouse=True)
def _lms_pages() -> Iterator[None]:
    _LMS_PAGES.append(LmsPages())
    yield
    _LMS_PAGES.pop()


def embed(page: Page, url: str, post: dict[str, str] | None = None) -> Frame:
    """``url`` inside an iframe of an LMS-like page (Moodle's "Embed" launch container; the demo
    LMS itself opens the tool in its own window); returns the frame."""
    source = "about:blank" if post is not None else html.escape(url)
    body = (
        '<!doctype html><html lang="de"><head><title>Kurs – Demo-LMS</title></head><body>'
        "<main><h1>Kurs</h1>"
        f'<iframe name="werkzeug" title="Lotsen-LTI" src="{source}"'
        ' style="width:100%;height:900px;border:0"></iframe>'
        f"{_form(url, post, target='werkzeug') if post is not None else ''}"
        "</main></body></html>"
    )
    page.goto(_LMS_PAGES[-1].serve(body))
    frame = page.frames[1]
    if post is not None:
        with frame.expect_navigation():
            page.locator("#senden").evaluate("form => form.submit()")
    frame.wait_for_load_state("load")
    assert frame.url.startswith("http://127.0.0.1:"), f"iframe zeigt {frame.url}"
    return frame


# --- the site: tool + demo LMS, launches, data ----------------------------------------------------


@dataclass
class Site:
    """The tool with the demo LMS on one loopback port, and the session's launches."""

    app: Flask
    base: str
    tokens: dict[str, str] = field(default_factory=dict)
    """Person key → launch token of their launch of the module's resource link."""
    ids: dict[str, int] = field(default_factory=dict)
    """Named row ids the tests need (submissions, attempts)."""
    early: dict[str, AxeResult] = field(default_factory=dict)
    """axe results of the empty states, taken before the course had any module."""

    @property
    def demo(self) -> str:
        return f"{self.base}/demo-lms"

    def url(self, path: str, who: str | None = None, **query: str) -> str:
        """``path`` on the tool, with ``who``'s launch token."""
        if who is not None:
            query = {"lt": self.tokens[who], **query}
        return f"{self.base}{path}" + (f"?{urlencode(query)}" if query else "")

    def unit(self, unit: str, who: str = NAVIGATOR) -> str:
        return self.url(f"/module/{MODULE}/einheit/{unit}", who)


def launch(page: Page, site: Site, who: str, link_title: str | None = None) -> str:
    """Start the tool from the demo LMS's course page as ``who`` (on the first link, or the one
    titled ``link_title``), as a person clicks it; returns the landing page's launch token."""
    page.goto(f"{site.demo}/")
    scope = page.locator("article")
    if link_title is not None:
        scope = scope.filter(has=page.get_by_role("heading", name=link_title, exact=True))
    scope.get_by_role("link", name=re.compile(f"^Als {who} starten")).first.click()
    page.wait_for_url(re.compile(r"[?&]lt="))
    return token_of(page.url)


def link_id(page: Page, url: str, row_text: str, link: str) -> int:
    """The number at the end of the link ``link`` in the table row containing ``row_text``."""
    page.goto(url)
    row = page.locator("tr", has_text=row_text)
    href = row.get_by_role("link", name=re.compile(f"^{link}")).get_attribute("href") or ""
    return int(urlsplit(href).path.rsplit("/", 1)[1])


def _api(site: Site, who: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.headers["X-Launch-Token"] = site.tokens[who]
    return session


def wrong_answers(site: Site, who: str) -> dict[str, list[str]]:
    """The first option of every question, as the Navigator's API lists them."""
    with _api(site, who) as api:
        unit = api.get(f"{site.base}/api/module/{MODULE}/einheit/{QUIZ}", timeout=10).json()
    return {q["id"]: [q["options"][0]["id"]] for q in unit["questions"]}


def correct_answers() -> dict[str, list[str]]:
    """The quiz's correct option ids per question, from the catalogue file (the Navigator's
    pages never reveal them before an attempt)."""
    path = PROJECT_ROOT / "courses" / "catalog" / MODULE / QUIZ_FILE
    quiz = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        q["id"]: (
            ["true" if q["answer"] else "false"]  # truefalse: options "true" and "false"
            if q["type"] == "truefalse"
            else [o["id"] for o in q["options"] if o.get("correct")]
        )
        for q in quiz["questions"]
    }


def _submit_assignment(
    site: Site, who: str, *, submit: bool, files: list[tuple[str, bytes, str]]
) -> None:
    with _api(site, who) as http:
        answer = http.post(
            site.unit(ASSIGNMENT, who).split("?")[0] + "/abgabe",
            data={
                "lt": site.tokens[who],
                "text": "Unsere Kommune bietet 12 Online-Leistungen an (Beispieltext).",
                "aktion": "einreichen" if submit else "entwurf",
            },
            files=[("dateien", f) for f in files],
            allow_redirects=False,
            timeout=10,
        )
    assert answer.status_code == 303, answer.text


def _build(site: Site, page: Page, shots: Path) -> None:
    """Phase 1, the empty course: axe on the empty states. Phase 2: the Lotse places the module
    through Deep Linking and limits it; Navigatoren launch it and leave data to look at."""

    def early(name: str, url: str) -> None:
        for where in ("eigenständig", "im iframe"):
            if where == "eigenständig":
                page.goto(url)
                result = run_axe(page)
            else:
                result = run_axe(embed(page, url))
            if result.violations:
                result.screenshot = shots / f"{name}-{where}.png"
                page.screenshot(path=str(result.screenshot), full_page=True)
            site.early[f"{name} ({where})"] = result

    # Phase 1: nothing placed yet (testing has no DEFAULT_COURSE_MODULES).
    site.tokens[LOTSE] = launch(page, site, LOTSE)
    site.tokens[UNASSIGNED] = launch(page, site, UNASSIGNED)

    for name, (path, who) in EMPTY_STATES.items():
        early(name, site.url(path, who))

    # Phase 2: Deep Linking from the demo LMS places the module with a gradebook column.
    page.goto(f"{site.demo}/")
    page.locator("p", has_text=f"als {LOTSE}").get_by_role("link", name="Inhalte auswählen").click()
    page.wait_for_url(re.compile(r"/lotse/auswahl\?"))
    site.tokens["picker"] = token_of(page.url)
    page.locator(f"#modul-{MODULE}").check()
    page.get_by_role("button", name="Ausgewählte Module übernehmen").click()
    page.wait_for_url(re.compile(r"/demo-lms/"))
    module_title = page.locator("article h3").last.inner_text()

    for who in (LOTSE, NAVIGATOR, GRADED_BY_KEYBOARD, WITH_FILE, DRAFTING):
        site.tokens[who] = launch(page, site, who, module_title)

    _submit_assignment(site, GRADED_BY_KEYBOARD, submit=True, files=[])
    _submit_assignment(site, WITH_FILE, submit=True, files=[("plan.png", PNG, "image/png")])
    _submit_assignment(site, DRAFTING, submit=False, files=[("notiz.png", PNG, "image/png")])
    with _api(site, DRAFTING) as api:
        answered = api.post(
            f"{site.base}/api/module/{MODULE}/einheit/{QUIZ}/quiz",
            json={"answers": wrong_answers(site, DRAFTING)},
            timeout=10,
        )
    assert answered.status_code == 201, answered.text
    site.ids["attempt"] = answered.json()["id"]

    site.ids["course-module"] = link_id(
        page, site.url("/lotse/module", LOTSE), module_title, "Bearbeiten"
    )
    for who in (GRADED_BY_KEYBOARD, WITH_FILE):
        site.ids[f"submission-{who}"] = link_id(
            page, site.url("/lotse/bewertung", LOTSE), who, "Öffnen"
        )


@pytest.fixture(scope="session")
def site(context: BrowserContext, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The tool with the demo LMS on a real port, its catalogue imported, a course built."""
    tmp = tmp_path_factory.mktemp("browser-site")
    app = create_app(
        {
            "LOTSEN_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/lotsen.sqlite",
            "UPLOAD_FOLDER": str(tmp / "uploads"),
            "DEMO_LMS": True,
            "DEMO_LMS_DATABASE": str(tmp / "demo_lms.sqlite"),
            "GRADEBOOK_BACKGROUND_WORKER": False,
        },
        components=(courses, demo_lms),
    )
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_BASE_URL"] = base
    _LMS_PAGES[-1].mount(app, base)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    runner = app.test_cli_runner()

    try:
        for args in (["courses", "import"], ["demo-lms", "setup", "--base-url", base]):
            result = runner.invoke(args=args)
            assert result.exit_code == 0, result.output
        built = Site(app=app, base=base)
        setup_page = context.new_page()
        shots = tmp / "screenshots"
        shots.mkdir()
        try:
            _build(built, setup_page, shots)
        finally:
            setup_page.close()
        yield built
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
        store.dispose(app)
        with app.app_context():
            db.engine.dispose()
        shutil.rmtree(tmp / "uploads", ignore_errors=True)
