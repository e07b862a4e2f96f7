"""Deep Linking 2.0 responses: the content items a tool sends back and the signed JWT that carries
them to the platform's ``deep_link_return_url`` (LTI-DL 2.0, section 4.2).

Protocol only: the caller decides what the items point at. Every item of this tool is an
``ltiResourceLink`` to the one launch URL; what it opens travels in its custom parameters, because
Moodle compares redirect URIs exactly (lti-notes §2).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from flask_babel import gettext as _

from ..keys import active_key
from ..models import Registration
from ..vocab import LTI_VERSION, Claim, MessageType

#: How long the platform may take to receive the response (seconds).
RESPONSE_LIFETIME = 600
#: The content item type this tool creates.
LTI_RESOURCE_LINK = "ltiResourceLink"


class DeepLinkingError(ValueError):
    """The request's settings do not allow the response asked for (message for the user)."""


@dataclass(frozen=True)
class LineItem:
    """The gradebook column a link should get. Moodle creates one only if the item carries it."""

    label: str
    resource_id: str
    score_maximum: float = 100
    tag: str | None = None

    def to_claim(self) -> dict[str, Any]:
        claim: dict[str, Any] = {
            "label": self.label,
            "scoreMaximum": self.score_maximum,
            "resourceId": self.resource_id,
        }
        if self.tag:
            claim["tag"] = self.tag
        return claim


@dataclass(frozen=True)
class ResourceLinkItem:
    """An ``ltiResourceLink`` content item."""

    title: str
    url: str
    text: str | None = None
    custom: dict[str, str] = field(default_factory=dict)
    line_item: LineItem | None = None

    def to_claim(self, *, with_line_item: bool = True) -> dict[str, Any]:
        item: dict[str, Any] = {"type": LTI_RESOURCE_LINK, "title": self.title, "url": self.url}
        if self.text:
            item["text"] = self.text
        if self.custom:
            # Custom parameter values are strings (LTI core 5.4.6).
            item["custom"] = {str(k): str(v) for k, v in self.custom.items()}
        if self.line_item is not None and with_line_item:
            item["lineItem"] = self.line_item.to_claim()
        return item


def _truthy(value: Any, default: bool) -> bool:
    # Some platforms send the booleans of the settings claim as strings ("true"/"false").
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def check_settings(settings: dict[str, Any] | None, count: int) -> None:
    """Raise :class:`DeepLinkingError` if ``count`` resource links cannot be returned."""
    if not settings or not settings.get("deep_link_return_url"):
        raise DeepLinkingError(_("Das LMS hat keine Rücksprungadresse für die Auswahl gesendet."))
    accept_types = settings.get("accept_types") or []
    if LTI_RESOURCE_LINK not in accept_types:
        raise DeepLinkingError(_("Das LMS nimmt an dieser Stelle keine Werkzeug-Links an."))
    if count > 1 and not _truthy(settings.get("accept_multiple"), default=True):
        raise DeepLinkingError(_("Das LMS nimmt an dieser Stelle nur ein Modul auf einmal an."))


def accepts_line_items(settings: dict[str, Any]) -> bool:
    """Whether the platform wants ``lineItem`` on items (``accept_lineitem``, default yes)."""
    return _truthy(settings.get("accept_lineitem"), default=True)


def response_claims(
    *,
    registration: Registration,
    deployment_id: str,
    settings: dict[str, Any],
    items: list[ResourceLinkItem],
    now: int | None = None,
) -> dict[str, Any]:
    """The claims of an LtiDeepLinkingResponse for ``items`` (not yet signed)."""
    check_settings(settings, len(items))
    issued = int(time.time()) if now is None else now
    with_line_items = accepts_line_items(settings)
    claims: dict[str, Any] = {
        # Tool-originated message: the tool is the issuer, the platform the audience.
        "iss": registration.client_id,
        "aud": registration.issuer,
        "azp": registration.client_id,
        "iat": issued,
        "exp": issued + RESPONSE_LIFETIME,
        "nonce": uuid.uuid4().hex,
        Claim.MESSAGE_TYPE.value: MessageType.DEEP_LINKING_RESPONSE.value,
        Claim.VERSION.value: LTI_VERSION,
        Claim.DEPLOYMENT_ID.value: deployment_id,
        Claim.CONTENT_ITEMS.value: [i.to_claim(with_line_item=with_line_items) for i in items],
    }
    # "data" must be returned unchanged when the request carried it (LTI-DL 2.0, 4.4.1).
    if settings.get("data") is not None:
        claims[Claim.DL_DATA.value] = settings["data"]
    return claims


def response_jwt(
    *,
    registration: Registration,
    deployment_id: str,
    settings: dict[str, Any],
    items: list[ResourceLinkItem],
) -> str:
    """The signed (RS256, the tool's active key and its ``kid``) Deep Linking response."""
    claims = response_claims(
        registration=registration, deployment_id=deployment_id, settings=settings, items=items
    )
    key = active_key()
    return jwt.encode(
        claims, key.private_key_pem, algorithm="RS256", headers={"kid": key.kid, "typ": "JWT"}
    )
