"""The row of a Navigator's work on one unit of a course (progress, submission): found, or
inserted once even when two requests ask for it at the same moment."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select

from courses.models import Submission, UnitProgress, UnitVersion
from lti_tool.extensions import db, insert_if_missing

Row = TypeVar("Row", UnitProgress, Submission)


def unit_row(
    model: type[Row], user_pk: int, context_pk: int, version: UnitVersion, **defaults: Any
) -> Row:
    """The ``model`` row of (user, course, unit of ``version``); a missing one is inserted with
    ``version`` and ``defaults`` (INSERT … ON CONFLICT DO NOTHING, so a second request waits for
    the first and then uses its row). Flushes."""
    query = select(model).filter_by(user_pk=user_pk, context_pk=context_pk, unit_pk=version.unit_pk)
    row = db.session.scalars(query).first()
    if row is None:
        insert_if_missing(
            model,
            user_pk=user_pk,
            context_pk=context_pk,
            unit_pk=version.unit_pk,
            unit_version_pk=version.id,
            **defaults,
        )
        row = db.session.scalars(query).one()
    return row
