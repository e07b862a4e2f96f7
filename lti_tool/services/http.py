"""Calls to a platform's LTI Advantage services (AGS, NRPS) with OAuth2 client-credential tokens
(IMS Security Framework 4.1) cached in the database and shared by all processes."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterable
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import jwt
import requests
from flask import current_app
from sqlalchemy import select, update

from ..extensions import db, insert_if_missing
from ..keys import active_key
from ..models import AccessToken, Registration, utcnow

log = logging.getLogger(__name__)

#: A cached token is not used in its last minute, so it cannot expire on the way.
EXPIRY_MARGIN = timedelta(seconds=60)
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class ServiceError(Exception):
    """A service call failed. ``status`` is the HTTP status (None: no answer), ``retryable``
    says whether trying again later can help, ``message`` is the platform's text if any."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


def _scope_key(scopes: Iterable[str]) -> str:
    return " ".join(sorted(set(scopes)))


def client_assertion(registration: Registration) -> str:
    """A signed JWT that authenticates this tool at the platform's token endpoint."""
    key = active_key()
    now = int(time.time())
    claims = {
        "iss": registration.client_id,
        "sub": registration.client_id,
        "aud": registration.audience or registration.auth_token_url,
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    # The platform picks the verification key by kid; publish and sign with the same one.
    return jwt.encode(claims, key.private_key_pem, algorithm="RS256", headers={"kid": key.kid})


def _request_token(registration: Registration, scope_key: str) -> tuple[str, int]:
    data = {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": client_assertion(registration),
        "scope": scope_key,
    }
    try:
        response = requests.post(
            registration.auth_token_url,
            data=data,
            headers={"Accept": "application/json"},
            timeout=current_app.config["HTTP_TIMEOUT_SECONDS"],
        )
    except requests.RequestException as error:
        raise ServiceError(
            f"Token-Endpunkt nicht erreichbar: {type(error).__name__}", retryable=True
        ) from error
    if response.status_code != 200:
        # ILIAS answers an assertion it cannot verify with 500 (lti-notes §7): retry, but capped.
        raise ServiceError(
            f"Token-Anfrage abgelehnt: {response.status_code} {response.text[:200]}",
            status=response.status_code,
            retryable=response.status_code >= 500 or response.status_code == 429,
        )
    try:
        body = response.json()
        token = str(body["access_token"])
        expires_in = int(body.get("expires_in", 3600))
    except (ValueError, KeyError, TypeError) as error:
        raise ServiceError("Token-Antwort unlesbar", status=200, retryable=True) from error
    return token, expires_in


def _token_row(registration: Registration, scope_key: str, *, lock: bool) -> AccessToken:
    where = (AccessToken.registration_pk == registration.id, AccessToken.scopes == scope_key)
    query = select(AccessToken).where(*where)
    if lock:
        query = query.with_for_update()
        if db.session.get_bind().dialect.name != "postgresql":
            # SQLite ignores FOR UPDATE: a no-op write takes its database write lock instead, so a
            # second process waits for the new token rather than requesting one of its own.
            db.session.execute(
                update(AccessToken)
                .where(*where)
                .values(requested_count=AccessToken.requested_count)
            )
    row = db.session.scalars(query).first()
    if row is not None:
        return row
    # Another process may create it at the same moment.
    insert_if_missing(AccessToken, registration_pk=registration.id, scopes=scope_key)
    return db.session.scalars(query).one()


def access_token(
    registration: Registration,
    scopes: Iterable[str],
    *,
    force_new: bool = False,
    rejected: str | None = None,
) -> str:
    """A valid bearer token for ``scopes``; requests one only when none is cached.

    ``rejected`` is a token the platform just answered with 401: a new one is requested unless
    another process has already replaced it. ``force_new`` requests one in any case.

    Commits: the token row is locked (PostgreSQL: SELECT … FOR UPDATE; SQLite: its write lock)
    while a new token is requested, so concurrent workers wait for it instead of asking again."""
    scope_key = _scope_key(scopes)

    def usable(row: AccessToken) -> bool:
        return bool(
            not force_new
            and row.token
            and row.token != rejected
            and row.expires_at
            and row.expires_at - EXPIRY_MARGIN > utcnow()
        )

    row = _token_row(registration, scope_key, lock=False)
    if usable(row):
        return str(row.token)
    # The platform checks our assertion against our published key set, read by another
    # connection: a signing key made just now must be committed before the request goes out.
    active_key()
    db.session.commit()
    row = _token_row(registration, scope_key, lock=True)
    if usable(row):
        token = str(row.token)
        db.session.commit()
        return token
    try:
        token, expires_in = _request_token(registration, scope_key)
    except ServiceError:
        db.session.rollback()
        raise
    row.token = token
    row.expires_at = utcnow() + timedelta(seconds=expires_in)
    row.requested_count += 1
    db.session.commit()
    log.info("access token requested: registration=%s scopes=%s", registration.id, scope_key)
    return token


def service_request(
    registration: Registration,
    scopes: Iterable[str],
    method: str,
    url: str,
    *,
    json_body: Any = None,
    content_type: str | None = None,
    accept: str | None = None,
) -> requests.Response:
    """Send an authenticated request; a 401 refreshes the token once and tries again.

    Returns the response for 2xx; raises :class:`ServiceError` otherwise (retryable for
    connection errors, timeouts, 5xx and 429 with its Retry-After)."""
    scopes = list(scopes)
    token = access_token(registration, scopes)
    for attempt in (1, 2):
        headers = {"Authorization": f"Bearer {token}"}
        if accept:
            headers["Accept"] = accept
        if content_type:
            headers["Content-Type"] = content_type
        try:
            response = requests.request(
                method,
                url,
                headers=headers,
                data=None if json_body is None else _dumps(json_body),
                timeout=current_app.config["HTTP_TIMEOUT_SECONDS"],
                stream=True,
            )
            _read_bounded(response)
        except requests.RequestException as error:
            raise ServiceError(
                f"{type(error).__name__} bei {method} {url}", retryable=True
            ) from error
        if response.status_code == 401 and attempt == 1:
            # Refresh only if no other worker has done so since this token was read: N workers
            # hitting one expired token make one token request, not N.
            token = access_token(registration, scopes, rejected=token)
            continue
        if 200 <= response.status_code < 300:
            return response
        raise ServiceError(
            _platform_message(response),
            status=response.status_code,
            retryable=response.status_code >= 500 or response.status_code == 429,
            retry_after=_retry_after(response),
        )
    raise AssertionError("unreachable")


#: The largest answer read from a platform service (a roster page of 1,000 members is ~300 kB).
MAX_RESPONSE_BYTES = 5 * 1024 * 1024


def _read_bounded(response: requests.Response) -> None:
    """Read the body, refusing one larger than MAX_RESPONSE_BYTES (a broken or hostile
    platform must not fill the worker's memory)."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            response.close()
            raise ServiceError(
                f"Antwort der Plattform größer als {MAX_RESPONSE_BYTES // (1024 * 1024)} MB",
                status=response.status_code,
                retryable=False,
            )
        chunks.append(chunk)
    response._content = b"".join(chunks)


_LINK_PART = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")


def parse_link_header(header: str | None, base_url: str | None = None) -> dict[str, str]:
    """The ``Link`` header (RFC 8288) as ``{rel: url}``. The URL keeps its case (pylti1p3
    lower-cases the whole header); ``rel`` may be quoted or bare and hold several relations."""
    links: dict[str, str] = {}
    if not header:
        return links
    for match in _LINK_PART.finditer(header):
        url, params = match.group(1).strip(), match.group(2)
        if base_url:
            url = urljoin(base_url, url)
        for param in _as_utf8(params).split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() != "rel":
                continue
            for rel in value.strip().strip(_REL_QUOTES).split():
                links.setdefault(rel.strip(_REL_QUOTES).lower(), url)
    return links


#: Quotes around a ``rel`` value: RFC 8288's, and the typographic ones Moodle's line item and
#: result containers write (``rel=“next”``, mod/lti/service/gradebookservices/classes/local/
#: resources/lineitems.php and results.php).
_REL_QUOTES = '"“”'


def _as_utf8(value: str) -> str:
    """http.client reads header bytes as latin-1: PHP's UTF-8 quotes arrive as ``â\\x80\\x9c``."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def next_page_url(link_header: str | None, base_url: str) -> str | None:
    """The ``rel="next"`` URL of a paginated answer (NRPS, AGS), or None on the last page."""
    return parse_link_header(link_header, base_url).get("next")


def _dumps(body: Any) -> bytes:
    return json.dumps(body).encode()


def _platform_message(response: requests.Response) -> str:
    text = response.text.strip()
    try:
        data = response.json()
        if isinstance(data, dict):
            text = str(data.get("message") or data.get("error") or data.get("reason") or text)
    except ValueError:
        pass
    return f"{response.status_code} {text[:300]}".strip()


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    # RFC 9110 §10.2.3: Retry-After may also be an HTTP date.
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - utcnow()).total_seconds())
