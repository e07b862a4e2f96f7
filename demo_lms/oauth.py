"""OAuth 2.0 client credentials with a JWT client assertion (RFC 7523, LTI Security Framework
§4.1): the token endpoint, the check of the tool's assertion against its JWKS, and the bearer
check of the service endpoints."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar, cast

import jwt
import requests
from flask import Response, current_app, jsonify, request
from sqlalchemy import Connection, delete, insert, select, update

from lti_tool.models import utcnow
from lti_tool.vocab import Scope

from . import store
from .blueprint import api_error, bp
from .course import issuer, tool_endpoints
from .tool_clients import find_client

log = logging.getLogger(__name__)

ACCESS_TOKEN_LIFETIME = 3600
GRANT_TYPE = "client_credentials"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: The services the demo grants to its one tool.
GRANTABLE_SCOPES = frozenset(scope.value for scope in Scope)
#: Seconds a fetched tool key set is trusted before it is fetched again.
TOOL_JWKS_TTL = 300
LEEWAY_SECONDS = 60

F = TypeVar("F", bound=Callable[..., Any])


class TokenRequestError(Exception):
    """A refused token request (RFC 6749 §5.2) or another JWT of the tool that does not verify
    (a Deep Linking response); ``description`` names the failed check."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


def token_url() -> str:
    """The token endpoint, which every client assertion must name in ``aud``."""
    return f"{issuer()}/token"


# -- counters ----------------------------------------------------------------------------------


def count(conn: Connection, name: str) -> None:
    """Add one to a named counter (e.g. token requests, which the benchmark reads)."""
    updated = conn.execute(
        update(store.counter)
        .where(store.counter.c.name == name)
        .values(value=store.counter.c.value + 1)
    )
    if not updated.rowcount:
        conn.execute(insert(store.counter).values(name=name, value=1))


def counters(conn: Connection) -> dict[str, int]:
    """All counters by name."""
    return {row.name: row.value for row in conn.execute(select(store.counter))}


# -- the tool's keys ---------------------------------------------------------------------------


def _fetch_tool_jwks() -> dict[str, Any]:
    url = tool_endpoints().jwks_url
    try:
        response = requests.get(url, timeout=current_app.config["HTTP_TIMEOUT_SECONDS"])
        response.raise_for_status()
        key_set = response.json()
    except (requests.RequestException, ValueError) as error:
        log.warning("tool key set not fetched: url=%s error=%s", url, type(error).__name__)
        raise TokenRequestError("invalid_client", "Werkzeug-Schlüssel nicht abrufbar") from error
    if not isinstance(key_set, dict) or not isinstance(key_set.get("keys"), list):
        raise TokenRequestError("invalid_client", "Das Werkzeug liefert kein JWKS")
    return key_set


def tool_public_key(kid: str) -> Any:
    """The tool's public key with this ``kid``, from its JWKS fetched over HTTP (as a platform
    does). The cached key set is fetched again when it is old or does not know the kid."""
    demo = store.state()
    fetched = False
    if demo.tool_jwks is None or time.monotonic() - demo.tool_jwks_fetched_at > TOOL_JWKS_TTL:
        demo.tool_jwks, demo.tool_jwks_fetched_at = _fetch_tool_jwks(), time.monotonic()
        fetched = True
    key = _find_key(demo.tool_jwks, kid)
    if key is None and not fetched:
        # The tool may have rotated its key since the last fetch.
        demo.tool_jwks, demo.tool_jwks_fetched_at = _fetch_tool_jwks(), time.monotonic()
        key = _find_key(demo.tool_jwks, kid)
    if key is None:
        raise TokenRequestError("invalid_client", f"unbekannter kid {kid!r}")
    try:
        return jwt.PyJWK(key, algorithm="RS256").key
    except jwt.PyJWTError as error:
        raise TokenRequestError("invalid_client", "Schlüssel unlesbar") from error


def _find_key(key_set: dict[str, Any], kid: str) -> dict[str, Any] | None:
    for key in key_set["keys"]:
        if isinstance(key, dict) and key.get("kid") == kid:
            return key
    return None


def _claimed_client_id(token: str) -> str:
    """The ``iss`` of a tool JWT, if it names one of the demo's clients (checked afterwards
    together with the signature)."""
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise TokenRequestError("invalid_client", "kein lesbares JWT") from error
    claimed = unverified.get("iss")
    with store.transaction() as conn:
        client = find_client(conn, claimed if isinstance(claimed, str) else None)
    if client is None:
        raise TokenRequestError("invalid_client", f"iss {claimed!r} ist keine bekannte Client-ID")
    return client.client_id


