"""The gradebook outbox: the newest score state of each Navigator in each placed module, and
whether the LMS has it (how rows are written and delivered: :mod:`courses.gradebook`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.extensions import db
from lti_tool.models import LtiUser, UTCDateTime, utcnow

from .course import CourseModule
from .project import ProjectCourseSetting


class OutboxState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class GradebookOutbox(db.Model):  # type: ignore[name-defined]
    """The newest score state of one Navigator in one gradebook column, and whether the LMS has
    it. The column is a placed module, or the Praxisprojekt column of a course."""

    __tablename__ = "gradebook_outbox"
    __table_args__ = (
        UniqueConstraint("course_module_pk", "user_pk"),
        UniqueConstraint("project_column_pk", "user_pk"),
        CheckConstraint(
            "(course_module_pk IS NULL) <> (project_column_pk IS NULL)", name="one_column"
        ),
        Index("ix_gradebook_outbox_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_module_pk: Mapped[int | None] = mapped_column(
        ForeignKey("course_module.id", ondelete="CASCADE")
    )
    """The placed module (indexed by the unique constraint, whose first column it is); None for
    the Praxisprojekt column."""
    project_column_pk: Mapped[int | None] = mapped_column(
        ForeignKey("project_course_setting.id", ondelete="CASCADE")
    )
    """The course's Praxisprojekt column (:class:`ProjectCourseSetting`), else None."""
    user_pk: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    """Bumped by every new state; marking delivered checks it, so a newer state is sent again."""
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The AGS score exactly as it is POSTed (userId = the Navigator's ``sub``)."""
    state_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """When the state was reached: the score's ``timestamp``, whole seconds, increasing per row."""
    state: Mapped[str] = mapped_column(String(20), default=OutboxState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Delivery attempts of the current version (a claim counts as one)."""
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    """The platform's message of the last failure, without personal data."""
    last_status: Mapped[int | None] = mapped_column(Integer)
    """HTTP status of the last failure (None: no answer, e.g. a timeout)."""
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    """The worker sending this row right now."""
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """End of the worker's lease; after it the row can be claimed again (the worker died)."""
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    course_module: Mapped[CourseModule | None] = relationship()
    project_column: Mapped[ProjectCourseSetting | None] = relationship()
    user: Mapped[LtiUser] = relationship()
