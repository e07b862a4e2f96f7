"""An independent LTI 1.3 platform for end-to-end tests, built on ``lti1p3platform``.

It shares no code with the tool nor with ``lti_tool/demo_lms``: its own RSA key and JWKS, an OIDC
authentication endpoint that answers the tool's redirect with the auto-posting form a browser
submits to the tool's launch URL, and an OAuth2 token endpoint for client assertions (for the AGS
and NRPS tests to come, which add their routes to :attr:`TestPlatform.app`).

lti1p3platform is a library, not a server (lti-notes §5): :class:`TestPlatform` wraps it in a small
Flask app served by ``werkzeug.serving.make_server`` on 127.0.0.1, threaded, because the token
request makes the platform fetch the tool's JWKS while the tool's own request is still open.
"""

from __future__ import annotations

import functools
import json
import threading
import uuid
from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, abort, jsonify, redirect
from flask import request as flask_request
from lti1p3platform.exceptions import LtiException, PreflightRequestValidationException
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration as PlatformRegistration
from lti1p3platform.request import Request as PlatformRequest
from lti1p3platform.request import TRequest
from werkzeug.serving import BaseWSGIServer, make_server

TOOL_PLATFORM_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/tool_platform"


@dataclass
class PendingLaunch:
    """What the platform will put into the id_token once the browser comes back from the tool."""

    user: dict[str, Any]
    roles: list[str]
    resource_link_id: str
    resource_link_title: str
    custom: dict[str, Any]
    context: dict[str, str] | None


@dataclass
class Course:
    id: str = "kurs-dn-2026"
    label: str = "DN-2026"
    title: str = "Digital-Navigatoren Sachsen 2026"


class FlaskPlatformRequest(PlatformRequest):
    """lti1p3platform's request interface over the current Flask request."""

    def build_metadata(self, request: Any) -> TRequest:
        return {
            "method": request.method,
            "form_data": request.form.to_dict(),
            "get_data": request.args.to_dict(),
            "headers": dict(request.headers),
            "content_type": request.content_type,
            "path": request.path,
            "json": request.get_json(silent=True),
        }


class PlatformConf(LTI1P3PlatformConfAbstract):
    """Hands lti1p3platform the registration of the tool on this platform."""

    def init_platform_config(self, **kwargs: Any) -> None:
        self._platform: TestPlatform = kwargs["platform"]

    def get_registration_by_params(self, **kwargs: Any) -> PlatformRegistration:
        return self._platform.registration()


