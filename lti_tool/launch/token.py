"""The launch token: a short-lived signed token that carries a launch to later requests instead of
a third-party cookie, and the decorator that requires it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from functools import wraps
from types import SimpleNamespace
from typing import Any, TypeVar, cast

from flask import current_app, g, request
from flask_babel import refresh as refresh_locale
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import RowMapping, Select, Table, bindparam, select

from ..context import LaunchContext
from ..errors import LaunchError
from ..extensions import db
from ..models import Launch, LtiContext, LtiResourceLink, LtiUser, Registration, utcnow

TOKEN_FIELD = "lt"  # noqa: S105  (a field name, not a secret)
"""Name of the form field and query parameter that carries the launch token."""
TOKEN_HEADER = "X-Launch-Token"  # noqa: S105

F = TypeVar("F", bound=Callable[..., Any])


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="lotsen-launch-token")


def issue_token(launch: Launch | LaunchContext) -> str:
    """A signed token naming ``launch`` and the course and deployment it belongs to, valid for
    LAUNCH_TOKEN_MAX_AGE seconds from now (each page renews it; the launch's own expiry is the
    hard limit)."""
    context_pk = launch.context_pk
    return _serializer().dumps({"l": launch.id, "c": context_pk, "d": launch.deployment_pk})


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


def _row(mapping: RowMapping, table: Table) -> SimpleNamespace | None:
    """The columns of ``table`` in a joined row, as attributes (None for a missing outer join)."""
    if mapping[f"{table.name}_id"] is None:
        return None
    return SimpleNamespace(**{c.name: mapping[f"{table.name}_{c.name}"] for c in table.c})


@functools.cache
def _load_statement() -> Select[Any]:
    # One Core statement for the launch and everything its context shows (user, course, link,
    # registration), built once: no ORM objects are made for a row that is only read.
    tables = [cast(Table, model.__table__) for model in (Launch, LtiUser, LtiContext)]
    tables += [cast(Table, model.__table__) for model in (LtiResourceLink, Registration)]
    launch, user, context, link, registration = tables
    columns = [
        column.label(f"{table.name}_{column.name}") for table in tables for column in table.c
    ]
    return (
        select(*columns)
        .select_from(
            launch.join(user, user.c.id == launch.c.user_pk)
            .join(registration, registration.c.id == launch.c.registration_pk)
            .outerjoin(context, context.c.id == launch.c.context_pk)
            .outerjoin(link, link.c.id == launch.c.resource_link_pk)
        )
        .where(launch.c.id == bindparam("launch_id"))
    )


def _load(launch_id: str) -> SimpleNamespace | None:
    """The stored launch with ``user``, ``context``, ``resource_link`` and ``registration``."""
    mapping = (
        db.session.connection()
        .execute(_load_statement(), {"launch_id": launch_id})
        .mappings()
        .first()
    )
    if mapping is None:
        return None
    launch = _row(mapping, cast(Table, Launch.__table__))
    assert launch is not None
    launch.user = _row(mapping, cast(Table, LtiUser.__table__))
    launch.context = _row(mapping, cast(Table, LtiContext.__table__))
    launch.resource_link = _row(mapping, cast(Table, LtiResourceLink.__table__))
    launch.registration = _row(mapping, cast(Table, Registration.__table__))
    return launch


def launch_from_token(token: str | None) -> LaunchContext:
    """The launch a token names; raises ``LaunchError("session")`` when it is not valid: expired,
    forged, or naming another course or deployment than its launch."""
    if not token:
        raise LaunchError("session", "kein Token")
    try:
        data = _serializer().loads(token, max_age=current_app.config["LAUNCH_TOKEN_MAX_AGE"])
    except SignatureExpired as error:
        raise LaunchError("session", "Token abgelaufen") from error
    except BadSignature as error:
        raise LaunchError("session", "Token ungültig") from error
    launch_id = data.get("l") if isinstance(data, dict) else None
    launch = _load(launch_id) if isinstance(launch_id, str) else None
    if launch is None or launch.expires_at <= utcnow():
        raise LaunchError("session", "Start abgelaufen")
    if data.get("c") != launch.context_pk or data.get("d") != launch.deployment_pk:
        raise LaunchError("session", "Token gehört zu einem anderen Kurs")
    return LaunchContext.from_row(cast(Launch, launch))


def current_launch() -> LaunchContext:
    """The launch of this request (set by :func:`launch_required`)."""
    launch = g.get("launch")
    if launch is None:
        raise LaunchError("session", "kein Start")
    return cast(LaunchContext, launch)


def launch_required(view: F) -> F:
    """Decorator: the request must present a valid launch token. What role it needs is the
    domain's business."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.launch = launch_from_token(_presented_token())
        # The launch names the page's language (lti_tool.languages): forget one chosen before.
        refresh_locale()
        return view(*args, **kwargs)

    return cast(F, wrapper)
