"""The imported catalogue: modules, their units and each unit's versioned content."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.extensions import db
from lti_tool.models import UTCDateTime, utcnow


class ModuleKind(StrEnum):
    BASISWISSEN = "basiswissen"
    BEST_PRACTICE = "best-practice"


class UnitKind(StrEnum):
    READING = "reading"
    QUIZ = "quiz"
    ASSIGNMENT = "assignment"


class CatalogModule(db.Model):  # type: ignore[name-defined]
    """A module of the catalogue as last imported from ``courses/catalog/<slug>/``."""

    __tablename__ = "catalog_module"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    """The module id of the catalogue (its folder name), e.g. ``b1-rechtsrahmen``."""
    kind: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")
    objectives: Mapped[list[str]] = mapped_column(JSON, default=list)
    estimated_minutes: Mapped[int] = mapped_column(Integer, default=0)
    sources: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    content_hash: Mapped[str] = mapped_column(String(64))
    """Hash of module.yaml's metadata; a change bumps ``version``."""
    version: Mapped[int] = mapped_column(Integer, default=1)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Set when the module's folder disappeared; its progress is kept."""

    units: Mapped[list[CatalogUnit]] = relationship(
        back_populates="module", order_by="CatalogUnit.position"
    )

    @property
    def active_units(self) -> list[CatalogUnit]:
        return [u for u in self.units if u.retired_at is None]


class CatalogUnit(db.Model):  # type: ignore[name-defined]
    """A unit of a module. Stable across edits: progress refers to it; content is versioned."""

    __tablename__ = "catalog_unit"
    __table_args__ = (UniqueConstraint("module_pk", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    module_pk: Mapped[int] = mapped_column(ForeignKey("catalog_module.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(300))
    estimated_minutes: Mapped[int] = mapped_column(Integer, default=0)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Set when the unit disappeared from module.yaml: not shown any more, progress kept."""

    module: Mapped[CatalogModule] = relationship(back_populates="units")
    versions: Mapped[list[UnitVersion]] = relationship(
        back_populates="unit", order_by="UnitVersion.version"
    )


class UnitVersion(db.Model):  # type: ignore[name-defined]
    """One imported state of a unit's content. Never changed once written."""

    __tablename__ = "unit_version"
    __table_args__ = (UniqueConstraint("unit_pk", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_pk: Mapped[int] = mapped_column(ForeignKey("catalog_unit.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    body_html: Mapped[str | None] = mapped_column(Text)
    """Readings and assignment briefs: Markdown rendered and sanitised at import."""
    quiz: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """Quizzes: the parsed quiz file, correct answers included — never sent to a browser."""
    rubric: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """Assignments: the parsed rubric (criteria with points)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[CatalogUnit] = relationship(back_populates="versions")