def verify_tool_jwt(token: str, *, audience: str, require: list[str]) -> dict[str, Any]:
    """Verify a JWT the tool signed (RS256, kid from its JWKS, iss = one of the demo's client
    ids, aud, exp, iat). May fetch the tool's JWKS over HTTP. Raises
    :class:`TokenRequestError`."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise TokenRequestError("invalid_client", "kein lesbares JWT") from error
    if header.get("alg") != "RS256":
        raise TokenRequestError("invalid_client", f"alg {header.get('alg')!r} statt RS256")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenRequestError("invalid_client", "kid fehlt")
    client_id = _claimed_client_id(token)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            tool_public_key(kid),
            algorithms=["RS256"],
            audience=audience,
            issuer=client_id,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "aud", "exp", "iat", *require]},
        )
    except jwt.ExpiredSignatureError as error:
        raise TokenRequestError("invalid_client", "abgelaufen (exp)") from error
    except jwt.InvalidAudienceError as error:
        raise TokenRequestError("invalid_client", f"aud nennt nicht {audience}") from error
    except jwt.InvalidIssuerError as error:
        raise TokenRequestError("invalid_client", f"iss ist nicht {client_id}") from error
    except jwt.PyJWTError as error:
        raise TokenRequestError("invalid_client", f"JWT ungültig: {error}") from error
    return claims


def consume_once(conn: Connection, jti: str, exp: float) -> None:
    """Record a one-time value (a jti, a nonce) until its token expires; a second use raises."""
    now = utcnow()
    conn.execute(delete(store.used_jti).where(store.used_jti.c.expires_at < now))
    expires_at = now + timedelta(seconds=max(exp - now.timestamp(), 0) + LEEWAY_SECONDS)
    # INSERT OR IGNORE: of two requests with the same jti exactly one inserts the row.
    inserted = conn.execute(
        insert(store.used_jti).prefix_with("OR IGNORE").values(jti=jti, expires_at=expires_at)
    )
    if not inserted.rowcount:
        raise TokenRequestError("invalid_client", "bereits verwendet (jti/nonce)")


# -- access tokens -----------------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_access_token(conn: Connection, scopes: list[str]) -> str:
    """A new bearer token for ``scopes``; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    conn.execute(delete(store.access_token).where(store.access_token.c.expires_at < utcnow()))
    conn.execute(
        insert(store.access_token).values(
            token_hash=_hash(token),
            scope=" ".join(scopes),
            expires_at=utcnow() + timedelta(seconds=ACCESS_TOKEN_LIFETIME),
        )
    )
    return token


def token_scopes(conn: Connection, token: str) -> set[str] | None:
    """The scopes of a valid, unexpired token, or None."""
    row = conn.execute(
        select(store.access_token).where(store.access_token.c.token_hash == _hash(token))
    ).first()
    if row is None or row.expires_at <= utcnow():
        return None
    return set(row.scope.split())


def require_scope(*accepted: Scope) -> Callable[[F], F]:
    """Decorator: the request needs a bearer token that carries one of ``accepted``."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            authorization = request.headers.get("Authorization", "")
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return api_error(
                    401, "invalid_request", "Bearer-Token fehlt", **{"WWW-Authenticate": "Bearer"}
                )
            with store.transaction() as conn:
                granted = token_scopes(conn, token.strip())
            if granted is None:
                return api_error(
                    401,
                    "invalid_token",
                    "Token unbekannt oder abgelaufen",
                    **{"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            if not granted & {scope.value for scope in accepted}:
                # Moodle answers a missing scope with 401 as well.
                return api_error(
                    401,
                    "insufficient_scope",
                    "Dem Token fehlt der Scope " + " oder ".join(accepted),
                    **{"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
                )
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


# -- the endpoint ------------------------------------------------------------------------------


def _grant(form: Any) -> tuple[str, list[str]]:
    if form.get("grant_type") != GRANT_TYPE:
        raise TokenRequestError("unsupported_grant_type", "grant_type muss client_credentials sein")
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise TokenRequestError("invalid_request", "client_assertion_type fehlt oder ist falsch")
    assertion = form.get("client_assertion")
    if not assertion:
        raise TokenRequestError("invalid_request", "client_assertion fehlt")
    requested = [scope for scope in form.get("scope", "").split() if scope]
    granted = [scope for scope in dict.fromkeys(requested) if scope in GRANTABLE_SCOPES]
    if not granted:
        raise TokenRequestError("invalid_scope", "keiner der angefragten Scopes wird gewährt")
    return assertion, granted


@bp.post("/token")
def token() -> Response:
    """Exchange a signed client assertion for a bearer token."""
    with store.transaction() as conn:
        count(conn, "token_requests")
    try:
        assertion, granted = _grant(request.form)
        claims = verify_tool_jwt(assertion, audience=token_url(), require=["sub", "jti"])
        if claims.get("sub") != claims["iss"]:
            raise TokenRequestError("invalid_client", f"sub ist nicht {claims['iss']}")
        with store.transaction() as conn:
            # RFC 7523 §3: the platform may refuse a jti it has seen; it does, so an
            # intercepted assertion cannot be replayed.
            consume_once(conn, f"jti:{claims['jti']}", float(claims["exp"]))
            access_token = issue_access_token(conn, granted)
            count(conn, "tokens_issued")
    except TokenRequestError as error:
        log.info("token request refused: error=%s detail=%s", error.error, error.description)
        status = 401 if error.error == "invalid_client" else error.status
        return api_error(status, error.error, error.description)
    response = jsonify(
        {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "scope": " ".join(granted),
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response
