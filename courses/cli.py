"""``flask courses …``: check the catalogue files and import them into the database."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from lti_tool.extensions import db

from .catalog import DEFAULT_CATALOG_PATH, load_catalog
from .importer import CatalogInvalid, import_catalog

courses = AppGroup("courses", help="Modulkatalog: prüfen und importieren.")

_catalog_option = click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(file_okay=False, path_type=Path),
    help="Katalogordner (Standard: CATALOG_PATH der Konfiguration, sonst courses/catalog).",
)


def resolve_catalog_path(option: Path | None = None) -> Path:
    """The catalogue folder: the option, else ``CATALOG_PATH``, else the packaged catalogue."""
    if option is not None:
        return option
    return Path(current_app.config.get("CATALOG_PATH") or DEFAULT_CATALOG_PATH)


@courses.command("check")
@_catalog_option
def check(catalog_path: Path | None) -> None:
    """Den Katalog prüfen: jedes Problem mit Datei und Zeile; Exit-Status 1 bei Problemen."""
    catalog = load_catalog(resolve_catalog_path(catalog_path))
    for problem in catalog.problems:
        click.echo(str(problem))
    click.echo(catalog.summary())
    if not catalog.ok:
        raise SystemExit(1)


@courses.command("import")
@_catalog_option
def import_(catalog_path: Path | None) -> None:
    """Den Katalog versioniert in die Datenbank laden (idempotent, eine Transaktion)."""
    try:
        report = import_catalog(resolve_catalog_path(catalog_path))
    except CatalogInvalid as error:
        db.session.rollback()
        for problem in error.problems:
            click.echo(str(problem))
        count = len(error.problems)
        noun = "Problem" if count == 1 else "Probleme"
        click.echo(f"Import abgebrochen, nichts geändert: {count} {noun}.")
        raise SystemExit(1) from error
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    for line in report.lines():
        click.echo(line)


def init_app(app: Flask) -> None:
    app.cli.add_command(courses)
