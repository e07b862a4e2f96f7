"""The launch token: a short-lived signed token that carries a launch to later requests instead of
a third-party cookie, and the decorator that requires it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app, g, request
from flask_babel import refresh as refresh_locale
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..context import LaunchContext
from ..errors import LaunchError
from ..extensions import db
from ..models import Launch, utcnow

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


def _load(launch_id: str) -> Launch | None:
    # One statement for the launch and everything its context shows (user, course, link,
    # registration), instead of a lazy load per attribute.
    return db.session.scalars(
        select(Launch)
        .where(Launch.id == launch_id)
        .options(
            joinedload(Launch.user),
            joinedload(Launch.context),
            joinedload(Launch.resource_link),
            joinedload(Launch.registration),
        )
    ).first()


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
    return LaunchContext.from_row(launch)


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
