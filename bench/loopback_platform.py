"""A loopback LTI 1.3 platform for the launch benchmark: its key set and an OIDC authentication
endpoint that signs a real RS256 id_token, for any number of registered tools.

It follows Moodle's flow (``mod/lti/locallib.php`` ``lti_initiate_login`` auto-posts the login
initiation form to the tool; ``mod/lti/auth.php`` checks the authentication request and answers
with a form that auto-posts ``id_token`` and ``state`` to the redirect URI). Unlike Moodle it keeps
no session: the ``lti_message_hint`` carries the launch to sign (user, roles, link, custom
parameters) as base64url JSON, so the platform can run in a process of its own and never becomes
the bottleneck of what is measured. It is a bench fixture, not a platform anyone should deploy.

Not named ``platform.py``: run as a script from ``bench/``, that name would shadow the standard
library module every HTTP library imports.

Run: ``python bench/loopback_platform.py CONFIG.json PORT`` (the benchmark does that).
"""

from __future__ import annotations

import base64
import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from html import escape
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, jsonify, request

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
LEARNER = ROLE + "Learner"
INSTRUCTOR = ROLE + "Instructor"
#: Lifetime of the id_token; Moodle signs them for 60 seconds (mod/lti/locallib.php).
ID_TOKEN_SECONDS = 60


@dataclass(frozen=True)
class PlatformKey:
    """The platform's RSA key pair and its published ``kid``."""

    private_pem: str
    public_pem: str
    kid: str

    @classmethod
    def generate(cls) -> PlatformKey:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public_pem = (
            private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        return cls(private_pem, public_pem, kid="bench-" + uuid.uuid4().hex[:12])

    def jwks(self) -> dict[str, Any]:
        public = serialization.load_pem_public_key(self.public_pem.encode())
        assert isinstance(public, rsa.RSAPublicKey)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))
        jwk.update(kid=self.kid, alg="RS256", use="sig")
        return {"keys": [jwk]}


@dataclass
class ToolRegistration:
    """One tool as the platform knows it (Moodle: one external tool type)."""

    client_id: str
    deployment_id: str
    login_url: str
    redirect_uri: str
    target_link_uri: str


@dataclass
class PlatformConfig:
    """Everything the platform process needs; written as JSON by the benchmark."""

    issuer: str
    key: PlatformKey
    tools: dict[str, ToolRegistration] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "issuer": self.issuer,
                "key": self.key.__dict__,
                "tools": {cid: tool.__dict__ for cid, tool in self.tools.items()},
            }
        )

    @classmethod
    def from_json(cls, text: str) -> PlatformConfig:
        data = json.loads(text)
        return cls(
            issuer=data["issuer"],
            key=PlatformKey(**data["key"]),
            tools={cid: ToolRegistration(**tool) for cid, tool in data["tools"].items()},
        )


