"""pylti1p3's launch data storage in the database, shared by every worker process."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pylti1p3.launch_data_storage.base import LaunchDataStorage
from sqlalchemy import delete

from ..extensions import db, dialect_insert
from ..models import LtiStorageEntry, utcnow

#: Used where pylti1p3 gives no lifetime.
DEFAULT_LIFETIME = 3600


class DatabaseLaunchDataStorage(LaunchDataStorage[Any]):
    """Keys live in ``lti_storage_entry`` with an expiry. No session cookie is involved: the OIDC
    state cookie binds the browser, the stored nonce binds the id_token."""

    _session_cookie_name = ""

    def get_session_cookie_name(self) -> str | None:
        return None

    def can_set_keys_expiration(self) -> bool:
        return True

    def get_value(self, key: str) -> Any:
        entry = db.session.get(LtiStorageEntry, self._prepare_key(key))
        if entry is None or entry.expires_at <= utcnow():
            return None
        return entry.value

    def set_value(self, key: str, value: Any, exp: int | None = None) -> None:
        expires_at = utcnow() + timedelta(seconds=exp or DEFAULT_LIFETIME)
        # One statement; the keys are fresh random nonces, but an overwrite stays correct. The
        # login view commits before its response goes out.
        db.session.execute(
            dialect_insert(LtiStorageEntry)
            .values(key=self._prepare_key(key), value=value, expires_at=expires_at)
            .on_conflict_do_update(
                index_elements=["key"], set_={"value": value, "expires_at": expires_at}
            )
        )

    def check_value(self, key: str) -> bool:
        return self.get_value(key) is not None

    def consume(self, key: str) -> bool:
        """Delete ``key`` if it is present and unexpired; True only for the one caller that did.

        A single DELETE is atomic on PostgreSQL and SQLite alike, so of two workers replaying the
        same nonce at once exactly one sees a deleted row (the other waits for the first one's
        transaction and then deletes nothing). The launch view commits."""
        result = db.session.execute(
            delete(LtiStorageEntry).where(
                LtiStorageEntry.key == self._prepare_key(key),
                LtiStorageEntry.expires_at > utcnow(),
            )
        )
        return bool(getattr(result, "rowcount", 0))


def purge_expired() -> int:
    """Delete expired entries; returns how many."""
    result = db.session.execute(
        delete(LtiStorageEntry).where(LtiStorageEntry.expires_at <= utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)
