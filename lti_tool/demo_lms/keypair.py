"""RSA key pairs in the two forms a platform needs: PEM to sign, public JWK to publish."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK


@dataclass(frozen=True)
class KeyPair:
    kid: str
    """jwcrypto's thumbprint of the key."""
    private_key_pem: str
    public_jwk: dict[str, Any]


def generate_key_pair() -> KeyPair:
    """A new 2048-bit RSA key for RS256."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    jwk = JWK.from_pem(pem.encode())
    kid = jwk.thumbprint()
    public = json.loads(jwk.export_public())
    public.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return KeyPair(kid=kid, private_key_pem=pem, public_jwk=public)
