"""The OIDC authentication endpoint (LTI 1.3 core §5.1.1.2–5.1.1.5): checks the tool's
authentication request and answers with an auto-submitting form that POSTs the id_token."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Response, render_template, request
from flask_babel import gettext as _

from . import content, gradebook, store
from .ags import lineitem_url
from .blueprint import bp
from .course import Person, find_person, issuer
from .messages import LaunchContext, decode_hint, id_token_claims
from .signing import sign
from .tool_clients import ToolClient, find_client

log = logging.getLogger(__name__)


class AuthRequestError(Exception):
    """An authentication request the demo refuses; the message is shown to the user."""


@dataclass(frozen=True)
class AuthResponse:
    redirect_uri: str
    id_token: str
    state: str | None


def _required(name: str) -> str:
    value = request.values.get(name)
    if not value:
        raise AuthRequestError(_("Parameter %(name)s fehlt.", name=name))
    return value


def _check_request() -> tuple[ToolClient, str, str, Person, str | None]:
    """Validated client, redirect_uri, nonce, person and link id (None: Deep Linking)."""
    with store.transaction() as conn:
        client = find_client(conn, _required("client_id"))
    if client is None:
        raise AuthRequestError(_("Unbekannte client_id."))
    redirect_uri = _required("redirect_uri")
    # Exact comparison, as Moodle and ILIAS do: never post an id_token anywhere else.
    if redirect_uri not in client.redirect_uris:
        raise AuthRequestError(_("Die redirect_uri ist für dieses Werkzeug nicht eingetragen."))
    if "openid" not in _required("scope").split():
        raise AuthRequestError(_("scope muss openid enthalten."))
    if _required("response_type") != "id_token":
        raise AuthRequestError(_("response_type muss id_token sein."))
    if request.values.get("response_mode", "form_post") != "form_post":
        raise AuthRequestError(_("response_mode muss form_post sein."))
    if request.values.get("prompt", "none") != "none":
        raise AuthRequestError(_("prompt muss none sein."))
    nonce = _required("nonce")
    hint = decode_hint(_required("lti_message_hint"))
    if hint is None:
        raise AuthRequestError(_("lti_message_hint stammt nicht von diesem Demo-LMS."))
    # The login_hint names the user the platform session belongs to; it must be the same one.
    if _required("login_hint") != hint.sub:
        raise AuthRequestError(_("login_hint passt nicht zur Start-Anfrage."))
    person = find_person(hint.sub)
    if person is None:
        raise AuthRequestError(_("Diese Person gehört nicht zum Kurs."))
    if hint.is_deep_linking and not person.is_instructor:
        raise AuthRequestError(_("Inhalte auswählen dürfen nur Lehrende."))
    return client, redirect_uri, nonce, person, hint.link_id


def authenticate() -> AuthResponse:
    """Build the id_token for the current authentication request."""
    client, redirect_uri, nonce, person, link_id = _check_request()
    platform_issuer = issuer()
    with store.transaction() as conn:
        link = content.get_link(conn, link_id) if link_id else None
        if link_id and link is None:
            raise AuthRequestError(_("Diesen Link gibt es im Kurs nicht mehr."))
        own_item = gradebook.own_line_item(conn, link.pk) if link else None
        launch = LaunchContext(
            platform_issuer=platform_issuer,
            client=client,
            nonce=nonce,
            course_page_url=platform_issuer + "/",
            link=link,
            lineitem_url=lineitem_url(own_item.id) if own_item else None,
        )
        id_token = sign(conn, id_token_claims(person, launch))
    log.info("demo launch: link=%s deep_linking=%s", link_id, link is None)
    return AuthResponse(redirect_uri, id_token, request.values.get("state"))


@bp.route("/auth", methods=["GET", "POST"])
def auth() -> Response:
    """The platform's authentication endpoint; the tool redirects the browser here."""
    try:
        answer = authenticate()
    except AuthRequestError as error:
        # Errors are shown here, never sent to an unchecked redirect_uri (OIDC core §3.1.2.6).
        page = render_template("demo_lms/error.html", message=str(error))
        return Response(page, status=400, mimetype="text/html")
    page = render_template("demo_lms/auth_post.html", answer=answer)
    response = Response(page, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response
