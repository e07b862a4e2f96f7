"""What every page of a launch needs: the role guards, ids from the URL, links and forms that
carry the launch token, German dates and numbers for the templates, and domain errors as HTTP
responses. The only page module that uses the protocol's launch token (``lti_tool.launch.token``):
the others take ``current_launch``, ``launch_required`` and ``TOKEN_FIELD`` from here."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast

from flask import Response, abort, current_app, g, request, send_file, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup, escape
from werkzeug.exceptions import Conflict, Forbidden, HTTPException, UnprocessableEntity
from werkzeug.exceptions import NotFound as HttpNotFound

from courses.models import SubmissionFile
from courses.services.dates import format_day, format_moment
from courses.services.errors import DomainError, Invalid, Locked, NotAllowed, NotFound
from courses.services.roles import ToolRole, effective_role, is_lotse
from courses.services.submissions import format_size
from lti_tool.errors import LaunchError
from lti_tool.extensions import db
from lti_tool.launch.token import TOKEN_FIELD, current_launch, issue_token, launch_required
from lti_tool.models import LtiContext

F = TypeVar("F", bound=Callable[..., Any])

# --- guards --------------------------------------------------------------------------------------


def navigator_required(view: F) -> F:
    """The request must carry a valid launch token of a Navigator. Anonymous: 401; Lotse: 403."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if effective_role(current_launch()) is not ToolRole.NAVIGATOR:
            raise LaunchError("forbidden", f"Rolle {ToolRole.NAVIGATOR} nötig")
        return view(*args, **kwargs)

    return cast(F, launch_required(guarded))


def lotse_required(view: F) -> F:
    """The request must carry a valid launch token of a Lotse (platform role, grant or trusted
    custom parameter) launched in a course. Anonymous: 401; Navigator: 403."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        launch = current_launch()
        if effective_role(launch) is not ToolRole.LOTSE:
            raise LaunchError("forbidden", "Lotsen-Seite")
        if launch.course is None:
            raise LaunchError("forbidden", "Start ohne Kurs")
        return view(*args, **kwargs)

    return cast(F, launch_required(guarded))


def launch_context() -> LtiContext:
    """The LMS course of this request's launch (a :func:`lotse_required` view has one)."""
    launch = current_launch()
    context = db.session.get(LtiContext, launch.context_pk) if launch.context_pk else None
    if context is None:
        abort(404)
    return context


# --- ids from the URL ----------------------------------------------------------------------------

#: The largest row id (PostgreSQL ``integer``). A larger id from a URL can only fail in the database
#: (PostgreSQL: integer out of range, SQLite: overflow), a 500 whose log carries the request's
#: parameters; :func:`known_id` and :func:`parse_id` make it "not found" first.
MAX_ID = 2**31 - 1


def known_id(number: int) -> int:
    """``number`` if it can be a row id, else 404 (for ids from the URL, before any query)."""
    if not 1 <= number <= MAX_ID:
        abort(404)
    return number


def parse_id(value: str | None) -> int:
    """An id from a query parameter: digits within 1..MAX_ID, else 404."""
    if value is None or not value.isascii() or not value.isdigit():
        abort(404)
    return known_id(int(value))


def refuse_nul_bytes() -> None:
    """``before_request`` of the domain's pages: a NUL character in the path, the query or a form
    field is a 400. PostgreSQL can neither store nor compare text containing NUL; such a request
    failed in the database with a 500, and the error log carried its parameters (a submission's
    text, a Lotse's feedback)."""
    values: list[Any] = list((request.view_args or {}).values())
    for source in (request.args, request.form):
        for key, value in source.items(multi=True):
            values += (key, value)
    if any(isinstance(value, str) and "\x00" in value for value in values):
        abort(400)


# --- links and forms of a launch -----------------------------------------------------------------


def commit_keeping_loaded() -> None:
    """Commit, but keep the rows this request has read as they are instead of expiring them:
    the page goes on to show them, and reloading each one (a statement per row) would only
    read back what this request itself has just read or written."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def launch_token() -> str:
    """The launch token for links and forms of this response (renewed once per launch and
    response). Keyed by launch: in tests several requests share one application context, and with
    it ``g``."""
    launch = current_launch()
    tokens: dict[str, str] = g.setdefault("launch_tokens", {})
    if launch.id not in tokens:
        tokens[launch.id] = issue_token(launch)
    return tokens[launch.id]


def tool_url(endpoint: str, **values: Any) -> str:
    """``url_for`` plus the launch token, so the next request belongs to the same launch."""
    values[TOKEN_FIELD] = launch_token()
    return url_for(endpoint, **values)


def token_field() -> Markup:
    """The hidden form field that carries the launch token on POST (never in the URL)."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(TOKEN_FIELD, launch_token())


def format_percent(value: float) -> str:
    """``66.666`` -> ``"66,7 %"``; whole numbers without decimals."""
    text = f"{value:.1f}".removesuffix(".0")
    return escape(text.replace(".", ",")) + "\u00a0%"


def template_helpers() -> dict[str, Any]:
    """The helpers every template of the domain may call (an app context processor)."""
    return {
        "tool_url": tool_url,
        "token_field": token_field,
        # The Lotse templates call the same helpers by their short names.
        "lurl": tool_url,
        "lt_field": token_field,
        "day": format_day,
        "moment": format_moment,
        "format_day": format_day,
        "format_moment": format_moment,
        "format_percent": format_percent,
        "format_size": format_size,
        "is_lotse": is_lotse,
        "has_endpoint": lambda endpoint: endpoint in current_app.view_functions,
    }


# --- domain errors -------------------------------------------------------------------------------

#: The HTTP answer to each domain error a view does not handle itself.
HTTP_ERRORS: dict[type[DomainError], type[HTTPException]] = {
    NotFound: HttpNotFound,
    NotAllowed: Forbidden,
    Locked: Conflict,
    Invalid: UnprocessableEntity,
}


def domain_error_response(error: DomainError) -> ResponseReturnValue:
    """The app's error page (or JSON) for a domain error: nothing of the request is kept."""
    db.session.rollback()
    http = next(
        (answer for kind, answer in HTTP_ERRORS.items() if isinstance(error, kind)), HttpNotFound
    )
    return current_app.handle_http_exception(http())


# --- uploaded files ------------------------------------------------------------------------------


def file_response(path: Path, stored: SubmissionFile, *, inline: bool = False) -> Response:
    """An uploaded file as the answer: the type found in its content at upload, exactly
    (werkzeug would add a second "; charset=utf-8" to a text/* type that has one), never
    sniffed, never cached, sandboxed whether shown inline or downloaded (it runs no script and
    reaches nothing of the tool's origin), the uploader's name quoted (RFC 6266)."""
    response = send_file(
        path,
        mimetype=stored.content_type,
        as_attachment=not inline,
        download_name=stored.original_name,
        max_age=0,
        conditional=False,
        etag=False,
    )
    response.headers["Content-Type"] = stored.content_type
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
