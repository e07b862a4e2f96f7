"""LTI Dynamic Registration 1.0, the platform's side, done as Moodle does it (mod/lti
startltiadvregistration.php, openid-configuration.php, openid-registration.php): the admin pastes
the tool's registration URL and presses a button; the demo opens that URL in a frame with
``openid_configuration`` and a one-time ``registration_token``; the tool fetches the
configuration and POSTs its registration; the demo answers with a client id and a deployment of
its own and goes back to its page when the tool sends ``org.imsglobal.lti.close``.

Unlike Moodle, a registered tool is active at once: the demo has no pending state.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Response, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, insert, select, update

from lti_tool.models import utcnow
from lti_tool.vocab import MessageType, Scope

from . import store
from .blueprint import api_error, bp
from .course import PRODUCT_FAMILY, base_url, issuer, origin
from .oauth import GRANTABLE_SCOPES
from .tool_clients import dynamic_clients, launch_client, manual_client, registered_in_tool

log = logging.getLogger(__name__)

TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
#: Moodle's registration token is valid for an hour (startltiadvregistration.php).
REGISTRATION_TOKEN_LIFETIME = timedelta(hours=1)
#: Deployment ``1`` belongs to the client of ``demo-lms setup``.
FIRST_DYNAMIC_DEPLOYMENT = 2


class RegistrationRequestError(Exception):
    """A client registration the demo refuses (RFC 7591 §3.2.2 error codes)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def configuration_url() -> str:
    """Where the demo's OpenID configuration is (issuer + /.well-known/openid-configuration)."""
    return f"{issuer()}/.well-known/openid-configuration"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@bp.get("/.well-known/openid-configuration")
def openid_configuration() -> Response:
    """The platform configuration a tool reads first (LTI-DR 1.0 §3.4)."""
    platform = issuer()
    return jsonify(
        {
            "issuer": platform,
            "authorization_endpoint": f"{platform}/auth",
            "token_endpoint": f"{platform}/token",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "jwks_uri": f"{platform}/jwks.json",
            "registration_endpoint": f"{platform}/registration",
            "scopes_supported": ["openid", *sorted(GRANTABLE_SCOPES)],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
            PLATFORM_CONFIGURATION: {
                "product_family_code": PRODUCT_FAMILY,
                "version": "1.0",
                "messages_supported": [
                    {"type": MessageType.RESOURCE_LINK.value},
                    {"type": MessageType.DEEP_LINKING.value},
                ],
            },
        }
    )


# -- the registration endpoint (LTI-DR 1.0 §3.5) -----------------------------------------------


def _on_this_installation(value: object, name: str) -> str:
    """A URL of the tool on this very installation: the demo registers no other tool (its id
    tokens would go elsewhere, and it verifies the tool's keys at this installation)."""
    if not isinstance(value, str) or urlsplit(value).scheme not in {"http", "https"}:
        raise RegistrationRequestError("invalid_client_metadata", f"{name} ist keine URL")
    if origin(value) != origin(base_url()):
        raise RegistrationRequestError(
            "invalid_client_metadata",
            f"{name} gehört nicht zu Lotsen-LTI dieser Installation ({origin(base_url())})",
        )
    return value


def validate_registration(body: object) -> dict[str, Any]:
    """The values the demo stores for a client registration; raises for an invalid one."""
    if not isinstance(body, dict):
        raise RegistrationRequestError("invalid_client_metadata", "kein JSON-Objekt")
    response_types = body.get("response_types")
    if not isinstance(response_types, list) or "id_token" not in response_types:
        raise RegistrationRequestError(
            "invalid_client_metadata", "response_types muss id_token enthalten"
        )
    if body.get("token_endpoint_auth_method") != "private_key_jwt":
        raise RegistrationRequestError(
            "invalid_client_metadata", "token_endpoint_auth_method muss private_key_jwt sein"
        )
    if body.get("application_type", "web") != "web":
        raise RegistrationRequestError("invalid_client_metadata", "application_type muss web sein")
    redirect_uris = body.get("redirect_uris")
    if not isinstance(redirect_uris, list) or not redirect_uris:
        raise RegistrationRequestError("invalid_redirect_uri", "redirect_uris fehlt")
    tool = body.get(TOOL_CONFIGURATION)
    if not isinstance(tool, dict):
        raise RegistrationRequestError("invalid_client_metadata", f"{TOOL_CONFIGURATION} fehlt")
    deep_linking_url = None
    messages = tool.get("messages") or []
    if not isinstance(messages, list):
        raise RegistrationRequestError("invalid_client_metadata", "messages ist keine Liste")
    for message in messages:
        if isinstance(message, dict) and message.get("type") == MessageType.DEEP_LINKING.value:
            deep_linking_url = _on_this_installation(
                message.get("target_link_uri"), "messages[].target_link_uri"
            )
    requested = str(body.get("scope") or "").split()
    name = body.get("client_name")
    return {
        "client_name": (name if isinstance(name, str) and name.strip() else "LTI-Werkzeug")[:255],
        "login_url": _on_this_installation(body.get("initiate_login_uri"), "initiate_login_uri"),
        "redirect_uris": [_on_this_installation(uri, "redirect_uris") for uri in redirect_uris],
        "jwks_url": _on_this_installation(body.get("jwks_uri"), "jwks_uri"),
        "target_link_uri": _on_this_installation(tool.get("target_link_uri"), "target_link_uri"),
        "deep_linking_url": deep_linking_url,
        "scope": " ".join(scope for scope in dict.fromkeys(requested) if scope in GRANTABLE_SCOPES),
    }


