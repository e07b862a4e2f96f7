"""ILIAS' grade service (AGS) behind ltiservices.php/gradeservice/…

The dispatch follows components/ILIAS/LTIConsumer/resources/ltiservices.php: the first path
segment names the service (only "gradeservice", else 400); for a GET the ``Accept`` header must
be empty, contain ``*/*`` or be one of the resource's formats, for other methods but DELETE the
``Content-Type`` without its parameters; the resource's template must match the whole path;
none: 400 "No handler found"; a method the resource lacks: 405.

ILIAS knows **one line item per LTI object**: ``…/{ref_id of the course}/lineitems/{obj_id}/
lineitem``, the resource link's own, given in each launch. ILIAS 8/9 offer the container with
GET only, so a POST gets 405 (lti-notes §3); the later variant (``ilias_container_post``) takes a
POST but keeps the item apart from the LTI object (class.ilLTIConsumerGradeServiceLineItems.php
with its lineItemRepository, negative ids), so its scores find no object (404).

Scores follow class.ilLTIConsumerGradeServiceScores.php: POST only; any valid token will do
(ilLTIConsumerResourceBase::checkTool compares the wanted scope with the service's *permitted*
scopes, not the token's); the object must be an LTI object of this client with grade
synchronisation; the body is checked (userId, progress values, ISO 8601 timestamp, scoreGiven
numeric and not negative and only with scoreMaximum > 0, FullyGraded only with both: else 400
"Incorrect score received"); the user must have launched the object (404 "User not available");
**a result (scoreGiven/scoreMaximum) is stored only when gradingProgress is FullyGraded**;
learning progress: Started/InProgress/Submitted → in progress; Completed with FullyGraded →
completed when the result reaches the mastery score, else in progress; Completed with Failed →
failed; Completed otherwise → in progress; Initialized changes nothing; every score is logged
(lti_consumer_grades); success is 200 ("Bug in Moodle as tool provider … if not exactly 200").
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, jsonify
from flask import request as flask_request

from .model import Link
from .moodle_services import ISO8601, Fail, _json, _numeric
from .tokens import bearer_token
from .vocab import (
    ACTIVITY,
    GRADING,
    LINEITEM_CONTAINER_TYPE,
    LINEITEM_TYPE,
    RESULT_CONTAINER_TYPE,
    SCORE_CONTAINER_TYPE,
    SCORE_TYPE,
)

if TYPE_CHECKING:
    from .platform import Platform

#: LP status names (ilLPStatus::LP_STATUS_*).
NOT_ATTEMPTED, IN_PROGRESS, COMPLETED, FAILED = (
    "not_attempted",
    "in_progress",
    "completed",
    "failed",
)


def install(app: Flask, platform: Platform) -> None:
    from .platform import ENDPOINTS

    prefix = ENDPOINTS[platform.flavour]["services"]

    @app.route(prefix + "/<path:path>", methods=["GET", "POST", "PUT", "DELETE"])
    def services(path: str) -> Response:
        return IliasServices(platform).dispatch("/" + path)


class IliasServices:
    """One request to ltiservices.php."""

    def __init__(self, platform: Platform) -> None:
        self.p = platform

    def resources(self) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
        container_methods = ("GET", "POST") if self.p.ilias_container_post else ("GET",)
        return [
            (
                "lineitem",
                "/{context_id}/lineitems/{item_id}/lineitem",
                (LINEITEM_TYPE,),
                ("GET", "PUT", "DELETE"),
            ),
            (
                "lineitems",
                "/{context_id}/lineitems",
                (LINEITEM_CONTAINER_TYPE, LINEITEM_TYPE),
                container_methods,
            ),
            (
                "results",
                "/{context_id}/lineitems/{item_id}/lineitem/results",
                (RESULT_CONTAINER_TYPE,),
                ("GET",),
            ),
            (
                "scores",
                "/{context_id}/lineitems/{item_id}/lineitem/scores",
                (SCORE_CONTAINER_TYPE, SCORE_TYPE),
                ("POST",),
            ),
        ]

    def dispatch(self, full_path: str) -> Response:
        segments = full_path.split("/")
        if len(segments) < 2 or segments[1] != "gradeservice":
            return _error(400, {"error": "invalid_request"})
        path = "/" + "/".join(segments[2:])
        method = flask_request.method
        accept = flask_request.headers.get("Accept", "") if method == "GET" else ""
        # ILIAS drops the content type's parameters (explode(';', …)[0]), unlike Moodle.
        content_type = (
            flask_request.headers.get("Content-Type", "").split(";", 1)[0].strip()
            if method != "GET"
            else ""
        )
        for name, template, formats, methods in self.resources():
            if method == "GET" and accept and "*/*" not in accept and accept not in formats:
                continue
            if method not in ("GET", "DELETE") and content_type not in formats:
                continue
            pattern = "^" + re.sub(r"\{[a-zA-Z_]+\}", "[^/]+", template) + "$"
            if re.match(pattern, path) is None:
                continue
            if method not in methods:
                return self.answer(405, "")
            parts, values = template.split("/"), path.split("/")
            params = {p[1:-1]: values[i] for i, p in enumerate(parts) if p.startswith("{")}
            try:
                return getattr(self, name)(params)
            except Fail as failure:
                return self.answer(failure.status, failure.reason)
        return self.answer(400, f"No handler found for gradeservice{path} {accept} {content_type}")

    def answer(self, status: int, reason: str) -> Response:
        from .platform import problem

        return problem(status, reason or "Error")

    # --- shared --------------------------------------------------------------------------------

    def client(self) -> str:
        """The token's client id (its ``sub``); 401 without a valid token."""
        token = bearer_token(self.p)
        if token is None:
            raise Fail(401, "invalid request")
        return token.client_id

    def object_link(self, course_id: str, obj_id: int) -> Link | None:
        course = self.p.courses.get(course_id)
        if course is None:
            return None
        return next((link for link in course.links.values() if link.obj_id == obj_id), None)

    def any_object(self, obj_id: int) -> Link | None:
        for course in self.p.courses.values():
            for link in course.links.values():
                if link.obj_id == obj_id:
                    return link
        return None

    def item_json(self, course_id: str, link: Link) -> dict[str, Any]:
        """ilLTIConsumerGradeServiceLineItem::buildLineItemData."""
        assert link.obj_id is not None
        return {
            "id": self.p.lineitem_url(link.obj_id, course_id),
            "label": link.title or "",
            "scoreMaximum": link.score_maximum,
            "resourceId": str(link.obj_id),
            "resourceLinkId": link.id,
        }

    def check_object(self, client_id: str) -> None:
        if client_id != self.p.client_id:
            raise Fail(403, "invalid clientId")
        if not self.p.has_ags:
            raise Fail(403, "grade synchronization not enabled")

    # --- LineItem.collection -------------------------------------------------------------------

    def lineitems(self, params: dict[str, str]) -> Response:
        client_id = self.client()
        course = self.p.courses.get(params["context_id"])
        if course is None:
            raise Fail(404, "Context not found")
        if flask_request.method == "POST":
            return self.create(course.id, client_id)
        items: list[dict[str, Any]] = []
        if self.p.has_ags and client_id == self.p.client_id:
            items = [self.item_json(course.id, link) for link in course.links.values()]
        items += [
            dict(item)
            for item in self.p.stored_line_items.values()
            if item["_course"] == course.id and item["_client"] == client_id
        ]
        args = flask_request.args
        filters = {"tag": "tag", "resource_id": "resourceId", "resource_link_id": "resourceLinkId"}
        for arg, key in filters.items():
            if args.get(arg):
                items = [i for i in items if i.get(key, "") == args[arg]]
        for item in items:
            item.pop("_course", None)
            item.pop("_client", None)
        response = jsonify(items)
        response.headers["Content-Type"] = LINEITEM_CONTAINER_TYPE
        return response

    def create(self, course_id: str, client_id: str) -> Response:
        """The later variant's POST: stored in lti_consumer_lineitems, id negative."""
        body = _json()
        if not isinstance(body, dict):
            raise Fail(400, "Invalid request body")
        if client_id != self.p.client_id or not self.p.has_ags:
            raise Fail(403, "Context not available for client")
        label = body.get("label")
        if not isinstance(label, str) or not label.strip():
            raise Fail(400, "LineItem label is required")
        maximum: Any = body.get("scoreMaximum")
        if not _numeric(maximum) or float(maximum) <= 0:
            raise Fail(400, "LineItem scoreMaximum must be greater than zero")
        with self.p.lock:
            stored_id = len(self.p.stored_line_items) + 1
            item = {
                "id": self.p.lineitem_url(-stored_id, course_id),
                "label": label,
                "scoreMaximum": float(maximum),
                "resourceId": str(body.get("resourceId") or ""),
                "resourceLinkId": str(body.get("resourceLinkId") or ""),
                "tag": str(body.get("tag") or ""),
                "_course": course_id,
                "_client": client_id,
            }
            self.p.stored_line_items[-stored_id] = item
        public = {k: v for k, v in item.items() if not k.startswith("_")}
        response = jsonify(public)
        response.status_code = 201
        response.headers["Content-Type"] = LINEITEM_TYPE
        return response

    # --- LineItem.item -------------------------------------------------------------------------

    def lineitem(self, params: dict[str, str]) -> Response:
        client_id = self.client()
        course_id, obj_id = params["context_id"], _int(params["item_id"])
        link = self.object_link(course_id, obj_id)
        method = flask_request.method
        if link is None:
            stored = self.p.stored_line_items.get(obj_id)
            if stored is None or stored["_client"] != client_id:
                raise Fail(404, "LineItem not found")
            if method == "DELETE":
                with self.p.lock:
                    self.p.stored_line_items.pop(obj_id, None)
                return Response(status=200)
            if method == "PUT":
                body = _json() or {}
                for key in ("label", "scoreMaximum", "resourceId", "resourceLinkId", "tag"):
                    if key in body:
                        stored[key] = body[key]
            response = jsonify({k: v for k, v in stored.items() if not k.startswith("_")})
            response.headers["Content-Type"] = LINEITEM_TYPE
            return response
        self.check_object(client_id)
        if method == "PUT":
            body = _json()
            if not isinstance(body, dict):
                raise Fail(400, "Invalid request body")
            if isinstance(body.get("label"), str) and body["label"]:
                link.title = body["label"]
            if _numeric(body.get("scoreMaximum")) and float(body["scoreMaximum"]) > 0:
                link.score_maximum = float(body["scoreMaximum"])
        elif method == "DELETE":
            # An LTI object cannot be deleted by the tool: its maximum is reset.
            link.score_maximum = 1.0
            return Response(status=200)
        response = jsonify(self.item_json(course_id, link))
        response.headers["Content-Type"] = LINEITEM_TYPE
        return response

    # --- Result.collection ---------------------------------------------------------------------

    def results(self, params: dict[str, str]) -> Response:
        client_id = self.client()
        course_id, obj_id = params["context_id"], _int(params["item_id"])
        link = self.object_link(course_id, obj_id)
        if link is None:
            raise Fail(404, "Tool for Object not available")
        self.check_object(client_id)
        item_url = self.p.lineitem_url(obj_id, course_id)
        user_filter = flask_request.args.get("user_id")
        data = [
            {
                "id": f"{item_url}/results/{user}",
                "scoreOf": item_url,
                "userId": user,
                "resultScore": result,
                "resultMaximum": 1,
            }
            for (oid, user), result in sorted(self.p.results.items())
            if oid == obj_id and user_filter in (None, user)
        ]
        response = jsonify(data)
        response.headers["Content-Type"] = RESULT_CONTAINER_TYPE
        return response

    # --- Score.collection ----------------------------------------------------------------------

    def scores(self, params: dict[str, str]) -> Response:
        obj_id = _int(params["item_id"])
        body = _json()
        user_id = str(body.get("userId", "")) if isinstance(body, dict) else ""
        recorded = body if isinstance(body, dict) else {}
        key = (obj_id, user_id)
        with self.p.lock:
            if self.p.in_flight[key]:
                self.p.overlaps.append(key)
            self.p.in_flight[key] += 1
        try:
            if self.p.score_delay:
                time.sleep(self.p.score_delay)
            client_id = self.client()
            link = self.any_object(obj_id)
            if link is None:
                raise Fail(404, "Tool for Object not available")
            self.check_object(client_id)
            self.store(link, body)
        except Fail as failure:
            self.p.record_score(obj_id, user_id, failure.status, recorded)
            raise
        finally:
            with self.p.lock:
                self.p.in_flight[key] -= 1
        self.p.record_score(obj_id, user_id, 200, recorded)
        return Response(status=200)

    def store(self, link: Link, score: Any) -> None:
        """checkScore."""
        if not _valid(score):
            raise Fail(400, "Incorrect score received")
        assert link.obj_id is not None
        user_id = str(score["userId"])
        if (link.id, user_id) not in self.p.launched:
            raise Fail(404, "User not available")
        given = float(score["scoreGiven"]) if "scoreGiven" in score else None
        maximum = float(score["scoreMaximum"]) if "scoreMaximum" in score else None
        progress = given / maximum if given is not None and maximum else None
        result = progress if score["gradingProgress"] == "FullyGraded" else None
        activity, grading = score["activityProgress"], score["gradingProgress"]
        status = None
        if activity in ("Started", "InProgress", "Submitted"):
            status = IN_PROGRESS
        elif activity == "Completed":
            if grading == "FullyGraded" and result is not None:
                status = COMPLETED if result >= self.p.mastery_score else IN_PROGRESS
            elif grading == "Failed":
                status = FAILED
            else:
                status = IN_PROGRESS
        percentage = 0 if progress is None else round(100 * progress)
        key = (link.obj_id, user_id)
        with self.p.lock:
            if result is not None:
                self.p.results[key] = result
            if status is not None:
                self.p.learning_progress[key] = (status, percentage)


def _valid(score: Any) -> bool:
    if not isinstance(score, dict):
        return False
    for name in ("userId", "gradingProgress", "activityProgress", "timestamp"):
        if score.get(name) is None:
            return False
    if not isinstance(score["gradingProgress"], str) or not isinstance(
        score["activityProgress"], str
    ):
        return False
    if score["activityProgress"] not in ACTIVITY or score["gradingProgress"] not in GRADING:
        return False
    if not ISO8601.match(str(score["timestamp"])):
        return False
    given, maximum = score.get("scoreGiven"), score.get("scoreMaximum")
    if given is not None and (not _numeric(given) or float(given) < 0):
        return False
    if given is not None and maximum is None:
        return False
    if maximum is not None and (not _numeric(maximum) or float(maximum) <= 0):
        return False
    return not (score["gradingProgress"] == "FullyGraded" and (given is None or maximum is None))


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


def _error(status: int, body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response
