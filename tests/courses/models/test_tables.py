"""The domain's tables: ``courses.models`` exports the model of every one of them, importing the
domain registers exactly these tables, and every foreign key follows one naming rule."""

from __future__ import annotations

import subprocess
import sys

from config.settings import PROJECT_ROOT

DOMAIN_TABLES = {
    "catalog_module",
    "catalog_unit",
    "course_membership",
    "course_module",
    "course_module_member",
    "gradebook_outbox",
    "grading_decision",
    "lotse_grant",
    "lotse_role_deployment",
    "navigator_municipality",
    "privacy_audit",
    "project",
    "project_consent",
    "project_course_setting",
    "project_member",
    "project_milestone",
    "project_note",
    "project_revision",
    "quiz_attempt",
    "roster_sync",
    "submission",
    "submission_file",
    "unit_progress",
    "unit_version",
}


def _tables_after(statement: str) -> set[str]:
    """The tables in the metadata of a fresh interpreter after ``statement`` (no app, no other
    import that could register a table on the side)."""
    program = (
        f"{statement}\nfrom lti_tool.extensions import db\nprint(' '.join(db.metadata.tables))"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return set(result.stdout.split())


def test_importing_courses_models_registers_every_domain_table() -> None:
    protocol = _tables_after("import lti_tool.models")
    assert not protocol & DOMAIN_TABLES
    assert _tables_after("import courses.models") - protocol == DOMAIN_TABLES


def test_courses_models_exports_the_model_of_every_table() -> None:
    from courses import models
    from lti_tool.extensions import db

    exported = {obj for name in models.__all__ if isinstance(obj := getattr(models, name), type)}
    mapped = {
        mapper.class_
        for mapper in db.Model.registry.mappers
        if mapper.local_table.name in DOMAIN_TABLES
    }
    assert {cls.__tablename__ for cls in mapped} == DOMAIN_TABLES
    assert mapped <= exported


def test_every_domain_foreign_key_ends_in_pk() -> None:
    """One rule for keys: a column that refers to another row is named ``<what>_pk``."""
    from courses import models  # noqa: F401  (registers the tables)
    from lti_tool.extensions import db

    wrong = [
        f"{table.name}.{column.name}"
        for table in db.metadata.sorted_tables
        if table.name in DOMAIN_TABLES
        for column in table.columns
        if column.foreign_keys and not column.name.endswith("_pk")
    ]
    assert wrong == []
