"""Loads the checked catalogue into the database, idempotently and versioned.

A unit whose file(s) changed gets a new :class:`UnitVersion`; progress keeps pointing at the
version it was made on. Units and modules that disappear are retired, never deleted, and come back
when they reappear. Nothing is written when the catalogue has problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, text

from courses.models import CatalogModule, CatalogUnit, UnitVersion
from lti_tool.extensions import db
from lti_tool.models import utcnow

from .catalog_files import Catalog, ModuleSpec, Problem, UnitSpec, load_catalog

#: Serialises concurrent imports on PostgreSQL (e.g. two containers starting at once).
_ADVISORY_LOCK_KEY = 0x4C6F7473656E  # "Lotsen"


class CatalogInvalid(Exception):
    """The catalogue has problems; nothing was imported."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} Probleme im Katalog")
        self.problems = problems


@dataclass
class ImportReport:
    """What an import changed, for the CLI's summary."""

    modules_added: list[str] = field(default_factory=list)
    modules_updated: list[str] = field(default_factory=list)
    """Modules whose module.yaml changed, as ``slug (Version n)``."""
    modules_retired: list[str] = field(default_factory=list)
    modules_restored: list[str] = field(default_factory=list)
    units_added: list[str] = field(default_factory=list)
    units_versioned: list[str] = field(default_factory=list)
    """Units with new content, as ``module/unit (Version n)``."""
    units_updated: list[str] = field(default_factory=list)
    """Units whose title, kind, order or time estimate changed (no new version)."""
    units_retired: list[str] = field(default_factory=list)
    units_restored: list[str] = field(default_factory=list)
    module_count: int = 0
    unit_count: int = 0

    @property
    def changed(self) -> bool:
        return any(
            (
                self.modules_added,
                self.modules_updated,
                self.modules_retired,
                self.modules_restored,
                self.units_added,
                self.units_versioned,
                self.units_updated,
                self.units_retired,
                self.units_restored,
            )
        )

    def lines(self) -> list[str]:
        """The summary: one line per kind of change, then the totals."""
        labelled = [
            ("Neue Module", self.modules_added),
            ("Geänderte Module", self.modules_updated),
            ("Zurückgezogene Module", self.modules_retired),
            ("Wieder aufgenommene Module", self.modules_restored),
            ("Neue Einheiten", self.units_added),
            ("Neue Fassungen", self.units_versioned),
            ("Geänderte Angaben", self.units_updated),
            ("Zurückgezogene Einheiten", self.units_retired),
            ("Wieder aufgenommene Einheiten", self.units_restored),
        ]
        lines = [
            f"{label} ({len(items)}): {', '.join(items)}" for label, items in labelled if items
        ]
        totals = f"{self.module_count} Module, {self.unit_count} Einheiten"
        lines.append(f"{totals} im Katalog." if self.changed else f"keine Änderungen ({totals}).")
        return lines


def import_catalog(path: Path | str) -> ImportReport:
    """Check the catalogue at ``path`` and bring the database in line with it.

    Raises :class:`CatalogInvalid` (before writing anything) when the check finds problems.
    Flushes; the caller commits, so the whole import is one transaction.
    """
    catalog = load_catalog(path)
    if not catalog.ok:
        raise CatalogInvalid(catalog.problems)
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
    return _Importer(catalog).run()


class _Importer:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.report = ImportReport(module_count=len(catalog.modules), unit_count=catalog.unit_count)
        self.now = utcnow()

    def run(self) -> ImportReport:
        existing = {m.slug: m for m in db.session.scalars(select(CatalogModule))}
        for spec in self.catalog.modules:
            self._module(existing.get(spec.slug), spec)
        present = {spec.slug for spec in self.catalog.modules}
        for slug, module in sorted(existing.items()):
            if slug not in present and module.retired_at is None:
                # Its units stay as they are: a module that comes back finds its progress.
                module.retired_at = self.now
                self.report.modules_retired.append(slug)
        db.session.flush()
        return self.report

    def _module(self, module: CatalogModule | None, spec: ModuleSpec) -> None:
        if module is None:
            module = CatalogModule(slug=spec.slug, version=1, imported_at=self.now)
            self._apply_metadata(module, spec)
            db.session.add(module)
            self.report.modules_added.append(spec.slug)
        else:
            if module.retired_at is not None:
                module.retired_at = None
                self.report.modules_restored.append(spec.slug)
            if module.content_hash != spec.content_hash:
                self._apply_metadata(module, spec)
                module.version += 1
                module.imported_at = self.now
                self.report.modules_updated.append(f"{spec.slug} (Version {module.version})")
        units = {unit.slug: unit for unit in module.units}
        for unit_spec in spec.units:
            self._unit(module, units.get(unit_spec.slug), unit_spec)
        present = {unit_spec.slug for unit_spec in spec.units}
        for slug, unit in sorted(units.items()):
            if slug not in present and unit.retired_at is None:
                unit.retired_at = self.now
                self.report.units_retired.append(f"{spec.slug}/{slug}")

    @staticmethod
    def _apply_metadata(module: CatalogModule, spec: ModuleSpec) -> None:
        module.kind = spec.kind
        module.position = spec.position
        module.title = spec.title
        module.summary = spec.summary
        module.objectives = spec.objectives
        module.estimated_minutes = spec.estimated_minutes
        module.sources = spec.sources
        module.content_hash = spec.content_hash

    def _unit(self, module: CatalogModule, unit: CatalogUnit | None, spec: UnitSpec) -> None:
        name = f"{module.slug}/{spec.slug}"
        if unit is None:
            unit = CatalogUnit(slug=spec.slug, current_version=1)
            self._apply_unit_metadata(unit, spec)
            unit.versions.append(self._version(spec, 1))
            module.units.append(unit)
            self.report.units_added.append(name)
            return
        if unit.retired_at is not None:
            unit.retired_at = None
            self.report.units_restored.append(name)
        if self._apply_unit_metadata(unit, spec):
            self.report.units_updated.append(name)
        current = next((v for v in unit.versions if v.version == unit.current_version), None)
        if current is None or current.content_hash != spec.content_hash:
            # Versions only grow: content reverted to an older state is still a new version, so
            # progress made on the state in between keeps pointing at what the Navigator saw.
            number = max((v.version for v in unit.versions), default=0) + 1
            unit.versions.append(self._version(spec, number))
            unit.current_version = number
            self.report.units_versioned.append(f"{name} (Version {number})")

    @staticmethod
    def _apply_unit_metadata(unit: CatalogUnit, spec: UnitSpec) -> bool:
        """Copy what module.yaml says about the unit; True when something changed."""
        values = {
            "kind": spec.kind,
            "title": spec.title,
            "position": spec.position,
            "estimated_minutes": spec.estimated_minutes,
        }
        changed = any(getattr(unit, key) != value for key, value in values.items())
        for key, value in values.items():
            setattr(unit, key, value)
        return changed

    def _version(self, spec: UnitSpec, number: int) -> UnitVersion:
        return UnitVersion(
            version=number,
            content_hash=spec.content_hash,
            body_html=spec.body_html,
            quiz=spec.quiz,
            rubric=spec.rubric,
            created_at=self.now,
        )
