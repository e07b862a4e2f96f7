"""The record of every data-protection action: each export (Art. 15/20 DSGVO), erasure
(Art. 17) and retention purge, who did it and how many rows it touched — never what they held."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.extensions import db
from lti_tool.models import UTCDateTime, utcnow


class PrivacyAction(StrEnum):
    EXPORT = "export"
    ERASURE = "erasure"
    RETENTION = "retention"


class PrivacyActor(StrEnum):
    """Who asked: the person in their own launch, or the tool's admin on the command line (the
    retention purge, too, is started by an admin's command or their cron job)."""

    SELF = "self"
    CLI = "cli"


class PrivacyAudit(db.Model):  # type: ignore[name-defined]
    """One export, erasure or retention purge. Kept after the person is erased: it proves the
    request was answered (Art. 5 Abs. 2 DSGVO) without holding their ``sub``, name or content."""

    __tablename__ = "privacy_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(20))
    """``export``, ``erasure`` or ``retention``."""
    format: Mapped[str | None] = mapped_column(String(10))
    """What an export produced: ``json``, ``html`` or ``zip``."""
    actor: Mapped[str] = mapped_column(String(10))
    """``self`` (the person's own launch) or ``cli`` (an admin)."""
    actor_ref: Mapped[str | None] = mapped_column(String(100))
    """The person's launch id (``self``) or the operating-system account that ran the command."""
    registration_pk: Mapped[int | None] = mapped_column(
        ForeignKey("registration.id", ondelete="SET NULL")
    )
    """The platform of the person concerned (None for a retention purge)."""
    subject_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    """A keyed hash of (platform, sub): finds the person's entries again when an admin names the
    ``sub``, but is not the ``sub`` (see :func:`courses.services.privacy.subject_ref`)."""
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Rows (and files) per kind of data, e.g. ``{"submission": 2, "file": 1}``."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
