"""What the demo sends to the tool: the login initiation, the opaque ``lti_message_hint`` and
the claims of the id_token for resource link and Deep Linking launches."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from lti_tool.vocab import LTI_VERSION, Claim, MessageType, Scope

from .content import ResourceLink
from .course import COURSE, PLATFORM_NAME, PRODUCT_FAMILY, Person
from .tool_clients import ToolClient

ID_TOKEN_LIFETIME = 300
MUNICIPALITY_PARAM = "gemeinde"
#: AGS scopes of every launch: "grade sync and column management" in Moodle's words.
AGS_SCOPES = [Scope.AGS_LINEITEM, Scope.AGS_RESULT_READONLY, Scope.AGS_SCORE]


@dataclass(frozen=True)
class MessageHint:
    """What a launch button asks for: who launches, and which link (None: Deep Linking)."""

    sub: str
    link_id: str | None

    @property
    def is_deep_linking(self) -> bool:
        return self.link_id is None


def _serializer(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=salt)


def encode_hint(hint: MessageHint) -> str:
    """Signed, so the hint that comes back through the tool cannot be changed on the way."""
    return _serializer("demo-lms-message-hint").dumps({"u": hint.sub, "l": hint.link_id})


def decode_hint(value: str) -> MessageHint | None:
    """The hint inside ``value``, or None if it is not one the demo made."""
    try:
        data = _serializer("demo-lms-message-hint").loads(value)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), str):
        return None
    link_id = data.get("l")
    return MessageHint(sub=data["u"], link_id=link_id if isinstance(link_id, str) else None)


def encode_deep_linking_data(sub: str) -> str:
    """The opaque ``data`` of a Deep Linking request; the response must echo it."""
    return _serializer("demo-lms-deep-linking").dumps({"u": sub, "n": uuid.uuid4().hex})


def decode_deep_linking_data(value: object) -> str | None:
    """The sub that requested the content selection, or None if ``value`` is not ours."""
    if not isinstance(value, str):
        return None
    try:
        data = _serializer("demo-lms-deep-linking").loads(value)
    except BadSignature:
        return None
    return data.get("u") if isinstance(data, dict) and isinstance(data.get("u"), str) else None


def login_initiation_url(client: ToolClient, platform_issuer: str, hint: MessageHint) -> str:
    """Where a launch button sends the browser (LTI 1.3 core §5.1.1, third-party initiated)."""
    params = {
        "iss": platform_issuer,
        "login_hint": hint.sub,
        "target_link_uri": client.endpoints.launch_url,
        "lti_message_hint": encode_hint(hint),
        "client_id": client.client_id,
        "lti_deployment_id": client.deployment_id,
    }
    return f"{client.endpoints.login_url}?{urlencode(params)}"


@dataclass(frozen=True)
class LaunchContext:
    """Everything an id_token is built from, besides the person."""

    platform_issuer: str
    client: ToolClient
    """The tool registration the id_token is for (aud, deployment, target link)."""
    nonce: str
    course_page_url: str
    link: ResourceLink | None = None
    """The launched link; None for a Deep Linking request."""
    lineitem_url: str | None = None
    """The link's own gradebook column, if it has one."""


def _personal_claims(person: Person) -> dict[str, Any]:
    if not person.shares_personal_data:
        return {}
    return {
        "name": person.name,
        "given_name": person.given_name,
        "family_name": person.family_name,
        "email": person.email,
    }


def id_token_claims(person: Person, launch: LaunchContext) -> dict[str, Any]:
    """The claims of the id_token (LTI 1.3 core §5.3, AGS §3.1, NRPS §3.6.1, DL §4.4)."""
    now = int(time.time())
    ags: dict[str, Any] = {
        "scope": [scope.value for scope in AGS_SCOPES],
        "lineitems": f"{launch.platform_issuer}/ags/lineitems?type_id=1",
    }
    custom = {MUNICIPALITY_PARAM: person.municipality}
    claims: dict[str, Any] = {
        "iss": launch.platform_issuer,
        "aud": launch.client.client_id,
        "azp": launch.client.client_id,
        "sub": person.sub,
        "iat": now,
        "exp": now + ID_TOKEN_LIFETIME,
        "nonce": launch.nonce,
        **_personal_claims(person),
        Claim.VERSION.value: LTI_VERSION,
        Claim.DEPLOYMENT_ID.value: launch.client.deployment_id,
        Claim.ROLES.value: [person.role.value],
        Claim.CONTEXT.value: {
            "id": COURSE.id,
            "label": COURSE.label,
            "title": COURSE.title,
            "type": [COURSE.type],
        },
        Claim.TOOL_PLATFORM.value: {
            "guid": launch.platform_issuer,
            "name": PLATFORM_NAME,
            "product_family_code": PRODUCT_FAMILY,
            "version": "1.0",
        },
        Claim.LAUNCH_PRESENTATION.value: {
            "document_target": "window",
            "return_url": launch.course_page_url,
            "locale": "de-DE",
        },
        Claim.NRPS.value: {
            "context_memberships_url": f"{launch.platform_issuer}/nrps/{COURSE.id}/memberships",
            "service_versions": ["2.0"],
        },
    }
    if launch.link is None:
        claims[Claim.MESSAGE_TYPE.value] = MessageType.DEEP_LINKING.value
        claims[Claim.TARGET_LINK_URI.value] = launch.client.endpoints.launch_url
        claims[Claim.DEEP_LINKING_SETTINGS.value] = {
            "deep_link_return_url": f"{launch.platform_issuer}/deep-linking/return",
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"],
            "accept_multiple": True,
            "accept_lineitem": True,
            "auto_create": True,
            "title": "Inhalte für " + COURSE.title,
            "data": encode_deep_linking_data(person.sub),
        }
    else:
        claims[Claim.MESSAGE_TYPE.value] = MessageType.RESOURCE_LINK.value
        # Moodle sends the content item's URL as target_link_uri; the redirect URI stays fixed.
        claims[Claim.TARGET_LINK_URI.value] = launch.link.url or launch.client.endpoints.launch_url
        claims[Claim.RESOURCE_LINK.value] = {
            "id": launch.link.id,
            "title": launch.link.title,
            **({"description": launch.link.text} if launch.link.text else {}),
        }
        # Link parameters first: the municipality belongs to the person and must win.
        custom = {**launch.link.custom, **custom}
        if launch.lineitem_url:
            ags["lineitem"] = launch.lineitem_url
    claims[Claim.CUSTOM.value] = custom
    claims[Claim.AGS_ENDPOINT.value] = ags
    return claims
