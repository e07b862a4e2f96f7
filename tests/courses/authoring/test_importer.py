"""``flask courses import`` on both backends: idempotent, versioned, retiring instead of deleting,
and nothing written when the catalogue has problems."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from courses.authoring.importer import CatalogInvalid, ImportReport, import_catalog
from courses.models import CatalogModule, CatalogUnit, UnitProgress, UnitVersion
from lti_tool.extensions import db
from lti_tool.models import LtiContext, LtiUser
from lti_tool.registrations import add_platform

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """A copy of the clean fixture catalogue that a test may edit."""
    return shutil.copytree(FIXTURES / "catalog_ok", tmp_path / "katalog")


def _import(path: Path) -> ImportReport:
    report = import_catalog(path)
    db.session.commit()
    return report


def _unit(module: str, unit: str) -> CatalogUnit:
    return db.session.scalars(
        select(CatalogUnit)
        .join(CatalogModule)
        .where(CatalogModule.slug == module, CatalogUnit.slug == unit)
    ).one()


def _module(slug: str) -> CatalogModule:
    return db.session.scalars(select(CatalogModule).where(CatalogModule.slug == slug)).one()


def _current(unit: CatalogUnit) -> UnitVersion:
    return next(v for v in unit.versions if v.version == unit.current_version)


def _counts() -> tuple[int | None, ...]:
    """Rows of modules, units and unit versions."""
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (CatalogModule, CatalogUnit, UnitVersion)
    )


def _progress_on(unit: CatalogUnit) -> UnitProgress:
    registration = add_platform(
        {
            "name": "Moodle Test",
            "issuer": "https://moodle.example",
            "client_id": "client-1",
            "auth_login_url": "https://moodle.example/mod/lti/auth.php",
            "auth_token_url": "https://moodle.example/mod/lti/token.php",
            "key_set_url": "https://moodle.example/mod/lti/certs.php",
            "deployments": ["1"],
        }
    )
    user = LtiUser(registration_pk=registration.id, sub="user-1")
    context = LtiContext(registration_pk=registration.id, context_id="course-1")
    db.session.add_all([user, context])
    db.session.flush()
    progress = UnitProgress(
        user_pk=user.id, context_pk=context.id, unit_pk=unit.id, unit_version_pk=_current(unit).id
    )
    db.session.add(progress)
    db.session.commit()
    return progress


def test_first_import_creates_modules_units_and_versions(app: Flask, catalog: Path) -> None:
    report = _import(catalog)

    assert report.modules_added == ["b1-grundlagen", "p1-praxis"]
    assert len(report.units_added) == 5
    assert _counts() == (2, 5, 5)
    module = _module("b1-grundlagen")
    assert (module.kind, module.position, module.version) == ("basiswissen", 1, 1)
    assert module.objectives == ["Sie können einen kleinen Katalog lesen."]
    assert module.sources == [{"title": "Beispielquelle", "url": "https://example.org/quelle"}]
    assert [u.slug for u in module.units] == ["einfuehrung", "vertiefung", "quiz", "aufgabe"]
    praxis = _module("p1-praxis")
    assert praxis.estimated_minutes == 20  # not given: the sum of its units


def test_importing_twice_changes_nothing(app: Flask, catalog: Path) -> None:
    _import(catalog)
    before = _counts()
    versions = {(u.slug, u.current_version) for u in db.session.scalars(select(CatalogUnit))}

    report = _import(catalog)

    assert not report.changed
    assert report.lines() == ["keine Änderungen (2 Module, 5 Einheiten)."]
    assert _counts() == before
    after = {(u.slug, u.current_version) for u in db.session.scalars(select(CatalogUnit))}
    assert after == versions
    assert {m.version for m in db.session.scalars(select(CatalogModule))} == {1}


def test_cli_import_is_idempotent(app: Flask, catalog: Path) -> None:
    runner = app.test_cli_runner()

    first = runner.invoke(args=["courses", "import", "--catalog", str(catalog)])
    second = runner.invoke(args=["courses", "import", "--catalog", str(catalog)])

    assert first.exit_code == 0, first.output
    assert "Neue Module (2): b1-grundlagen, p1-praxis" in first.output
    assert second.exit_code == 0, second.output
    assert second.output == "keine Änderungen (2 Module, 5 Einheiten).\n"
    assert _counts() == (2, 5, 5)


def test_cli_import_reads_catalog_path_from_the_configuration(app: Flask, catalog: Path) -> None:
    app.config["CATALOG_PATH"] = str(catalog)

    result = app.test_cli_runner().invoke(args=["courses", "import"])

    assert result.exit_code == 0, result.output
    assert _counts() == (2, 5, 5)


def test_edited_unit_gets_a_new_version_and_old_progress_keeps_its_version(
    app: Flask, catalog: Path
) -> None:
    _import(catalog)
    unit = _unit("b1-grundlagen", "vertiefung")
    progress = _progress_on(unit)
    old_version_pk = progress.unit_version_pk
    text = catalog / "b1-grundlagen" / "02-vertiefung.md"
    text.write_text(text.read_text(encoding="utf-8") + "\nEin neuer Absatz.\n", encoding="utf-8")

    report = _import(catalog)

    assert report.units_versioned == ["b1-grundlagen/vertiefung (Version 2)"]
    assert report.modules_updated == []  # module.yaml is unchanged
    db.session.expire_all()
    unit = _unit("b1-grundlagen", "vertiefung")
    assert unit.current_version == 2
    assert [v.version for v in unit.versions] == [1, 2]
    assert "Ein neuer Absatz." in (_current(unit).body_html or "")
    progress = db.session.get(UnitProgress, progress.id)
    assert progress is not None
    assert progress.unit_version_pk == old_version_pk
    assert progress.unit_version.version == 1
    assert "Ein neuer Absatz." not in (progress.unit_version.body_html or "")
    assert "Zitat" in (progress.unit_version.body_html or "")


def test_edited_rubric_versions_the_assignment(app: Flask, catalog: Path) -> None:
    _import(catalog)
    rubric = catalog / "b1-grundlagen" / "04-bewertung.yaml"
    rubric.write_text(rubric.read_text(encoding="utf-8").replace("points: 4", "points: 5"))

    report = _import(catalog)

    assert report.units_versioned == ["b1-grundlagen/aufgabe (Version 2)"]
    assert _current(_unit("b1-grundlagen", "aufgabe")).rubric["max_points"] == 11  # type: ignore[index]


def test_changed_module_metadata_bumps_the_module_version(app: Flask, catalog: Path) -> None:
    _import(catalog)
    meta = catalog / "p1-praxis" / "module.yaml"
    meta.write_text(meta.read_text(encoding="utf-8").replace('"Praxis"', '"Praxis neu"'))

    report = _import(catalog)

    assert report.modules_updated == ["p1-praxis (Version 2)"]
    assert report.units_versioned == []
    module = _module("p1-praxis")
    assert (module.title, module.version) == ("Praxis neu", 2)


def test_removed_unit_is_retired_with_progress_kept_and_comes_back(
    app: Flask, catalog: Path
) -> None:
    _import(catalog)
    unit = _unit("b1-grundlagen", "vertiefung")
    unit_pk = unit.id
    progress = _progress_on(unit)
    meta = catalog / "b1-grundlagen" / "module.yaml"
    original = meta.read_text(encoding="utf-8")
    without = original.replace(
        '  - id: vertiefung\n    kind: reading\n    title: "Vertiefung"\n'
        "    file: 02-vertiefung.md\n    estimated_minutes: 10\n",
        "",
    )
    # The introduction links to the removed unit; point it elsewhere so the check passes.
    intro = catalog / "b1-grundlagen" / "01-einfuehrung.md"
    intro_text = intro.read_text(encoding="utf-8")
    meta.write_text(without, encoding="utf-8")
    intro.write_text(intro_text.replace("unit:vertiefung", "unit:quiz"), encoding="utf-8")

    report = _import(catalog)

    assert report.units_retired == ["b1-grundlagen/vertiefung"]
    db.session.expire_all()
    unit = _unit("b1-grundlagen", "vertiefung")
    assert unit.retired_at is not None
    assert "vertiefung" not in [u.slug for u in unit.module.active_units]
    assert db.session.get(UnitProgress, progress.id) is not None

    meta.write_text(original, encoding="utf-8")
    intro.write_text(intro_text, encoding="utf-8")
    report = _import(catalog)

    assert report.units_restored == ["b1-grundlagen/vertiefung"]
    assert report.units_versioned == ["b1-grundlagen/einfuehrung (Version 3)"]
    db.session.expire_all()
    unit = _unit("b1-grundlagen", "vertiefung")
    assert (unit.id, unit.retired_at, unit.current_version) == (unit_pk, None, 1)
    assert db.session.get(UnitProgress, progress.id) is not None


def test_removed_module_is_retired_and_comes_back(app: Flask, catalog: Path) -> None:
    _import(catalog)
    praxis = catalog / "p1-praxis"
    parked = catalog.parent / "p1-praxis"
    shutil.move(praxis, parked)
    # Links into the removed module would fail the check; drop them.
    intro = catalog / "b1-grundlagen" / "01-einfuehrung.md"
    intro_text = intro.read_text(encoding="utf-8")
    intro.write_text(
        intro_text.replace("module:p1-praxis/fallstudie", "unit:quiz").replace(
            "module:p1-praxis", "unit:quiz"
        ),
        encoding="utf-8",
    )

    report = _import(catalog)

    assert report.modules_retired == ["p1-praxis"]
    module = _module("p1-praxis")
    assert module.retired_at is not None
    assert _counts() == (2, 5, 6)

    shutil.move(parked, praxis)
    intro.write_text(intro_text, encoding="utf-8")
    report = _import(catalog)

    assert report.modules_restored == ["p1-praxis"]
    db.session.expire_all()
    module = _module("p1-praxis")
    assert module.retired_at is None
    assert module.version == 1


def test_import_refuses_a_catalogue_with_problems(app: Flask, catalog: Path) -> None:
    quiz = catalog / "b1-grundlagen" / "03-quiz.yaml"
    quiz.write_text(quiz.read_text(encoding="utf-8").replace("scoring: best", "scoring: alle"))

    with pytest.raises(CatalogInvalid) as raised:
        import_catalog(catalog)
    result = app.test_cli_runner().invoke(args=["courses", "import", "--catalog", str(catalog)])

    assert [str(p) for p in raised.value.problems] == [
        "b1-grundlagen/03-quiz.yaml:1 scoring: unbekannte Wertung 'alle' (erlaubt: best, latest)"
    ]
    assert result.exit_code == 1
    assert "03-quiz.yaml:1 scoring" in result.output
    assert "Import abgebrochen, nichts geändert: 1 Problem." in result.output
    assert _counts() == (0, 0, 0)


def test_markdown_is_sanitised_at_import(app: Flask, catalog: Path) -> None:
    _import(catalog)

    html = _current(_unit("b1-grundlagen", "einfuehrung")).body_html or ""

    assert "<script" not in html
    assert 'alert("script")' not in html
    assert "onclick" not in html
    assert "javascript:" not in html
    assert "<iframe" not in html
    assert "<p>Klick</p>" in html
    assert '<a href="https://example.org/fremd" rel="noopener noreferrer">Fremd</a>' in html
    assert 'href="https://example.org/seite" title="Beispiel" rel="noopener noreferrer"' in html


def test_internal_links_are_rewritten_at_import(app: Flask, catalog: Path) -> None:
    _import(catalog)

    intro = _current(_unit("b1-grundlagen", "einfuehrung")).body_html or ""
    case = _current(_unit("p1-praxis", "fallstudie")).body_html or ""

    assert '<a data-internal="1" href="/module/b1-grundlagen/einheit/vertiefung"' in intro
    assert '<a data-internal="1" href="/module/p1-praxis"' in intro
    assert '<a data-internal="1" href="/module/p1-praxis/einheit/fallstudie"' in intro
    assert '<a data-internal="1" href="/module/b1-grundlagen"' in case
    assert "unit:" not in intro
    assert "module:" not in intro


def test_quiz_and_rubric_are_stored_parsed(app: Flask, catalog: Path) -> None:
    _import(catalog)

    quiz = _current(_unit("b1-grundlagen", "quiz"))
    assignment = _current(_unit("b1-grundlagen", "aufgabe"))

    assert quiz.body_html is None
    assert quiz.quiz is not None
    assert (quiz.quiz["scoring"], quiz.quiz["pass_percent"]) == ("best", 60)
    truefalse = quiz.quiz["questions"][2]
    assert truefalse["answer"] is True
    assert truefalse["options"] == [
        {"id": "true", "text": "Richtig", "correct": True},
        {"id": "false", "text": "Falsch", "correct": False},
    ]
    single = quiz.quiz["questions"][0]
    assert single["options"][1] == {"id": "q1b", "text": "Jene", "correct": False}
    assert assignment.rubric is not None
    assert assignment.rubric["pass_points"] == 6
    assert [c["id"] for c in assignment.rubric["criteria"]] == ["inhalt", "form"]
    assert "Beschreiben Sie" in (assignment.body_html or "")
