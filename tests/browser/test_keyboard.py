"""Keyboard only, in real Chromium: a Navigator completes a whole module (readings, quiz,
assignment with upload) and a Lotse grades a submission, with Tab, Shift+Tab, Enter, Space and
the arrow keys (the file chooser is filled by ``set_input_files``, as a person would pick a
file in the system dialog). Every element reached by Tab shows a visible focus; after a page
load, focus is where the content changed: the error summary of a form with errors, the notice of
a saved step. The page title says where one is."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page

from .conftest import (
    GRADED_BY_KEYBOARD,
    LOTSE,
    MODULE,
    NAVIGATOR,
    PNG,
    Site,
    correct_answers,
)

pytestmark = pytest.mark.browser

#: What the focused element is, for the test to decide its next key.
FOCUSED = r"""() => {
  const el = document.activeElement;
  if (!el || el === document.body) {
    return {tag: 'BODY', classes: '', text: '', label: null, visible: false};
  }
  const style = getComputedStyle(el);
  return {
    tag: el.tagName, type: el.type || null, name: el.name || null, value: el.value || null,
    id: el.id || null, checked: !!el.checked,
    text: (el.textContent || el.getAttribute('aria-label') || el.value || '')
      .replace(/\s+/g, ' ').trim(),
    label: el.labels && el.labels.length ? el.labels[0].innerText.trim() : null,
    classes: el.className || '',
    visible: (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2)
      || style.boxShadow !== 'none',
  };
}"""


def focused(page: Page) -> dict[str, Any]:
    return dict(page.evaluate(FOCUSED))


def tab_to(page: Page, pattern: str, *, key: str = "Tab", limit: int = 150) -> dict[str, Any]:
    """Press Tab (or Shift+Tab) until the focused element's text or label matches ``pattern``;
    every element passed on the way must show its focus."""
    wanted = re.compile(pattern)
    for _ in range(limit):
        page.keyboard.press(key)
        now = focused(page)
        assert now["visible"], f"Fokus nicht sichtbar auf {now}"
        if wanted.search(now.get("text") or "") or wanted.search(now.get("label") or ""):
            return now
    raise AssertionError(f"{pattern!r} nach {limit}× {key} nicht erreicht; zuletzt {now}")


def follow(page: Page, pattern: str, key: str = "Enter") -> None:
    """Tab to a link or button and activate it; wait for the next page."""
    tab_to(page, pattern)
    with page.expect_navigation():
        page.keyboard.press(key)


def assert_focus_on_notice(page: Page) -> None:
    now = focused(page)
    assert "notice" in now["classes"], f"Fokus nach dem Speichern auf {now}, nicht auf dem Hinweis"
    assert now["visible"]


def assert_error_summary_has_focus(page: Page) -> None:
    now = focused(page)
    assert "error-summary" in now["classes"], f"Fokus nach dem Fehler auf {now}"
    assert now["visible"]
    assert page.title().startswith("Fehler: ")


def assert_described_invalid(page: Page, selector: str) -> None:
    """The field is aria-invalid and aria-describedby names elements that exist and say why."""
    field = page.locator(selector)
    assert field.get_attribute("aria-invalid") == "true", selector
    ids = (field.get_attribute("aria-describedby") or "").split()
    texts = [page.locator(f"#{i}").inner_text().strip() for i in ids]
    assert ids and all(texts), f"{selector}: aria-describedby {ids} → {texts}"


def test_navigator_completes_a_module_by_keyboard(site: Site, page: Page) -> None:
    page.goto(site.url(f"/module/{MODULE}", NAVIGATOR))
    module_title = page.locator("h1").inner_text()
    assert page.title() == f"{module_title} – Lotsen-LTI"

    # The skip link is the first stop and moves focus to the content.
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Zum Inhalt springen"
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "inhalt"

    follow(page, r"^Weiter, wo Sie aufgehört haben")
    for _ in range(4):  # the module's readings
        assert page.locator(".badge", has_text="Lesetext").count() == 1
        unit_title = page.locator("h1").inner_text()
        assert page.title() == f"{module_title} – {unit_title} – Lotsen-LTI"
        follow(page, r"^Als gelesen markieren$", key="Space")
        assert_focus_on_notice(page)
        assert "als gelesen markiert" in focused(page)["text"]
        follow(page, r"^Nächste Einheit")

    # The quiz: sent empty, it comes back with an error summary that has focus.
    assert page.title() == f"{module_title} – Quiz: Rechtsgrundlagen – Lotsen-LTI"
    follow(page, r"^Antworten abgeben$")
    assert_error_summary_has_focus(page)
    first_question = page.locator("fieldset").first
    assert first_question.get_attribute("aria-invalid") == "true"
    described = first_question.get_attribute("aria-describedby")
    assert described and page.locator(f"#{described}").inner_text().strip()

    # Its first link moves focus into question 1; then every question is answered by keyboard.
    tab_to(page, r"^Frage 1")
    page.keyboard.press("Enter")
    now = focused(page)
    assert now["type"] in ("radio", "checkbox") and now["name"].endswith("q1"), now
    answer_quiz(page, correct_answers(), now)
    page.wait_for_url(re.compile(r"/versuch/\d+"))
    assert "Bestanden." in page.locator(".result-summary").inner_text()
    assert page.title().startswith(f"{module_title} – Quiz: Rechtsgrundlagen – Ergebnis")

    # The assignment: submitted empty first, then with text and a file.
    follow(page, r"^Weiter zur nächsten Einheit")
    follow(page, r"^Einreichen$")
    assert_error_summary_has_focus(page)
    assert_described_invalid(page, "#text")
    assert_described_invalid(page, "#dateien")
    tab_to(page, r"^Ihre Antwort$")
    page.keyboard.type("Wir bieten 14 Leistungen online an, 6 davon Ende-zu-Ende.")
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "dateien"
    page.locator("#dateien").set_input_files(
        files=[{"name": "bestand.png", "mimeType": "image/png", "buffer": PNG}]
    )
    # Past "Entwurf speichern" to "Einreichen"; one step back and forth again with Shift+Tab.
    tab_to(page, r"^Einreichen$")
    tab_to(page, r"^Entwurf speichern$", key="Shift+Tab")
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Einreichen"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert_focus_on_notice(page)
    assert "eingereicht" in focused(page)["text"]
    assert page.get_by_role("link", name="bestand.png").count() == 1

    follow(page, r"^Zur Modulübersicht$")
    assert "100 %" in page.locator(".progress-text").inner_text()


def answer_quiz(page: Page, answers: dict[str, list[str]], now: dict[str, Any]) -> None:
    """Answer every question from the focused first option on: Space and the arrow keys in a
    radio group, Space on each right checkbox, Tab to the next question; Enter sends."""
    while True:
        if now["tag"] == "BUTTON":
            assert now["text"] == "Antworten abgeben"
            with page.expect_navigation():
                page.keyboard.press("Enter")
            return
        question = now["name"].removeprefix("antwort-")
        wanted = answers[question]
        if now["type"] == "radio":
            # Arrow keys move through the group and select; Space selects the first.
            if not now["checked"]:
                page.keyboard.press("Space")
            for _ in range(10):
                if focused(page)["value"] in wanted:
                    break
                page.keyboard.press("ArrowDown")
            assert focused(page)["checked"]
        elif now["value"] in wanted and not now["checked"]:
            page.keyboard.press("Space")
        page.keyboard.press("Tab")
        now = focused(page)
        assert now["visible"], now


def test_lotse_grades_a_submission_by_keyboard(site: Site, page: Page) -> None:
    page.goto(site.url("/lotse/uebersicht", LOTSE))
    follow(page, r"^Bewertung$")
    assert page.title() == "Bewertung – Lotsen-Bereich – Lotsen-LTI"
    follow(page, rf"^Öffnen.*{GRADED_BY_KEYBOARD}")
    assert page.title().startswith("Abgabe bewerten: ")

    # Too many points and no reason for a return: the form comes back, the summary has focus.
    first = tab_to(page, r"Vollständigkeit")
    assert first["type"] == "number"
    page.keyboard.type("99")
    # Tab enters the radio group on its first radio; the arrow key moves on and selects.
    tab_to(page, r"^bewertet$")
    page.keyboard.press("ArrowDown")
    assert focused(page)["value"] == "zurueckgegeben" and focused(page)["checked"]
    follow(page, r"^Entscheidung speichern$")
    assert_error_summary_has_focus(page)
    assert_described_invalid(page, f"#{first['id']}")
    assert_described_invalid(page, "#ueberarbeitung")

    # The summary's first link leads to the field; correct every criterion and grade.
    tab_to(page, r"^Vollständigkeit")
    page.keyboard.press("Enter")
    assert focused(page)["id"] == first["id"]
    now = focused(page)
    while now["type"] == "number":  # every criterion of the rubric
        page.keyboard.press("Control+A")
        page.keyboard.type("3")
        now = tab_to(page, r".")
    assert now["label"] == "Rückmeldung an die Person", now
    page.keyboard.type("Gründliche Bestandsaufnahme.")
    # The decision: Tab enters the group on the checked radio; back up to "bewertet".
    tab_to(page, r"^zur Überarbeitung zurückgeben$")
    page.keyboard.press("ArrowUp")
    assert focused(page)["value"] == "bewertet" and focused(page)["checked"]
    follow(page, r"^Entscheidung speichern$")
    assert_focus_on_notice(page)
    assert page.title() == "Bewertung – Lotsen-Bereich – Lotsen-LTI"
    assert GRADED_BY_KEYBOARD not in page.locator("main").inner_text()

    page.goto(site.url("/lotse/bewertung", LOTSE, status="bewertet"))
    assert GRADED_BY_KEYBOARD in page.locator("table").inner_text()
