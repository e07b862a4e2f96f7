"""Flask extensions, created unbound here and bound in :func:`lti_tool.create_app`."""

from typing import Any

from flask_babel import Babel
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase

# Constraint names that are stable across SQLite and PostgreSQL, so migrations can drop them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
babel = Babel()


def dialect_insert(model: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """``INSERT`` for ``model`` in the session's dialect, so callers can add
    ``.on_conflict_do_nothing()`` (PostgreSQL and SQLite both know it).

    Used instead of a savepoint around a plain INSERT: with pysqlite a SAVEPOINT opened before
    any write is committed by its RELEASE, which would take the row out of the caller's
    transaction."""
    if db.session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


def insert_if_missing(model: type[Base], **values: Any) -> bool:
    """``INSERT … ON CONFLICT DO NOTHING``: add a row unless a unique constraint already holds one
    (a parallel request of the same user, a class launching together). True if it inserted."""
    primary_key = list(sa_inspect(model).primary_key)
    # RETURNING, not rowcount: psycopg reports rowcount -1 for this statement.
    result = db.session.execute(
        dialect_insert(model).values(**values).on_conflict_do_nothing().returning(*primary_key)
    )
    return result.first() is not None
