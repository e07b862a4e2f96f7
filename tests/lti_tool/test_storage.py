"""The protocol adapter's database helpers, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from lti_tool.extensions import db, insert_if_missing
from lti_tool.launch.storage import DatabaseLaunchDataStorage
from lti_tool.models import LtiStorageEntry, utcnow


def test_insert_if_missing_says_whether_it_inserted(app: Flask) -> None:
    """psycopg reports rowcount -1 for INSERT … ON CONFLICT DO NOTHING: the helper said True for a
    row that was already there."""
    expires_at = utcnow() + timedelta(hours=1)
    assert insert_if_missing(LtiStorageEntry, key="k", value=True, expires_at=expires_at) is True
    assert insert_if_missing(LtiStorageEntry, key="k", value=False, expires_at=expires_at) is False
    db.session.commit()
    assert db.session.get(LtiStorageEntry, "k").value is True


def test_a_nonce_is_consumed_once(app: Flask) -> None:
    storage = DatabaseLaunchDataStorage()
    storage.set_value("lti1p3-nonce-n1", True, exp=60)
    assert storage.consume("lti1p3-nonce-n1") is True
    assert storage.consume("lti1p3-nonce-n1") is False
    storage.set_value("lti1p3-nonce-n2", True, exp=60)
    db.session.get(LtiStorageEntry, "lti1p3-nonce-n2").expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert storage.consume("lti1p3-nonce-n2") is False  # expired
