"""The UI's catalogues (translations/) are complete and current: every text the code and the
templates pass to gettext is in messages.pot and in both catalogues, every one has its English
text, and the compiled .mo files are those of the .po files. A new or changed text fails here
until ``make translations`` has run and the English entry is written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from config.settings import PROJECT_ROOT
from lti_tool.languages import UI_LANGUAGES

TRANSLATIONS = PROJECT_ROOT / "translations"
LANGUAGES = UI_LANGUAGES
#: The comment of an English entry that is rightly the same as the German (“Status”).
SAME = "same in English"


def _read_po(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as source:
        return read_po(source, locale=locale)


def _catalogue(language: str) -> Catalog:
    return _read_po(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", language)


def _ids(catalog: Catalog) -> set[str | tuple[str, ...]]:
    return {message.id for message in catalog if message.id}


def _messages(catalog: Catalog) -> list[Message]:
    return [message for message in catalog if message.id]


def _forms(string: str | tuple[str, ...]) -> tuple[str, ...]:
    return (string,) if isinstance(string, str) else tuple(string)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The texts of the code as they are now (the extraction of ``make translations``)."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run(
        [
            str(pybabel),
            "-q",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            ".",
        ],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    )
    return _read_po(pot)


def test_the_code_has_texts_at_all(extracted: Catalog) -> None:
    # Guards the comparisons below against an extraction that finds nothing.
    ids = _ids(extracted)
    assert len(ids) > 500
    assert {"Meine Module", "Sitzung abgelaufen", "Datenschutzerklärung"} <= ids


def test_messages_pot_is_current(extracted: Catalog) -> None:
    template = _read_po(TRANSLATIONS / "messages.pot")
    new, gone = _ids(extracted) - _ids(template), _ids(template) - _ids(extracted)
    assert not new and not gone, f"make translations: new {sorted(new)}, gone {sorted(gone)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_catalogue_holds_every_text_of_the_code(extracted: Catalog, language: str) -> None:
    catalog = _catalogue(language)
    missing, stale = _ids(extracted) - _ids(catalog), _ids(catalog) - _ids(extracted)
    assert not missing and not stale, (
        f"make translations ({language}): missing {sorted(missing)}, stale {sorted(stale)}"
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_entry_is_translated_and_reviewed(language: str) -> None:
    catalog = _catalogue(language)
    assert not catalog.fuzzy, f"{language}: the catalogue's header is marked fuzzy"
    untranslated = [m.id for m in _messages(catalog) if not all(_forms(m.string))]
    fuzzy = [m.id for m in _messages(catalog) if m.fuzzy]
    assert not untranslated, f"{language}: no text for {untranslated}"
    assert not fuzzy, f"{language}: fuzzy (changed in the code, review the text): {fuzzy}"
    errors = [(message.id, [str(e) for e in found]) for message, found in catalog.check()]
    assert not errors, f"{language}: placeholders do not fit: {errors}"


def test_german_is_the_source_text() -> None:
    # German entries start as their msgid; a reworded one must keep its placeholders.
    for message in _messages(_catalogue("de")):
        for source, text in zip(_forms(message.id), _forms(message.string), strict=False):
            assert re.findall(r"%\(\w+\)\w|%%", source) == re.findall(r"%\(\w+\)\w|%%", text)


def test_an_english_text_equal_to_the_german_one_says_so() -> None:
    # A German sentence copied into the English catalogue looks translated but is not.
    copied = [
        m.id
        for m in _messages(_catalogue("en"))
        if _forms(m.string) == _forms(m.id) and SAME not in m.user_comments
    ]
    assert not copied, f"English text equal to the German, without “# {SAME}”: {copied}"


def test_template_texts_survive_jinjas_formatting() -> None:
    # Jinja's gettext always applies "%" formatting (newstyle): a lone "%" in an English
    # template text would fail on the page.
    for message in _messages(_catalogue("en")):
        if not any(path.endswith(".html") for path, _line in message.locations):
            continue
        for text in _forms(message.string):
            bare = re.sub(r"%%|%\(\w+\)[sd]", "", text)
            assert "%" not in bare, (message.id, text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_is_the_current_one(language: str) -> None:
    mo = TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo"
    assert mo.exists(), f"{mo} fehlt: make install übersetzt die Kataloge"
    with mo.open("rb") as source:
        compiled = {_forms(m.id): _forms(m.string) for m in read_mo(source) if m.id}
    # pybabel compile leaves out entries without a text (the test above names those).
    written = {
        _forms(m.id): _forms(m.string)
        for m in _messages(_catalogue(language))
        if all(_forms(m.string)) and not m.fuzzy
    }
    assert compiled == written, f"{mo} ist veraltet: make install"
