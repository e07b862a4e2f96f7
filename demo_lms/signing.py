"""The demo platform's key: published as JWKS, signs id_tokens. It is made together with the
database (see :func:`demo_lms.store.engine`), so concurrent first requests agree on it."""

from __future__ import annotations

from typing import Any

import jwt
from sqlalchemy import Connection, select

from . import store
from .keypair import KeyPair


def signing_key(conn: Connection) -> KeyPair:
    """The newest key; it signs every id_token."""
    row = conn.execute(
        select(store.platform_key)
        .order_by(store.platform_key.c.created_at.desc(), store.platform_key.c.kid)
        .limit(1)
    ).one()
    return KeyPair(row.kid, row.private_key_pem, dict(row.public_jwk))


def public_jwks(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    """What ``/demo-lms/jwks.json`` publishes."""
    rows = conn.execute(select(store.platform_key.c.public_jwk))
    return {"keys": [dict(row.public_jwk) for row in rows]}


def sign(conn: Connection, claims: dict[str, Any]) -> str:
    """An RS256 JWT over ``claims`` with the ``kid`` header the tool selects the key by."""
    key = signing_key(conn)
    return jwt.encode(claims, key.private_key_pem, algorithm="RS256", headers={"kid": key.kid})
