"""Catalogue modules placed in an LMS course, and the Navigatoren a limited placement is for."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.extensions import db
from lti_tool.models import LtiContext, LtiResourceLink, UTCDateTime, utcnow

from .catalog import CatalogModule


class CourseModule(db.Model):  # type: ignore[name-defined]
    """A catalogue module placed in an LMS course (by Deep Linking, a resource link's custom
    parameter, or the demo default). Assigned to every Navigator of the course unless limited."""

    __tablename__ = "course_module"
    __table_args__ = (UniqueConstraint("context_pk", "module_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_pk: Mapped[int] = mapped_column(ForeignKey("lti_context.id", ondelete="CASCADE"))
    module_pk: Mapped[int] = mapped_column(ForeignKey("catalog_module.id", ondelete="CASCADE"))
    resource_link_pk: Mapped[int | None] = mapped_column(
        ForeignKey("lti_resource_link.id", ondelete="SET NULL")
    )
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    limited_to_members: Mapped[bool] = mapped_column(default=False)
    """When True, only the Navigatoren in ``course_module_member`` have it assigned."""
    lineitem_url: Mapped[str | None] = mapped_column(String(1024))
    """The AGS line item this module's scores go to (see the gradebook sync)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    context: Mapped[LtiContext] = relationship()
    module: Mapped[CatalogModule] = relationship()
    resource_link: Mapped[LtiResourceLink | None] = relationship()


class CourseModuleMember(db.Model):  # type: ignore[name-defined]
    """A Navigator a limited :class:`CourseModule` is assigned to."""

    __tablename__ = "course_module_member"

    course_module_pk: Mapped[int] = mapped_column(
        ForeignKey("course_module.id", ondelete="CASCADE"), primary_key=True
    )
    user_pk: Mapped[int] = mapped_column(
        ForeignKey("lti_user.id", ondelete="CASCADE"), primary_key=True
    )
