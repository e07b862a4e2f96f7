"""The platform's RSA signing keys: one current key (and, during a rotation, the previous one),
published as a JWKS. Generating a 2048-bit RSA key costs tens of milliseconds, so keys are made
once per name and test session."""

from __future__ import annotations

import base64
import functools
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    """An RSA key with its ``kid``; :meth:`sign` makes an RS256 JWT naming that kid."""

    kid: str
    private: rsa.RSAPrivateKey

    @property
    def private_pem(self) -> str:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    @property
    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    @property
    def jwk(self) -> dict[str, Any]:
        """The public JWK as Moodle's certs.php and ILIAS' lticerts.php publish it (kty, alg, kid,
        e, n, use)."""
        numbers = self.private.public_key().public_numbers()
        return {
            "kty": "RSA",
            "alg": "RS256",
            "kid": self.kid,
            "e": _b64(numbers.e),
            "n": _b64(numbers.n),
            "use": "sig",
        }

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        header = {"kid": self.kid, "typ": "JWT"}
        header.update(headers or {})
        return jwt.encode(claims, self.private, algorithm="RS256", headers=header)


@functools.cache
def signing_key(name: str) -> SigningKey:
    """The key called ``name``, generated once per test session."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # Moodle and ILIAS make their kid from random bytes (ILIAS: bin2hex(random 10 bytes)).
    return SigningKey(kid=f"{name}-{uuid.uuid4().hex[:10]}", private=private)


class KeyRing:
    """The platform's keys: ``current`` signs; the JWKS lists it and, after a rotation with
    ``keep_previous``, the key before it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._generation = 0
        self.current = signing_key(f"{name}-0")
        self.previous: SigningKey | None = None

    def rotate(self, *, keep_previous: bool = False) -> SigningKey:
        """A new current key; the old one stays published only with ``keep_previous``."""
        self._generation += 1
        old = self.current
        self.current = signing_key(f"{self._name}-{self._generation}")
        self.previous = old if keep_previous else None
        return self.current

    @property
    def published(self) -> list[SigningKey]:
        return [k for k in (self.current, self.previous) if k is not None]

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        return {"keys": [k.jwk for k in self.published]}

    def by_kid(self, kid: str | None) -> SigningKey | None:
        return next((k for k in self.published if k.kid == kid), None)
