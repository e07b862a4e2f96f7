"""The Deep Linking return endpoint: the tool posts its signed LtiDeepLinkingResponse (form field
``JWT``) here, the platform verifies it and places what it carries.

Checks (LTI-DL 2.0 §4.2, as Moodle's contentitem_return.php → lti_convert_from_jwt →
lti_verify_jwt_signature and ILIAS' content selection return do, plus the claims neither checks
strictly): RS256 signature by the key of the tool's JWKS its ``kid`` names, ``iss`` = client id,
``aud`` = the platform, ``azp`` if present = client id, ``iat``/``exp``, a fresh ``nonce``,
message type LtiDeepLinkingResponse, version 1.3.0, the deployment, and ``data`` returned
unchanged. Each ltiResourceLink becomes a placement in the course: Moodle creates the activity
and, when the item carries ``lineItem`` and grade sync is on, its grade item with resourceId and
tag (lib.php content_item_to_form, gradebookservices::update_coupled_gradebookservices; lti-notes
§2: only then is there a column); ILIAS creates an LTI object, whose obj_id is its line item.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import jwt
from flask import Flask, Response
from flask import request as flask_request

from .vocab import (
    DEEP_LINKING_RESPONSE,
    DEPLOYMENT_ID,
    DL_CONTENT_ITEMS,
    DL_DATA,
    MESSAGE_TYPE,
    VERSION,
)

if TYPE_CHECKING:
    from .platform import Platform


def install(app: Flask, platform: Platform) -> None:
    from .platform import ENDPOINTS

    @app.post(ENDPOINTS[platform.flavour]["dl_return"])
    def dl_return() -> Response:
        token = flask_request.form.get("JWT", "")
        try:
            claims = verify(platform, token)
        except ValueError as error:
            with platform.lock:
                platform.dl_errors.append(str(error))
            return Response(f"abgelehnt: {error}", status=400, mimetype="text/plain")
        items = claims.get(DL_CONTENT_ITEMS) or []
        course_id = flask_request.args.get("course")
        placed = place(platform, course_id, items)
        with platform.lock:
            platform.received.append(claims)
        return Response(f"{placed} Inhalte übernommen", mimetype="text/plain")


def verify(platform: Platform, token: str) -> dict[str, Any]:
    """The verified claims of a Deep Linking response; raises ValueError naming the problem."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise ValueError(f"kein JWT: {error}") from error
    keys = platform.fetch_tool_keys(refresh=True)
    jwk = next((k for k in keys if k.get("kid") == header.get("kid")), None)
    if jwk is None:
        raise ValueError(f"kid {header.get('kid')!r} nicht im JWKS des Werkzeugs")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            jwt.PyJWK(jwk).key,
            algorithms=["RS256"],
            audience=platform.issuer,
            issuer=platform.client_id,
            options={"require": ["exp", "iat", "iss", "aud", "nonce"]},
        )
    except jwt.PyJWTError as error:
        raise ValueError(f"{type(error).__name__}: {error}") from error
    problems = []
    expected = {
        MESSAGE_TYPE: DEEP_LINKING_RESPONSE,
        VERSION: "1.3.0",
        DEPLOYMENT_ID: platform.deployment_id,
    }
    for name, value in expected.items():
        if claims.get(name) != value:
            problems.append(f"{name}={claims.get(name)!r}")
    if claims.get("azp") not in (None, platform.client_id):
        problems.append("azp")
    if claims["iat"] > time.time() + 60:
        problems.append("iat in der Zukunft")
    with platform.lock:
        if claims["nonce"] in platform.dl_nonces:
            problems.append("nonce wiederholt")
        platform.dl_nonces.add(str(claims["nonce"]))
        sent = platform.last_claims or {}
    settings = sent.get("https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings")
    wanted = settings.get("data") if isinstance(settings, dict) else None
    if wanted is not None and claims.get(DL_DATA) != wanted:
        problems.append("data nicht unverändert zurückgegeben")
    items = claims.get(DL_CONTENT_ITEMS, [])
    if not isinstance(items, list):
        problems.append("content_items ist keine Liste")
    if problems:
        raise ValueError("; ".join(problems))
    return claims


def place(platform: Platform, course_id: str | None, items: list[Any]) -> int:
    """Create a placement per ltiResourceLink item in the course; returns how many."""
    course = platform.courses.get(course_id or "") or platform.course
    placed = 0
    for item in items:
        if not isinstance(item, dict) or item.get("type") != "ltiResourceLink":
            continue
        line_item: dict[str, Any] | None = (
            item["lineItem"] if isinstance(item.get("lineItem"), dict) else None
        )
        custom: dict[str, Any] = item["custom"] if isinstance(item.get("custom"), dict) else {}
        graded = line_item is not None and platform.has_ags
        link = platform.add_link(
            item.get("title") or platform.name,
            course=course,
            graded=graded and platform.flavour != "ilias",
            custom={str(k): str(v) for k, v in custom.items()},
            score_maximum=float(line_item.get("scoreMaximum", 100)) if line_item else 100,
            resource_id=str(line_item.get("resourceId") or "") if line_item else "",
            tag=str(line_item.get("tag") or "") if line_item else "",
        )
        # Moodle names the grade item after the activity (itemname), not the item's label.
        placed += 1 if link else 0
    return placed
