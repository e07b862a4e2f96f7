"""What a tool may send to the AGS endpoints: line items and scores, checked as Moodle does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from lti_tool.vocab import ActivityProgress, GradingProgress


def parse_timestamp(value: str) -> datetime:
    """An ISO-8601 timestamp that names its time zone (Moodle would read others as local)."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as error:
        raise ValidationError("Kein ISO-8601-Zeitstempel.") from error
    if parsed.tzinfo is None:
        raise ValidationError("Zeitstempel ohne Zeitzone.")
    return parsed


def _check_timestamp(value: str | None) -> None:
    if value is not None:
        parse_timestamp(value)


class LineItemSchema(Schema):
    """A line item as a tool POSTs or PUTs it (AGS §3.2)."""

    class Meta:
        unknown = EXCLUDE

    label = fields.String(required=True, validate=validate.Length(min=1, max=255))
    score_maximum = fields.Float(
        data_key="scoreMaximum", required=True, validate=validate.Range(min=0, min_inclusive=False)
    )
    resource_link_id = fields.String(data_key="resourceLinkId", load_default=None, allow_none=True)
    resource_id = fields.String(
        data_key="resourceId", load_default=None, allow_none=True, validate=validate.Length(max=255)
    )
    tag = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=255))
    start_date_time = fields.String(
        data_key="startDateTime", load_default=None, allow_none=True, validate=_check_timestamp
    )
    end_date_time = fields.String(
        data_key="endDateTime", load_default=None, allow_none=True, validate=_check_timestamp
    )


class ScoreSchema(Schema):
    """A score (AGS §3.4) with the checks Moodle applies."""

    class Meta:
        # Platform extensions (e.g. Canvas' submission claim) are allowed and ignored.
        unknown = EXCLUDE

    user_id = fields.String(data_key="userId", required=True, validate=validate.Length(min=1))
    timestamp = fields.String(required=True, validate=_check_timestamp)
    activity_progress = fields.String(
        data_key="activityProgress",
        required=True,
        validate=validate.OneOf([value.value for value in ActivityProgress]),
    )
    grading_progress = fields.String(
        data_key="gradingProgress",
        required=True,
        validate=validate.OneOf([value.value for value in GradingProgress]),
    )
    score_given = fields.Float(
        data_key="scoreGiven", load_default=None, allow_none=True, validate=validate.Range(min=0)
    )
    score_maximum = fields.Float(
        data_key="scoreMaximum",
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0, min_inclusive=False),
    )
    comment = fields.String(load_default=None, allow_none=True)

    @validates_schema
    def _given_needs_maximum(self, data: dict[str, Any], **_: Any) -> None:
        given, maximum = data.get("score_given"), data.get("score_maximum")
        if given is None:
            return
        if maximum is None:
            raise ValidationError("scoreGiven verlangt scoreMaximum.", "scoreMaximum")
        if given > maximum:
            raise ValidationError("scoreGiven ist größer als scoreMaximum.", "scoreGiven")
