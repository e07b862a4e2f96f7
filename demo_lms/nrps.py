"""Names and Role Provisioning Services 2.0: the course roster for the tool."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from lti_tool.vocab import MEMBERSHIP_CONTENT_TYPE, Scope, role_local_name

from .blueprint import api_error, bp
from .course import COURSE, PEOPLE, Person, base_url
from .oauth import require_scope
from .pagination import PagingError, add_link_header, paginate


def member_json(person: Person) -> dict[str, Any]:
    """One member; name and e-mail only for people who share them (as in the launch)."""
    member: dict[str, Any] = {
        "user_id": person.sub,
        "roles": [person.role.value],
        "status": "Active",
    }
    if person.shares_personal_data:
        member.update(
            name=person.name,
            given_name=person.given_name,
            family_name=person.family_name,
            email=person.email,
        )
    return member


def _has_role(person: Person, wanted: str) -> bool:
    # NRPS §2.4.1: the role filter may be a full URI or a short name.
    return wanted in (person.role.value, role_local_name(person.role.value))


@bp.get("/nrps/<context_id>/memberships")
@require_scope(Scope.NRPS_MEMBERSHIP)
def memberships(context_id: str) -> Response:
    """The members of the demo course, ``limit`` per page with a ``Link`` to the next page."""
    if context_id != COURSE.id:
        return api_error(404, "not_found", f"Kurs {context_id!r} gibt es nicht")
    role = request.args.get("role")
    people = [person for person in PEOPLE if role is None or _has_role(person, role)]
    try:
        page = paginate(people)
    except PagingError as error:
        return api_error(400, "invalid_request", str(error))
    body = {
        "id": f"{base_url()}{request.full_path.rstrip('?')}",
        "context": {"id": COURSE.id, "label": COURSE.label, "title": COURSE.title},
        "members": [member_json(person) for person in page.items],
    }
    response = jsonify(body)
    response.mimetype = MEMBERSHIP_CONTENT_TYPE
    return add_link_header(response, page)
