"""LTI Dynamic Registration 1.0 as the platforms play it: the admin's start page that opens the
tool's registration URL with ``openid_configuration`` and ``registration_token``, the OpenID
configuration, and the registration endpoint. After a registration the platform launches with
exactly what the tool registered (login URL, redirect URI, key set, and the client and
deployment id it gave the tool).

Moodle (and the generic flavour, at its own paths) follows mod/lti: startltiadvregistration.php
(a registration token signed with the platform key, ``sub`` a random 15-character client id,
valid one hour; the parameters added to the tool URL's query as moodle_url::param does),
openid-configuration.php, openid-registration.php and
classes/local/ltiopenid/registration_helper.php (``Authorization: Bearer`` exactly, else 401
missing_registration_token; a token used before 401 token_already_used; a missing required
attribute 400 "missing required attribute X"; the scopes asked for switch grade sync and
memberships on; the answer has ``application_type`` as a list and ``deployment_id`` as a
string). The new tool type is stored **pending** (``LTI_TOOL_STATE_PENDING``): it launches only
after :meth:`Platform.activate`, as after an admin's click on "Activate" (lti-notes §2).

ILIAS 8/9 follows Modules/LTIConsumer: ltiregstart.php (the token's ``aud`` is the new client
id; the parameters appended with "&" whether or not the URL has a query), lticonfig.php →
ilObjLTIConsumer::getOpenidConfig, ltiregistration.php → registerClient (no Authorization 405,
no Bearer token 405, a value it reads without a check missing: a PHP error, 500; the answer
echoes the request with ``deployment_id`` the provider id as a number; the tool is active at
once; requested scopes are ignored), lti-notes §3.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import jwt
from flask import Flask, Response, abort, jsonify, redirect
from flask import request as flask_request
from flask.typing import ResponseReturnValue

from .vocab import (
    AGS_SCOPES,
    DEEP_LINKING_REQUEST,
    PLATFORM_CONFIGURATION,
    RESOURCE_LINK_REQUEST,
    SCOPE_LINEITEM,
    SCOPE_LINEITEM_RO,
    SCOPE_NRPS,
    SCOPE_RESULT,
    SCOPE_SCORE,
    TOOL_CONFIGURATION,
)

if TYPE_CHECKING:
    from .platform import Platform

#: Both platforms' registration tokens live an hour (HOURSECS; ltiregstart.php).
REGISTRATION_TOKEN_LIFETIME = 3600


class Refused(Exception):
    """A registration the platform refuses: ``status`` and the body it answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def install(app: Flask, platform: Platform) -> None:
    from .platform import ENDPOINTS

    paths = ENDPOINTS[platform.flavour]

    @app.before_request
    def _pending_tools_do_not_launch() -> None:
        # Moodle lists a pending tool type nowhere a user could launch it from.
        if flask_request.path.startswith("/launch/") and not platform.active:
            abort(403)

    @app.get(paths["openid_configuration"])
    def openid_configuration() -> Response:
        with platform.lock:
            platform.configuration_requests += 1
        return jsonify(served_configuration(platform))

    @app.get(paths["registration_start"])
    def registration_start() -> ResponseReturnValue:
        return redirect(start_target(platform, flask_request.args["url"]), code=302)

    @app.post(paths["registration"])
    def registration() -> Response:
        try:
            answer = register(platform)
        except Refused as refusal:
            return Response(refusal.message, status=refusal.status, mimetype="text/plain")
        return jsonify(answer)


# --- the OpenID configuration ------------------------------------------------------------------


