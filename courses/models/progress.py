"""A Navigator's state in each unit of a course: the rows progress is computed from."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.extensions import db
from lti_tool.models import LtiUser, UTCDateTime, utcnow

from .catalog import CatalogUnit, UnitVersion


class UnitState(StrEnum):
    """Where a Navigator stands in a unit."""

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    SUBMITTED = "submitted"
    GRADED = "graded"
    RETURNED = "returned"


class UnitProgress(db.Model):  # type: ignore[name-defined]
    """A Navigator's state in one unit within one LMS course. No row means not started."""

    __tablename__ = "unit_progress"
    __table_args__ = (UniqueConstraint("user_pk", "context_pk", "unit_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"), index=True)
    context_pk: Mapped[int] = mapped_column(
        ForeignKey("lti_context.id", ondelete="CASCADE"), index=True
    )
    unit_pk: Mapped[int] = mapped_column(ForeignKey("catalog_unit.id", ondelete="CASCADE"))
    unit_version_pk: Mapped[int] = mapped_column(ForeignKey("unit_version.id"))
    """The content version the Navigator last worked on."""
    state: Mapped[str] = mapped_column(String(20), default=UnitState.IN_PROGRESS.value)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[LtiUser] = relationship()
    unit: Mapped[CatalogUnit] = relationship()
    unit_version: Mapped[UnitVersion] = relationship()
