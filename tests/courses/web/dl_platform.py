"""A minimal LTI 1.3 platform with Deep Linking and NRPS for the Lotse tests, on
``lti1p3platform`` (an implementation independent of the tool and of pylti1p3).

It runs as a Flask app on 127.0.0.1 (threaded: the platform fetches the tool's JWKS while the
tool's request is open, lti-notes §5) and offers:

- the OIDC flow: ``/launch/<hint>`` initiates the login at the tool, ``/auth`` answers with the
  auto-posting id_token form — a resource link launch or, with ``deep_linking=True``, an
  LtiDeepLinkingRequest whose settings name ``/dl/return``;
- ``/dl/return``: verifies the tool's response JWT with ``validate_deeplinking_resp`` (the tool's
  key fetched from its JWKS over HTTP) plus the claims lti1p3platform leaves unchecked, and keeps
  the content items in :attr:`DLPlatform.received`;
- ``/token``: OAuth2 client credentials with the tool's signed client assertion;
- ``/nrps``: a membership container in pages of ``page_size`` with ``Link: rel=next`` headers,
  alternating quoted and unquoted ``rel`` and with a mixed-case page parameter.

Tests that follow the tool's pages read forms with :func:`form_of`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, abort, jsonify
from flask import request as flask_request
from lti1p3platform.exceptions import LtiException
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.registration import Registration as PlatformRegistration
from werkzeug.serving import BaseWSGIServer, make_server

from tests.support.lti_platform import FlaskPlatformRequest, PlatformConf, PlatformOIDCLogin

INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
MEMBERSHIP_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
LTI = "https://purl.imsglobal.org/spec/lti/claim/"


@dataclass
class Pending:
    user: dict[str, Any]
    roles: list[str]
    resource_link_id: str | None
    custom: dict[str, Any]
    deep_linking: bool
    data: str | None


class _Launch(LTIAdvantageMessageLaunchAbstract):
    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> Response:
        html = (
            f'<form method="post" action="{escape(launch_data["launch_url"])}">'
            f'<input type="hidden" name="id_token" value="{escape(launch_data["id_token"])}">'
            f'<input type="hidden" name="state" value="{escape(launch_data["state"])}">'
            "</form>"
        )
        return Response(html, mimetype="text/html")


class _Form(HTMLParser):
    def __init__(self, method: str | None) -> None:
        super().__init__()
        self.method = method
        self.action: str | None = None
        self.fields: dict[str, list[str]] = {}
        self._inside = False
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if self._done:
            return
        if tag == "form" and not self._inside:
            if self.method and values.get("method", "get").lower() != self.method:
                return
            self._inside = True
            self.action = values.get("action", "")
        elif tag == "input" and self._inside and values.get("name"):
            if values.get("type") in ("checkbox", "radio") and "checked" not in values:
                return
            self.fields.setdefault(values["name"], []).append(values.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._inside:
            self._inside = False
            self._done = True


def form_of(html: str, method: str | None = "post") -> tuple[str, dict[str, list[str]]]:
    """The first form (of ``method``) of a page: its action and the fields a browser sends."""
    reader = _Form(method)
    reader.feed(html)
    if reader.action is None:
        raise AssertionError("keine Formularseite")
    return reader.action, reader.fields


def submit(session: requests.Session, page: requests.Response) -> requests.Response:
    """Post a page's first form as a browser would (resolving a relative action)."""
    action, fields = form_of(page.text)
    url = requests.compat.urljoin(page.url, action)
    return session.post(url, data=fields, timeout=10)


