"""Submissions of practical assignments and the rows of their uploaded files."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.extensions import db
from lti_tool.models import LtiUser, UTCDateTime, utcnow

from .catalog import CatalogUnit, UnitVersion


class SubmissionState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    GRADED = "graded"
    RETURNED = "returned"


EDITABLE_STATES = frozenset({SubmissionState.DRAFT, SubmissionState.RETURNED})


class Submission(db.Model):  # type: ignore[name-defined]
    """A Navigator's answer to a practical assignment within one LMS course."""

    __tablename__ = "submission"
    __table_args__ = (UniqueConstraint("user_pk", "context_pk", "unit_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    context_pk: Mapped[int] = mapped_column(
        ForeignKey("lti_context.id", ondelete="CASCADE"), index=True
    )
    unit_pk: Mapped[int] = mapped_column(ForeignKey("catalog_unit.id", ondelete="CASCADE"))
    unit_version_pk: Mapped[int] = mapped_column(ForeignKey("unit_version.id"))
    """The brief the Navigator answered (the version current at the last save)."""
    text: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(20), default=SubmissionState.DRAFT.value)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When it was last submitted."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    user: Mapped[LtiUser] = relationship()
    unit: Mapped[CatalogUnit] = relationship()
    unit_version: Mapped[UnitVersion] = relationship()
    files: Mapped[list[SubmissionFile]] = relationship(
        back_populates="submission",
        cascade="all, delete-orphan",
        order_by="SubmissionFile.id",
    )

    @property
    def editable(self) -> bool:
        """Drafts and returned submissions can be changed; submitted and graded ones cannot."""
        return self.state in EDITABLE_STATES


class SubmissionFile(db.Model):  # type: ignore[name-defined]
    """A file uploaded with a submission. The bytes live under UPLOAD_FOLDER, never in the DB."""

    __tablename__ = "submission_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_pk: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), index=True
    )
    original_name: Mapped[str] = mapped_column(String(255))
    """The uploader's file name, sanitised; used only as the download name."""
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    """Random token: the file's name on disk."""
    content_type: Mapped[str] = mapped_column(String(255))
    """The type found in the content (never the browser's claim)."""
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    submission: Mapped[Submission] = relationship(back_populates="files")
