"""How a BCP 47 tag from the platform becomes the UI language (lti_tool/languages.py)."""

from __future__ import annotations

import pytest

from config.settings import PROJECT_ROOT
from lti_tool.languages import UI_LANGUAGES, ui_language


@pytest.mark.parametrize(
    ("tag", "language"),
    [
        ("en-GB", "en"),
        ("en", "en"),
        ("EN-us", "en"),
        # Moodle sends its language pack's code (mod/lti/locallib.php, current_language()).
        ("en_us", "en"),
        ("de_du", "de"),
        ("de-DE", "de"),
        ("de-AT", "de"),
        ("fr-FR", "de"),
        ("eng", "de"),
        ("", "de"),
        (None, "de"),
    ],
)
def test_the_primary_language_decides_and_german_is_the_fallback(
    tag: str | None, language: str
) -> None:
    assert ui_language(tag) == language


def test_the_ui_languages_are_those_with_a_catalogue() -> None:
    catalogues = {
        path.parent.parent.name
        for path in (PROJECT_ROOT / "translations").glob("*/LC_MESSAGES/messages.po")
    }
    assert catalogues == set(UI_LANGUAGES)
