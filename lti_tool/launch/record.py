"""Recording a validated launch: the user, the course (context), the resource link and the launch
row that later requests of the same launch name."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, TypeVar

from flask import current_app
from sqlalchemy import select

from ..extensions import db, insert_if_missing
from ..models import (
    Deployment,
    Launch,
    LtiContext,
    LtiResourceLink,
    LtiUser,
    Registration,
    utcnow,
)
from ..registrations import find_deployment
from ..vocab import Claim, MessageType

log = logging.getLogger(__name__)

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
    user = _get_or_insert(LtiUser, registration_pk=registration.id, sub=body["sub"])
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
        LtiContext, registration_pk=registration.id, context_id=str(claim["id"])
    )
    context.deployment_pk = deployment.id
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
        LtiResourceLink, registration_pk=registration.id, resource_link_id=str(claim["id"])
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
        registration_pk=registration.id,
        deployment=deployment,
        user=user,
        context=context,
        resource_link=link,
        message_type=body[Claim.MESSAGE_TYPE],
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
        "launch accepted: launch=%s registration=%s user=%s context=%s type=%s",
        launch.id,
        registration.id,
        user.id,
        context.id if context else None,
        launch.message_type,
    )
    return launch
