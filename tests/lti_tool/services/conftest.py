"""Fixtures of the protocol against the test platform (tests/support/protocol_app.py)."""

from tests.support.protocol_app import (  # noqa: F401  (fixtures, used by name)
    _protocol_pg_template,
    _protocol_sqlite_template,
    make_platform,
    protocol_app,
    protocol_database_url,
    protocol_tool,
)
