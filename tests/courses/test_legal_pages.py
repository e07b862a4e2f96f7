"""The legal pages (courses/web/legal.py): reachable without a launch, filled from the settings,
and saying plainly what is still to be filled in where a setting is missing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from config.settings import LEGAL_SETTINGS, load_settings
from tests.conftest import app_context, make_app

OPERATOR = {
    "OPERATOR_NAME": "Hochschule Meißen (FH) und Fortbildungszentrum",
    "OPERATOR_ADDRESS": "Herbert-Böhme-Straße 11; 01662 Meißen",
    "OPERATOR_REPRESENTATIVE": "die Rektorin",
    "OPERATOR_EMAIL": "lotsen@hsf.example",
    "OPERATOR_PHONE": "03521 0000",
    "DPO_CONTACT": "Datenschutzbeauftragte der HSF; datenschutz@hsf.example",
    "ACCESSIBILITY_CONTACT": "barrierefrei@hsf.example",
    "ACCESSIBILITY_ENFORCEMENT": "Durchsetzungsstelle Beispiel; 01067 Dresden",
    "ACCESSIBILITY_STATEMENT_DATE": "01.12.2026",
    "PRIVACY_RETENTION": "Zwölf Monate nach dem Ende des Kurses werden die Daten gelöscht.",
}
PAGES = ["/datenschutz", "/barrierefreiheit", "/impressum"]


@pytest.fixture
def unconfigured(sqlite_url: str, tmp_path: Path) -> Iterator[FlaskClient]:
    with app_context(make_app(sqlite_url, tmp_path)) as application:
        yield application.test_client()


@pytest.fixture
def configured(sqlite_url: str, tmp_path: Path) -> Iterator[Flask]:
    with app_context(make_app(sqlite_url, tmp_path, **OPERATOR)) as application:
        yield application


@pytest.mark.parametrize("path", PAGES)
def test_a_missing_detail_says_what_to_fill_in(unconfigured: FlaskClient, path: str) -> None:
    page = unconfigured.get(path)
    assert page.status_code == 200
    assert "[bitte ausfüllen: Name der Stelle, die Lotsen-LTI betreibt]" in page.text
    assert "[bitte ausfüllen: Postanschrift]" in page.text


@pytest.mark.parametrize("path", PAGES)
def test_configured_details_replace_every_placeholder(configured: Flask, path: str) -> None:
    page = configured.test_client().get(path)
    assert page.status_code == 200
    assert "Hochschule Meißen (FH) und Fortbildungszentrum" in page.text
    assert "Herbert-Böhme-Straße 11<br>01662 Meißen" in page.text
    if path != "/datenschutz":
        assert "bitte ausfüllen" not in page.text
    else:
        # Only the processors, which the operator names in the text itself, stay open.
        assert page.text.count("bitte ausfüllen") == 1


def test_privacy_notice_names_what_article_13_asks_for(configured: Flask) -> None:
    text = configured.test_client().get("/datenschutz").text
    for expected in [
        "Datenschutzbeauftragte der HSF",  # DPO (Art. 13 Abs. 1 lit. b)
        "Art. 6 Abs. 1 Buchst. e DSGVO",  # legal basis (lit. c)
        "Art. 6 Abs. 1 Buchst. b DSGVO",
        "pseudonyme Kennung (LTI-„sub“)",  # categories
        "Assignment and Grade Services",  # recipient: the LMS (lit. e)
        "Zwölf Monate nach dem Ende des Kurses",  # retention (Abs. 2 lit. a)
        "Art. 15 DSGVO",  # rights (Abs. 2 lit. b)
        "Sächsische Datenschutz- und Transparenzbeauftragte",  # complaint (Abs. 2 lit. d)
    ]:
        assert expected in text, expected


def test_accessibility_statement_has_the_model_statements_parts(configured: Flask) -> None:
    text = configured.test_client().get("/barrierefreiheit").text
    for expected in [
        "teilweise vereinbar",
        "Nicht barrierefreie Inhalte",
        "01.12.2026",
        "Durchsetzungsstelle Beispiel",
        "dzb lesen",
        "[ungeprüft]",  # the Saxon law's name is not verified
    ]:
        assert expected in text, expected


def test_feedback_is_a_mailto_without_the_page_address(configured: Flask) -> None:
    text = configured.test_client().get("/barrierefreiheit").text
    start = text.index('href="mailto:barrierefrei@hsf.example?')
    href = text[start + len('href="') : text.index('"', start + len('href="'))]
    query = parse_qs(urlsplit(href.replace("&amp;", "&")).query)
    assert query["subject"] == ["Barriere in Lotsen-LTI"]
    assert "lt=" not in href  # a tool URL could carry a launch token: never put one in


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in LEGAL_SETTINGS:
        monkeypatch.setenv(key, f"  Wert für {key}  ")
    settings = load_settings("testing")
    assert all(settings[key] == f"Wert für {key}" for key in LEGAL_SETTINGS)
    monkeypatch.setenv("OPERATOR_NAME", "   ")
    assert load_settings("testing")["OPERATOR_NAME"] is None


@pytest.mark.parametrize("path", ["/", "/gibt-es-nicht", "/datenschutz"])
def test_footer_links_the_legal_pages(unconfigured: FlaskClient, path: str) -> None:
    text = unconfigured.get(path).text
    for href in ('href="/datenschutz"', 'href="/barrierefreiheit"', 'href="/impressum"'):
        assert href in text
