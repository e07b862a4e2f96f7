"""Platforms that register the tool by LTI Dynamic Registration 1.0, over real HTTP on 127.0.0.1,
each behaving like the LMS source it names (quirks included). After the registration they launch
the tool with exactly what the tool registered (login URL, redirect URI, client and deployment
id), on top of :class:`tests.support.lti_platform.TestPlatform`.

- :class:`MoodlePlatform` follows moodle/moodle ``mod/lti``: ``startltiadvregistration.php``,
  ``openid-configuration.php``, ``openid-registration.php`` and
  ``classes/local/ltiopenid/registration_helper.php``.
- :class:`IliasPlatform` follows ILIAS-eLearning/ILIAS ``Modules/LTIConsumer`` (ILIAS 8/9):
  ``ltiregstart.php``, ``lticonfig.php``, ``ltiregistration.php`` and
  ``classes/class.ilObjLTIConsumer.php`` (``getOpenidConfig``, ``registerClient``).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import jwt
from flask import Flask, Response, abort, jsonify, redirect, request

from tests.support.lti_platform import TestPlatform

TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"

SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_RESULT = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_LINEITEM_RO = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


@dataclass
class RegistrationPlatform(TestPlatform):
    """What both LMS share: the registration requests they received, knobs for the refusal
    tests, and launches with the registered tool values."""

    __test__ = False

    configuration_overrides: dict[str, Any] = field(default_factory=dict)
    """Keys to change in the OpenID configuration; a value of None removes the key."""
    registration_status: int | None = None
    """Answer every registration POST with this status (a platform failing)."""
    next_client_id: str | None = None
    """The client id the next registration gets (to meet an existing registration)."""
    hold_registration: threading.Event | None = None
    """If set, a registration POST waits for it (two parallel registrations)."""

    def __post_init__(self) -> None:
        self.registration_requests: list[dict[str, Any]] = []
        """Body and Authorization header of every registration POST, in order."""
        self.configuration_requests = 0
        self.registration_received = threading.Event()
        self.registered: dict[str, Any] | None = None
        """The tool's registration as this platform stored it."""
        super().__post_init__()

    # -- launches use what the tool registered ------------------------------------------------

    @property
    def tool_login_url(self) -> str:
        return self.registered["initiate_login_uri"] if self.registered else super().tool_login_url

    @property
    def tool_launch_url(self) -> str:
        if self.registered:
            return str(self.registered["redirect_uris"][0])
        return super().tool_launch_url

    @property
    def tool_jwks_url(self) -> str:
        return self.registered["jwks_uri"] if self.registered else super().tool_jwks_url

    # -- the OpenID configuration --------------------------------------------------------------

    @property
    def configuration_url(self) -> str:
        raise NotImplementedError

    def configuration(self) -> dict[str, Any]:
        raise NotImplementedError

    def served_configuration(self) -> dict[str, Any]:
        data = self.configuration()
        for key, value in self.configuration_overrides.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        return data

    def registration_token(self, claims: dict[str, Any]) -> str:
        """A registration token signed with the platform key, as both LMS make it."""
        now = int(time.time())
        payload = {"iat": now, "exp": now + 3600, **claims}
        return jwt.encode(payload, self.private_key_pem, algorithm="RS256", headers={"kid": "1"})

    def decode_registration_token(self, token: str) -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(
            token,
            self.public_key_pem,
            algorithms=["RS256"],
            options={"verify_aud": False, "verify_sub": False},
        )
        return claims

    def _record_registration(self) -> dict[str, Any]:
        body = request.get_json(silent=True)
        self.registration_requests.append(
            {"body": body, "authorization": request.headers.get("Authorization")}
        )
        self.registration_received.set()
        if self.hold_registration is not None:
            self.hold_registration.wait(10)
        return body if isinstance(body, dict) else {}

    def _remember(self, body: dict[str, Any], client_id: str, deployment_id: str) -> None:
        self.registered = body
        self.client_id = client_id
        self.deployment_id = deployment_id


