"""The OIDC side of a launch: the login initiation toward the tool, the authentication endpoint
that answers with the auto-posting id_token form, and the id_token's claims per flavour.

Moodle: mod/lti/locallib.php (lti_initiate_login posts iss, target_link_uri, login_hint,
lti_message_hint, client_id, lti_deployment_id to the tool; lti_get_launch_data and lti_sign_jwt
build the claims: exp = iat + 60, sorted array claims, the tool_platform claim's
``family_code``, services' launch parameters), mod/lti/auth.php (the checks of the
authentication request). ILIAS: Modules/LTIConsumer/classes/class.ilObjLTIConsumer.php
(buildLaunchParametersLTI13, buildContentSelectionParameters, LTISignJWT: exp = iat + 60, names
"-" unless shared, the e-mail claim is the user's pseudonymous ident, one role, context label
"<type> <ref_id>", empty presentation width/height, ``role_scope_mentor`` ""), ltiauth.php.
"""

from __future__ import annotations

import time
from html import escape
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, abort, redirect
from flask import request as flask_request
from flask.typing import ResponseReturnValue

from .model import DEFAULT, DROP, PendingLaunch
from .vocab import (
    AGS_ENDPOINT,
    BASIC_OUTCOME,
    CONTEXT,
    CUSTOM,
    DEEP_LINKING_REQUEST,
    DEPLOYMENT_ID,
    DL_SETTINGS,
    EXT,
    INSTRUCTOR,
    LAUNCH_PRESENTATION,
    LEARNER,
    LIS,
    MESSAGE_TYPE,
    NRPS_CLAIM,
    RESOURCE_LINK,
    RESOURCE_LINK_REQUEST,
    ROLE_SCOPE_MENTOR,
    ROLES,
    TARGET_LINK_URI,
    TOOL_PLATFORM,
    VERSION,
)

if TYPE_CHECKING:
    from .platform import Platform

#: Moodle's and ILIAS' id_tokens live 60 seconds (lti_sign_jwt, LTISignJWT).
ID_TOKEN_LIFETIME = 60


def install(app: Flask, platform: Platform) -> None:
    @app.get("/launch/<hint>")
    def start(hint: str) -> ResponseReturnValue:
        """A user clicks the link: the third-party initiated login toward the tool."""
        with platform.lock:
            pending = platform.pending.get(hint)
        if pending is None:
            abort(404)
        params = {
            "iss": platform.issuer,
            "target_link_uri": platform.tool_launch_url,
            "login_hint": pending.person.sub,
            "lti_message_hint": hint,
            "client_id": platform.client_id,
            "lti_deployment_id": platform.deployment_id,
        }
        if platform.flavour == "generic":
            from urllib.parse import urlencode

            return redirect(platform.tool_login_url + "?" + urlencode(params), code=302)
        # Moodle (lti_initiate_login) and ILIAS post the initiation from an auto-submitted form.
        return autopost(platform.tool_login_url, params)

    @app.route(_path(platform, "auth"), methods=["GET", "POST"])
    def auth() -> Response:
        return authenticate(platform)


def _path(platform: Platform, name: str) -> str:
    from .platform import ENDPOINTS

    return ENDPOINTS[platform.flavour][name]


def autopost(action: str, fields: dict[str, Any]) -> Response:
    """The page Moodle's lti_post_launch_html renders: a form that submits itself."""
    inputs = "".join(
        f'<input type="hidden" name="{escape(str(k))}" value="{escape(str(v))}">'
        for k, v in fields.items()
        if v is not None
    )
    html = (
        "<!doctype html><html><body>"
        f'<form action="{escape(action)}" name="ltiLaunchForm" id="ltiLaunchForm" method="post" '
        f'enctype="application/x-www-form-urlencoded">{inputs}</form>'
        "<script>document.getElementById('ltiLaunchForm').submit();</script></body></html>"
    )
    return Response(html, mimetype="text/html")