@bp.post("/registration")
def registration_endpoint() -> Response:
    """Register a tool that presents one of our registration tokens as bearer token."""
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return api_error(401, "invalid_token", "Registrierungs-Token fehlt")
    try:
        values = validate_registration(request.get_json(silent=True))
    except RegistrationRequestError as error:
        log.info("dynamic registration refused: error=%s", error.error)
        return api_error(400, error.error, error.description)
    body: dict[str, Any] = request.get_json()
    with store.transaction() as conn:
        # One UPDATE: of two requests with the same token exactly one registers.
        consumed = conn.execute(
            update(store.registration_token)
            .where(
                store.registration_token.c.token_hash == _hash(token.strip()),
                store.registration_token.c.used_at.is_(None),
                store.registration_token.c.expires_at > utcnow(),
            )
            .values(used_at=utcnow())
        )
        if not consumed.rowcount:
            return api_error(
                401, "invalid_token", "Registrierungs-Token unbekannt, abgelaufen oder verwendet"
            )
        existing = conn.execute(select(func.count()).select_from(store.tool_client)).scalar_one()
        client_id = "lotsen-dyn-" + secrets.token_hex(5)
        deployment_id = str(FIRST_DYNAMIC_DEPLOYMENT + existing)
        conn.execute(
            insert(store.tool_client).values(
                client_id=client_id, deployment_id=deployment_id, **values
            )
        )
    log.info("dynamic registration: client=%s deployment=%s", client_id, deployment_id)
    answer = {
        **body,
        "client_id": client_id,
        "scope": values["scope"],
        TOOL_CONFIGURATION: {**body[TOOL_CONFIGURATION], "deployment_id": deployment_id},
    }
    response = jsonify(answer)
    # OpenID Connect Dynamic Client Registration answers 201 Created.
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


# -- the admin's page ------------------------------------------------------------------------


def _clients_view() -> list[dict[str, Any]]:
    with store.transaction() as conn:
        clients = [manual_client(), *reversed(dynamic_clients(conn))]
        used = launch_client(conn)
    return [
        {
            "client": client,
            "registered": registered_in_tool(client),
            "launches": client.client_id == used.client_id,
        }
        for client in clients
    ]


def _page(message: str | None = None, tool_url: str = "", status: int = 200) -> Response:
    page = render_template(
        "demo_lms/registration.html",
        clients=_clients_view(),
        message=message,
        done=request.args.get("fertig") == "1",
        tool_url=tool_url,
        scopes=[scope.value for scope in Scope],
    )
    return Response(page, status=status, mimetype="text/html")


@bp.get("/registrierung")
def registration_page() -> Response:
    """Where the admin pastes the tool's registration URL."""
    return _page()


def start_url(tool_url: str, token: str) -> str:
    """The tool's URL with our two parameters added to its query (LTI-DR 1.0 §3.3)."""
    separator = "&" if "?" in tool_url else "?"
    params = urlencode({"openid_configuration": configuration_url(), "registration_token": token})
    return f"{tool_url}{separator}{params}"


@bp.post("/registrierung")
def start_registration() -> Response:
    """Hand out a one-time registration token and open the tool's URL in a frame."""
    tool_url = request.form.get("tool_url", "").strip()
    parts = urlsplit(tool_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.fragment:
        return _page(
            _("Bitte die vollständige Registrierungs-URL des Werkzeugs einfügen."), tool_url, 400
        )
    if origin(tool_url) != origin(base_url()):
        return _page(
            _(
                "Dieses Demo-LMS registriert nur Lotsen-LTI dieser Installation (%(origin)s).",
                origin=origin(base_url()),
            ),
            tool_url,
            400,
        )
    token = secrets.token_urlsafe(32)
    with store.transaction() as conn:
        conn.execute(
            insert(store.registration_token).values(
                token_hash=_hash(token), expires_at=utcnow() + REGISTRATION_TOKEN_LIFETIME
            )
        )
    page = render_template(
        "demo_lms/registration_start.html",
        frame_url=start_url(tool_url, token),
        tool_origin=origin(tool_url),
        done_url=url_for(".registration_page", fertig=1),
    )
    response = Response(page, mimetype="text/html")
    # The frame carries a registration token: keep the page out of every cache.
    response.headers["Cache-Control"] = "no-store"
    return response
