"""Who is in an LMS course and who is a Lotse there: memberships, the roster refresh state,
Lotse grants per person and the deployments trusted with the Lotse custom parameter."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.extensions import db
from lti_tool.models import UTCDateTime, utcnow


class MembershipSource(StrEnum):
    NRPS = "nrps"
    LAUNCH = "launch"


class MembershipStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class CourseMembership(db.Model):  # type: ignore[name-defined]
    """A person in an LMS course as the tool knows them: from NRPS or from their launches."""

    __tablename__ = "course_membership"
    __table_args__ = (UniqueConstraint("context_pk", "user_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_pk: Mapped[int] = mapped_column(
        ForeignKey("lti_context.id", ondelete="CASCADE"), index=True
    )
    user_pk: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    """``lotse`` or ``navigator`` (grants applied)."""
    source: Mapped[str] = mapped_column(String(10))
    """``nrps`` once the platform listed them, else ``launch``."""
    status: Mapped[str] = mapped_column(String(10), default=MembershipStatus.ACTIVE.value)
    """``inactive`` when NRPS says so or no longer lists them."""
    lti_roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The LIS roles the platform reported last (NRPS or launch)."""
    first_launch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_launch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """None: listed by NRPS but never launched ("noch nicht gestartet")."""
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When NRPS last listed them."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RosterSync(db.Model):  # type: ignore[name-defined]
    """The state of a course's roster refresh."""

    __tablename__ = "roster_sync"

    context_pk: Mapped[int] = mapped_column(
        ForeignKey("lti_context.id", ondelete="CASCADE"), primary_key=True
    )
    last_launch_id: Mapped[str | None] = mapped_column(String(32))
    """The Lotse launch that asked for a refresh last: each launch asks once."""
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """A refresh is asked for and not done yet: the worker reads NRPS, no page waits for it."""
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """The last successful NRPS read."""
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(String(500))
    """Technical reason of the last failure (status and platform text, never personal data)."""
    error_status: Mapped[int | None] = mapped_column()
    """HTTP status of the last failure (None: no answer)."""

    @property
    def failing(self) -> bool:
        """The last attempt failed (no success since)."""
        return self.failed_at is not None and (
            self.synced_at is None or self.failed_at > self.synced_at
        )


class LotseGrant(db.Model):  # type: ignore[name-defined]
    """A person (registration, sub) who is a Lotse whatever roles the platform sends."""

    __tablename__ = "lotse_grant"
    __table_args__ = (UniqueConstraint("registration_pk", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_pk: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(String(255))
    """What the admin wants to remember (no names needed: the sub is enough)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LotseRoleDeployment(db.Model):  # type: ignore[name-defined]
    """A deployment on which the custom parameter ``lotsen_rolle=lotse`` makes a Lotse."""

    __tablename__ = "lotse_role_deployment"

    deployment_pk: Mapped[int] = mapped_column(
        ForeignKey("deployment.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
