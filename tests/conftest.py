"""Shared fixtures. Every test that takes ``app`` runs once on SQLite and once on PostgreSQL
(a throwaway cluster, see tests/support/pgcluster.py). ``LOTSEN_TEST_DATABASES=sqlite`` limits a
local run to SQLite. Each test gets a fresh database copied from a migrated template."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from werkzeug.serving import BaseWSGIServer, make_server

import courses
import demo_lms
from config.settings import PROJECT_ROOT
from lti_tool import create_app
from lti_tool.extensions import db
from tests.support.pgcluster import Cluster

BACKENDS = [
    b.strip() for b in os.environ.get("LOTSEN_TEST_DATABASES", "sqlite,postgresql").split(",")
]


def _block_network() -> None:
    """Tests reach nothing but loopback."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and not (
            str(host).startswith("127.") or host in ("localhost", "::1")
        ):
            raise RuntimeError(f"Netzwerkzugriff im Test blockiert: {address!r}")
        return real_connect(self, address)

    socket.socket.connect = guarded  # type: ignore[method-assign]


_block_network()


def make_app(database_url: str, tmp_path: Path, **overrides: Any) -> Flask:
    """An application for tests on ``database_url``."""
    config = {
        "LOTSEN_ENV": "testing",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "DEMO_LMS": False,
    }
    config.update(overrides)
    return create_app(config, components=(courses, demo_lms))


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    cluster = Cluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    app = make_app(f"sqlite:///{path}", path.parent)
    with app.app_context():
        upgrade(directory=str(PROJECT_ROOT / "migrations"))
        db.engine.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_template(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> str:
    engine = sa.create_engine(pg_cluster.url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("CREATE DATABASE lotsen_template"))
    engine.dispose()
    app = make_app(pg_cluster.database_url("lotsen_template"), tmp_path_factory.mktemp("pgt"))
    with app.app_context():
        upgrade(directory=str(PROJECT_ROOT / "migrations"))
        db.engine.dispose()
    return "lotsen_template"


@contextmanager
def fresh_database(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: str, pg_template: str
) -> Iterator[str]:
    """A fresh copy of a migrated template on ``request.param``'s backend: the SQLite file of
    the fixture ``sqlite_template`` copied, or a PostgreSQL database made from the template
    the fixture ``pg_template`` names (dropped afterwards)."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue(sqlite_template)
        path = tmp_path / f"{template.parent.name}.sqlite"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    template_name: str = request.getfixturevalue(pg_template)
    name = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(cluster.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    yield cluster.database_url(name)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database on each backend."""
    with fresh_database(request, tmp_path, "_sqlite_template", "_pg_template") as url:
        yield url


@pytest.fixture
def sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh migrated SQLite database, for tests whose subject is not the database."""
    path = tmp_path / "lotsen.sqlite"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@contextmanager
def app_context(application: Flask) -> Iterator[Flask]:
    """``application`` inside its app context; its connections are closed afterwards."""
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    with app_context(make_app(database_url, tmp_path)) as application:
        yield application


@pytest.fixture
def sqlite_app(sqlite_url: str, tmp_path: Path) -> Iterator[Flask]:
    with app_context(make_app(sqlite_url, tmp_path)) as application:
        yield application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


class LiveServer:
    """A Flask app served over real HTTP on 127.0.0.1 in a background thread."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def live_tool(app: Flask) -> Iterator[LiveServer]:
    """The tool on a real port (both backends)."""
    with LiveServer(app) as server:
        yield server
