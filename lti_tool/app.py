"""The application factory: settings, extensions, the protocol's blueprint and CLI, and the
components (the domain, the demo LMS) that the caller passes in."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import Pool
from werkzeug.middleware.proxy_fix import ProxyFix

from config.settings import PROJECT_ROOT, load_settings

from . import cli, dynamic_registration, log_filters, models, web  # noqa: F401  (models: tables)
from .extensions import babel, db, migrate
from .languages import select_locale, template_globals
from .launch import views


class Component(Protocol):
    """A part of the product that plugs into the app: a package with ``init_app(app)``."""

    def init_app(self, app: Flask) -> None: ...


def create_app(
    test_config: dict[str, Any] | None = None, *, components: Iterable[Component] = ()
) -> Flask:
    """Create the Lotsen-LTI application; ``test_config`` overrides the environment's settings.

    ``components`` (the domain, the demo LMS) are initialised in order after the protocol; the
    protocol itself knows none of them."""
    app = Flask("lti_tool", instance_path=str(PROJECT_ROOT / "instance"))
    env_name = (test_config or {}).get("LOTSEN_ENV")
    app.config.update(load_settings(env_name))
    if test_config:
        app.config.update(test_config)
    _development_defaults(app)

    if app.config["PROXY_FIX"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    # The UI's catalogues (translations/, compiled by make install); the language follows the
    # launch (lti_tool.languages).
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(PROJECT_ROOT / "translations"))
    babel.init_app(
        app,
        locale_selector=select_locale,
        timezone_selector=lambda: "Europe/Berlin",
    )
    app.context_processor(template_globals)

    views.init_app(app)
    dynamic_registration.init_app(app)
    cli.init_app(app)
    for component in components:
        component.init_app(app)

    log_filters.install()
    web.init_app(app)
    return app


def _development_defaults(app: Flask) -> None:
    """Local defaults for development and demo: SQLite and a secret in ``instance/``."""
    instance = Path(app.instance_path)
    if app.config.get("UPLOAD_FOLDER") is None:
        app.config["UPLOAD_FOLDER"] = str(instance / "uploads")
    if app.config["ENV_NAME"] != "development":
        return
    instance.mkdir(parents=True, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'lotsen.sqlite'}"
    if not app.config.get("SECRET_KEY"):
        secret_file = instance / "secret_key"
        if not secret_file.exists():
            secret_file.write_text(secrets.token_urlsafe(48))
            secret_file.chmod(0o600)
        app.config["SECRET_KEY"] = secret_file.read_text().strip()


#: A pooled connection unused for longer than this is checked (``SELECT 1``) before it serves a
#: request: the database may have closed it (restart, idle timeout). One in use more often is
#: not, which spares a round trip per request (SQLAlchemy's ``pool_pre_ping`` pings every time).
PING_AFTER_IDLE_SECONDS = 10.0


def _is_sqlite(dbapi_connection: Any) -> bool:
    return type(dbapi_connection).__module__.startswith("sqlite3")


@event.listens_for(Pool, "checkin")
def _note_idle(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
        return
    if _is_sqlite(dbapi_connection):
        return  # a file, nothing to lose
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        # The ping opened a transaction (no autocommit); end it, so the request starts clean.
        dbapi_connection.rollback()
    except Exception as error:
        # The pool throws this connection away and checks out another (SQLAlchemy's
        # documented pessimistic disconnect handling).
        raise DisconnectionError() from error


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    # SQLite: enforce foreign keys, and let readers and one writer work side by side.
    if _is_sqlite(dbapi_connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL is still safe against corruption; only the last commits before a
        # power cut may be lost. FULL syncs the log on every commit, a millisecond each.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
