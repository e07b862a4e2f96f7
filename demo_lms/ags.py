"""Assignment and Grade Services 2.0, Moodle-style: line item URLs carry ``?type_id=1``, so a tool
must insert ``/scores`` and ``/results`` into the path (lti-notes §2)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from marshmallow import ValidationError

from lti_tool.vocab import (
    LINEITEM_CONTAINER_CONTENT_TYPE,
    LINEITEM_CONTENT_TYPE,
    RESULT_CONTAINER_CONTENT_TYPE,
    SCORE_CONTENT_TYPE,
    Scope,
)

from . import content, gradebook, store
from .ags_schemas import LineItemSchema, ScoreSchema, parse_timestamp
from .blueprint import api_error, bp
from .course import LisRole, find_person, issuer
from .gradebook import LineItem, Score
from .oauth import count, require_scope
from .pagination import PagingError, add_link_header, paginate

JSON_TYPES = (LINEITEM_CONTENT_TYPE, "application/json")


def lineitem_url(line_item_id: int) -> str:
    """The line item's id, as Moodle builds it: the query string after ``/lineitem``."""
    return f"{issuer()}/ags/lineitems/{line_item_id}/lineitem?type_id=1"


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def line_item_json(item: LineItem) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": lineitem_url(item.id),
        "label": item.label,
        "scoreMaximum": _number(item.score_maximum),
    }
    optional = {
        "resourceLinkId": item.resource_link_id,
        "resourceId": item.resource_id,
        "tag": item.tag,
        "startDateTime": item.start_date_time,
        "endDateTime": item.end_date_time,
    }
    data.update({key: value for key, value in optional.items() if value is not None})
    return data


def _json_body(accepted: tuple[str, ...]) -> dict[str, Any] | Response:
    if request.mimetype not in accepted:
        return api_error(415, "unsupported_media_type", f"Content-Type muss {accepted[0]} sein")
    data = request.get_json(force=True, silent=True)
    if not isinstance(data, dict):
        return api_error(400, "invalid_request", "Der Inhalt ist kein JSON-Objekt")
    return data


def _validation_error(error: ValidationError) -> Response:
    """400 with one message per field (Moodle answers invalid scores with 400, not 422)."""
    response = jsonify(
        {
            "error": "invalid_request",
            "error_description": "Ungültige Angaben",
            "fields": error.normalized_messages(),
        }
    )
    response.status_code = 400
    return response


def _load_line_item(conn: Any, data: dict[str, Any]) -> dict[str, Any] | Response:
    try:
        values: dict[str, Any] = LineItemSchema().load(data)
    except ValidationError as error:
        return _validation_error(error)
    link_id = values.pop("resource_link_id")
    values["resource_link_pk"] = None
    if link_id is not None:
        link = content.get_link(conn, link_id)
        if link is None:
            return api_error(400, "invalid_request", f"resourceLinkId {link_id!r} unbekannt")
        values["resource_link_pk"] = link.pk
    return values


def _not_found(line_item_id: int) -> Response:
    return api_error(404, "not_found", f"Line item {line_item_id} gibt es nicht")


def _paging_error(error: PagingError) -> Response:
    return api_error(400, "invalid_request", str(error))


@bp.get("/ags/lineitems")
@require_scope(Scope.AGS_LINEITEM, Scope.AGS_LINEITEM_READONLY)
def lineitems() -> Response:
    """The course's line items, filtered by resource_link_id, resource_id and tag."""
    with store.transaction() as conn:
        link_id = request.args.get("resource_link_id")
        link_pk = content.parse_link_id(link_id) if link_id is not None else None
        if link_id is not None and link_pk is None:
            items: list[LineItem] = []
        else:
            items = gradebook.list_line_items(
                conn,
                resource_link_pk=link_pk,
                resource_id=request.args.get("resource_id"),
                tag=request.args.get("tag"),
            )
    try:
        page = paginate(items)
    except PagingError as error:
        return _paging_error(error)
    response = jsonify([line_item_json(item) for item in page.items])
    response.mimetype = LINEITEM_CONTAINER_CONTENT_TYPE
    return add_link_header(response, page)


@bp.post("/ags/lineitems")
@require_scope(Scope.AGS_LINEITEM)
def create_lineitem() -> Response:
    """Add a gradebook column."""
    data = _json_body(JSON_TYPES)
    if isinstance(data, Response):
        return data
    with store.transaction() as conn:
        values = _load_line_item(conn, data)
        if isinstance(values, Response):
            return values
        item = gradebook.create_line_item(conn, values)
    response = jsonify(line_item_json(item))
    response.status_code = 201
    response.mimetype = LINEITEM_CONTENT_TYPE
    response.headers["Location"] = lineitem_url(item.id)
    return response


@bp.get("/ags/lineitems/<int:line_item_id>/lineitem")
@require_scope(Scope.AGS_LINEITEM, Scope.AGS_LINEITEM_READONLY)
def lineitem(line_item_id: int) -> Response:
    with store.transaction() as conn:
        item = gradebook.get_line_item(conn, line_item_id)
    if item is None:
        return _not_found(line_item_id)
    response = jsonify(line_item_json(item))
    response.mimetype = LINEITEM_CONTENT_TYPE
    return response


