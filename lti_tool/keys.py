"""The tool's own signing keys: creation, rotation with an overlap period, and the public JWKS."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import current_app
from jwcrypto.jwk import JWK
from sqlalchemy import or_, select

from .extensions import db
from .models import ToolKey, utcnow


@dataclass(frozen=True)
class KeyPair:
    """An RSA key in the two forms LTI needs: PEM to sign, public JWK to publish."""

    kid: str
    """jwcrypto's thumbprint of the key: pylti1p3 signs client assertions with exactly that kid."""
    private_key_pem: str
    public_jwk: dict[str, Any]


def generate_key_pair() -> KeyPair:
    """A new 2048-bit RSA key for RS256 (used by the tool and by the demo LMS)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    jwk = JWK.from_pem(pem.encode())
    # pylti1p3 signs client assertions with the thumbprint as kid (lti-notes §7); publish that.
    kid = jwk.thumbprint()
    public = json.loads(jwk.export_public())
    public.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return KeyPair(kid=kid, private_key_pem=pem, public_jwk=public)


def _new_key() -> ToolKey:
    pair = generate_key_pair()
    return ToolKey(kid=pair.kid, private_key_pem=pair.private_key_pem, public_jwk=pair.public_jwk)


def _published_keys() -> list[ToolKey]:
    now = utcnow()
    query = (
        select(ToolKey)
        .where(or_(ToolKey.retire_at.is_(None), ToolKey.retire_at > now))
        .order_by(ToolKey.created_at.desc(), ToolKey.id.desc())
    )
    return list(db.session.scalars(query))


#: How long a process signs with the key it last read. After ``lti keys rotate`` (another
#: process) it may sign with the previous key for this long; that key stays published for
#: KEY_ROTATION_OVERLAP_DAYS, so platforms still verify it.
ACTIVE_KEY_TTL_SECONDS = 60.0


def active_key() -> KeyPair:
    """Return the key that signs, creating the first one if there is none yet (flushed; the
    caller's commit publishes it). Read at most once a minute per process."""
    cached = current_app.extensions.get("lti_active_key")
    now = time.monotonic()
    if cached is not None and cached[0] > now:
        return cast(KeyPair, cached[1])
    query = (
        select(ToolKey)
        .where(ToolKey.retire_at.is_(None))
        .order_by(ToolKey.created_at.desc(), ToolKey.id.desc())
    )
    key = db.session.scalars(query).first()
    if key is None:
        key = _new_key()
        db.session.add(key)
        db.session.flush()
        # Not cached: the row is not committed yet, and the caller might roll it back.
        return _pair(key)
    pair = _pair(key)
    current_app.extensions["lti_active_key"] = (now + ACTIVE_KEY_TTL_SECONDS, pair)
    return pair


def forget_active_key() -> None:
    """After a rotation: this process reads the signing key again."""
    current_app.extensions.pop("lti_active_key", None)


def _pair(key: ToolKey) -> KeyPair:
    return KeyPair(
        kid=key.kid, private_key_pem=key.private_key_pem, public_jwk=dict(key.public_jwk)
    )


def ensure_key() -> tuple[KeyPair, bool]:
    """Return the active key and whether it was created just now."""
    existing = db.session.scalars(select(ToolKey).where(ToolKey.retire_at.is_(None))).first()
    if existing is not None:
        return _pair(existing), False
    return active_key(), True


def rotate_keys(overlap: timedelta) -> ToolKey:
    """Make a new key the signing key; earlier ones stay in the JWKS for ``overlap``, then
    retire."""
    retire_at = utcnow() + overlap
    for key in db.session.scalars(select(ToolKey).where(ToolKey.retire_at.is_(None))):
        key.retire_at = retire_at
    new = _new_key()
    db.session.add(new)
    db.session.flush()
    forget_active_key()
    return new


def public_jwks() -> dict[str, list[dict[str, object]]]:
    """The JWKS that platforms fetch from /lti/jwks.json."""
    return {"keys": [dict(key.public_jwk) for key in _published_keys()]}
