"""The UI language of the pages: a launch whose ``launch_presentation.locale`` is English gets the
English UI (navigation, headings, ``<html lang="en">``) while the module content stays German and
the page says so; a German, missing or other locale gets German. Pages without a launch are German
unless the link names the language (``?lang=en``, the footer of an English page).

Each test has its own app: the test client shares one application context between requests, and
with it ``g``, so a launch-less request after a launch would see that launch."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

from tests.factories import http_launch, make_module, text_of


def _html_lang(page: bytes) -> str:
    match = re.search(rb'<html lang="([^"]*)">', page)
    assert match, page[:200]
    return match.group(1).decode()


def _headings(page: bytes) -> list[str]:
    return [text_of(h) for h in re.findall(r"<h[12][^>]*>.*?</h[12]>", page.decode(), re.S)]


def _open_module(client: FlaskClient, locale: str | None) -> tuple[bytes, str]:
    """An LMS launch into the module ``b9-test``: its page and the launch token."""
    make_module("b9-test", title="Rechtsrahmen im Test", summary="Worum es im Rechtsrahmen geht.")
    nav = http_launch(client, module_id="b9-test", locale=locale)
    page = client.get(nav.location)  # /start shows the linked module itself
    assert page.status_code == 200
    token = parse_qs(urlsplit(nav.location).query)["lt"][0]
    return page.data, token


def test_an_english_launch_gets_the_english_ui_and_german_module_content(app, client):
    page, token = _open_module(client, "en-GB")
    assert _html_lang(page) == "en"
    text = text_of(page)
    # Navigation and headings in English.
    assert "Skip to content" in text and "My modules" in text
    assert 'aria-label="You are here"' in page.decode()
    headings = _headings(page)
    assert "Rechtsrahmen im Test" in headings  # the module's own title stays German
    assert {"Your progress", "Learning objectives", "Units", "Sources"} <= set(headings)
    assert "Ihr Stand" not in text and "Lernziele" not in text and "Einheiten" not in text
    # The module content stays German, marked as such, and the page says so.
    assert "The content of the modules is available in German only." in text
    assert re.search(
        r'<p class="summary" lang="de">Worum es im Rechtsrahmen geht\.</p>', page.decode()
    )
    assert '<ul lang="de"><li>Sie können Tests schreiben.</li>' in page.decode()
    # The footer is English, and its legal links keep the reader in English.
    assert "Privacy" in text and "Accessibility" in text and "Legal notice" in text
    assert 'href="/datenschutz?lang=en"' in page.decode()

    reading = client.get("/module/b9-test/einheit/lesen", query_string={"lt": token})
    assert _html_lang(reading.data) == "en"
    reading_text = text_of(reading.data)
    assert "Mark as read" in reading_text and "To the module overview" in reading_text
    assert "The content of the modules is available in German only." in reading_text
    assert 'class="reading" lang="de"' in reading.data.decode()

    # An error page of this launch (a Lotse page for a Navigator) is English too.
    refused = client.get("/lotse/uebersicht", query_string={"lt": token})
    assert refused.status_code == 403
    assert _html_lang(refused.data) == "en"
    assert "No access" in _headings(refused.data)


def test_an_english_lotse_gets_the_english_lotse_navigation(app, client):
    lotse = http_launch(client, sub="lotse-1", lotse=True, locale="en")
    start = client.get(lotse.location)
    assert start.status_code == 303
    page = client.get(start.headers["Location"])
    assert page.status_code == 200
    assert _html_lang(page.data) == "en"
    nav = re.search(r'<nav class="lotse-nav".*?</nav>', page.data.decode(), re.S)
    assert nav
    # The Praxisprojekt links get their English names with the next `make translations`.
    assert text_of(nav.group(0)) == (
        "Overview Participants Modules and deadlines Grading Practice projects Programme "
        "Practice examples Gradebook My data"
    )
    assert "Progress of the Digital Navigators" in _headings(page.data)


@pytest.mark.parametrize("locale", ["de-DE", None, "fr-FR", "de_du"])
def test_a_german_missing_or_other_locale_gets_german(app, client, locale):
    page, _token = _open_module(client, locale)
    assert _html_lang(page) == "de"
    text = text_of(page)
    assert "Zum Inhalt springen" in text and "Meine Module" in text
    assert {"Ihr Stand", "Lernziele", "Einheiten", "Quellen"} <= set(_headings(page))
    assert "Your progress" not in text and "My modules" not in text
    # No note on a German page, and the legal links carry no language.
    assert "nur auf Deutsch" not in text and "German only" not in text
    assert 'href="/datenschutz"' in page.decode()


@pytest.mark.parametrize(
    ("query", "lang", "heading"),
    [
        ({}, "de", "Datenschutzerklärung"),
        ({"lang": "en"}, "en", "Privacy notice"),
        ({"lang": "en-GB"}, "en", "Privacy notice"),
        ({"lang": "fr"}, "de", "Datenschutzerklärung"),
    ],
)
def test_pages_without_a_launch_are_german_unless_the_link_names_the_language(
    app, client, query, lang, heading
):
    page = client.get("/datenschutz", query_string=query, headers={"Accept-Language": "en-GB"})
    assert page.status_code == 200
    assert _html_lang(page.data) == lang
    assert _headings(page.data)[0] == heading
    # The browser's Accept-Language never decides (see lti_tool/languages.py).
    expired = client.get("/lotse/uebersicht", query_string=query, headers={"Accept-Language": "en"})
    assert expired.status_code == 401
    assert _html_lang(expired.data) == lang
