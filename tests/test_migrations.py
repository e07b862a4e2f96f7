"""The schema comes from migrations alone, and they match the models exactly."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from config.settings import PROJECT_ROOT
from lti_tool.extensions import db

MIGRATIONS = str(PROJECT_ROOT / "migrations")


def _differences() -> list:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_migrations_create_exactly_the_models_schema(app):
    assert _differences() == []


def test_every_migration_downgrades_and_upgrades_again(app):
    downgrade(directory=MIGRATIONS, revision="base")
    with db.engine.connect() as connection:
        tables = set(db.inspect(connection).get_table_names()) - {"alembic_version"}
    assert tables == set()
    upgrade(directory=MIGRATIONS)
    assert _differences() == []
