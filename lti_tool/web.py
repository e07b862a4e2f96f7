"""What every response shares: error pages in the page's language (HTML or JSON) and the
security headers, with a Content-Security-Policy that lets only the registered platforms embed the
tool."""

from __future__ import annotations

import logging
import time
from typing import cast

from flask import Flask, Response, current_app, g, jsonify, render_template, request
from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from .context import LaunchContext
from .errors import PROBLEMS, LaunchError, Problem
from .extensions import db
from .models import Registration
from .urls import origin

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.path.startswith("/api/") or (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def render_problem(problem: Problem, status: int, detail: str | None = None) -> Response:
    """Render an error page in the page's language (or JSON for API clients)."""
    if _wants_json():
        response = jsonify(
            {"error": problem.title, "message": problem.explanation, "detail": detail}
        )
    else:
        response = Response(
            render_template("problem.html", problem=problem, detail=detail),
            mimetype="text/html",
        )
    response.status_code = status
    return response


HTTP_PROBLEMS = {
    400: Problem(
        lazy_gettext("Ungültige Anfrage"),
        lazy_gettext("Die Anfrage konnte nicht verarbeitet werden."),
        "",
    ),
    403: PROBLEMS["forbidden"],
    404: Problem(
        lazy_gettext("Nicht gefunden"),
        lazy_gettext("Diese Seite gibt es nicht, oder sie ist für Sie nicht sichtbar."),
        "",
    ),
    405: Problem(
        lazy_gettext("Methode nicht erlaubt"),
        lazy_gettext("Diese Adresse nimmt diese Art von Anfrage nicht an."),
        "",
    ),
    413: Problem(
        lazy_gettext("Zu groß"),
        lazy_gettext("Die gesendeten Daten überschreiten die erlaubte Größe."),
        "",
    ),
    422: Problem(
        lazy_gettext("Ungültige Eingabe"), lazy_gettext("Einige Angaben sind nicht gültig."), ""
    ),
    429: Problem(
        lazy_gettext("Zu viele Anfragen"),
        lazy_gettext("Bitte warten Sie einen Moment und versuchen Sie es erneut."),
        "",
    ),
}


def init_app(app: Flask) -> None:
    """Register the error pages and the security headers."""
    app.after_request(_security_headers)
    _register_error_pages(app)


def _register_error_pages(app: Flask) -> None:
    @app.errorhandler(LaunchError)
    def _launch_error(error: LaunchError) -> Response:
        log.info(
            "request refused: code=%s status=%s detail=%s", error.code, error.status, error.detail
        )
        db.session.rollback()
        return render_problem(error.problem, error.status, error.detail)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        problem = HTTP_PROBLEMS.get(
            status, Problem(error.name, error.description or "", "", status)
        )
        return render_problem(problem, status)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.path)
        db.session.rollback()
        problem = Problem(
            lazy_gettext("Interner Fehler"),
            lazy_gettext(
                "Ein unerwarteter Fehler ist aufgetreten. Ihre Eingaben wurden nicht verändert."
            ),
            "",
            500,
        )
        return render_problem(problem, 500)


#: How long a process reuses the list of registered platform origins (a new registration can
#: embed the tool after at most this many seconds in every worker).
ORIGINS_TTL_SECONDS = 30.0


def registered_origins() -> tuple[str, ...]:
    """The web origins of every registered platform (issuer and OIDC endpoint), cached per
    process for ORIGINS_TTL_SECONDS: only they may embed the tool."""
    cached = current_app.extensions.get("lti_platform_origins")
    now = time.monotonic()
    if cached is not None and cached[0] > now:
        return cast(tuple[str, ...], cached[1])
    rows = db.session.execute(select(Registration.issuer, Registration.auth_login_url)).all()
    found = sorted({o for row in rows for o in map(origin, row) if o})
    current_app.extensions["lti_platform_origins"] = (now + ORIGINS_TTL_SECONDS, tuple(found))
    return tuple(found)


def forget_registered_origins() -> None:
    """After a registration changed: this process reads the origins again."""
    current_app.extensions.pop("lti_platform_origins", None)


def _embedding_origins() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(frame ancestors, form targets): a request of a launch only for its own platform (and,
    in Deep Linking, its return URL); any other page for the registered platforms."""
    launch: LaunchContext | None = g.get("launch")
    if launch is not None:
        frames = launch.platform_origins
        forms = frames + tuple(
            o
            for o in [origin(launch.deep_linking.return_url if launch.deep_linking else None)]
            if o
        )
        return frames, forms
    try:
        every = registered_origins()
    except SQLAlchemyError:
        db.session.rollback()
        every = ()
    return every, every


def content_security_policy(*, script: str = "'self'", style: str = "'self'") -> str:
    """The policy of a tool page: own resources only; embeddable by the platforms only."""
    frames, forms = (" ".join(("'self'", *o)) for o in _embedding_origins())
    return (
        f"default-src 'self'; script-src {script}; style-src {style}; img-src 'self' data:; "
        "object-src 'none'; base-uri 'self'; "
        f"frame-ancestors {frames}; form-action {forms}"
    )


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", content_security_policy())
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Launch tokens travel in URLs; never send them to another site.
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