@bp.put("/ags/lineitems/<int:line_item_id>/lineitem")
@require_scope(Scope.AGS_LINEITEM)
def update_lineitem(line_item_id: int) -> Response:
    data = _json_body(JSON_TYPES)
    if isinstance(data, Response):
        return data
    with store.transaction() as conn:
        if gradebook.get_line_item(conn, line_item_id) is None:
            return _not_found(line_item_id)
        values = _load_line_item(conn, data)
        if isinstance(values, Response):
            return values
        item = gradebook.update_line_item(conn, line_item_id, values)
    response = jsonify(line_item_json(item))
    response.mimetype = LINEITEM_CONTENT_TYPE
    return response


@bp.delete("/ags/lineitems/<int:line_item_id>/lineitem")
@require_scope(Scope.AGS_LINEITEM)
def delete_lineitem(line_item_id: int) -> Response:
    with store.transaction() as conn:
        if gradebook.get_line_item(conn, line_item_id) is None:
            return _not_found(line_item_id)
        gradebook.delete_line_item(conn, line_item_id)
    return Response(status=204)


@bp.post("/ags/lineitems/<int:line_item_id>/lineitem/scores")
@require_scope(Scope.AGS_SCORE)
def scores(line_item_id: int) -> Response:
    """Accept a score. Like Moodle: the whole Content-Type header must match, only course
    learners are gradable, and a timestamp not newer than the stored one is refused with 409."""
    with store.transaction() as conn:
        count(conn, "score_requests")
    header = request.headers.get("Content-Type", "")
    if request.mimetype != SCORE_CONTENT_TYPE:
        return api_error(
            415, "unsupported_media_type", f"Content-Type muss {SCORE_CONTENT_TYPE} sein"
        )
    if header.strip() != SCORE_CONTENT_TYPE:
        # Moodle compares the header as a whole: "; charset=utf-8" is a 400 there.
        return api_error(
            400, "invalid_request", f"Content-Type muss genau {SCORE_CONTENT_TYPE} sein"
        )
    data = request.get_json(force=True, silent=True)
    if not isinstance(data, dict):
        return api_error(400, "invalid_request", "Der Inhalt ist kein JSON-Objekt")
    try:
        values: dict[str, Any] = ScoreSchema().load(data)
    except ValidationError as error:
        return _validation_error(error)
    person = find_person(values["user_id"])
    if person is None or person.role is not LisRole.LEARNER:
        return api_error(400, "invalid_request", "Incorrect score received: userId nicht bewertbar")
    timestamp = parse_timestamp(values["timestamp"])
    with store.transaction() as conn:
        if gradebook.get_line_item(conn, line_item_id) is None:
            return _not_found(line_item_id)
        latest = gradebook.latest_score(conn, line_item_id, person.sub)
        if latest is not None and timestamp <= latest.timestamp:
            return api_error(409, "conflict", "Refusing score with an earlier timestamp")
        gradebook.add_score(
            conn,
            Score(
                line_item_id=line_item_id,
                user_id=person.sub,
                activity_progress=values["activity_progress"],
                grading_progress=values["grading_progress"],
                timestamp=timestamp,
                timestamp_text=values["timestamp"],
                score_given=values["score_given"],
                score_maximum=values["score_maximum"],
                comment=values["comment"],
            ),
        )
    return jsonify({})


@bp.get("/ags/lineitems/<int:line_item_id>/lineitem/results")
@require_scope(Scope.AGS_RESULT_READONLY)
def results(line_item_id: int) -> Response:
    """The current result of each learner with a score (optionally one ``user_id``)."""
    user_filter = request.args.get("user_id")
    with store.transaction() as conn:
        item = gradebook.get_line_item(conn, line_item_id)
        if item is None:
            return _not_found(line_item_id)
        grades = [
            grade
            for (item_id, user_id), grade in gradebook.latest_scores(conn).items()
            if item_id == line_item_id and user_filter in (None, user_id)
        ]
    try:
        page = paginate(grades)
    except PagingError as error:
        return _paging_error(error)
    base = lineitem_url(line_item_id).replace("/lineitem?", "/lineitem/results?")
    body = []
    for grade in page.items:
        result: dict[str, Any] = {
            "id": f"{base}&user_id={grade.user_id}",
            "scoreOf": lineitem_url(line_item_id),
            "userId": grade.user_id,
        }
        points = gradebook.column_points(grade, item)
        if points is not None and grade.score_maximum:
            # Results are on the line item's scale (AGS §3.3.3.3).
            result["resultScore"] = _number(points)
            result["resultMaximum"] = _number(item.score_maximum)
        if grade.comment:
            result["comment"] = grade.comment
        body.append(result)
    response = jsonify(body)
    response.mimetype = RESULT_CONTAINER_CONTENT_TYPE
    return add_link_header(response, page)
