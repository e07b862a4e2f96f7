"""Fixtures for tests of the LTI protocol alone: the app built with ``create_app(config,
components=())`` (a launch lands on ``/lti/gestartet``), migrated databases on SQLite and
PostgreSQL (``LOTSEN_TEST_DATABASES`` as in tests/conftest.py), the tool on a real port and the
test platform registered with it.

A conftest imports the fixtures it needs by name from here."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from config.settings import PROJECT_ROOT
from lti_tool import create_app
from lti_tool.extensions import db
from lti_tool.keys import KeyPair, generate_key_pair
from lti_tool.models import ToolKey
from tests.conftest import BACKENDS, LiveServer, app_context, fresh_database
from tests.support.pgcluster import Cluster
from tests.support.platform import DEFAULT, Platform

#: Short timeouts: a platform that has not answered in 2 s has timed out.
FAST = {"HTTP_TIMEOUT_SECONDS": 2.0}


def make_protocol_app(database_url: str, tmp_path: Path, **overrides: Any) -> Flask:
    """The protocol without any component, on ``database_url``."""
    config: dict[str, Any] = {
        "LOTSEN_ENV": "testing",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "DEMO_LMS": False,
        **FAST,
    }
    config.update(overrides)
    return create_app(config, components=())


def _migrate(app: Flask) -> None:
    with app.app_context():
        upgrade(directory=str(PROJECT_ROOT / "migrations"))
        db.engine.dispose()


@pytest.fixture(scope="session")
def _protocol_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("protocol-template") / "template.sqlite"
    _migrate(make_protocol_app(f"sqlite:///{path}", path.parent))
    return path


@pytest.fixture(scope="session")
def _protocol_pg_template(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> str:
    # Every conftest that imports this fixture runs it once: a name of its own each time.
    name = "protocol_template_" + uuid.uuid4().hex[:8]
    engine = sa.create_engine(pg_cluster.url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    _migrate(make_protocol_app(pg_cluster.database_url(name), tmp_path_factory.mktemp("ppg")))
    return name


@pytest.fixture(params=BACKENDS)
def protocol_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database on each backend."""
    with fresh_database(
        request, tmp_path, "_protocol_sqlite_template", "_protocol_pg_template"
    ) as url:
        yield url


@functools.cache
def _tool_key() -> KeyPair:
    return generate_key_pair()


def install_tool_key() -> None:
    """Give a fresh database the tool's signing key (one RSA key per test session)."""
    pair = _tool_key()
    db.session.add(
        ToolKey(kid=pair.kid, private_key_pem=pair.private_key_pem, public_jwk=pair.public_jwk)
    )
    db.session.commit()


@pytest.fixture
def protocol_app(protocol_database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The protocol app on each backend, inside its app context, with the tool's key."""
    with app_context(make_protocol_app(protocol_database_url, tmp_path)) as application:
        install_tool_key()
        yield application


@pytest.fixture
def protocol_tool(protocol_app: Flask) -> Iterator[LiveServer]:
    """The protocol app on a real loopback port (platforms fetch its JWKS, browsers launch)."""
    with LiveServer(protocol_app) as server:
        yield server


PlatformFactory = Callable[..., Platform]


@pytest.fixture
def make_platform(protocol_tool: LiveServer) -> Iterator[PlatformFactory]:
    """``make_platform(flavour, **knobs)``: a running platform registered with the tool (with
    the flavour's preset; ``product_family=None`` registers it by hand without one)."""
    started: list[Platform] = []

    def factory(
        flavour: str = "moodle",
        *,
        register: bool = True,
        product_family: Any = DEFAULT,
        **knobs: Any,
    ) -> Platform:
        platform = Platform(tool_url=protocol_tool.url, flavour=flavour, **knobs)
        started.append(platform)
        if register:
            platform.register_with_tool(product_family=product_family)
        return platform

    yield factory
    for platform in started:
        platform.close()
