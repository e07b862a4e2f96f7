"""The municipality each Navigator works for, and who assigned it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.extensions import db
from lti_tool.models import UTCDateTime, utcnow


class MunicipalitySource(StrEnum):
    LOTSE = "lotse"
    LMS = "lms"
    NAVIGATOR = "navigator"


class NavigatorMunicipality(db.Model):  # type: ignore[name-defined]
    """The municipality a Navigator works for (one per person and platform account)."""

    __tablename__ = "navigator_municipality"

    user_pk: Mapped[int] = mapped_column(
        ForeignKey("lti_user.id", ondelete="CASCADE"), primary_key=True
    )
    municipality_key: Mapped[str] = mapped_column(String(8), index=True)
    """The Amtlicher Gemeindeschlüssel (AGS), eight digits."""
    name: Mapped[str] = mapped_column(String(200))
    """Official name when assigned, so a later list without the Gemeinde still shows it."""
    source: Mapped[str] = mapped_column(String(12))
    """Who assigned it: ``lotse``, ``lms`` or ``navigator``."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_pk: Mapped[int | None] = mapped_column(
        ForeignKey("lti_user.id", ondelete="SET NULL")
    )
    """The Lotse who corrected it, if a Lotse did."""
