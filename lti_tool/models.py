"""The protocol's tables: tool keys, platform registrations, deployments, users, contexts,
resource links, launches and service tokens. Spec invariants are database constraints.

Naming: a foreign key ends in ``_pk``; ``…_id`` is always an identifier the platform gives
(``client_id``, ``deployment_id``, ``context_id``, ``resource_link_id``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import DateTime, TypeDecorator

from .extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class ToolKey(db.Model):  # type: ignore[name-defined]
    """An RSA key pair of this tool; the newest unretired key signs, all unretired ones are in
    the JWKS so platforms can verify during a rotation."""

    __tablename__ = "tool_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(100), unique=True)
    """jwcrypto's thumbprint of the key: pylti1p3 signs client assertions with exactly that kid."""
    private_key_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retire_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """After this moment the key is neither used nor published. None while it is current."""


class Registration(db.Model):  # type: ignore[name-defined]
    """One platform registration: an issuer and one of its client ids."""

    __tablename__ = "registration"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    """A label for admins, e.g. "Moodle HSF"."""
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    auth_login_url: Mapped[str] = mapped_column(String(1024))
    """The platform's OIDC authentication endpoint (Moodle: /mod/lti/auth.php)."""
    auth_token_url: Mapped[str] = mapped_column(String(1024))
    key_set_url: Mapped[str] = mapped_column(String(1024))
    audience: Mapped[str | None] = mapped_column(String(1024))
    """The ``aud`` of client assertions, when the platform wants other than the token URL."""
    product_family: Mapped[str | None] = mapped_column(String(100))
    """"moodle", "ilias" or another; decides LMS quirks, never security."""
    key_set: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The platform's JWKS as last fetched, shared by every worker."""
    key_set_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    key_set_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the stored key set goes stale by the platform's cache headers (None: never)."""
    key_set_misses: Mapped[dict[str, float] | None] = mapped_column(JSON)
    """Kids still unknown after a fetch, with the fetch's time (Unix seconds): not looked up
    again within JWKS_REFETCH_INTERVAL."""
    line_item_create_refused: Mapped[int | None] = mapped_column()
    """The HTTP status with which the platform refused to create a line item (ILIAS: 405,
    Moodle "grade sync only": 401); None while it creates them or was never asked."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    deployments: Mapped[list[Deployment]] = relationship(
        back_populates="registration", cascade="all, delete-orphan", order_by="Deployment.id"
    )


class Deployment(db.Model):  # type: ignore[name-defined]
    """A deployment of this tool on a platform (Moodle: the tool type id)."""

    __tablename__ = "deployment"
    __table_args__ = (UniqueConstraint("registration_pk", "deployment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_pk: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(255))

    registration: Mapped[Registration] = relationship(back_populates="deployments")


class LtiStorageEntry(db.Model):  # type: ignore[name-defined]
    """pylti1p3's launch data storage (OIDC nonces, state parameters) in the database, so that a
    login served by one worker and the launch served by another see the same values."""

    __tablename__ = "lti_storage_entry"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class LtiUser(db.Model):  # type: ignore[name-defined]
    """A person as a platform knows them: identified by (registration, sub) alone; name and
    e-mail only when the platform shares them."""

    __tablename__ = "lti_user"
    __table_args__ = (UniqueConstraint("registration_pk", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_pk: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    given_name: Mapped[str | None] = mapped_column(String(255))
    family_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_launch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    registration: Mapped[Registration] = relationship()

    @property
    def display_name(self) -> str | None:
        """The best name the platform shared, or None."""
        if self.name:
            return self.name
        parts = [p for p in (self.given_name, self.family_name) if p]
        return " ".join(parts) or None


class LtiContext(db.Model):  # type: ignore[name-defined]
    """An LMS course. Context ids are unique per platform registration only."""

    __tablename__ = "lti_context"
    __table_args__ = (UniqueConstraint("registration_pk", "context_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_pk: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    deployment_pk: Mapped[int | None] = mapped_column(
        ForeignKey("deployment.id", ondelete="SET NULL")
    )
    context_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(255))
    label: Mapped[str | None] = mapped_column(String(255))
    nrps_url: Mapped[str | None] = mapped_column(String(1024))
    """context_memberships_url of the newest launch that carried NRPS."""
    ags_lineitems_url: Mapped[str | None] = mapped_column(String(1024))
    ags_scopes: Mapped[list[str] | None] = mapped_column(JSON)
    """AGS scopes the platform granted in the newest launch."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    registration: Mapped[Registration] = relationship()


class LtiResourceLink(db.Model):  # type: ignore[name-defined]
    """A placement of this tool in an LMS course."""

    __tablename__ = "lti_resource_link"
    __table_args__ = (UniqueConstraint("registration_pk", "resource_link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_pk: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    context_pk: Mapped[int | None] = mapped_column(
        ForeignKey("lti_context.id", ondelete="CASCADE"), index=True
    )
    resource_link_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(255))
    custom: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """Custom parameters of the newest launch (e.g. the module id placed by Deep Linking)."""
    lineitem_url: Mapped[str | None] = mapped_column(String(1024))
    """The resource link's own line item (AGS claim ``lineitem``), if the platform made one."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    context: Mapped[LtiContext | None] = relationship()


def new_launch_id() -> str:
    """A launch's key: 128 random bits (the launch token names it)."""
    return uuid.uuid4().hex


class Launch(db.Model):  # type: ignore[name-defined]
    """One validated LTI launch: who, where, in which role. Later requests of the same launch
    present a signed token naming this row, so no third-party cookie is needed."""

    __tablename__ = "launch"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_launch_id)
    registration_pk: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    deployment_pk: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"))
    user_pk: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"), index=True)
    context_pk: Mapped[int | None] = mapped_column(ForeignKey("lti_context.id", ondelete="CASCADE"))
    resource_link_pk: Mapped[int | None] = mapped_column(
        ForeignKey("lti_resource_link.id", ondelete="CASCADE")
    )
    message_type: Mapped[str] = mapped_column(String(64))
    lti_roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    deep_linking_settings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ags: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    return_url: Mapped[str | None] = mapped_column(String(1024))
    locale: Mapped[str | None] = mapped_column(String(35))
    """The user's language as the platform sent it (``launch_presentation.locale``, BCP 47)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    registration: Mapped[Registration] = relationship()
    deployment: Mapped[Deployment] = relationship()
    user: Mapped[LtiUser] = relationship()
    context: Mapped[LtiContext | None] = relationship()
    resource_link: Mapped[LtiResourceLink | None] = relationship()


class AccessToken(db.Model):  # type: ignore[name-defined]
    """An OAuth2 access token of a platform's services, shared by every process until shortly
    before it expires: one token request per (registration, scope set) and lifetime."""

    __tablename__ = "access_token"
    __table_args__ = (UniqueConstraint("registration_pk", "scopes"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_pk: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    scopes: Mapped[str] = mapped_column(String(1024))
    """The requested scopes, sorted and space-separated."""
    token: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    requested_count: Mapped[int] = mapped_column(default=0)
    """How many token requests were made for this row (for the benchmark and admins)."""
