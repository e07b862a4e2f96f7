"""Where a placed module's scores go: the line item the platform names for it, asked for once and
kept on the placement. Which line item that is, is the protocol's rule
(:meth:`lti_tool.services.platform.CoursePlatform.line_item_for`)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import update

from courses.models import CourseModule, ProjectCourseSetting
from lti_tool.extensions import db
from lti_tool.services.platform import LINEITEM_TAG, CoursePlatform, ServiceError

#: The ``tag`` of line items this tool creates (itself or by Deep Linking).
LINE_ITEM_TAG = LINEITEM_TAG
#: ``scoreMaximum`` of line items this tool creates.
LINE_ITEM_SCORE_MAXIMUM = 100
#: The ``resourceId`` of a course's Praxisprojekt column. A module's is its catalogue slug, a
#: folder name of letters, digits and hyphens, so one with a colon never names a module's column.
PROJECT_RESOURCE_ID = "lotsen-lti:praxisprojekt"
#: The label of the Praxisprojekt column in the LMS gradebook.
PROJECT_LINE_ITEM_LABEL = "Praxisprojekt"


def platform_for(course_module: CourseModule) -> CoursePlatform:
    """The platform services of a placed module's LMS course."""
    return CoursePlatform(course_module.context)


def ensure_line_item(course_module: CourseModule, platform: CoursePlatform | None = None) -> str:
    """The line item URL this module's scores go to; asked for on first use and kept. Commits.
    Raises :class:`ServiceError` when the platform has none for it."""
    return _ensure_column(
        course_module,
        platform or platform_for(course_module),
        resource_link_pk=course_module.resource_link_pk,
        column=lambda: (course_module.module.slug, course_module.module.title),
    )


def _ensure_column(
    row: CourseModule | ProjectCourseSetting,
    platform: CoursePlatform,
    *,
    resource_link_pk: int | None,
    column: Callable[[], tuple[str, str]],
) -> str:
    """The line item URL kept on ``row`` (a placement or a course's project column), asked for
    on first use under a row lock and kept. Commits. ``column`` gives the ``resourceId`` and the
    label, read only when the platform is asked."""
    platform.require_scores()
    if row.lineitem_url:
        return row.lineitem_url
    # Ask for the token first: it commits, which would drop the lock below.
    platform.prepare()
    # Serialise: a no-op write locks the row (PostgreSQL) or the database (SQLite), so two workers
    # never create two columns for one placement.
    model = type(row)
    db.session.execute(
        update(model)
        .where(model.id == row.id)
        .values(lineitem_url=model.lineitem_url)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(row, ["lineitem_url"])
    if row.lineitem_url:
        url = row.lineitem_url
        db.session.commit()
        return url
    resource_id, label = column()
    try:
        url = platform.line_item_for(
            resource_link_pk=resource_link_pk,
            resource_id=resource_id,
            label=label,
            score_maximum=LINE_ITEM_SCORE_MAXIMUM,
        )
    except ServiceError:
        db.session.rollback()
        raise
    row.lineitem_url = url
    db.session.commit()
    return url


def update_line_item(
    course_module: CourseModule, *, label: str | None = None, score_maximum: float | None = None
) -> None:
    """Rename a module's column or change its maximum on the platform."""
    if course_module.lineitem_url:
        platform_for(course_module).update_line_item(
            course_module.lineitem_url, label=label, score_maximum=score_maximum
        )


def delete_line_item(course_module: CourseModule) -> None:
    """Delete a module's column on the platform and forget it. Flushes."""
    if not course_module.lineitem_url:
        return
    platform_for(course_module).delete_line_item(course_module.lineitem_url)
    course_module.lineitem_url = None
    db.session.flush()


def ensure_project_line_item(
    setting: ProjectCourseSetting, platform: CoursePlatform | None = None
) -> str:
    """The line item URL of a course's Praxisprojekt column; asked for on first use and kept
    (as :func:`ensure_line_item`, with its own ``resourceId`` and no resource link of its own).
    Commits. Raises :class:`ServiceError` when the platform has none for it."""
    return _ensure_column(
        setting,
        platform or CoursePlatform(setting.context),
        resource_link_pk=None,
        column=lambda: (PROJECT_RESOURCE_ID, PROJECT_LINE_ITEM_LABEL),
    )