@dataclass(frozen=True)
class LaunchRequest:
    """What a user's click on a link in the course means: who, in which role, which link."""

    sub: str
    roles: list[str]
    resource_link_id: str
    resource_link_title: str = "Lotsen-LTI"
    custom: dict[str, str] = field(default_factory=dict)
    context_id: str = "kurs-dn-2026"
    context_title: str = "Digital-Navigatoren Sachsen 2026"
    given_name: str = "Bench"
    family_name: str = "Person"

    def hint(self) -> str:
        raw = json.dumps(self.__dict__, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def from_hint(cls, hint: str) -> LaunchRequest:
        raw = base64.urlsafe_b64decode(hint + "=" * (-len(hint) % 4))
        return cls(**json.loads(raw))


def login_initiation(
    config: PlatformConfig, tool: ToolRegistration, launch: LaunchRequest
) -> dict[str, str]:
    """The fields of Moodle's auto-posted login initiation form (``lti_build_login_request``)."""
    return {
        "iss": config.issuer,
        "target_link_uri": tool.target_link_uri,
        "login_hint": launch.sub,
        "lti_message_hint": launch.hint(),
        "client_id": tool.client_id,
        "lti_deployment_id": tool.deployment_id,
    }


def id_token_claims(
    config: PlatformConfig, tool: ToolRegistration, launch: LaunchRequest, nonce: str
) -> dict[str, Any]:
    """The id_token a Moodle resource-link launch carries (grade sync and NRPS switched on)."""
    now = int(time.time())
    base = config.issuer
    return {
        "iss": config.issuer,
        "aud": tool.client_id,
        "sub": launch.sub,
        "iat": now,
        "exp": now + ID_TOKEN_SECONDS,
        "nonce": nonce,
        "given_name": launch.given_name,
        "family_name": launch.family_name,
        "name": f"{launch.given_name} {launch.family_name}",
        "email": f"{launch.sub}@example.invalid",
        CLAIM + "deployment_id": tool.deployment_id,
        CLAIM + "message_type": "LtiResourceLinkRequest",
        CLAIM + "version": "1.3.0",
        CLAIM + "target_link_uri": tool.target_link_uri,
        CLAIM + "roles": launch.roles,
        CLAIM + "resource_link": {
            "id": launch.resource_link_id,
            "title": launch.resource_link_title,
        },
        CLAIM + "context": {
            "id": launch.context_id,
            "label": "DN-2026",
            "title": launch.context_title,
            "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
        },
        CLAIM + "tool_platform": {
            "guid": config.issuer,
            "name": "Bench-LMS",
            "product_family_code": "moodle",
        },
        CLAIM + "launch_presentation": {
            "document_target": "iframe",
            "return_url": base + "/course/view.php?id=2",
        },
        CLAIM + "custom": launch.custom,
        "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
            "scope": [
                "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
                "https://purl.imsglobal.org/spec/lti-ags/scope/score",
            ],
            "lineitems": base + "/mod/lti/services.php/2/lineitems?type_id=1",
        },
        "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
            "context_memberships_url": base
            + "/mod/lti/services.php/CourseSection/2/bindings/1/memberships",
            "service_versions": ["1.0", "2.0"],
        },
    }


def sign(config: PlatformConfig, claims: dict[str, Any], key: Any = None) -> str:
    """RS256 with the platform's key and its ``kid``. Pass the loaded ``key`` when signing
    often: loading a PEM checks the RSA key, which takes far longer than signing."""
    return jwt.encode(
        claims,
        key if key is not None else config.key.private_pem,
        algorithm="RS256",
        headers={"kid": config.key.kid},
    )


def create_app(config: PlatformConfig) -> Flask:
    """The platform's HTTP side: ``/jwks`` and ``/auth`` (GET or POST)."""
    app = Flask("bench_platform")
    jwks = config.key.jwks()
    private_key = serialization.load_pem_private_key(config.key.private_pem.encode(), None)

    @app.get("/jwks")
    def key_set() -> Response:
        return jsonify(jwks)

    @app.route("/auth", methods=["GET", "POST"])
    def auth() -> Response:
        # The checks of mod/lti/auth.php: fixed OIDC values, a known client, its redirect URI
        # compared exactly, a nonce.
        params = request.values
        tool = config.tools.get(params.get("client_id", ""))
        problems = [
            name
            for name, value in (
                ("scope", "openid"),
                ("response_type", "id_token"),
                ("response_mode", "form_post"),
                ("prompt", "none"),
            )
            if params.get(name) != value
        ]
        if tool is None:
            problems.append("client_id")
        elif params.get("redirect_uri") != tool.redirect_uri:
            problems.append("redirect_uri")
        if not params.get("nonce"):
            problems.append("nonce")
        try:
            launch = LaunchRequest.from_hint(params.get("lti_message_hint", ""))
        except (ValueError, TypeError):
            problems.append("lti_message_hint")
        else:
            if params.get("login_hint") != launch.sub:
                problems.append("login_hint")
        if problems:
            return Response("invalid_request: " + ", ".join(problems), status=400)
        assert tool is not None
        token = sign(config, id_token_claims(config, tool, launch, params["nonce"]), private_key)
        html = (
            "<!doctype html><html><body>"
            f'<form method="post" action="{escape(tool.redirect_uri)}" name="ltiAuthForm">'
            f'<input type="hidden" name="id_token" value="{escape(token)}">'
            f'<input type="hidden" name="state" value="{escape(params.get("state", ""))}">'
            "</form><script>document.ltiAuthForm.submit();</script></body></html>"
        )
        return Response(html, mimetype="text/html")

    return app


def main() -> None:
    import logging
    from pathlib import Path

    from werkzeug.serving import make_server

    config_path, port = sys.argv[1], int(sys.argv[2])
    config = PlatformConfig.from_json(Path(config_path).read_text())
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    make_server("127.0.0.1", port, create_app(config), threaded=True).serve_forever()


if __name__ == "__main__":
    main()
