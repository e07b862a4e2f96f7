"""Praxisprojekte: a Navigator's project in their own Kommune, its milestones, its history, the
Lotse's coaching notes, the consents to share it as a Praxisbeispiel, and the per-course setting
of its gradebook column (the rules live in :mod:`courses.services.projects`)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.extensions import db
from lti_tool.models import LtiContext, UTCDateTime, utcnow

from .catalog import CatalogModule


class ProjectStatus(StrEnum):
    IDEE = "idee"
    GEPLANT = "geplant"
    IN_UMSETZUNG = "in_umsetzung"
    IN_BETRIEB = "in_betrieb"
    PAUSIERT = "pausiert"


class SizeClass(StrEnum):
    """Size of the Kommune in Einwohner, chosen by the Navigator (the Gemeinde list has no
    population figures)."""

    UNTER_5000 = "unter_5000"
    BIS_20000 = "5000_20000"
    BIS_100000 = "20000_100000"
    UEBER_100000 = "ueber_100000"


class MilestoneState(StrEnum):
    OFFEN = "offen"
    ERLEDIGT = "erledigt"


def _values(enum: type[StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in enum)


class Project(db.Model):  # type: ignore[name-defined]
    """A Praxisprojekt of one Kommune, coached in one LMS course. Holds no personal data: its
    people are the rows of :class:`ProjectMember` (pseudonymous user ids)."""

    __tablename__ = "project"
    __table_args__ = (
        CheckConstraint(f"status IN ({_values(ProjectStatus)})", name="status"),
        CheckConstraint(
            f"size_class IS NULL OR size_class IN ({_values(SizeClass)})", name="size_class"
        ),
        CheckConstraint("length(title) > 0", name="title"),
        Index("ix_project_context_title", "context_pk", "title"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    context_pk: Mapped[int] = mapped_column(ForeignKey("lti_context.id", ondelete="CASCADE"))
    """The LMS course where it is coached (the course of its creator's launch)."""
    title: Mapped[str] = mapped_column(String(200))
    goal: Mapped[str] = mapped_column(Text, default="")
    module_pk: Mapped[int | None] = mapped_column(
        ForeignKey("catalog_module.id", ondelete="SET NULL"), index=True
    )
    """The Best-Practice module it follows, or None."""
    services: Mapped[str] = mapped_column(Text, default="")
    """The services concerned, free text (e.g. "Hundesteuer über Amt24")."""
    status: Mapped[str] = mapped_column(String(20), default=ProjectStatus.IDEE.value)
    result: Mapped[str] = mapped_column(Text, default="")
    """A short result, once there is one."""
    lessons: Mapped[str] = mapped_column(Text, default="")
    """Lessons learned."""
    municipality_key: Mapped[str] = mapped_column(String(8), index=True)
    """The AGS of the Kommune, from the creator's municipality at creation; members share it."""
    municipality_name: Mapped[str] = mapped_column(String(200))
    """The Kommune's official name at creation."""
    landkreis: Mapped[str] = mapped_column(String(200), default="")
    """The Landkreis (or kreisfreie Stadt) of the Kommune at creation."""
    size_class: Mapped[str | None] = mapped_column(String(20))
    """:class:`SizeClass` of the Kommune, None while not chosen."""
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    """Invented by ``flask courses demo-projects``; the pages mark it as a demo."""
    source_submission_pk: Mapped[int | None] = mapped_column(
        ForeignKey("submission.id", ondelete="SET NULL")
    )
    """The B6 Projektsteckbrief submission it started from, if any."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    context: Mapped[LtiContext] = relationship()
    module: Mapped[CatalogModule | None] = relationship()
    members: Mapped[list[ProjectMember]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="ProjectMember.joined_at"
    )
    milestones: Mapped[list[ProjectMilestone]] = relationship(
        back_populates="project",
        cascade="all, delete-orphan",
        order_by="(ProjectMilestone.due_on, ProjectMilestone.id)",
    )


class ProjectMember(db.Model):  # type: ignore[name-defined]
    """A Navigator who works on a project (all members share its Kommune)."""

    __tablename__ = "project_member"

    project_pk: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), primary_key=True
    )
    user_pk: Mapped[int] = mapped_column(
        ForeignKey("lti_user.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    project: Mapped[Project] = relationship(back_populates="members")


class ProjectMilestone(db.Model):  # type: ignore[name-defined]
    """A milestone of a project; the Lotse marks it as discussed ("besprochen")."""

    __tablename__ = "project_milestone"
    __table_args__ = (
        CheckConstraint(f"state IN ({_values(MilestoneState)})", name="state"),
        CheckConstraint("discussed_by_pk IS NULL OR discussed_at IS NOT NULL", name="discussed"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_pk: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20), default=MilestoneState.OFFEN.value)
    discussed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When a Lotse marked it as discussed with the Navigator."""
    discussed_by_pk: Mapped[int | None] = mapped_column(
        ForeignKey("lti_user.id", ondelete="SET NULL")
    )
    """The Lotse who marked it (NULL after the Lotse's erasure; ``discussed_at`` stays)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    project: Mapped[Project] = relationship(back_populates="milestones")


class ProjectRevision(db.Model):  # type: ignore[name-defined]
    """One change of a project (or of one of its milestones): who, when, old → new per field."""

    __tablename__ = "project_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_pk: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), index=True
    )
    user_pk: Mapped[int | None] = mapped_column(
        ForeignKey("lti_user.id", ondelete="SET NULL"), index=True
    )
    """Who changed it (NULL once that person is erased)."""
    action: Mapped[str] = mapped_column(String(30))
    """``created``, ``updated``, ``milestone_added``, ``milestone_updated``, ``joined``,
    ``published``, ``withdrawn``."""
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Per field ``{"old": …, "new": …}`` (milestone fields as ``milestone.<id>.<field>``)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProjectNote(db.Model):  # type: ignore[name-defined]
    """A coaching note of the Lotse on a project; its Navigatoren see it."""

    __tablename__ = "project_note"
    __table_args__ = (CheckConstraint("length(text) > 0", name="text"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_pk: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), index=True
    )
    lotse_pk: Mapped[int | None] = mapped_column(
        ForeignKey("lti_user.id", ondelete="SET NULL"), index=True
    )
    """The Lotse who wrote it (NULL after the Lotse's erasure; the note stays for the project)."""
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProjectConsent(db.Model):  # type: ignore[name-defined]
    """A Navigator's consent to publish a project as a Praxisbeispiel. Never overwritten: a
    withdrawal sets ``withdrawn_at``, a new consent is a new row. A project is published while
    one of its consents is not withdrawn and its status is ``in_betrieb``."""

    __tablename__ = "project_consent"
    __table_args__ = (Index("ix_project_consent_active", "project_pk", "withdrawn_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_pk: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    user_pk: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"), index=True)
    """Who consented (their consent goes with them on erasure, so the example disappears)."""
    consent_version: Mapped[str] = mapped_column(String(20))
    """Version of the consent text the Navigator agreed to."""
    show_name: Mapped[bool] = mapped_column(Boolean, default=False)
    """Whether the example shows the Navigator's name (as the platform shared it)."""
    contact_email: Mapped[str | None] = mapped_column(String(255))
    """A contact e-mail the Navigator chose to show, or None."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProjectCourseSetting(db.Model):  # type: ignore[name-defined]
    """Per LMS course: whether projects count as their own gradebook column, and that column."""

    __tablename__ = "project_course_setting"

    id: Mapped[int] = mapped_column(primary_key=True)
    context_pk: Mapped[int] = mapped_column(
        ForeignKey("lti_context.id", ondelete="CASCADE"), unique=True
    )
    gradebook_column: Mapped[bool] = mapped_column(Boolean, default=False)
    """When True, each member's project state is sent as a score (Completed when in Betrieb)."""
    lineitem_url: Mapped[str | None] = mapped_column(String(1024))
    """The AGS line item of the projects' column, asked for on first delivery and kept."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    context: Mapped[LtiContext] = relationship()
