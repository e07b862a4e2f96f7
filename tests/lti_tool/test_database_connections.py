"""Pooled database connections: one the server closed while it sat idle in the pool is checked
and replaced before it serves a request (lti_tool.app pings only idle connections, not every
checkout as SQLAlchemy's ``pool_pre_ping`` would)."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from lti_tool import app as app_module
from lti_tool.extensions import db


def _backend_pid() -> int:
    pid = int(db.session.execute(text("SELECT pg_backend_pid()")).scalar_one())
    db.session.commit()
    db.session.remove()  # the connection goes back to the pool
    return pid


def test_a_connection_the_server_closed_is_replaced(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server that could close a connection")
    monkeypatch.setattr(app_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    pid = _backend_pid()
    # The server ends that session (as a restart or an idle timeout would).
    other = create_engine(db.engine.url, poolclass=NullPool)
    with other.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    other.dispose()

    assert db.session.execute(text("SELECT 1")).scalar_one() == 1
    assert _backend_pid() != pid