def authenticate(platform: Platform) -> Response:
    """The OIDC authentication request from the tool (LTI 1.3 core §5.1.1.2), checked as
    mod/lti/auth.php checks it: scope openid, response_type id_token, client_id, login_hint of
    the user, redirect_uri among the registered ones (exact match), response_mode form_post,
    prompt none, a nonce."""
    params = flask_request.values
    problems = []
    expected = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "client_id": platform.client_id,
        # Redirect URIs are compared exactly (lti-notes §2).
        "redirect_uri": platform.tool_launch_url,
    }
    for name, value in expected.items():
        if params.get(name) != value:
            problems.append(f"{name}={params.get(name)!r}")
    if params.get("prompt") not in (None, "", "none"):
        problems.append("prompt")
    if not params.get("nonce"):
        problems.append("nonce fehlt")
    with platform.lock:
        pending = platform.pending.pop(params.get("lti_message_hint", ""), None)
    if pending is None:
        problems.append("lti_message_hint unbekannt")
    elif params.get("login_hint") != pending.person.sub:
        problems.append("login_hint passt nicht")  # Moodle: access_denied
    if problems:
        return Response("invalid_request: " + ", ".join(problems), status=400)
    assert pending is not None
    claims = id_token_claims(platform, pending, nonce=str(params["nonce"]))
    with platform.lock:
        platform.last_claims = claims
        if pending.link is not None:
            platform.launched.add((pending.link.id, pending.person.sub))
        key = platform.keys.current
    fields = {"id_token": key.sign(claims)}
    if params.get("state") is not None:
        fields["state"] = params["state"]
    return autopost(platform.tool_launch_url, fields)


def id_token_claims(platform: Platform, pending: PendingLaunch, *, nonce: str) -> dict[str, Any]:
    """The claims of the id_token for ``pending``, as the flavour's platform builds them."""
    now = int(time.time())
    person = pending.person
    course = platform.courses.get(pending.course_id) if pending.course_id else None
    link = pending.link
    ilias = platform.flavour == "ilias"
    roles = list(pending.roles)
    if ilias and platform.always_learner:
        roles = [LEARNER if r == INSTRUCTOR else r for r in roles]
    if ilias and pending.deep_linking:
        roles = [INSTRUCTOR]  # buildContentSelectionParameters: always "Instructor"
    claims: dict[str, Any] = {
        "nonce": nonce,
        "iat": now,
        "exp": now + ID_TOKEN_LIFETIME,
        "iss": platform.issuer,
        "aud": platform.client_id,
        "sub": person.sub,
        DEPLOYMENT_ID: platform.deployment_id,
        MESSAGE_TYPE: DEEP_LINKING_REQUEST if pending.deep_linking else RESOURCE_LINK_REQUEST,
        VERSION: "1.3.0",
        TARGET_LINK_URI: platform.tool_launch_url,
        # lti_sign_jwt sorts array claims (Moodle); ILIAS' LTISignJWT too.
        ROLES: sorted(roles) if platform.flavour != "generic" else roles,
    }
    claims.update(_personal(platform, pending))
    if link is not None:
        resource_link: dict[str, Any] = {"id": link.id}
        title = link.title if pending.title is DEFAULT else pending.title
        if title is not None:
            resource_link["title"] = title
        if platform.flavour != "generic":
            resource_link["description"] = link.description
        claims[RESOURCE_LINK] = resource_link
    if course is not None:
        claims[CONTEXT] = _context(platform, course)
    claims[LAUNCH_PRESENTATION] = _presentation(platform, course)
    claims[TOOL_PLATFORM] = _tool_platform(platform)
    custom = {**(link.custom if link is not None else {}), **pending.custom}
    if custom:
        claims[CUSTOM] = {str(k): str(v) for k, v in custom.items()}
    if platform.flavour == "moodle":
        claims[LIS] = {"person_sourcedid": "", "course_section_sourcedid": ""}
        claims[EXT] = {"user_username": person.username or person.sub, "lms": "moodle-2"}
    if ilias:
        # LTI 1.1 leftovers ILIAS keeps sending: an empty sourcedid, a string where the spec
        # wants an array.
        claims[BASIC_OUTCOME] = {
            "lis_result_sourcedid": "",
            "lis_outcome_service_url": platform.url + "/Modules/LTIConsumer/result.php",
        }
        claims[ROLE_SCOPE_MENTOR] = ""
        claims["picture"] = ""
    ags = _ags(platform, pending, course)
    if ags is not None:
        claims[AGS_ENDPOINT] = ags
    wants_nrps = platform.has_nrps if pending.nrps is None else pending.nrps
    if wants_nrps and course is not None:
        claims[NRPS_CLAIM] = {
            "context_memberships_url": platform.nrps_url_of(course.id),
            "service_versions": ["1.0", "2.0"],
        }
    if pending.deep_linking:
        claims[DL_SETTINGS] = _deep_linking_settings(platform, pending)
    for name, value in pending.claims.items():
        if value is DROP:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def _personal(platform: Platform, pending: PendingLaunch) -> dict[str, Any]:
    person = pending.person
    out: dict[str, Any] = {}
    share_name = platform.share_name if pending.names is None else pending.names
    share_email = platform.share_email if pending.email is None else pending.email
    if platform.flavour == "ilias" and pending.names is None and not share_name:
        # PRIVACY_NAME_NONE: the claims are there, with "-" (lti-notes §3).
        out.update(given_name="-", family_name="-", name="-")
    elif share_name:
        out.update(
            {
                k: v
                for k, v in (
                    ("name", person.full_name),
                    ("given_name", person.given_name),
                    ("family_name", person.family_name),
                )
                if v
            }
        )
    if platform.flavour == "ilias" and pending.email is None and not share_email:
        out["email"] = platform.ilias_pseudonym(person)
    elif share_email and person.email:
        out["email"] = person.email
    return out


