"""Recording a validated launch: the user, the course (context), the resource link and the launch
row that later requests of the same launch name."""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import Table, bindparam, insert

from ..extensions import Base, db, dialect_insert
from ..models import (
    Deployment,
    Launch,
    LtiContext,
    LtiResourceLink,
    LtiUser,
    Registration,
    new_launch_id,
    utcnow,
)
from ..registrations import loaded_deployment
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


def _locale(value: Any) -> str | None:
    """A BCP 47 tag as the platform sent it (``de-DE``, ``en``), or None if it is not one."""
    if not isinstance(value, str) or not 2 <= len(value) <= 35:
        return None
    return value if all(part.isalnum() for part in value.replace("_", "-").split("-")) else None


def _url(value: Any) -> str | None:
    """A URL claim as stored: only a string that fits the column (else PostgreSQL fails)."""
    return value if isinstance(value, str) and 0 < len(value) <= URL_LENGTH else None


def _upsert(
    model: type[Base], conflict: list[str], values: dict[str, Any], keep: tuple[str, ...] = ()
) -> int:
    """One ``INSERT … ON CONFLICT DO UPDATE … RETURNING id``: the row's key, inserted or updated
    in a single statement. Two workers may write the same row at once (a class opening a new
    course together, one person in two tabs); the second waits for the first and updates its
    row. Columns in ``keep`` keep their stored value when the launch carries none (they are
    left out, not set to NULL: a JSON column would store the JSON ``null``)."""
    values = {k: v for k, v in values.items() if not (k in keep and v is None)}
    dialect = db.session.get_bind().dialect.name
    statement = _upsert_statement(dialect, model, tuple(conflict), tuple(values))
    # On the session's connection (same transaction), past the ORM: a plain Core statement,
    # built once per column set, so that SQLAlchemy neither re-plans nor re-caches it.
    return int(db.session.connection().execute(statement, values).scalar_one())


@functools.lru_cache(maxsize=64)
def _upsert_statement(
    dialect: str, model: type[Base], conflict: tuple[str, ...], columns: tuple[str, ...]
) -> Any:
    table: Table = model.__table__  # type: ignore[assignment]
    # Keyed by the dialect too: dialect_insert builds for the session's database.
    statement = dialect_insert(model).values({name: bindparam(name) for name in columns})
    updates = {
        name: statement.excluded[name]
        for name in columns
        if name not in conflict and name != "created_at"
    }
    statement = statement.on_conflict_do_update(index_elements=list(conflict), set_=updates)
    return statement.returning(table.c.id)


def _upsert_user(registration: Registration, body: dict[str, Any], now: datetime) -> int:
    # What the platform shares now replaces what it shared before: withheld means withheld.
    return _upsert(
        LtiUser,
        ["registration_pk", "sub"],
        {
            "registration_pk": registration.id,
            "sub": body["sub"],
            "name": _clean(body.get("name")),
            "given_name": _clean(body.get("given_name")),
            "family_name": _clean(body.get("family_name")),
            "email": _clean(body.get("email"), shorten=False),
            "last_launch_at": now,
            "created_at": now,
        },
    )


def _upsert_context(
    registration: Registration, deployment: Deployment, body: dict[str, Any], now: datetime
) -> int | None:
    claim = body.get(Claim.CONTEXT)
    if not isinstance(claim, dict):
        return None
    nrps = body.get(Claim.NRPS)
    ags = body.get(Claim.AGS_ENDPOINT)
    scopes = ags.get("scope") if isinstance(ags, dict) else None
    return _upsert(
        LtiContext,
        ["registration_pk", "context_id"],
        {
            "registration_pk": registration.id,
            "context_id": str(claim["id"]),
            "deployment_pk": deployment.id,
            "title": _clean(claim.get("title")),
            "label": _clean(claim.get("label")),
            "nrps_url": _url(nrps.get("context_memberships_url"))
            if isinstance(nrps, dict)
            else None,
            "ags_lineitems_url": _url(ags.get("lineitems")) if isinstance(ags, dict) else None,
            "ags_scopes": [s for s in scopes if isinstance(s, str)]
            if isinstance(scopes, list)
            else None,
            "created_at": now,
        },
        keep=("title", "label", "nrps_url", "ags_lineitems_url", "ags_scopes"),
    )


def _upsert_resource_link(
    registration: Registration, context_pk: int | None, body: dict[str, Any], now: datetime
) -> int | None:
    claim = body.get(Claim.RESOURCE_LINK)
    if not isinstance(claim, dict) or not claim.get("id"):
        return None
    custom = body.get(Claim.CUSTOM)
    ags = body.get(Claim.AGS_ENDPOINT)
    return _upsert(
        LtiResourceLink,
        ["registration_pk", "resource_link_id"],
        {
            "registration_pk": registration.id,
            "resource_link_id": str(claim["id"]),
            "context_pk": context_pk,
            "title": _clean(claim.get("title")),
            "custom": custom if isinstance(custom, dict) else {},
            "lineitem_url": _url(ags.get("lineitem")) if isinstance(ags, dict) else None,
            "created_at": now,
        },
        keep=("title", "lineitem_url"),
    )


def record_launch(registration: Registration, body: dict[str, Any]) -> Launch:
    """Store the validated launch ``body`` and return the new :class:`Launch` as written (not
    attached to the session). One statement each for user, course, resource link and the
    launch."""
    deployment = loaded_deployment(registration, body[Claim.DEPLOYMENT_ID])
    assert deployment is not None, "validated launches name a registered deployment"
    now = utcnow()
    user_pk = _upsert_user(registration, body, now)
    context_pk = _upsert_context(registration, deployment, body, now)
    link_pk = (
        _upsert_resource_link(registration, context_pk, body, now)
        if body[Claim.MESSAGE_TYPE] == MessageType.RESOURCE_LINK
        else None
    )
    custom = body.get(Claim.CUSTOM)
    presentation = body.get(Claim.LAUNCH_PRESENTATION)
    settings = body.get(Claim.DEEP_LINKING_SETTINGS)
    ags = body.get(Claim.AGS_ENDPOINT)
    launch = Launch(
        id=new_launch_id(),
        registration_pk=registration.id,
        deployment_pk=deployment.id,
        user_pk=user_pk,
        context_pk=context_pk,
        resource_link_pk=link_pk,
        message_type=body[Claim.MESSAGE_TYPE],
        lti_roles=list(body.get(Claim.ROLES) or []),
        custom=custom if isinstance(custom, dict) else {},
        deep_linking_settings=settings if isinstance(settings, dict) else None,
        ags=ags if isinstance(ags, dict) else None,
        return_url=_url(presentation.get("return_url")) if isinstance(presentation, dict) else None,
        locale=_locale(presentation.get("locale")) if isinstance(presentation, dict) else None,
        created_at=now,
        expires_at=now + timedelta(seconds=current_app.config["LAUNCH_MAX_AGE"]),
    )
    # A plain INSERT on the session's connection (same transaction): the row is only written
    # here, and the ORM's unit of work would cost more than the statement.
    table = cast(Table, Launch.__table__)
    db.session.connection().execute(
        insert(table), {column.name: getattr(launch, column.name) for column in table.c}
    )
    log.info(
        "launch accepted: launch=%s registration=%s user=%s context=%s type=%s",
        launch.id,
        registration.id,
        user_pk,
        context_pk,
        launch.message_type,
    )
    return launch
