"""Names and Role Provisioning Services 2.0: the course's membership, in pages.

Moodle serves it as its memberships resource (mod/lti/service/memberships, routed in
moodle_services.py); the generic flavour at ``/nrps/<course>``; ILIAS has no NRPS (lti-notes
§3). Pages hold ``page_size`` members; the next link carries a mixed-case page parameter
(``?Seite=``) and its ``rel`` is quoted and bare in turn, so a client that lower-cases the Link
header (pylti1p3, lti-notes §1) or follows only ``rel="next"`` misses members. Names and e-mail
are in a member only when the platform shares them (Moodle's sendname/sendemailaddr).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, abort
from flask import request as flask_request

from .tokens import bearer_token
from .vocab import MEMBERSHIP_TYPE, SCOPE_NRPS

if TYPE_CHECKING:
    from .platform import Platform


def install(app: Flask, platform: Platform) -> None:
    @app.get("/nrps/<course_id>")
    def nrps(course_id: str) -> Response:
        if not platform.has_nrps:
            abort(404)
        token = bearer_token(platform)
        if token is None:
            abort(401)
        if SCOPE_NRPS not in token.scopes:
            abort(403)
        if flask_request.headers.get("Accept") != MEMBERSHIP_TYPE:
            abort(406)
        if course_id not in platform.courses:
            abort(404)
        return memberships_response(platform, course_id)


def member_json(platform: Platform, member: Any) -> dict[str, Any]:
    person = member.person
    out: dict[str, Any] = {"status": member.status, "user_id": person.sub, "roles": member.roles}
    if platform.share_name:
        for key, value in (
            ("name", person.full_name),
            ("given_name", person.given_name),
            ("family_name", person.family_name),
        ):
            if value:
                out[key] = value
    if platform.share_email and person.email:
        out["email"] = person.email
    return out


def memberships_response(platform: Platform, course_id: str) -> Response:
    with platform.lock:
        platform.nrps_requests.append(flask_request.full_path)
        course = platform.courses[course_id]
        if platform.members is not None:
            members = list(platform.members)
        else:
            members = [member_json(platform, m) for m in course.members.values()]
    if platform.nrps_status != 200:
        return Response("kaputt", status=platform.nrps_status)
    # The page parameter is mixed case: a client that lower-cases the Link header asks for
    # "?seite=" and gets the first page again.
    try:
        page = int(flask_request.args.get("Seite", "0"))
    except ValueError:
        page = 0
    size = platform.page_size
    body = {
        "id": flask_request.url,
        "context": {"id": course.id, "label": course.label, "title": course.title},
        "members": members[page * size : (page + 1) * size],
    }
    response = Response(json.dumps(body), mimetype=MEMBERSHIP_TYPE)
    if (page + 1) * size < len(members):
        base = platform.url + flask_request.path
        rel = "rel=next" if page % 2 else 'rel="next"'
        response.headers["Link"] = f'<{base}>; rel="first", <{base}?Seite={page + 1}>; {rel}'
    return response
