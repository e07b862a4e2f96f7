"""The Deep Linking return URL (DL 2.0 §4.5): the tool's signed response places resource
links, and with ``lineItem`` gradebook columns, in the demo course."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import Connection
from werkzeug.wrappers import Response as BaseResponse

from lti_tool.vocab import LTI_VERSION, Claim, MessageType

from . import content, gradebook, store
from .blueprint import bp
from .course import DEFAULT_LINK_TITLE, find_person, issuer, tool_endpoints
from .messages import decode_deep_linking_data
from .oauth import TokenRequestError, consume_once, verify_tool_jwt
from .tool_clients import find_client

log = logging.getLogger(__name__)

RESOURCE_LINK_TYPE = "ltiResourceLink"


class DeepLinkingError(Exception):
    """A response the demo does not accept; the message is shown to the user."""


@dataclass(frozen=True)
class Placement:
    """What the course got from one response."""

    added: int
    skipped: int


def _text(value: object, name: str, limit: int = 255) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise DeepLinkingError(_("%(name)s muss Text sein.", name=name))
    return value.strip()[:limit] or None


def _custom(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DeepLinkingError(_("custom muss ein Objekt sein."))
    custom: dict[str, str] = {}
    for key, item in value.items():
        # Custom parameters are strings (core §5.4.6); numbers and booleans are written out.
        if isinstance(item, bool):
            custom[str(key)] = "true" if item else "false"
        elif isinstance(item, str | int | float):
            custom[str(key)] = str(item)
        else:
            raise DeepLinkingError(_("custom.%(key)s ist kein Text.", key=key))
    return custom


def _url(value: object) -> str | None:
    url = _text(value, "url", 1024)
    launch_url = tool_endpoints().launch_url
    base = launch_url.rsplit("/lti/launch", 1)[0]
    if url is not None and not (url == base or url.startswith(base + "/")):
        raise DeepLinkingError(_("Die url des Inhalts gehört nicht zu Lotsen-LTI."))
    return url


def _line_item_values(value: object, title: str, link_pk: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DeepLinkingError(_("lineItem muss ein Objekt sein."))
    maximum = value.get("scoreMaximum")
    if isinstance(maximum, bool) or not isinstance(maximum, int | float) or maximum <= 0:
        raise DeepLinkingError(_("lineItem.scoreMaximum muss eine positive Zahl sein."))
    return {
        "label": _text(value.get("label"), "lineItem.label") or title,
        "score_maximum": float(maximum),
        "resource_link_pk": link_pk,
        "resource_id": _text(value.get("resourceId"), "lineItem.resourceId"),
        "tag": _text(value.get("tag"), "lineItem.tag"),
    }


def place_content_items(conn: Connection, items: list[Any]) -> Placement:
    """Create a resource link (and a column, if asked) for every ltiResourceLink item."""
    added = skipped = 0
    for item in items:
        if not isinstance(item, dict):
            raise DeepLinkingError(_("Ein Inhalt ist kein Objekt."))
        if item.get("type") != RESOURCE_LINK_TYPE:
            # accept_types named only ltiResourceLink; others are ignored as Moodle does.
            skipped += 1
            continue
        title = _text(item.get("title"), "title") or DEFAULT_LINK_TITLE
        link = content.create_link(
            conn,
            title=title,
            text=_text(item.get("text"), "text", 2000),
            url=_url(item.get("url")),
            custom=_custom(item.get("custom")),
        )
        if item.get("lineItem") is not None:
            gradebook.create_line_item(conn, _line_item_values(item["lineItem"], title, link.pk))
        added += 1
    return Placement(added=added, skipped=skipped)


def _check_message(conn: Connection, claims: dict[str, Any]) -> list[Any]:
    if claims.get(Claim.MESSAGE_TYPE) != MessageType.DEEP_LINKING_RESPONSE:
        raise DeepLinkingError(_("message_type ist nicht LtiDeepLinkingResponse."))
    if claims.get(Claim.VERSION) != LTI_VERSION:
        raise DeepLinkingError(_("version ist nicht 1.3.0."))
    client = find_client(conn, claims.get("iss"))
    if client is None or claims.get(Claim.DEPLOYMENT_ID) != client.deployment_id:
        raise DeepLinkingError(_("deployment_id ist unbekannt."))
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise DeepLinkingError(_("nonce fehlt."))
    # The data we sent must come back unchanged: it ties the response to a request of ours.
    requester = find_person(decode_deep_linking_data(claims.get(Claim.DL_DATA)) or "")
    if requester is None or not requester.is_instructor:
        raise DeepLinkingError(_("data passt zu keiner Inhaltsauswahl dieses Demo-LMS."))
    consume_once(conn, f"dl-nonce:{nonce}", float(claims["exp"]))
    items = claims.get(Claim.CONTENT_ITEMS, [])
    if not isinstance(items, list):
        raise DeepLinkingError(_("content_items ist keine Liste."))
    return items


def _refuse(message: str) -> Response:
    page = render_template("demo_lms/error.html", message=message)
    return Response(page, status=400, mimetype="text/html")


@bp.post("/deep-linking/return")
def deep_linking_return() -> BaseResponse:
    """Verify the tool's response (form field ``JWT``), place its items, back to the course."""
    token = request.form.get("JWT")
    if not token:
        return _refuse(_("Die Antwort enthält kein JWT."))
    try:
        claims = verify_tool_jwt(token, audience=issuer(), require=["nonce"])
        with store.transaction() as conn:
            placement = place_content_items(conn, _check_message(conn, claims))
    except TokenRequestError as error:
        log.info("deep linking response refused: %s", error.description)
        return _refuse(_("Die Antwort wurde abgelehnt: %(detail)s", detail=error.description))
    except DeepLinkingError as error:
        log.info("deep linking response refused: %s", error)
        return _refuse(str(error))
    log.info("deep linking: added=%s skipped=%s", placement.added, placement.skipped)
    target = url_for(".course", neu=placement.added, ignoriert=placement.skipped or None)
    return redirect(target, code=303)
