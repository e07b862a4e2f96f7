"""Where a placed module's scores go: the line item the platform names for it, asked for once and
kept on the placement. Which line item that is, is the protocol's rule
(:meth:`lti_tool.services.platform.CoursePlatform.line_item_for`)."""

from __future__ import annotations

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
    platform = platform or platform_for(course_module)
    platform.require_scores()
    if course_module.lineitem_url:
        return course_module.lineitem_url
    # Ask for the token first: it commits, which would drop the lock below.
    platform.prepare()
    # Serialise: a no-op write locks the row (PostgreSQL) or the database (SQLite), so two workers
    # never create two columns for one module.
    db.session.execute(
        update(CourseModule)
        .where(CourseModule.id == course_module.id)
        .values(lineitem_url=CourseModule.lineitem_url)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(course_module, ["lineitem_url"])
    if course_module.lineitem_url:
        url = course_module.lineitem_url
        db.session.commit()
        return url
    module = course_module.module
    try:
        url = platform.line_item_for(
            resource_link_pk=course_module.resource_link_pk,
            resource_id=module.slug,
            label=module.title,
            score_maximum=LINE_ITEM_SCORE_MAXIMUM,
        )
    except ServiceError:
        db.session.rollback()
        raise
    course_module.lineitem_url = url
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
    platform = platform or CoursePlatform(setting.context)
    platform.require_scores()
    if setting.lineitem_url:
        return setting.lineitem_url
    platform.prepare()
    db.session.execute(
        update(ProjectCourseSetting)
        .where(ProjectCourseSetting.id == setting.id)
        .values(lineitem_url=ProjectCourseSetting.lineitem_url)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(setting, ["lineitem_url"])
    if setting.lineitem_url:
        url = setting.lineitem_url
        db.session.commit()
        return url
    try:
        url = platform.line_item_for(
            resource_link_pk=None,
            resource_id=PROJECT_RESOURCE_ID,
            label=PROJECT_LINE_ITEM_LABEL,
            score_maximum=LINE_ITEM_SCORE_MAXIMUM,
        )
    except ServiceError:
        db.session.rollback()
        raise
    setting.lineitem_url = url
    db.session.commit()
    return url
