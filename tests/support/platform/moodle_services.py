"""Moodle's LTI services: Assignment and Grade Services (ltiservice_gradebookservices) and the
memberships service, behind mod/lti/services.php.

The dispatch follows mod/lti/services.php: for a GET the ``Accept`` header must be empty,
contain ``*/*`` or be one of the resource's formats; for other methods but DELETE the whole
``Content-Type`` must be one of them (so ``; charset=utf-8`` matches nothing: 400, lti-notes
§6); the first resource whose template matches the path *anywhere* (preg_match without
anchors) takes the request; none: 400; a method the resource lacks: 405. The resources follow
mod/lti/service/gradebookservices/classes/local/resources/{lineitem,lineitems,results,scores}.php
and classes/local/service/gradebookservices.php; bearer tokens are checked as
mod/lti/locallib.php get_oauth_key_from_headers does (the token's type must be ``type_id``, its
scopes must include one the resource needs, else 401).
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify
from flask import request as flask_request

from .model import Grade, Token
from .tokens import bearer_token
from .vocab import (
    ACTIVITY,
    GRADING,
    LEARNER,
    LINEITEM_CONTAINER_TYPE,
    LINEITEM_TYPE,
    MEMBERSHIP_TYPE,
    MEMBERSHIP_TYPE_LIS,
    RESULT_CONTAINER_TYPE,
    SCOPE_LINEITEM,
    SCOPE_LINEITEM_RO,
    SCOPE_NRPS,
    SCOPE_RESULT,
    SCOPE_SCORE,
    SCORE_CONTAINER_TYPE,
    SCORE_TYPE,
)

if TYPE_CHECKING:
    from .platform import Platform

#: (resource, template, formats, methods) in the order of lti_get_services(): gradebookservices
#: (lineitem before lineitems, "containers after their elements"), then memberships.
RESOURCES: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = [
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
        ("GET", "POST"),
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
    (
        "memberships",
        "/{context_type}/{context_id}/bindings/{tool_code}/memberships",
        # Moodle names the LTI Advantage type; it serves NRPS 2.0 to the NRPS type as well [inf].
        (MEMBERSHIP_TYPE_LIS, MEMBERSHIP_TYPE),
        ("GET",),
    ),
]

#: gradebookservices::validate_iso8601_date, ported from PHP (PCRE) to Python.
ISO8601 = re.compile(
    r"^([\+-]?\d{4}(?!\d{2}\b))((-?)((0[1-9]|1[0-2])"
    r"(\3([12]\d|0[1-9]|3[01]))?|W([0-4]\d|5[0-2])(-?[1-7])?|(00[1-9]|0[1-9]\d|[12]\d{2}|3([0-5]\d|6[1-6])))"
    r"([T\s]((([01]\d|2[0-3])((:?)[0-5]\d)?|24\:?00)([\.,]\d+(?!:))?)?(\17[0-5]\d([\.,]\d+)?)"
    r"?([zZ]|([\+-])([01]\d|2[0-3]):?([0-5]\d)?)?)?)?$"
)


class Fail(Exception):
    """``throw new \\Exception($reason, $code)`` inside a resource."""

    def __init__(self, status: int, reason: str = "") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def install(app: Flask, platform: Platform) -> None:
    from .platform import ENDPOINTS

    prefix = ENDPOINTS[platform.flavour]["services"]

    @app.route(prefix + "/<path:path>", methods=["GET", "POST", "PUT", "DELETE"])
    def services(path: str) -> Response:
        return MoodleServices(platform).dispatch("/" + path)


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\{[a-zA-Z_]+\}", "[^/]+", template))


def _params(template: str, path: str) -> dict[str, str]:
    # resource_base::parse_template: the template's {names} take the path's segments by index.
    parts, segments = template.split("/"), path.split("/")
    return {
        part[1:-1]: segments[i] if i < len(segments) else ""
        for i, part in enumerate(parts)
        if part.startswith("{") and part.endswith("}")
    }


class MoodleServices:
    """One request to mod/lti/services.php."""

    def __init__(self, platform: Platform) -> None:
        self.p = platform

    # --- services.php --------------------------------------------------------------------------

    def dispatch(self, path: str) -> Response:
        method = flask_request.method
        accept = flask_request.headers.get("Accept", "") if method == "GET" else ""
        content_type = flask_request.headers.get("Content-Type", "") if method != "GET" else ""
        page_arg = "page"
        if self.p.pagination == "quirky" and re.fullmatch(r"/[^/]+/LineItems", path):
            # The mixed-case next link of the quirky pagination names the container too.
            path, page_arg = path.rsplit("/", 1)[0] + "/lineitems", "Page"
        for name, template, formats, methods in RESOURCES:
            if method == "GET" and accept and "*/*" not in accept and accept not in formats:
                continue
            if method not in ("GET", "DELETE") and content_type not in formats:
                continue
            if _template_regex(template).search(path) is None:
                continue
            if method not in methods:
                return self.answer(405, "")
            params = _params(template, path)
            try:
                return getattr(self, name)(params, page_arg)
            except Fail as failure:
                return self.answer(failure.status, failure.reason)
        return self.answer(400, "")

    def answer(self, status: int, reason: str) -> Response:
        from .platform import problem

        return problem(status, reason or _REASONS.get(status, "Error"))

    # --- shared checks -------------------------------------------------------------------------

    def check_tool(self, *scopes: str) -> Token:
        """resource_base::check_tool: a bearer token of this type with one of ``scopes``."""
        type_id = flask_request.args.get("type_id")
        token = bearer_token(self.p)
        if token is None or (type_id is not None and type_id != self.p.type_id):
            raise Fail(401)
        if not token.scopes & set(scopes):
            raise Fail(401)
        return token

    def course(self, course_id: str) -> None:
        if course_id not in self.p.courses:
            raise Fail(404, f"Not Found: Course {course_id} doesn't exist")

    def item(self, course_id: str, item_id: str) -> int:
        if not item_id.isdigit() or int(item_id) not in self.p.line_items:
            raise Fail(404, f"Not Found: Grade item {item_id} doesn't exist")
        number = int(item_id)
        if self.p.line_item_meta[number].course_id != course_id:
            # get_lineitem finds grade items of this tool only.
            raise Fail(404, "Line item does not exist")
        return number

    def link_of_course(self, course_id: str, link_id: Any) -> bool:
        """gradebookservices::check_lti_1x_id: an activity of this tool in this course."""
        link = self.p.courses[course_id].links.get(str(link_id))
        return link is not None

    # --- LineItem.collection -------------------------------------------------------------------

    def lineitems(self, params: dict[str, str], page_arg: str) -> Response:
        method = flask_request.method
        scopes = [SCOPE_LINEITEM] + ([SCOPE_LINEITEM_RO] if method == "GET" else [])
        # Moodle's "grade sync only": a POST with a fresh token lacking …/scope/lineitem is 401.
        self.check_tool(*scopes)
        content = (
            flask_request.headers.get("Accept", "")
            if method == "GET"
            else flask_request.headers.get("Content-Type", "")
        )
        container = not content or content == LINEITEM_CONTAINER_TYPE
        course_id = params["context_id"]
        if not course_id or not (container ^ (method == "POST")):
            raise Fail(400, "No context or unsupported content type")
        self.course(course_id)
        if method == "POST":
            return self.create(course_id)
        if page_arg == "page" and self.p.pagination == "quirky" and "page" in flask_request.args:
            # A client that lower-cased the Link header (pylti1p3, lti-notes §1) asks for ?page=.
            raise Fail(400, "lower-cased pagination link")
        args = flask_request.args
        items = self.visible_items(
            course_id,
            resource_id=args.get("resource_id"),
            link_id=args.get("resource_link_id") or args.get("lti_link_id"),
            tag=args.get("tag"),
        )
        next_path = self.p.endpoint("services") + f"/{course_id}/LineItems"
        response = self.paginate(items, page_arg, container_path=next_path[len(self.p.url) :])
        response.headers["Content-Type"] = LINEITEM_CONTAINER_TYPE + "; charset=utf-8"
        return response

    def visible_items(
        self, course_id: str, *, resource_id: str | None, link_id: str | None, tag: str | None
    ) -> list[dict[str, Any]]:
        """gradebookservices::get_lineitems: items with a gradebookservices row match the
        filters; items coupled to an activity only when neither resource_id nor tag is asked."""
        found = []
        with self.p.lock:
            for item_id in sorted(self.p.line_items):
                meta = self.p.line_item_meta[item_id]
                if meta.course_id != course_id:
                    continue
                if meta.gbs:
                    ok = (
                        (tag is None or meta.tag == tag)
                        and (link_id is None or str(meta.link_id) == link_id)
                        and (resource_id is None or meta.resource_id == resource_id)
                    )
                else:
                    ok = (
                        resource_id is None
                        and tag is None
                        and (link_id is None or str(meta.link_id) == link_id)
                    )
                if ok:
                    found.append(dict(self.p.line_items[item_id]))
        return found

    def create(self, course_id: str) -> Response:
        body = _json()
        if not isinstance(body, dict) or "scoreMaximum" not in body or "label" not in body:
            raise Fail(400, "No label or Score Maximum")
        if not _numeric(body["scoreMaximum"]):
            raise Fail(400)
        link_id = body.get("resourceLinkId") or body.get("ltiLinkId")
        if link_id is not None and not self.link_of_course(course_id, link_id):
            raise Fail(403)
        with self.p.lock:
            item_id = self.p._create_line_item(
                course_id,
                {"label": body["label"], "scoreMaximum": float(body["scoreMaximum"])},
                link_id=str(link_id) if link_id is not None else None,
                gbs=True,
                resource_id=str(body.get("resourceId") or ""),
                tag=str(body.get("tag") or ""),
            )
            url = self.p.line_items[item_id]["id"]
        # lineitems.php echoes the request with the new id.
        echoed = {**body, "id": url}
        response = jsonify(echoed)
        response.status_code = 201
        response.headers["Content-Type"] = LINEITEM_TYPE + "; charset=utf-8"
        return response

    # --- LineItem.item -------------------------------------------------------------------------

    def lineitem(self, params: dict[str, str], _page_arg: str) -> Response:
        method = flask_request.method
        scopes = [SCOPE_LINEITEM] + ([SCOPE_LINEITEM_RO] if method == "GET" else [])
        self.check_tool(*scopes)
        course_id = params["context_id"]
        self.course(course_id)
        item_id = self.item(course_id, params["item_id"])
        if method == "GET":
            response = jsonify(self.p.line_items[item_id])
            response.headers["Content-Type"] = LINEITEM_TYPE + "; charset=utf-8"
            return response
        if method == "PUT":
            return self.update(course_id, item_id)
        meta = self.p.line_item_meta[item_id]
        if not meta.gbs:
            # process_delete_request: an activity's own grade item is not the tool's to delete.
            raise Fail(403)
        with self.p.lock:
            self.p.line_items.pop(item_id, None)
            self.p.line_item_meta.pop(item_id, None)
            for key in [k for k in self.p.grades if k[0] == item_id]:
                del self.p.grades[key]
        return Response(status=204)

    def update(self, course_id: str, item_id: int) -> Response:
        """lineitem.php process_put_request: label and scoreMaximum required; resourceId and tag
        are replaced by what the body says (absent means cleared); resourceLinkId numeric."""
        body = _json()
        if not isinstance(body, dict) or "scoreMaximum" not in body or "label" not in body:
            raise Fail(400)
        if not _numeric(body["scoreMaximum"]):
            raise Fail(400)
        link_id = body.get("resourceLinkId", body.get("ltiLinkId"))
        if link_id is not None:
            if not str(link_id).isdigit():
                raise Fail(400)
            if not self.link_of_course(course_id, link_id):
                raise Fail(403)
        with self.p.lock:
            meta = self.p.line_item_meta[item_id]
            item = self.p.line_items[item_id]
            old_max = float(item["scoreMaximum"])
            item["label"] = body["label"]
            item["scoreMaximum"] = float(body["scoreMaximum"])
            meta.resource_id = str(body.get("resourceId") or "")
            if meta.gbs:
                meta.tag = str(body.get("tag") or "")
            if link_id is not None:
                meta.link_id = str(link_id)
            self.p.refresh_item_json(item_id)
            if old_max != item["scoreMaximum"]:
                # rescale_grades_keep_percentage
                for (iid, _user), grade in self.p.grades.items():
                    if iid == item_id and grade.final_grade is not None and old_max:
                        grade.final_grade = grade.final_grade * item["scoreMaximum"] / old_max
        echoed = {**body, "id": self.p.line_items[item_id]["id"]}
        response = jsonify(echoed)
        response.headers["Content-Type"] = LINEITEM_TYPE + "; charset=utf-8"
        return response

    # --- Result.collection ---------------------------------------------------------------------

    def results(self, params: dict[str, str], page_arg: str) -> Response:
        self.check_tool(SCOPE_RESULT)
        course_id = params["context_id"]
        self.course(course_id)
        item_id = self.item(course_id, params["item_id"])
        item = self.p.line_items[item_id]
        user_filter = flask_request.args.get("user_id")
        with self.p.lock:
            grades = sorted((u, g) for (i, u), g in self.p.grades.items() if i == item_id)
        data = []
        for user, grade in grades:
            if user_filter not in (None, user):
                continue
            result: dict[str, Any] = {
                "id": f"{item['id'].split('?')[0]}/results?type_id={self.p.type_id}&user_id={user}",
                "userId": user,
            }
            # result_for_json: the score only when the final grade is not empty (PHP's
            # empty(0.0) is true: a zero is reported without resultScore).
            if grade.final_grade:
                result.update(
                    resultScore=float(grade.final_grade),
                    resultMaximum=float(grade.body.get("scoreMaximum", 1)),
                    scoreOf=item["id"],
                    timestamp=datetime.fromtimestamp(grade.timemodified).astimezone().isoformat(),
                )
                if grade.body.get("comment"):
                    result["comment"] = grade.body["comment"]
            data.append(result)
        response = self.paginate(data, page_arg, container_path=flask_request.path)
        response.headers["Content-Type"] = RESULT_CONTAINER_TYPE + "; charset=utf-8"
        return response

    # --- Score.collection ----------------------------------------------------------------------

    def scores(self, params: dict[str, str], _page_arg: str) -> Response:
        self.check_tool(SCOPE_SCORE)
        course_id = params["context_id"]
        self.course(course_id)
        item_id = self.item(course_id, params["item_id"])
        body = _json()
        user_id = str(body.get("userId", "")) if isinstance(body, dict) else ""
        key = (item_id, user_id)
        with self.p.lock:
            if self.p.in_flight[key]:
                self.p.overlaps.append(key)
            self.p.in_flight[key] += 1
        try:
            if self.p.score_delay:
                time.sleep(self.p.score_delay)
            status, reason = self.store_score(course_id, item_id, body)
        finally:
            with self.p.lock:
                self.p.in_flight[key] -= 1
        self.p.record_score(item_id, user_id, status, body if isinstance(body, dict) else {})
        if status >= 400:
            raise Fail(status, reason)
        response = Response(status=status)
        if status != 204:
            response.headers["Content-Type"] = SCORE_TYPE + "; charset=utf-8"
        return response

    def store_score(self, course_id: str, item_id: int, score: Any) -> tuple[int, str]:
        """scores.php get_json_for_post_request and gradebookservices::save_grade_item."""
        incorrect = (400, "Incorrect score received")
        if not isinstance(score, dict) or not score:
            return incorrect
        for name in ("userId", "timestamp", "gradingProgress", "activityProgress"):
            if score.get(name) is None:
                return incorrect
        if not ISO8601.match(str(score["timestamp"])):
            return incorrect
        if "scoreGiven" in score and not _numeric(score["scoreGiven"]):
            return incorrect
        if "scoreGiven" in score and "scoreMaximum" not in score:
            return incorrect
        if "scoreMaximum" in score and not _numeric(score["scoreMaximum"]):
            return incorrect
        if not self.gradable(course_id, str(score["userId"])):
            return incorrect
        # Not checked by Moodle, but it would store nonsense: the AGS vocabularies.
        if score["activityProgress"] not in ACTIVITY or score["gradingProgress"] not in GRADING:
            return incorrect
        seconds = _strtotime(str(score["timestamp"]))
        if seconds is None:
            return incorrect
        user_id = str(score["userId"])
        with self.p.lock:
            current = self.p.grades.get((item_id, user_id))
            if current is not None and current.timemodified >= seconds:
                return (
                    409,
                    f"Refusing score with an earlier timestamp for item {item_id} and user "
                    f"{user_id}",
                )
            given = score.get("scoreGiven")
            if given is not None and score["gradingProgress"] != "FullyGraded":
                given = None  # only a FullyGraded score sets the grade
            final = None
            if given is not None:
                maximum = float(score.get("scoreMaximum", 1))
                grademax = float(self.p.line_items[item_id]["scoreMaximum"])
                final = float(given)
                if maximum not in (grademax, 0.0):
                    final = final * grademax / maximum  # rescaled to the item's maximum
            # [inf] the stored timemodified is the score's timestamp in whole seconds (strtotime)
            self.p.grades[(item_id, user_id)] = Grade(dict(score), seconds, final)
        return self.p.score_status, "OK"

    def gradable(self, course_id: str, user_id: str) -> bool:
        """gradebookservices::is_user_gradable_in_course (with gradable="enrolled")."""
        if user_id in self.p.non_gradable:
            return False
        if self.p.gradable == "any":
            return True
        member = self.p.courses[course_id].members.get(user_id)
        return member is not None and LEARNER in member.roles

    # --- memberships (NRPS) --------------------------------------------------------------------

    def memberships(self, params: dict[str, str], _page_arg: str) -> Response:
        from .nrps import memberships_response

        token = bearer_token(self.p)
        if token is None:
            raise Fail(401)
        if SCOPE_NRPS not in token.scopes:
            raise Fail(403)  # contextmemberships.php: the tool may not read memberships
        course_id = params["context_id"]
        if course_id not in self.p.courses or params["tool_code"] != self.p.type_id:
            raise Fail(404)
        return memberships_response(self.p, course_id)

    # --- pagination ----------------------------------------------------------------------------

    def paginate(self, items: list[Any], page_arg: str, *, container_path: str) -> Response:
        """Pages of a container answer (``container_path``: the path next links name).

        "moodle": only with ``limit`` (offset ``from``), every relation with typographic quotes
        — lineitems.php writes ``rel=“next”`` (the UTF-8 bytes go on the wire as PHP's header()
        sends them). "quirky": always paged, next link mixed-case, ``rel`` quoted and bare in
        turn."""
        args = flask_request.args
        if self.p.pagination == "moodle":
            limit = _int(args.get("limit"))
            start = _int(args.get("from"))
            if limit <= 0:
                return jsonify(items)
            chunk = items[start : start + limit]
            response = jsonify(chunk)
            base = {k: v for k, v in args.items() if k not in ("from", "limit")}
            base.update(type_id=self.p.type_id, limit=str(limit))
            url = self.p.url + flask_request.path

            def at(offset: int) -> str:
                return url + "?" + urlencode({**base, "from": offset})

            links = [f"<{at(0)}>; rel=“first”"]
            if start > 0:
                links.append(f"<{at(max(0, start - limit))}>; rel=“prev”")
            links.append(f"<{at(start)}>; rel=“canonical”")
            if start + limit <= len(items) - 1:
                links.append(f"<{at(start + limit)}>; rel=“next”")
            links.append(f"<{at(max(0, len(items) - limit + 1))}>; rel=“last”")
            # header() writes bytes: UTF-8 quotes arrive as latin-1 characters to the client.
            response.headers["Link"] = ", ".join(links).encode().decode("latin-1")
            return response
        page = _int(args.get("Page") or args.get(page_arg) or "1") or 1
        size = self.p.page_size
        response = jsonify(items[(page - 1) * size : page * size])
        if page * size < len(items):
            query = "&".join(f"{k}={v}" for k, v in args.items() if k not in ("Page", "page"))
            here = self.p.url + container_path
            next_url = f"{here}?{query}&Page={page + 1}"
            rel = 'rel="next"' if page % 2 else "rel=next"
            response.headers["Link"] = f'<{here}?{query}&Page=1>; rel="first", <{next_url}>; {rel}'
        return response


_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}


def _json() -> Any:
    return flask_request.get_json(force=True, silent=True)


def _numeric(value: Any) -> bool:
    """PHP's is_numeric, near enough."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _strtotime(value: str) -> int | None:
    """PHP's strtotime for ISO 8601: whole seconds; a time without zone is server-local time."""
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.astimezone()  # the server's local zone (lti-notes §6)
    return int(stamp.timestamp())
