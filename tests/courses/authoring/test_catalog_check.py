"""``flask courses check``: every kind of mistake in the catalogue files is reported with its file
and line (or field path), in German; a clean catalogue passes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask import Flask

from courses.authoring.catalog_files import field_path, load_catalog

FIXTURES = Path(__file__).parent / "fixtures"
CLEAN = FIXTURES / "catalog_ok"
BROKEN = FIXTURES / "catalog_broken"

#: What the broken fixture catalogue must report, by kind of mistake. Lines are the files' own.
EXPECTED = {
    "yaml syntax error": "a-syntax/module.yaml:5: YAML-Syntaxfehler: mapping values are not "
    "allowed here",
    "module.yaml missing": "b-ohne-moduldatei/module.yaml: Datei fehlt (jedes Modul braucht eine)",
    "id differs from folder": "c-modulfehler/module.yaml:1 id: ID 'c-falsch' entspricht nicht "
    "dem Ordnernamen 'c-modulfehler'",
    "required module field": "c-modulfehler/module.yaml:1 title: Pflichtfeld fehlt",
    "unknown module kind": "c-modulfehler/module.yaml:2 kind: unbekannte Modulart 'vertiefung' "
    "(erlaubt: basiswissen, best-practice)",
    "not a whole number": "c-modulfehler/module.yaml:3 position: ganze Zahl erwartet",
    "duplicate yaml key": "c-modulfehler/module.yaml:5 summary: Feld doppelt angegeben",
    "negative module minutes": "c-modulfehler/module.yaml:6 estimated_minutes: "
    "darf nicht negativ sein",
    "unknown field": "c-modulfehler/module.yaml:7 autor: unbekanntes Feld (Tippfehler?)",
    "invalid module id": "D_Ungueltig/module.yaml:1 id: ungültige ID 'D_Ungueltig': "
    "nur Kleinbuchstaben, Ziffern und Bindestriche",
    "duplicate module id": "f-doppelt/module.yaml:1 id: Modul-ID 'e-doppelt' doppelt "
    "(auch in e-doppelt/module.yaml)",
    "duplicate module id, folder": "f-doppelt/module.yaml:1 id: ID 'e-doppelt' entspricht nicht "
    "dem Ordnernamen 'f-doppelt'",
    "broken unit link": "g-einheiten/01-lesen.md:3: Verweis 'unit:gibt-es-nicht': keine Einheit "
    "'gibt-es-nicht' in diesem Modul",
    "broken module link": "g-einheiten/01-lesen.md:3: Verweis 'module:gibt-es-nicht': kein Modul "
    "'gibt-es-nicht' im Katalog",
    "broken module/unit link": "g-einheiten/01-lesen.md:5: Verweis 'module:h-quiz/gibt-es-nicht': "
    "keine Einheit 'gibt-es-nicht' im Modul 'h-quiz'",
    "relative link": "g-einheiten/01-lesen.md:7: Link-Ziel '02-lesen.md' wird nicht unterstützt: "
    "Webseiten mit https://…, Einheiten mit unit:EINHEIT, Module mit module:MODUL",
    "image": "g-einheiten/01-lesen.md:7: Bild 'bild.png': Bilder werden nicht angezeigt",
    "empty markdown": "g-einheiten/04-leer.md:1: Datei ist leer",
    "duplicate unit id": "g-einheiten/module.yaml:12 units[1].id: Einheit-ID 'lesen' doppelt "
    "(wie units[0])",
    "unknown unit kind": "g-einheiten/module.yaml:18 units[2].kind: unbekannte Art der Einheit "
    "'video' (erlaubt: reading, quiz, assignment)",
    "invalid unit id": "g-einheiten/module.yaml:22 units[3].id: ungültige ID 'Einheit_4': "
    "nur Kleinbuchstaben, Ziffern und Bindestriche",
    "assignment without rubric": "g-einheiten/module.yaml:27 units[4].rubric: Bewertungsraster "
    "fehlt (Pflicht bei assignment)",
    "required unit field": "g-einheiten/module.yaml:32 units[5].file: Pflichtfeld fehlt",
    "negative unit minutes": "g-einheiten/module.yaml:35 units[5].estimated_minutes: "
    "darf nicht negativ sein",
    "unit file missing": "g-einheiten/module.yaml:39 units[6].file: Datei '07-fehlt.md' fehlt",
    "unit file outside module": "g-einheiten/module.yaml:44 units[7].file: Datei "
    "'../a-syntax/01-text.md' muss im Modulordner liegen",
    "unit file extension": "g-einheiten/module.yaml:49 units[8].file: Datei '09-quiz.md': "
    "Endung .yaml oder .yml erwartet",
    "single without correct option": "h-quiz/01-quiz.yaml:7 questions[0].options: "
    "keine richtige Antwort",
    "single with two correct options": "h-quiz/01-quiz.yaml:16 questions[1].options: single hat "
    "genau eine richtige Antwort, markiert sind 2",
    "multiple without correct option": "h-quiz/01-quiz.yaml:27 questions[2].options: "
    "keine richtige Antwort",
    "truefalse answer not boolean": "h-quiz/01-quiz.yaml:36 questions[3].answer: "
    "true oder false erwartet",
    "truefalse without answer": "h-quiz/01-quiz.yaml:38 questions[4].answer: Pflichtfeld bei "
    "truefalse: true oder false",
    "question without explanation": "h-quiz/01-quiz.yaml:42 questions[5].explanation: "
    "Pflichtfeld fehlt",
    "duplicate option id": "h-quiz/01-quiz.yaml:45 questions[5].options: Options-IDs müssen im "
    "ganzen Quiz eindeutig sein: 'a' schon in questions[0]",
    "duplicate question id": "h-quiz/01-quiz.yaml:51 questions[6].id: Fragen-ID 'q1' doppelt "
    "(wie questions[0])",
    "quiz without questions": "h-quiz/02-leer.yaml:3 questions: das Quiz hat keine Fragen",
    "unknown scoring": "h-quiz/03-quiz.yaml:1 scoring: unbekannte Wertung 'beste' "
    "(erlaubt: best, latest)",
    "pass_percent out of range": "h-quiz/03-quiz.yaml:2 pass_percent: zwischen 0 und 100 erwartet",
    "rubric without criteria": "h-quiz/04-bewertung.yaml:2 criteria: das Bewertungsraster hat "
    "keine Kriterien",
    "criterion without points": "h-quiz/05-bewertung.yaml:8 criteria[1].points: ganze Zahl "
    "größer als 0 erwartet",
    "pass_points above total": "h-quiz/06-bewertung.yaml:1 pass_points: pass_points (25) über der "
    "Gesamtpunktzahl (15)",
}


@pytest.fixture(scope="module")
def broken_problems() -> list[str]:
    return [str(problem) for problem in load_catalog(BROKEN).problems]


def test_clean_catalogue_has_no_problems() -> None:
    catalog = load_catalog(CLEAN)

    assert catalog.problems == []
    assert catalog.summary() == "2 Module, 5 Einheiten, keine Probleme"


@pytest.mark.parametrize("expected", EXPECTED.values(), ids=EXPECTED.keys())
def test_each_mistake_is_reported_with_file_and_line(
    broken_problems: list[str], expected: str
) -> None:
    assert expected in broken_problems


def test_nothing_else_is_reported(broken_problems: list[str]) -> None:
    assert sorted(broken_problems) == sorted(EXPECTED.values())


def test_yaml_syntax_error_in_a_quiz_is_located(tmp_path: Path) -> None:
    catalog = shutil.copytree(CLEAN, tmp_path / "katalog")
    quiz = catalog / "b1-grundlagen" / "03-quiz.yaml"
    quiz.write_text(quiz.read_text().replace('    text: "Das ist wahr."', "    text: [offen"))

    problems = [str(p) for p in load_catalog(catalog).problems]

    assert len(problems) == 1
    assert problems[0].startswith("b1-grundlagen/03-quiz.yaml:")
    assert "YAML-Syntaxfehler" in problems[0]


def test_file_that_is_not_utf8_is_a_problem(tmp_path: Path) -> None:
    catalog = shutil.copytree(CLEAN, tmp_path / "katalog")
    (catalog / "p1-praxis" / "01-fallstudie.md").write_bytes("Straße".encode("latin-1"))

    problems = [str(p) for p in load_catalog(catalog).problems]

    assert problems == [
        "p1-praxis/01-fallstudie.md: keine UTF-8-Datei (Byte 4); bitte als UTF-8 speichern"
    ]


def test_missing_catalogue_folder(tmp_path: Path) -> None:
    catalog = load_catalog(tmp_path / "gibt-es-nicht")

    assert [p.message for p in catalog.problems] == ["Katalogordner nicht gefunden"]


def test_field_path() -> None:
    assert field_path(("questions", 2, "options")) == "questions[2].options"
    assert field_path(()) == ""


def test_cli_lists_every_problem_and_fails(sqlite_app: Flask) -> None:
    result = sqlite_app.test_cli_runner().invoke(
        args=["courses", "check", "--catalog", str(BROKEN)]
    )

    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert sorted(lines[:-1]) == sorted(EXPECTED.values())
    assert lines[-1] == f"6 Module, 16 Einheiten, {len(EXPECTED)} Probleme"


def test_cli_passes_a_clean_catalogue(sqlite_app: Flask) -> None:
    result = sqlite_app.test_cli_runner().invoke(args=["courses", "check", "--catalog", str(CLEAN)])

    assert result.exit_code == 0, result.output
    assert result.output == "2 Module, 5 Einheiten, keine Probleme\n"


def test_cli_reads_catalog_path_from_the_configuration(sqlite_app: Flask) -> None:
    sqlite_app.config["CATALOG_PATH"] = str(BROKEN)

    result = sqlite_app.test_cli_runner().invoke(args=["courses", "check"])

    assert result.exit_code == 1
    assert EXPECTED["quiz without questions"] in result.output
