"""Where a placed module's scores go on the platform: its AGS line item, found or created once,
and the AGS client of its LMS course."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import update

from courses.models import CourseModule
from lti_tool.ags import AgsClient
from lti_tool.extensions import db
from lti_tool.services import ServiceError, access_token
from lti_tool.vocab import Scope

log = logging.getLogger(__name__)

#: The ``tag`` of line items this tool creates (itself or by Deep Linking); with ``resourceId`` =
#: module slug it finds them again.
LINE_ITEM_TAG = "lotsen-lti"
#: ``scoreMaximum`` of line items this tool creates.
LINE_ITEM_SCORE_MAXIMUM = 100


def client_for(course_module: CourseModule) -> AgsClient:
    """The AGS client of a placed module's LMS course."""
    context = course_module.context
    return AgsClient(context.registration, context.ags_scopes, context.ags_lineitems_url)


def ensure_line_item(course_module: CourseModule, client: AgsClient | None = None) -> str:
    """The line item URL this module's scores go to; found or created on first use. Commits.

    1. one already set (Deep Linking created it; the Lotse side stores it);
    2. without column management ("grade sync only", lti-notes §2), the resource link's own;
    3. else the course's line item with ``resourceId`` = module slug, or a new one."""
    client = client or client_for(course_module)
    if not client.granted(Scope.AGS_SCORE):
        # Scopes come from the newest launch; after one with AGS the Lotse can retry.
        raise ServiceError(
            "Die Plattform hat für diesen Kurs keine Notenübertragung (AGS-Scope score) "
            "freigegeben.",
            retryable=False,
        )
    if course_module.lineitem_url:
        return course_module.lineitem_url
    link = course_module.resource_link
    module = course_module.module
    if not client.can_manage_line_items:
        url = link.lineitem_url if link is not None else None
        if not url and client.granted(Scope.AGS_LINEITEM_READONLY) and client.lineitems_url:
            found = client.line_items(resource_id=module.slug)
            url = found[0].id if found else None
        if not url:
            raise ServiceError(
                "Die Plattform erlaubt nur Notenübertragung, und der Link dieses Moduls hat "
                "keine eigene Bewertungsspalte.",
                retryable=False,
            )
        return _store_line_item(course_module, url)
    # Ask for the token first: access_token() commits, which would drop the lock below.
    access_token(client.registration, client.scopes)
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
    link_id = link.resource_link_id if link is not None else None
    found = client.line_items(resource_id=module.slug)
    # Prefer our own tag, then the one bound to this module's resource link.
    found.sort(
        key=lambda i: (i.tag != LINE_ITEM_TAG, bool(link_id and i.resource_link_id != link_id))
    )
    if found:
        return _store_line_item(course_module, found[0].id)
    try:
        item = client.create_line_item(
            label=module.title,
            score_maximum=LINE_ITEM_SCORE_MAXIMUM,
            resource_id=module.slug,
            tag=LINE_ITEM_TAG,
            resource_link_id=link_id,
        )
    except ServiceError as error:
        # Moodle's "grade sync only" answers a line item POST with 401 even with a fresh token,
        # whatever the launch's scope claim said (lti-notes §2).
        if error.status in (401, 403) and link is not None and link.lineitem_url:
            return _store_line_item(course_module, link.lineitem_url)
        raise
    log.info("line item created: course_module=%s", course_module.id)
    return _store_line_item(course_module, item.id)


def _store_line_item(course_module: CourseModule, url: str) -> str:
    course_module.lineitem_url = url
    db.session.commit()
    return url


def update_line_item(
    course_module: CourseModule, *, label: str | None = None, score_maximum: float | None = None
) -> None:
    """Rename a module's column or change its maximum on the platform."""
    if not course_module.lineitem_url:
        return
    changes: dict[str, Any] = {}
    if label is not None:
        changes["label"] = label
    if score_maximum is not None:
        changes["scoreMaximum"] = score_maximum
    if changes:
        client_for(course_module).update_line_item(course_module.lineitem_url, changes)


def delete_line_item(course_module: CourseModule) -> None:
    """Delete a module's column on the platform and forget it. Flushes."""
    if not course_module.lineitem_url:
        return
    client_for(course_module).delete_line_item(course_module.lineitem_url)
    course_module.lineitem_url = None
    db.session.flush()
