"""A platform signing key and id_token builder for tests that craft launches themselves."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK

from lti_tool.vocab import Claim


@dataclass
class PlatformKey:
    """An RSA key of a test platform with its JWK."""

    kid: str = field(default_factory=lambda: "k-" + uuid.uuid4().hex[:8])

    def __post_init__(self) -> None:
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self.public_pem = (
            self._private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        jwk = json.loads(JWK.from_pem(self.public_pem.encode()).export_public())
        jwk.update(kid=self.kid, alg="RS256", use="sig")
        self.jwk = jwk

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        header = {"kid": self.kid}
        header.update(headers or {})
        return jwt.encode(claims, self.private_pem, algorithm="RS256", headers=header)


LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def launch_claims(
    *,
    issuer: str,
    client_id: str,
    deployment_id: str,
    nonce: str,
    target_link_uri: str,
    sub: str = "user-1",
    roles: list[str] | None = None,
    context_id: str | None = "course-1",
    resource_link_id: str = "link-1",
    **extra: Any,
) -> dict[str, Any]:
    """A valid LtiResourceLinkRequest body; ``extra`` adds or overrides claims."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": client_id,
        "sub": sub,
        "iat": now,
        "exp": now + 300,
        "nonce": nonce,
        Claim.MESSAGE_TYPE: "LtiResourceLinkRequest",
        Claim.VERSION: "1.3.0",
        Claim.DEPLOYMENT_ID: deployment_id,
        Claim.TARGET_LINK_URI: target_link_uri,
        Claim.RESOURCE_LINK: {"id": resource_link_id, "title": "Lotsen-LTI"},
        Claim.ROLES: [LEARNER] if roles is None else roles,
    }
    if context_id is not None:
        claims[Claim.CONTEXT] = {
            "id": context_id,
            "label": "DN-1",
            "title": "Digital-Navigatoren 2026",
        }
    claims.update(extra)
    return claims