def _context(platform: Platform, course: Any) -> dict[str, Any]:
    if platform.flavour == "moodle":
        return {
            "id": course.id,
            "label": course.label,
            "title": course.title,
            "type": ["CourseSection"],
        }
    if platform.flavour == "ilias":
        # "context_label" => $contextType . " " . $contextId
        return {
            "id": course.id,
            "label": f"CourseOffering {course.id}",
            "title": course.title,
            "type": ["CourseOffering"],
        }
    return {
        "id": course.id,
        "label": course.label,
        "title": course.title,
        "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
    }


def _presentation(platform: Platform, course: Any) -> dict[str, Any]:
    if platform.flavour == "ilias":
        return {
            "locale": "de",
            "document_target": "window",
            "width": "",
            "height": "",
            "return_url": f"{platform.url}/goto.php?target=crs_{course.id if course else 1}",
        }
    presentation = {"locale": "de", "document_target": "iframe"}
    if platform.flavour == "moodle":
        presentation["return_url"] = (
            f"{platform.url}/mod/lti/return.php?course={course.id if course else 1}"
            "&launch_container=3&instanceid=1&sesskey=abc"
        )
    else:
        presentation["return_url"] = platform.url + "/course/return"
    return presentation


def _tool_platform(platform: Platform) -> dict[str, Any]:
    if platform.flavour == "moodle":
        # Moodle's claim mapping calls the product family "family_code".
        return {
            "family_code": "moodle",
            "version": "2024100700",
            "guid": "127.0.0.1",
            "name": platform.name,
            "description": platform.name,
        }
    if platform.flavour == "ilias":
        return {
            "guid": f"default.{platform.install_id[:8]}",
            "name": platform.name,
            "description": platform.name,
            "url": platform.url + "/goto.php?target=root_1",
            "contact_email": "admin@example.org",
            "product_family_code": "ilias",
            "version": "9.7",
        }
    return {"guid": platform.issuer, "name": platform.name, "product_family_code": "generic"}


def _ags(platform: Platform, pending: PendingLaunch, course: Any) -> dict[str, Any] | None:
    """Moodle (gradebookservices.php get_launch_parameters): scope and lineitems when grade
    sync is on, lineitem only when the activity has exactly one grade item. ILIAS: the LTI
    object's own line item in every launch from a course when grade synchronisation is on."""
    wants = platform.has_ags if pending.ags is None else pending.ags
    if not wants or course is None:
        return None
    claim: dict[str, Any] = {
        "scope": platform.ags_claim_scopes(),
        "lineitems": platform.lineitems_url_of(course.id),
    }
    link = pending.link
    if link is not None and link.line_item_id is not None:
        claim["lineitem"] = platform.lineitem_url(link.line_item_id, course.id)
    return claim


def _deep_linking_settings(platform: Platform, pending: PendingLaunch) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "deep_link_return_url": platform.dl_return_url
        + (f"?course={pending.course_id}" if pending.course_id else ""),
        "accept_types": ["ltiResourceLink"],
        "accept_multiple": True,
        "title": "Lotsen-LTI",
    }
    if platform.flavour == "moodle":
        settings.update(
            accept_presentation_document_targets=["frame", "iframe", "window"],
            accept_copy_advice=False,
            accept_unsigned=False,
            auto_create=False,
            can_confirm=False,
            text="",
        )
    elif platform.flavour == "ilias":
        settings.update(
            accept_presentation_document_targets=["embed", "iframe", "window"],
            auto_create=True,
        )
    else:
        settings["accept_presentation_document_targets"] = ["iframe", "window"]
    if pending.data is not None:
        settings["data"] = pending.data
    return settings