class PlatformOIDCLogin(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> Response:
        return redirect(url, code=302)


class _MessageLaunch(LTIAdvantageMessageLaunchAbstract):
    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> Response:
        # Our own form, not lti1p3platform's template module (it imports pkg_resources).
        html = (
            "<!doctype html><html><body>"
            f'<form method="post" action="{escape(launch_data["launch_url"])}" id="lti">'
            f'<input type="hidden" name="id_token" value="{escape(launch_data["id_token"])}">'
            f'<input type="hidden" name="state" value="{escape(launch_data["state"])}">'
            "</form><script>document.getElementById('lti').submit()</script></body></html>"
        )
        return Response(html, mimetype="text/html")


class _FormReader(HTMLParser):
    """Reads the first form of a page as a browser would submit it."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = values.get("action", "")
        elif tag == "input" and values.get("name"):
            self.fields[values["name"]] = values.get("value", "")


def read_form(page: requests.Response) -> tuple[str, dict[str, str]]:
    """The action and fields of the first form on ``page``."""
    reader = _FormReader()
    reader.feed(page.text)
    if not reader.action:
        raise AssertionError(f"keine Formularseite: {page.status_code} {page.url}")
    return reader.action, reader.fields


def submit_form(session: requests.Session, page: requests.Response) -> requests.Response:
    """What a browser does with an auto-posting form: POST its fields to its action."""
    action, fields = read_form(page)
    return session.post(action, data=fields, timeout=10)


@functools.cache
def platform_key(name: str) -> tuple[str, str]:
    """The RSA key pair (private, public PEM) of the platform called ``name``: one per name and
    test session, because generating RSA keys is what makes these tests slow."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


@dataclass
class TestPlatform:
    """A running LTI 1.3 platform with one registration of the tool at ``tool_url``."""

    __test__ = False  # not a test class, despite the name

    tool_url: str
    name: str = "Test-LMS Sachsen"
    client_id: str = field(default_factory=lambda: "tp-" + uuid.uuid4().hex[:12])
    deployment_id: str = "1"
    course: Course = field(default_factory=Course)

    def __post_init__(self) -> None:
        self.tool_url = self.tool_url.rstrip("/")
        self.private_key_pem, self.public_key_pem = platform_key(self.name)
        self.pending: dict[str, PendingLaunch] = {}
        self.last_launch_form: tuple[str, dict[str, str]] | None = None
        """Action and fields of the last auto-posted launch form (to replay it in a test)."""
        self.requests: list[str] = []
        """Paths this platform was asked for, in order (e.g. "/jwks", "/auth", "/token")."""
        self.app = self._build_app()
        self._server: BaseWSGIServer = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.issuer = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    # -- the tool as this platform knows it ---------------------------------------------------

    @property
    def tool_login_url(self) -> str:
        return self.tool_url + "/lti/login"

    @property
    def tool_launch_url(self) -> str:
        return self.tool_url + "/lti/launch"

    @property
    def tool_jwks_url(self) -> str:
        return self.tool_url + "/lti/jwks.json"

    @property
    def auth_login_url(self) -> str:
        return self.url + "/auth"

    @property
    def auth_token_url(self) -> str:
        return self.url + "/token"

    @property
    def key_set_url(self) -> str:
        return self.url + "/jwks"

    def registration(self) -> PlatformRegistration:
        """lti1p3platform's view of the tool's registration (fresh, so nothing is cached)."""
        return (
            PlatformRegistration()
            .set_iss(self.issuer)
            .set_client_id(self.client_id)
            .set_deployment_id(self.deployment_id)
            .set_oidc_login_url(self.tool_login_url)
            .set_launch_url(self.tool_launch_url)
            .set_platform_private_key(self.private_key_pem)
            .set_platform_public_key(self.public_key_pem)
            .set_tool_key_set_url(self.tool_jwks_url)
        )

    def config(self) -> PlatformConf:
        return PlatformConf(platform=self)

    def register_with(self, app: Flask, name: str | None = None) -> Any:
        """Register this platform in the tool, as an admin would with ``flask lti platform add``."""
        from lti_tool.extensions import db
        from lti_tool.registrations import add_platform

        with app.app_context():
            registration = add_platform(
                {
                    "name": name or self.name,
                    "issuer": self.issuer,
                    "client_id": self.client_id,
                    "auth_login_url": self.auth_login_url,
                    "auth_token_url": self.auth_token_url,
                    "key_set_url": self.key_set_url,
                    "deployments": [self.deployment_id],
                }
            )
            db.session.commit()
            return registration.id

    # -- the browser flow ---------------------------------------------------------------------

    def launch(
        self,
        session: requests.Session,
        user: dict[str, Any],
        roles: list[str],
        resource_link_id: str = "rl-1",
        custom: dict[str, Any] | None = None,
        *,
        resource_link_title: str = "Lotsen-LTI",
        with_course: bool = True,
    ) -> requests.Response:
        """A user clicks the tool's link: login initiation at the tool, its cookie check page,
        ``lti1p3_new_window=1``, the redirect to our authentication endpoint, the auto-posted
        form to the tool's launch URL, the tool's 303 and its final page."""
        hint = uuid.uuid4().hex
        self.pending[hint] = PendingLaunch(
            user=dict(user),
            roles=list(roles),
            resource_link_id=resource_link_id,
            resource_link_title=resource_link_title,
            custom=dict(custom or {}),
            context=(
                {"id": self.course.id, "label": self.course.label, "title": self.course.title}
                if with_course
                else None
            ),
        )
        check_page = session.get(f"{self.url}/launch/{hint}", timeout=10)
        if check_page.status_code != 200 or "lti1p3_new_window" not in check_page.text:
            return check_page  # the tool refused the login initiation
        # The cookie check page's script reloads the same URL with lti1p3_new_window=1.
        form_page = session.get(check_page.url + "&lti1p3_new_window=1", timeout=10)
        if form_page.status_code != 200 or not form_page.url.startswith(self.auth_login_url):
            return form_page
        self.last_launch_form = read_form(form_page)
        return submit_form(session, form_page)

    # -- the platform's HTTP side -------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask(f"test_platform_{id(self)}")

        @app.before_request
        def _record() -> None:
            self.requests.append(flask_request.path)

        @app.get("/jwks")
        def jwks() -> Response:
            conf = self.config()
            conf.get_registration()
            return jsonify(conf.get_jwks())

        @app.get("/launch/<hint>")
        def start(hint: str) -> Response:
            pending = self.pending.get(hint) or abort(404)
            login = PlatformOIDCLogin(FlaskPlatformRequest(flask_request), self.config())
            login.set_lti_message_hint(hint=hint)
            response: Response = login.initiate_login(str(pending.user["sub"]))
            return response

        @app.route("/auth", methods=["GET", "POST"])
        def auth() -> Response:
            return self._authenticate()

        @app.post("/token")
        def token() -> Response:
            conf = self.config()
            conf.get_registration()
            try:
                answer = conf.get_access_token(flask_request.form.to_dict())
            except Exception as error:  # any refusal is an OAuth2 error, as on a real platform
                return Response(
                    json.dumps({"error": "invalid_client", "detail": type(error).__name__}),
                    status=400,
                    mimetype="application/json",
                )
            return jsonify(answer)

        return app

    def _authenticate(self) -> Response:
        """The OIDC authentication request from the tool (LTI 1.3 core 5.1.1.2)."""
        params = flask_request.values
        problems = []
        expected = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": self.client_id,
            # Redirect URIs are compared exactly, as Moodle does (lti-notes §2).
            "redirect_uri": self.tool_launch_url,
        }
        for name, value in expected.items():
            if params.get(name) != value:
                problems.append(f"{name}={params.get(name)!r}")
        pending = self.pending.pop(params.get("lti_message_hint", ""), None)
        if pending is None:
            problems.append("lti_message_hint unbekannt")
        elif params.get("login_hint") != str(pending.user["sub"]):
            problems.append("login_hint passt nicht")
        if problems:
            return Response("invalid_request: " + ", ".join(problems), status=400)
        assert pending is not None

        launch = _MessageLaunch(FlaskPlatformRequest(flask_request), self.config())
        user = pending.user
        launch.set_user_data(
            user_id=str(user["sub"]),
            lis_roles=pending.roles,
            full_name=user.get("name"),
            email_address=user.get("email"),
        )
        names = {k: user[k] for k in ("given_name", "family_name") if user.get(k)}
        launch.set_resource_link_claim(pending.resource_link_id, title=pending.resource_link_title)
        if pending.context:
            launch.set_launch_context_claim(
                pending.context["id"],
                context_types=["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
                context_title=pending.context["title"],
                context_label=pending.context["label"],
            )
        if pending.custom:
            launch.set_custom_parameters_claim(pending.custom)
        launch.set_launch_presentation_claim(
            document_target="iframe", return_url=self.url + "/course/return"
        )
        launch.set_extra_claims(
            {
                **names,
                TOOL_PLATFORM_CLAIM: {
                    "guid": self.issuer,
                    "name": self.name,
                    "product_family_code": "lti1p3platform",
                },
            }
        )
        try:
            response: Response = launch.lti_launch()
        except (PreflightRequestValidationException, LtiException) as error:
            return Response(f"invalid_request: {type(error).__name__}", status=400)
        return response

    # -- services (AGS/NRPS tests add routes to ``app`` and use this) ------------------------

    def bearer_scopes(self) -> list[str]:
        """The scopes of the access token this request presents; aborts with 401 without one."""
        header = flask_request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            abort(401)
        try:
            claims = PlatformRegistration.decode_and_verify(
                header[len("Bearer ") :], self.public_key_pem
            )
        except jwt.InvalidTokenError:
            abort(401)
        if claims.get("iss") != self.issuer:
            abort(401)
        return str(claims.get("scopes", "")).split()

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> TestPlatform:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
