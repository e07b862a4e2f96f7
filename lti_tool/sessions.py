"""Who is launching: stores users, courses, resource links and the launch, and carries the launch
to later requests with a short-lived signed token instead of a third-party cookie."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app, g, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from .errors import LaunchError
from .extensions import db, insert_if_missing
from .models import (
    Deployment,
    Launch,
    LtiContext,
    LtiResourceLink,
    LtiUser,
    Registration,
    utcnow,
)
from .registrations import find_deployment
from .roles import effective_role
from .vocab import Claim, MessageType, ToolRole, tool_role_for

log = logging.getLogger(__name__)

TOKEN_FIELD = "lt"  # noqa: S105  (a field name, not a secret)
"""Name of the form field and query parameter that carries the launch token."""
TOKEN_HEADER = "X-Launch-Token"  # noqa: S105

F = TypeVar("F", bound=Callable[..., Any])


#: Length of the name, e-mail and title columns, and of the URL columns.
TEXT_LENGTH = 255
URL_LENGTH = 1024


def _clean(value: Any, *, shorten: bool = True) -> str | None:
    # ILIAS sends "-" for withheld names (lti-notes §3).
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or value == "-":
        return None
    if len(value) > TEXT_LENGTH:
        # PostgreSQL refuses longer values (500): shorten names and titles, drop the rest.
        return value[:TEXT_LENGTH] if shorten else None
    return value


def _url(value: Any) -> str | None:
    """A URL claim as stored: only a string that fits the column (else PostgreSQL fails)."""
    return value if isinstance(value, str) and 0 < len(value) <= URL_LENGTH else None


M = TypeVar("M", LtiUser, LtiContext, LtiResourceLink)


def _get_or_insert(model: type[M], **key: Any) -> M:
    """The row with ``key``, inserted if missing. Two workers may insert the same row at once (a
    class opening a new course together, one person in two tabs); with a plain INSERT the second
    failed on the unique constraint (500). INSERT … ON CONFLICT DO NOTHING makes it wait for the
    first and then use that row."""
    query = select(model).filter_by(**key)
    found = db.session.scalars(query).first()
    if found is not None:
        return found
    insert_if_missing(model, **key)
    return db.session.scalars(query).one()


def _upsert_user(registration: Registration, body: dict[str, Any]) -> LtiUser:
    user = _get_or_insert(LtiUser, registration_id=registration.id, sub=body["sub"])
    # What the platform shares now replaces what it shared before: withheld means withheld.
    user.name = _clean(body.get("name"))
    user.given_name = _clean(body.get("given_name"))
    user.family_name = _clean(body.get("family_name"))
    user.email = _clean(body.get("email"), shorten=False)
    user.last_launch_at = utcnow()
    return user


def _upsert_context(
    registration: Registration, deployment: Deployment, body: dict[str, Any]
) -> LtiContext | None:
    claim = body.get(Claim.CONTEXT)
    if not isinstance(claim, dict):
        return None
    context = _get_or_insert(
        LtiContext, registration_id=registration.id, context_id=str(claim["id"])
    )
    context.deployment_id = deployment.id
    context.title = _clean(claim.get("title")) or context.title
    context.label = _clean(claim.get("label")) or context.label
    nrps = body.get(Claim.NRPS)
    if isinstance(nrps, dict) and _url(nrps.get("context_memberships_url")):
        context.nrps_url = nrps["context_memberships_url"]
    ags = body.get(Claim.AGS_ENDPOINT)
    if isinstance(ags, dict):
        context.ags_lineitems_url = _url(ags.get("lineitems")) or context.ags_lineitems_url
        if isinstance(ags.get("scope"), list):
            context.ags_scopes = [s for s in ags["scope"] if isinstance(s, str)]
    return context


def _upsert_resource_link(
    registration: Registration, context: LtiContext | None, body: dict[str, Any]
) -> LtiResourceLink | None:
    claim = body.get(Claim.RESOURCE_LINK)
    if not isinstance(claim, dict) or not claim.get("id"):
        return None
    link = _get_or_insert(
        LtiResourceLink, registration_id=registration.id, resource_link_id=str(claim["id"])
    )
    link.context = context
    link.title = _clean(claim.get("title")) or link.title
    custom = body.get(Claim.CUSTOM)
    link.custom = custom if isinstance(custom, dict) else {}
    ags = body.get(Claim.AGS_ENDPOINT)
    if isinstance(ags, dict) and _url(ags.get("lineitem")):
        link.lineitem_url = ags["lineitem"]
    return link


def record_launch(registration: Registration, body: dict[str, Any]) -> Launch:
    """Store the validated launch ``body`` and return the new :class:`Launch`. Flushes."""
    deployment = find_deployment(registration, body[Claim.DEPLOYMENT_ID])
    assert deployment is not None, "validated launches name a registered deployment"
    user = _upsert_user(registration, body)
    context = _upsert_context(registration, deployment, body)
    link = (
        _upsert_resource_link(registration, context, body)
        if body[Claim.MESSAGE_TYPE] == MessageType.RESOURCE_LINK
        else None
    )
    roles = list(body.get(Claim.ROLES) or [])
    custom = body.get(Claim.CUSTOM)
    presentation = body.get(Claim.LAUNCH_PRESENTATION)
    settings = body.get(Claim.DEEP_LINKING_SETTINGS)
    ags = body.get(Claim.AGS_ENDPOINT)
    launch = Launch(
        registration_id=registration.id,
        deployment=deployment,
        user=user,
        context=context,
        resource_link=link,
        message_type=body[Claim.MESSAGE_TYPE],
        role=tool_role_for(roles).value,
        lti_roles=roles,
        custom=custom if isinstance(custom, dict) else {},
        deep_linking_settings=settings if isinstance(settings, dict) else None,
        ags=ags if isinstance(ags, dict) else None,
        return_url=_url(presentation.get("return_url")) if isinstance(presentation, dict) else None,
        expires_at=utcnow() + timedelta(seconds=current_app.config["LAUNCH_MAX_AGE"]),
    )
    db.session.add(launch)
    db.session.flush()
    log.info(
        "launch accepted: launch=%s registration=%s user=%s context=%s role=%s type=%s",
        launch.id,
        registration.id,
        user.id,
        context.id if context else None,
        launch.role,
        launch.message_type,
    )
    return launch


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="lotsen-launch-token")


def issue_token(launch: Launch) -> str:
    """A signed token naming ``launch``, valid for LAUNCH_TOKEN_MAX_AGE seconds."""
    return _serializer().dumps({"l": launch.id})


def _presented_token() -> str | None:
    header = request.headers.get(TOKEN_HEADER)
    if header:
        return header
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        return authorization[len("Bearer ") :]
    if request.method in ("GET", "HEAD"):
        return request.args.get(TOKEN_FIELD)
    # On state-changing requests the token must come in the body or a header: a token that the
    # browser would add by itself (a cookie) would allow cross-site request forgery.
    return request.form.get(TOKEN_FIELD)


def launch_from_token(token: str | None) -> Launch:
    """The launch a token names; raises ``LaunchError("session")`` when it is not valid."""
    if not token:
        raise LaunchError("session", "kein Token")
    try:
        data = _serializer().loads(token, max_age=current_app.config["LAUNCH_TOKEN_MAX_AGE"])
    except SignatureExpired as error:
        raise LaunchError("session", "Token abgelaufen") from error
    except BadSignature as error:
        raise LaunchError("session", "Token ungültig") from error
    launch = db.session.get(Launch, data.get("l")) if isinstance(data, dict) else None
    if launch is None or launch.expires_at <= utcnow():
        raise LaunchError("session", "Start abgelaufen")
    return launch


def current_launch() -> Launch:
    """The launch of this request (set by :func:`launch_required`)."""
    launch = g.get("launch")
    if launch is None:
        raise LaunchError("session", "kein Start")
    return cast(Launch, launch)


def launch_required(role: ToolRole | None = None) -> Callable[[F], F]:
    """Decorator: the request must present a valid launch token (and, if given, that role)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            launch = launch_from_token(_presented_token())
            if role is not None and effective_role(launch) is not role:
                raise LaunchError("forbidden", f"Rolle {role} nötig")
            g.launch = launch
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator
