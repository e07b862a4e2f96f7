"""The OAuth2 token endpoint (client credentials with a signed client assertion, IMS Security
Framework 4.1) and the bearer tokens the services accept.

Moodle, mod/lti/token.php: POST with ``application/x-www-form-urlencoded`` (else
invalid_request), all four parameters present, the jwt-bearer assertion type and
client_credentials grant (else unsupported_grant_type), a JWT with three parts and a ``sub``,
the tool found by that client id and the signature verified with its key set
(lti_verify_jwt_signature, else invalid_client), granted = requested ∩ permitted (else
invalid_scope); every refusal is 400 ``{"error": …}``; the token is an opaque value with
``token_type`` "Bearer". ILIAS, Modules/LTIConsumer/ltitoken.php: an assertion it cannot verify
(unknown kid, bad signature, expired) is answered **500** ``{"error": "ERROR_OPEN_SSL_CONF"}``
(lti-notes §7), iss or sub other than the client id 400 invalid_request; the key set is fetched
at every request; granted = requested ∩ the four AGS scopes; the token is a JWT the platform
signs, ``token_type`` "bearer".
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

import jwt
from flask import Flask, Response, jsonify
from flask import request as flask_request

from .model import Token
from .vocab import CLIENT_ASSERTION_TYPE

if TYPE_CHECKING:
    from .platform import Platform

TOKEN_LIFETIME = 3600  # LTI_ACCESS_TOKEN_LIFE (Moodle), ltitoken.php's exp (ILIAS)


class Refused(Exception):
    """The token request is refused: ``status`` and the OAuth2 ``error``."""

    def __init__(self, status: int, error: str, detail: str = "") -> None:
        super().__init__(f"{error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail


def install(app: Flask, platform: Platform) -> None:
    from .platform import ENDPOINTS

    @app.post(ENDPOINTS[platform.flavour]["token"])
    def token() -> Response:
        with platform.lock:
            platform.token_requests += 1
        try:
            body = issue(platform)
        except Refused as refusal:
            response = jsonify({"error": refusal.error, "error_description": refusal.detail})
            response.status_code = refusal.status
            return response
        return jsonify(body)


def issue(platform: Platform) -> dict[str, Any]:
    form = flask_request.form
    ilias = platform.flavour == "ilias"
    content_type = (flask_request.content_type or "").split(";", 1)[0]
    if platform.flavour == "moodle" and content_type != "application/x-www-form-urlencoded":
        raise Refused(400, "invalid_request", "content type")
    needed = ("client_assertion", "client_assertion_type", "grant_type", "scope")
    if not all(form.get(k) for k in needed):
        raise Refused(400, "invalid_request", "missing parameter")
    if (
        form["client_assertion_type"] != CLIENT_ASSERTION_TYPE
        or form["grant_type"] != "client_credentials"
    ):
        raise Refused(400, "unsupported_grant_type" if not ilias else "invalid_request")
    assertion = form["client_assertion"]
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.InvalidTokenError as error:
        raise Refused(400, "invalid_request", "not a JWT") from error
    if not unverified.get("sub"):
        raise Refused(400, "invalid_request", "no sub")
    if unverified["sub"] != platform.client_id:
        # Moodle: no tool with that client id (invalid_client); ILIAS: no provider (400).
        raise Refused(400, "invalid_client" if not ilias else "invalid_request", "client id")
    claims = verify_assertion(platform, assertion)
    requested = str(form["scope"]).split(" ")
    permitted = platform.permitted_scopes()
    # array_intersect keeps the order of the request.
    granted = [s for s in dict.fromkeys(requested) if s in permitted]
    if not granted:
        raise Refused(400, "invalid_scope" if not ilias else "invalid_request", "empty scopes")
    expires = time.time() + TOKEN_LIFETIME
    if ilias:
        now = int(time.time())
        value = platform.keys.current.sign(
            {
                "sub": claims["sub"],
                "iat": now,
                "exp": now + TOKEN_LIFETIME,
                "imsglobal.org.security.scope": " ".join(granted),
            }
        )
        token_type = "bearer"
    else:
        value = uuid.uuid4().hex  # lti_new_access_token: an opaque random value
        token_type = "Bearer"
    with platform.lock:
        platform.tokens[value] = Token(frozenset(granted), expires, str(claims["sub"]))
    return {
        "access_token": value,
        "token_type": token_type,
        "expires_in": TOKEN_LIFETIME,
        "scope": " ".join(granted),
    }


def verify_assertion(platform: Platform, assertion: str) -> dict[str, Any]:
    """Check the client assertion's signature with a key of the tool's JWKS chosen by kid, and
    ``exp``; with ``strict_assertion`` also ``iss`` = client id, ``aud`` = the token URL, ``iat``
    and a ``jti`` used once."""
    ilias = platform.flavour == "ilias"
    unverifiable = (500, "ERROR_OPEN_SSL_CONF") if ilias else (400, "invalid_client")
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.InvalidTokenError as error:
        raise Refused(*unverifiable, "header") from error
    claims: dict[str, Any] | None = None
    for refresh in (False, True):
        keys = platform.fetch_tool_keys(refresh=refresh)
        jwk = next((k for k in keys if k.get("kid") == header.get("kid")), None)
        try:
            if jwk is None:
                raise jwt.InvalidKeyError(f"kid {header.get('kid')!r} unknown")
            claims = jwt.decode(
                assertion,
                jwt.PyJWK(jwk).key,
                algorithms=["RS256"],
                options={"verify_aud": False, "require": ["exp"]},
            )
            break
        except jwt.PyJWTError as error:
            # Moodle tries its cached key set first and refetches once on failure
            # (lti_verify_with_keyset); without a cache the first attempt was fresh already.
            if refresh or not platform.tool_jwks_cache:
                raise Refused(*unverifiable, type(error).__name__) from error
    assert claims is not None
    if ilias and (claims.get("iss") != platform.client_id):
        raise Refused(400, "invalid_request", "invalid clientId")
    if platform.strict_assertion:
        _strict(platform, claims)
    return claims


def _strict(platform: Platform, claims: dict[str, Any]) -> None:
    """What the IMS Security Framework (§4.1.1) asks beyond Moodle's and ILIAS' own checks."""
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    problems = []
    if claims.get("iss") != platform.client_id:
        problems.append("iss")
    if platform.auth_token_url not in audiences:
        problems.append("aud")
    if not isinstance(claims.get("iat"), int | float):
        problems.append("iat")
    jti = claims.get("jti")
    with platform.lock:
        if not jti or jti in platform.used_jtis:
            problems.append("jti")
        else:
            platform.used_jtis.add(str(jti))
    if problems:
        raise Refused(400, "invalid_client", ", ".join(problems))


def bearer_token(platform: Platform) -> Token | None:
    """The valid token this request presents, or None. Moodle looks the value up in
    lti_access_tokens (``Authorization: Bearer <value>``, validuntil > now); ILIAS verifies
    the JWT it issued (ilLTIConsumerServiceBase::checkTool)."""
    header = flask_request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    value = header[len("Bearer ") :].strip()
    if platform.flavour == "ilias":
        try:
            kid = jwt.get_unverified_header(value).get("kid")
            key = platform.keys.by_kid(kid)
            if key is None:
                return None
            jwt.decode(value, key.private.public_key(), algorithms=["RS256"])
        except jwt.PyJWTError:
            return None
    with platform.lock:
        found = platform.tokens.get(value)
    if found is None or found.expires < time.time():
        return None
    return found
