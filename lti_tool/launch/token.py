"""The launch token: a short-lived signed token that carries a launch to later requests instead of
a third-party cookie, and the decorator that requires it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app, g, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..errors import LaunchError
from ..extensions import db
from ..models import Launch, utcnow

TOKEN_FIELD = "lt"  # noqa: S105  (a field name, not a secret)
"""Name of the form field and query parameter that carries the launch token."""
TOKEN_HEADER = "X-Launch-Token"  # noqa: S105

F = TypeVar("F", bound=Callable[..., Any])


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


def launch_required(view: F) -> F:
    """Decorator: the request must present a valid launch token. What role it needs is the
    domain's business."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.launch = launch_from_token(_presented_token())
        return view(*args, **kwargs)

    return cast(F, wrapper)