def _add_query(url: str, **params: str) -> str:
    """Add parameters to a URL's query, as Moodle's ``moodle_url::param`` does."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


class _MoodleRegistrationError(Exception):
    """registration_exception of mod/lti: a message and an HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class MoodlePlatform(RegistrationPlatform):
    """Moodle 4.x as the platform. Its issuer is the wwwroot; a dynamically registered tool is
    stored **pending** and launches only after an admin activated it."""

    __test__ = False

    name: str = "Moodle-Test HSF"
    #: lti_types ids of the tool types created so far; the next registration gets the next one.
    next_type_id: int = 7

    def __post_init__(self) -> None:
        self.active = False
        self.clients: set[str] = set()
        """Client ids of the tool types in lti_types (a token for one of them is used)."""
        super().__post_init__()

    @property
    def auth_login_url(self) -> str:
        return self.url + "/mod/lti/auth.php"

    @property
    def auth_token_url(self) -> str:
        return self.url + "/mod/lti/token.php"

    @property
    def key_set_url(self) -> str:
        return self.url + "/mod/lti/certs.php"

    @property
    def configuration_url(self) -> str:
        return self.url + "/mod/lti/openid-configuration.php"

    def start_url(self, tool_url: str) -> str:
        """Where "Add LTI Advantage" sends the admin's browser (the tool URL field's value)."""
        return self.url + "/mod/lti/startltiadvregistration.php?" + urlencode({"url": tool_url})

    def activate(self) -> None:
        """The admin activates the pending tool (Manage tools › Pending › Activate)."""
        self.active = True

    def configuration(self) -> dict[str, Any]:
        # mod/lti/openid-configuration.php
        return {
            "issuer": self.issuer,
            "token_endpoint": self.auth_token_url,
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "jwks_uri": self.key_set_url,
            "authorization_endpoint": self.auth_login_url,
            "registration_endpoint": self.url + "/mod/lti/openid-registration.php",
            "scopes_supported": [
                SCOPE_LINEITEM,
                SCOPE_LINEITEM_RO,
                SCOPE_RESULT,
                SCOPE_SCORE,
                SCOPE_NRPS,
                "openid",
            ],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
            PLATFORM_CONFIGURATION: {
                "product_family_code": "moodle",
                "version": "4.5.1 (Build: 20241209)",
                # Plain strings, not the spec's objects.
                "messages_supported": ["LtiResourceLinkRequest", "LtiDeepLinkingRequest"],
                "placements": ["AddContentMenu"],
                "variables": ["User.id", "Context.id"],
            },
        }

    def _build_app(self) -> Flask:
        app = super()._build_app()
        # The launch endpoints at Moodle's own paths.
        app.add_url_rule(
            "/mod/lti/auth.php", "moodle_auth", app.view_functions["auth"], methods=["GET", "POST"]
        )
        app.add_url_rule(
            "/mod/lti/token.php", "moodle_token", app.view_functions["token"], methods=["POST"]
        )
        app.add_url_rule("/mod/lti/certs.php", "moodle_certs", app.view_functions["jwks"])

        @app.before_request
        def _pending_tools_do_not_launch() -> Any:
            if request.path.startswith("/launch/") and not self.active:
                abort(403)
            return None

        @app.get("/mod/lti/openid-configuration.php")
        def registration_configuration() -> Response:
            self.configuration_requests += 1
            return jsonify(self.served_configuration())

        @app.get("/mod/lti/startltiadvregistration.php")
        def registration_start() -> Any:
            # A registration token valid for an hour; its sub becomes the client id.
            client_id = self.next_client_id or secrets.token_urlsafe(12)[:15]
            token = self.registration_token({"sub": client_id, "scope": "reg"})
            target = _add_query(
                request.args["url"],
                openid_configuration=self.configuration_url,
                registration_token=token,
            )
            return redirect(target, code=302)

        @app.post("/mod/lti/openid-registration.php")
        def registration_endpoint() -> Response:
            return self._register()

        return app

    def _register(self) -> Response:
        """openid-registration.php with registration_helper.php."""
        authorization = request.headers.get("Authorization", "")
        if not authorization.startswith("Bearer "):
            return Response("missing_registration_token", status=401)
        body = self._record_registration()
        if self.registration_status is not None:
            return Response("Moodle ist gerade nicht erreichbar", status=self.registration_status)
        try:
            client_id = self._validate_token(authorization[7:].strip())
            answer = self._registration_to_type(body, client_id)
        except _MoodleRegistrationError as error:
            return Response(str(error), status=error.status)
        return jsonify(answer)

    def _validate_token(self, token: str) -> str:
        try:
            claims = self.decode_registration_token(token)
        except jwt.InvalidTokenError as error:
            raise _MoodleRegistrationError("invalid token", 401) from error
        client_id = str(claims["sub"])
        if client_id in self.clients:
            raise _MoodleRegistrationError("token_already_used", 401)
        return client_id

    @staticmethod
    def _required(payload: dict[str, Any], key: str) -> Any:
        if not payload.get(key):
            raise _MoodleRegistrationError(f"missing required attribute {key}", 400)
        return payload[key]

    def _registration_to_type(self, body: dict[str, Any], client_id: str) -> dict[str, Any]:
        required = self._required
        response_types = required(body, "response_types")
        required(body, "initiate_login_uri")
        redirect_uris = required(body, "redirect_uris")
        client_name = required(body, "client_name")
        required(body, "jwks_uri")
        auth_method = required(body, "token_endpoint_auth_method")
        tool_config = required(body, TOOL_CONFIGURATION)
        required(tool_config, "domain")
        target_link_uri = required(tool_config, "target_link_uri")
        if "id_token" not in response_types:
            raise _MoodleRegistrationError("invalid_response_types", 400)
        if not isinstance(redirect_uris, list):
            raise _MoodleRegistrationError("invalid_redirect_uris", 400)
        if auth_method != "private_key_jwt":
            raise _MoodleRegistrationError("invalid_token_endpoint_auth_method", 400)
        if body.get("application_type") and body["application_type"] != "web":
            raise _MoodleRegistrationError("invalid_application_type", 400)
        scopes = str(body.get("scope") or "").split(" ")
        grade_sync = 0
        if {SCOPE_SCORE, SCOPE_RESULT, SCOPE_LINEITEM_RO} & set(scopes):
            grade_sync = 1
        if SCOPE_LINEITEM in scopes:
            grade_sync = 2
        granted = [SCOPE_SCORE, SCOPE_RESULT, SCOPE_LINEITEM_RO] if grade_sync else []
        if grade_sync == 2:
            granted.append(SCOPE_LINEITEM)
        if SCOPE_NRPS in scopes:
            granted.append(SCOPE_NRPS)
        type_id = self.next_type_id
        self.next_type_id += 1
        self.clients.add(client_id)
        self._remember(body, client_id, str(type_id))
        tool_answer: dict[str, Any] = {
            # strval($typeid)
            "deployment_id": str(type_id),
            "target_link_uri": target_link_uri,
            "domain": tool_config["domain"],
            "description": tool_config.get("description", ""),
            "claims": ["sub", "iss", "name", "family_name", "middle_name", "email"],
        }
        for message in tool_config.get("messages") or []:
            if message.get("type") == "LtiDeepLinkingRequest":
                tool_answer["messages"] = [
                    {
                        "type": "LtiDeepLinkingRequest",
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


@dataclass
class IliasPlatform(RegistrationPlatform):
    """ILIAS 8/9 as the platform (Modules/LTIConsumer). Its admin page loads the registration
    start in a hidden 0×0 iframe and waits 10 s for the close message."""

    __test__ = False

    name: str = "ILIAS-Test Sachsen"
    next_provider_id: int = 12

    @property
    def auth_login_url(self) -> str:
        return self.url + "/Modules/LTIConsumer/ltiauth.php"

    @property
    def auth_token_url(self) -> str:
        return self.url + "/Modules/LTIConsumer/ltitoken.php"

    @property
    def key_set_url(self) -> str:
        return self.url + "/Modules/LTIConsumer/lticerts.php"

    @property
    def configuration_url(self) -> str:
        return self.url + "/Modules/LTIConsumer/lticonfig.php"

    def start_url(self, tool_url: str) -> str:
        """The src of the hidden iframe on the provider page (tpl.lti_dyn_reg_request.html)."""
        return self.url + "/Modules/LTIConsumer/ltiregstart.php?" + urlencode({"url": tool_url})

    def configuration(self) -> dict[str, Any]:
        # ilObjLTIConsumer::getOpenidConfig (Modules/LTIConsumer, ILIAS 8/9)
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.auth_login_url,
            "token_endpoint": self.auth_token_url,
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "jwks_uri": self.key_set_url,
            "registration_endpoint": self.url + "/Modules/LTIConsumer/ltiregistration.php",
            "scopes_supported": ["openid"],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["iss", "aud"],
            PLATFORM_CONFIGURATION: {
                "product_family_code": "ilias.de",
                "version": "9.5 2024-11-27",
                "messages_supported": [
                    {"type": "LtiResourceLinkRequest", "placements": []},
                    {"type": "LtiDeepLinkingRequest", "placements": []},
                ],
            },
        }

    def _build_app(self) -> Flask:
        app = super()._build_app()
        app.add_url_rule(
            "/Modules/LTIConsumer/ltiauth.php",
            "ilias_auth",
            app.view_functions["auth"],
            methods=["GET", "POST"],
        )
        app.add_url_rule(
            "/Modules/LTIConsumer/ltitoken.php",
            "ilias_token",
            app.view_functions["token"],
            methods=["POST"],
        )
        app.add_url_rule(
            "/Modules/LTIConsumer/lticerts.php", "ilias_certs", app.view_functions["jwks"]
        )

        @app.get("/Modules/LTIConsumer/lticonfig.php")
        def registration_configuration() -> Response:
            self.configuration_requests += 1
            return jsonify(self.served_configuration())

        @app.get("/Modules/LTIConsumer/ltiregstart.php")
        def registration_start() -> Any:
            client_id = self.next_client_id or secrets.token_urlsafe(12)[:15]
            token = self.registration_token({"sub": 6, "aud": client_id, "scope": "reg"})
            # Appended with "&" whether or not the tool URL has a query (ltiregstart.php).
            target = (
                request.args["url"]
                + "&openid_configuration="
                + quote(self.configuration_url, safe="")
                + "&registration_token="
                + token
            )
            return redirect(target, code=302)

        @app.post("/Modules/LTIConsumer/ltiregistration.php")
        def registration_endpoint() -> Response:
            return self._register()

        return app

    def _register(self) -> Response:
        """ltiregistration.php with ilObjLTIConsumer::registerClient."""
        authorization = request.headers.get("Authorization")
        if authorization is None:
            return Response("missing Authorization header", status=405)
        match = re.search(r"Bearer\s+(.+)$", authorization, re.IGNORECASE)
        if match is None:
            return Response("missing required Authorization Baerer token", status=405)
        body = self._record_registration()
        if self.registration_status is not None:
            return Response("error in ltiregistration.php", status=self.registration_status)
        try:
            claims = self.decode_registration_token(match.group(1))
            tool_config = body[TOOL_CONFIGURATION]
            # The values registerClient reads without a check: a missing one is a PHP error.
            _ = (body["client_name"], tool_config["target_link_uri"], body["initiate_login_uri"])
            _ = ",".join(body["redirect_uris"])
            for message in tool_config.get("messages") or []:
                if message.get("type") == "LtiDeepLinkingRequest":
                    _ = message["target_link_uri"]
        except (jwt.InvalidTokenError, KeyError, TypeError):
            return Response("error in ltiregistration.php", status=500)
        provider_id = self.next_provider_id
        self.next_provider_id += 1
        client_id = str(claims["aud"])
        self._remember(body, client_id, str(provider_id))
        # The request echoed, with client_id and the provider id as a number.
        answer = dict(body)
        answer["client_id"] = client_id
        answer[TOOL_CONFIGURATION] = {**tool_config, "deployment_id": provider_id}
        return jsonify(answer)
