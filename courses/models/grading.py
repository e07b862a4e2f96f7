"""The Lotse's grading decisions on submissions: an append-only history."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext
from sqlalchemy import JSON, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.extensions import db
from lti_tool.models import LtiUser, UTCDateTime, utcnow

from .catalog import UnitVersion


class Decision(StrEnum):
    GRADED = "graded"
    RETURNED = "returned"


DECISION_LABELS = {
    Decision.GRADED: lazy_gettext("bewertet"),
    Decision.RETURNED: lazy_gettext("zur Überarbeitung zurückgegeben"),
}


class GradingDecision(db.Model):  # type: ignore[name-defined]
    """One decision of a Lotse on a submission. Never changed; a new decision adds a row."""

    __tablename__ = "grading_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_pk: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), index=True
    )
    lotse_pk: Mapped[int | None] = mapped_column(ForeignKey("lti_user.id", ondelete="SET NULL"))
    """The Lotse who decided (kept as None if that account is deleted)."""
    unit_version_pk: Mapped[int] = mapped_column(ForeignKey("unit_version.id"))
    """The rubric version the points refer to."""
    decision: Mapped[str] = mapped_column(String(20))
    """``graded`` or ``returned``."""
    points: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    """Points per rubric criterion id."""
    total: Mapped[float | None] = mapped_column(Float)
    """Sum of ``points``, computed on the server; None when no criterion was scored."""
    max_total: Mapped[float] = mapped_column(Float)
    feedback: Mapped[str] = mapped_column(Text, default="")
    revision_notes: Mapped[str] = mapped_column(Text, default="")
    """What to change, for a returned submission."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lotse: Mapped[LtiUser | None] = relationship()
    unit_version: Mapped[UnitVersion] = relationship()

    @property
    def decision_label(self) -> str:
        return str(DECISION_LABELS[Decision(self.decision)])
