"""The typed, immutable launch the protocol hands to the domain: who launched, from where, in which
LTI roles, with which custom parameters and which platform services. Views never dig in claims."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from .models import Launch
from .urls import origin
from .vocab import MessageType, Scope, role_local_name


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _origins(*urls: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(o for o in map(origin, urls) if o))


def _flag(value: Any, default: bool = True) -> bool:
    # Some platforms send the booleans of the settings claim as strings ("true"/"false").
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


@dataclass(frozen=True, slots=True)
class Person:
    """The launching user. ``id`` is the tool's key of the user; ``sub`` the platform's
    (pseudonymous) id. Names and e-mail only when the platform shares them."""

    id: int
    sub: str
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None

    @property
    def display_name(self) -> str | None:
        """The best name the platform shared, or None."""
        if self.name:
            return self.name
        return " ".join(p for p in (self.given_name, self.family_name) if p) or None


@dataclass(frozen=True, slots=True)
class Course:
    """The LMS course (LTI context). ``id`` is the tool's key; ``context_id`` the platform's."""

    id: int
    context_id: str
    title: str | None = None
    label: str | None = None


@dataclass(frozen=True, slots=True)
class ResourceLink:
    """The placement that was launched, with the line item the platform made for it (if any)."""

    id: int
    resource_link_id: str
    title: str | None = None
    lineitem_url: str | None = None


@dataclass(frozen=True, slots=True)
class DeepLinkingRequest:
    """What a Deep Linking request allows the response to carry (LTI-DL 2.0 §4.4.1)."""

    return_url: str
    accept_types: tuple[str, ...] = ()
    accept_multiple: bool = True
    accept_lineitem: bool = True
    data: str | None = None
    title: str | None = None

    @classmethod
    def from_claim(cls, settings: Mapping[str, Any] | None) -> DeepLinkingRequest | None:
        if not settings or not _string(settings.get("deep_link_return_url")):
            return None
        return cls(
            return_url=settings["deep_link_return_url"],
            accept_types=_strings(settings.get("accept_types")),
            # Both default to true when absent (LTI-DL 2.0 §4.4.1).
            accept_multiple=_flag(settings.get("accept_multiple")),
            accept_lineitem=_flag(settings.get("accept_lineitem")),
            data=_string(settings.get("data")),
            title=_string(settings.get("title")),
        )

    def accepts(self, content_type: str) -> bool:
        """Whether the platform takes content items of ``content_type``."""
        return not self.accept_types or content_type in self.accept_types


@dataclass(frozen=True, slots=True)
class Services:
    """The Advantage services the platform offered in this launch."""

    ags_scopes: frozenset[str] = frozenset()
    lineitems_url: str | None = None
    nrps_url: str | None = None

    @property
    def can_send_scores(self) -> bool:
        return Scope.AGS_SCORE in self.ags_scopes

    @property
    def has_roster(self) -> bool:
        return self.nrps_url is not None


@dataclass(frozen=True, slots=True)
class LaunchContext:
    """One validated launch, as every later request of it sees it."""

    id: str
    """The launch's key; the launch token names it."""
    registration_pk: int
    deployment_pk: int
    message_type: MessageType
    user: Person
    roles: tuple[str, ...]
    """LTI role URIs as the platform sent them (possibly none)."""
    course: Course | None
    resource_link: ResourceLink | None
    custom: Mapping[str, Any] = field(default_factory=lambda: _frozen(None))
    deep_linking: DeepLinkingRequest | None = None
    services: Services = Services()
    return_url: str | None = None
    locale: str | None = None
    """The user's language as the platform sent it (BCP 47), e.g. ``en-GB``."""
    platform_name: str = ""
    product_family: str | None = None
    platform_origins: tuple[str, ...] = ()
    """The platform's web origins (issuer, OIDC endpoint): who may embed this launch's pages."""
    expires_at: datetime | None = None

    @property
    def user_pk(self) -> int:
        return self.user.id

    @property
    def context_pk(self) -> int | None:
        return self.course.id if self.course else None

    @property
    def resource_link_pk(self) -> int | None:
        return self.resource_link.id if self.resource_link else None

    @property
    def is_deep_linking(self) -> bool:
        return self.message_type == MessageType.DEEP_LINKING

    def has_role(self, *local_names: str) -> bool:
        """Whether any role's local name (``…#Instructor`` → ``Instructor``) is one of these."""
        return any(role_local_name(role) in local_names for role in self.roles)

    @classmethod
    def from_row(cls, launch: Launch) -> LaunchContext:
        """The immutable view of a stored launch (its relationships loaded)."""
        user, context, link = launch.user, launch.context, launch.resource_link
        ags = launch.ags or {}
        return cls(
            id=launch.id,
            registration_pk=launch.registration_pk,
            deployment_pk=launch.deployment_pk,
            message_type=MessageType(launch.message_type),
            user=Person(
                id=user.id,
                sub=user.sub,
                name=user.name,
                given_name=user.given_name,
                family_name=user.family_name,
                email=user.email,
            ),
            roles=tuple(launch.lti_roles or ()),
            course=Course(context.id, context.context_id, context.title, context.label)
            if context is not None
            else None,
            resource_link=ResourceLink(
                link.id, link.resource_link_id, link.title, link.lineitem_url
            )
            if link is not None
            else None,
            custom=_frozen(launch.custom),
            deep_linking=DeepLinkingRequest.from_claim(launch.deep_linking_settings),
            services=Services(
                ags_scopes=frozenset(_strings(ags.get("scope"))),
                lineitems_url=_string(ags.get("lineitems")),
                nrps_url=context.nrps_url if context is not None else None,
            ),
            return_url=launch.return_url,
            locale=launch.locale,
            platform_name=launch.registration.name,
            platform_origins=_origins(
                launch.registration.issuer, launch.registration.auth_login_url
            ),
            product_family=launch.registration.product_family,
            expires_at=launch.expires_at,
        )