@dataclass
class DLPlatform:
    """A running platform registered with the tool at ``tool_url``."""

    __test__ = False

    tool_url: str
    nrps: bool = True
    client_id: str = field(default_factory=lambda: "dl-" + uuid.uuid4().hex[:10])
    deployment_id: str = "7"
    context_id: str = "kurs-dl"
    members: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 2
    nrps_status: int = 200

    def __post_init__(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self.public_pem = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        self.pending: dict[str, Pending] = {}
        self.received: list[dict[str, Any]] = []
        """Verified Deep Linking responses (their claims)."""
        self.dl_errors: list[str] = []
        self.nrps_requests: list[str] = []
        self.token_requests = 0
        self._nonces: set[str] = set()
        self.app = self._app()
        self._server: BaseWSGIServer = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.issuer = self.url
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def nrps_url(self) -> str:
        return f"{self.url}/nrps/{self.context_id}"

    def registration(self) -> PlatformRegistration:
        launch_url = self.tool_url + "/lti/launch"
        return (
            PlatformRegistration()
            .set_iss(self.issuer)
            .set_client_id(self.client_id)
            .set_deployment_id(self.deployment_id)
            .set_oidc_login_url(self.tool_url + "/lti/login")
            .set_launch_url(launch_url)
            .set_deeplink_launch_url(launch_url)
            .set_platform_private_key(self.private_pem)
            .set_platform_public_key(self.public_pem)
            .set_tool_key_set_url(self.tool_url + "/lti/jwks.json")
        )

    def register_with_tool(self, name: str = "DL-Plattform") -> None:
        from lti_tool.extensions import db
        from lti_tool.registrations import add_platform

        add_platform(
            {
                "name": name,
                "issuer": self.issuer,
                "client_id": self.client_id,
                "auth_login_url": self.url + "/auth",
                "auth_token_url": self.url + "/token",
                "key_set_url": self.url + "/jwks",
                "deployments": [self.deployment_id],
            }
        )
        db.session.commit()

    # -- browser side ---------------------------------------------------------------------------

    def launch(
        self,
        session: requests.Session,
        user: dict[str, Any],
        roles: list[str],
        *,
        resource_link_id: str | None = "rl-1",
        custom: dict[str, Any] | None = None,
        deep_linking: bool = False,
        data: str | None = None,
    ) -> requests.Response:
        """Login initiation, the tool's cookie check, our id_token form posted to the tool; the
        answer is the tool's page after its 303."""
        hint = uuid.uuid4().hex
        self.pending[hint] = Pending(
            dict(user), list(roles), resource_link_id, dict(custom or {}), deep_linking, data
        )
        check = session.get(f"{self.url}/launch/{hint}", timeout=10)
        assert check.status_code == 200 and "lti1p3_new_window" in check.text, check.text[:300]
        form_page = session.get(check.url + "&lti1p3_new_window=1", timeout=10)
        assert form_page.status_code == 200, form_page.text[:300]
        return submit(session, form_page)

    # -- platform side --------------------------------------------------------------------------

    def _conf(self) -> PlatformConf:
        conf = PlatformConf(platform=self)
        conf.get_registration()
        return conf

    def _app(self) -> Flask:
        app = Flask(f"dl_platform_{id(self)}")

        @app.get("/jwks")
        def jwks() -> Response:
            return jsonify(self._conf().get_jwks())

        @app.get("/launch/<hint>")
        def start(hint: str) -> Response:
            pending = self.pending.get(hint) or abort(404)
            login = PlatformOIDCLogin(FlaskPlatformRequest(flask_request), self._conf())
            login.set_lti_message_hint(hint=hint)
            if pending.deep_linking:
                login.set_deeplinking_launch_url()
            response: Response = login.initiate_login(str(pending.user["sub"]))
            return response

        @app.route("/auth", methods=["GET", "POST"])
        def auth() -> Response:
            params = flask_request.values
            if params.get("redirect_uri") != self.tool_url + "/lti/launch":
                return Response("redirect_uri passt nicht", status=400)
            pending = self.pending.pop(params.get("lti_message_hint", ""), None) or abort(400)
            launch = _Launch(FlaskPlatformRequest(flask_request), self._conf())
            launch.set_user_data(
                user_id=str(pending.user["sub"]),
                lis_roles=pending.roles,
                full_name=pending.user.get("name"),
            )
            launch.set_launch_context_claim(
                self.context_id, context_title="Kurs mit Deep Linking", context_label="DL-1"
            )
            if pending.custom:
                launch.set_custom_parameters_claim(pending.custom)
            if self.nrps:
                launch.set_nrps(self.nrps_url)
            if pending.deep_linking:
                launch.set_dl(
                    self.url + "/dl/return",
                    title="Lotsen-LTI",
                    accept_types={"ltiResourceLink"},
                    extra_data=pending.data,  # type: ignore[arg-type]
                )
            elif pending.resource_link_id:
                launch.set_resource_link_claim(pending.resource_link_id, title="Modul")
            try:
                response: Response = launch.lti_launch()
            except LtiException as error:
                return Response(type(error).__name__, status=400)
            return response

        @app.post("/token")
        def token() -> Response:
            self.token_requests += 1
            try:
                answer = self._conf().get_access_token(flask_request.form.to_dict())
            except Exception as error:  # any refusal is an OAuth2 error
                return Response(
                    json.dumps({"error": "invalid_client", "detail": type(error).__name__}),
                    status=400,
                    mimetype="application/json",
                )
            return jsonify(answer)

        @app.post("/dl/return")
        def dl_return() -> Response:
            try:
                items = self._conf().validate_deeplinking_resp(flask_request.form.to_dict())
            except Exception as error:  # the tool's JWT did not verify
                self.dl_errors.append(f"{type(error).__name__}: {error}")
                return Response("abgelehnt", status=400)
            claims = jwt.decode(flask_request.form["JWT"], options={"verify_signature": False})
            problems = self._check_response_claims(claims)
            if problems:
                self.dl_errors.extend(problems)
                return Response("abgelehnt: " + "; ".join(problems), status=400)
            self.received.append(claims)
            return Response(f"{len(items)} Inhalte übernommen", mimetype="text/plain")

        @app.get("/nrps/<context_id>")
        def nrps(context_id: str) -> Response:
            self.nrps_requests.append(flask_request.full_path)
            header = flask_request.headers.get("Authorization", "")
            if not header.startswith("Bearer "):
                abort(401)
            try:
                claims = PlatformRegistration.decode_and_verify(header[7:], self.public_pem)
            except jwt.InvalidTokenError:
                abort(401)
            if NRPS_SCOPE not in str(claims.get("scopes", "")).split():
                abort(403)
            if self.nrps_status != 200:
                return Response("kaputt", status=self.nrps_status)
            if flask_request.headers.get("Accept") != MEMBERSHIP_TYPE:
                abort(406)
            # The page parameter is mixed case: a client that lower-cases the Link header
            # (pylti1p3, lti-notes §1) asks for "?seite=" and gets page 0 again.
            page = int(flask_request.args.get("Seite", "0"))
            chunk = self.members[page * self.page_size : (page + 1) * self.page_size]
            body = {
                "id": flask_request.url,
                "context": {"id": context_id, "title": "Kurs mit Deep Linking"},
                "members": chunk,
            }
            response = Response(json.dumps(body), mimetype=MEMBERSHIP_TYPE)
            if (page + 1) * self.page_size < len(self.members):
                next_url = f"{self.url}/nrps/{context_id}?Seite={page + 1}"
                # lti1p3platform's style (rel=next without quotes) on odd pages.
                rel = "rel=next" if page % 2 else 'rel="next"'
                response.headers["Link"] = (
                    f'<{self.url}/nrps/{context_id}>; rel="first", <{next_url}>; {rel}'
                )
            return response

        return app

    def _check_response_claims(self, claims: dict[str, Any]) -> list[str]:
        """What lti1p3platform does not check in a Deep Linking response (LTI-DL 2.0 §4.2)."""
        problems = []
        now = time.time()
        expected = {
            "iss": self.client_id,
            "aud": self.issuer,
            LTI + "message_type": "LtiDeepLinkingResponse",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": self.deployment_id,
        }
        for name, value in expected.items():
            actual = claims.get(name)
            if actual != value and not (isinstance(actual, list) and value in actual):
                problems.append(f"{name}={actual!r}")
        if not claims.get("nonce") or claims["nonce"] in self._nonces:
            problems.append("nonce fehlt oder wiederholt")
        self._nonces.add(str(claims.get("nonce")))
        if not (claims.get("iat", 0) <= now + 60 and claims.get("exp", 0) > now):
            problems.append("iat/exp")
        return problems

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def token_of(url: str) -> str:
    """The launch token in a tool URL."""
    return parse_qs(urlsplit(url).query)["lt"][0]