def platform_configuration(platform: Platform) -> dict[str, Any]:
    """The platform's OpenID configuration. Moodle: openid-configuration.php (every service
    scope the site has plus openid, ``messages_supported`` as plain strings, its placements and
    substitution variables); ILIAS: ilObjLTIConsumer::getOpenidConfig (``scopes_supported``
    only openid, ``claims_supported`` iss and aud, ``product_family_code`` "ilias.de", the
    messages as objects, lti-notes §3)."""
    config: dict[str, Any] = {
        "issuer": platform.issuer,
        "token_endpoint": platform.auth_token_url,
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        "jwks_uri": platform.key_set_url,
        "authorization_endpoint": platform.auth_login_url,
        "registration_endpoint": platform.endpoint("registration"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }
    messages = [RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST]
    if platform.flavour == "ilias":
        config.update(scopes_supported=["openid"], claims_supported=["iss", "aud"])
        config[PLATFORM_CONFIGURATION] = {
            "product_family_code": "ilias.de",
            "version": "9.7 2025-01-22",
            "messages_supported": [{"type": m, "placements": []} for m in messages],
        }
        return config
    # registration_helper::lti_get_service_scopes: what the site's services offer, whatever
    # a tool type was granted.
    config.update(
        scopes_supported=[*AGS_SCOPES, SCOPE_NRPS, "openid"],
        claims_supported=["sub", "iss", "name", "given_name", "family_name", "email"],
    )
    config[PLATFORM_CONFIGURATION] = {
        "product_family_code": "moodle" if platform.flavour == "moodle" else "generic",
        "version": "4.5.1 (Build: 20241209)",
        "messages_supported": messages,
        "placements": ["AddContentMenu"],
        "variables": ["User.id", "Context.id", "ResourceLink.id"],
    }
    return config


def served_configuration(platform: Platform) -> dict[str, Any]:
    """:func:`platform_configuration` with the test's ``configuration_overrides`` (a value of
    None removes the key)."""
    data = platform_configuration(platform)
    for key, value in platform.configuration_overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


# --- the start page --------------------------------------------------------------------------


def start_url(platform: Platform, tool_url: str) -> str:
    """Where the admin's browser goes with the tool's registration URL: Moodle's "Add LTI
    Advantage" (the tool URL field's value), the src of ILIAS' hidden 0×0 iframe
    (tpl.lti_dyn_reg_request.html)."""
    return platform.endpoint("registration_start") + "?" + urlencode({"url": tool_url})


def start_target(platform: Platform, tool_url: str) -> str:
    """The tool URL with the configuration URL and a new registration token."""
    client_id = platform.next_client_id or secrets.token_urlsafe(12)[:15]
    configuration_url = platform.configuration_url
    if platform.flavour == "ilias":
        # ltiregstart.php: the provider's id as sub, the client id to be as aud; appended with
        # "&" whether or not the URL has a query.
        token = registration_token(platform, {"sub": 6, "aud": client_id, "scope": "reg"})
        return (
            tool_url
            + "&openid_configuration="
            + quote(configuration_url, safe="")
            + "&registration_token="
            + token
        )
    token = registration_token(platform, {"sub": client_id, "scope": "reg"})
    parts = urlsplit(tool_url)
    query = [
        *parse_qsl(parts.query, keep_blank_values=True),
        ("openid_configuration", configuration_url),
        ("registration_token", token),
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def registration_token(platform: Platform, claims: dict[str, Any]) -> str:
    """A registration token signed with the platform's current key, as both LMS make it."""
    now = int(time.time())
    return platform.keys.current.sign(
        {"iat": now, "exp": now + REGISTRATION_TOKEN_LIFETIME, **claims}
    )


def _decode_token(platform: Platform, token: str) -> dict[str, Any]:
    kid = jwt.get_unverified_header(token).get("kid")
    key = platform.keys.by_kid(kid)
    if key is None:
        raise jwt.InvalidTokenError(f"kid {kid!r} unknown")
    claims: dict[str, Any] = jwt.decode(
        token,
        key.private.public_key(),
        algorithms=["RS256"],
        # ILIAS' sub is a number; neither platform names an audience it checks.
        options={"verify_aud": False, "verify_sub": False},
    )
    return claims


# --- the registration endpoint ---------------------------------------------------------------


def register(platform: Platform) -> dict[str, Any]:
    """One registration POST: recorded, then answered as the flavour's platform does."""
    authorization = flask_request.headers.get("Authorization")
    ilias = platform.flavour == "ilias"
    if ilias:
        if authorization is None:
            raise Refused(405, "missing Authorization header")
        match = re.search(r"Bearer\s+(.+)$", authorization, re.IGNORECASE)
        if match is None:
            raise Refused(405, "missing required Authorization Baerer token")
        token = match.group(1)
    else:
        if not (authorization and authorization.startswith("Bearer ")):
            raise Refused(401, "missing_registration_token")
        token = authorization[len("Bearer ") :].strip()
    body = _record(platform)
    if platform.registration_status is not None:
        raise Refused(platform.registration_status, "Registrierung gerade nicht möglich")
    if ilias:
        return _register_ilias(platform, token, body)
    return _register_moodle(platform, token, body)


def _record(platform: Platform) -> dict[str, Any]:
    body = flask_request.get_json(silent=True)
    with platform.lock:
        platform.registration_requests.append(
            {"body": body, "authorization": flask_request.headers.get("Authorization")}
        )
    platform.registration_received.set()
    if platform.hold_registration is not None:
        platform.hold_registration.wait(10)
    return body if isinstance(body, dict) else {}


def _required(payload: dict[str, Any], key: str) -> Any:
    if not payload.get(key):
        raise Refused(400, f"missing required attribute {key}")
    return payload[key]


def _register_moodle(platform: Platform, token: str, body: dict[str, Any]) -> dict[str, Any]:
    """openid-registration.php with registration_helper (validate_registration_token,
    registration_to_config, config_to_registration)."""
    try:
        client_id = str(_decode_token(platform, token)["sub"])
    except (jwt.InvalidTokenError, KeyError) as error:
        raise Refused(401, "invalid token") from error
    if client_id in platform.registered_clients:
        raise Refused(401, "token_already_used")
    response_types = _required(body, "response_types")
    _required(body, "initiate_login_uri")
    redirect_uris = _required(body, "redirect_uris")
    client_name = _required(body, "client_name")
    _required(body, "jwks_uri")
    auth_method = _required(body, "token_endpoint_auth_method")
    tool_config = _required(body, TOOL_CONFIGURATION)
    _required(tool_config, "domain")
    target_link_uri = _required(tool_config, "target_link_uri")
    if "id_token" not in response_types:
        raise Refused(400, "invalid_response_types")
    if not isinstance(redirect_uris, list):
        raise Refused(400, "invalid_redirect_uris")
    if auth_method != "private_key_jwt":
        raise Refused(400, "invalid_token_endpoint_auth_method")
    if body.get("application_type") and body["application_type"] != "web":
        raise Refused(400, "invalid_application_type")
    scopes = set(str(body.get("scope") or "").split(" "))
    # ltiservice_gradesynchronization: 1 with any of score/result/lineitem.readonly, 2 with
    # lineitem; memberships with the NRPS scope.
    grade_sync = "off"
    if {SCOPE_SCORE, SCOPE_RESULT, SCOPE_LINEITEM_RO} & scopes:
        grade_sync = "grade_sync_only"
    if SCOPE_LINEITEM in scopes:
        grade_sync = "column_management"
    granted = [SCOPE_SCORE, SCOPE_RESULT, SCOPE_LINEITEM_RO] if grade_sync != "off" else []
    if grade_sync == "column_management":
        granted.append(SCOPE_LINEITEM)
    if SCOPE_NRPS in scopes:
        granted.append(SCOPE_NRPS)
    with platform.lock:
        type_id = platform.take_deployment_id()
        platform.registered_clients.add(client_id)
        platform.grade_sync = grade_sync
        platform.nrps = SCOPE_NRPS in scopes
        platform.remember_registration(body, client_id, str(type_id))
        # LTI_TOOL_STATE_PENDING: an admin must still activate the tool.
        platform.active = False
    tool_answer: dict[str, Any] = {
        "deployment_id": str(type_id),  # strval($typeid)
        "target_link_uri": target_link_uri,
        "domain": tool_config["domain"],
        "description": tool_config.get("description", ""),
        "claims": ["sub", "iss", "name", "family_name", "middle_name", "email"],
    }
    for message in tool_config.get("messages") or []:
        if message.get("type") == DEEP_LINKING_REQUEST:
            tool_answer["messages"] = [
                {
                    "type": DEEP_LINKING_REQUEST,
                    "target_link_uri": message.get("target_link_uri", ""),
                }
            ]
    return {
        "client_id": client_id,
        "response_types": ["id_token"],
        "jwks_uri": body["jwks_uri"],
        "initiate_login_uri": body["initiate_login_uri"],
        "grant_types": ["client_credentials", "implicit"],
        "redirect_uris": redirect_uris,
        "application_type": ["web"],
        "token_endpoint_auth_method": "private_key_jwt",
        "client_name": client_name,
        "logo_uri": "",
        "scope": " ".join(granted),
        TOOL_CONFIGURATION: tool_answer,
    }


def _register_ilias(platform: Platform, token: str, body: dict[str, Any]) -> dict[str, Any]:
    """ltiregistration.php with ilObjLTIConsumer::registerClient."""
    try:
        claims = _decode_token(platform, token)
        tool_config = body[TOOL_CONFIGURATION]
        # The values registerClient reads without a check: a missing one is a PHP error.
        _ = (body["client_name"], tool_config["target_link_uri"], body["initiate_login_uri"])
        _ = ",".join(body["redirect_uris"])
        for message in tool_config.get("messages") or []:
            if message.get("type") == DEEP_LINKING_REQUEST:
                _ = message["target_link_uri"]
    except (jwt.InvalidTokenError, KeyError, TypeError) as error:
        raise Refused(500, "error in ltiregistration.php") from error
    client_id = str(claims["aud"])
    with platform.lock:
        provider_id = platform.take_deployment_id()
        platform.remember_registration(body, client_id, str(provider_id))
    # The request echoed, with the client id and the provider id as a number.
    answer = dict(body)
    answer["client_id"] = client_id
    answer[TOOL_CONFIGURATION] = {**tool_config, "deployment_id": provider_id}
    return answer
