"""Stored quiz attempts, each scored by the server against the quiz version it answered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.extensions import db
from lti_tool.models import UTCDateTime, utcnow


class QuizAttempt(db.Model):  # type: ignore[name-defined]
    """One submitted attempt of a Navigator at a quiz, scored by the server."""

    __tablename__ = "quiz_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"), index=True)
    context_pk: Mapped[int] = mapped_column(ForeignKey("lti_context.id", ondelete="CASCADE"))
    unit_pk: Mapped[int] = mapped_column(ForeignKey("catalog_unit.id", ondelete="CASCADE"))
    unit_version_pk: Mapped[int] = mapped_column(ForeignKey("unit_version.id"))
    """The quiz version answered; versions never change, so the attempt can be re-scored."""
    answers: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    """Chosen option ids per question id, exactly as checked against the quiz."""
    correct_count: Mapped[int] = mapped_column(Integer)
    question_count: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(default=False)
    """Whether this attempt reached the quiz's pass_percent."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def percent(self) -> float:
        """Score in percent (0–100)."""
        return 100.0 * self.correct_count / self.question_count if self.question_count else 0.0
