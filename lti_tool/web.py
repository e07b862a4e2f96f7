"""What every response shares: German error pages (HTML or JSON) and the security headers."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from .errors import PROBLEMS, LaunchError, Problem
from .extensions import db

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.path.startswith("/api/") or (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def render_problem(problem: Problem, status: int, detail: str | None = None) -> Response:
    """Render a German error page (or JSON for API clients)."""
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
    400: Problem("Ungültige Anfrage", "Die Anfrage konnte nicht verarbeitet werden.", ""),
    403: PROBLEMS["forbidden"],
    404: Problem(
        "Nicht gefunden", "Diese Seite gibt es nicht, oder sie ist für Sie nicht sichtbar.", ""
    ),
    405: Problem(
        "Methode nicht erlaubt", "Diese Adresse nimmt diese Art von Anfrage nicht an.", ""
    ),
    413: Problem("Zu groß", "Die gesendeten Daten überschreiten die erlaubte Größe.", ""),
    422: Problem("Ungültige Eingabe", "Einige Angaben sind nicht gültig.", ""),
    429: Problem(
        "Zu viele Anfragen", "Bitte warten Sie einen Moment und versuchen Sie es erneut.", ""
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
            "Interner Fehler",
            "Ein unerwarteter Fehler ist aufgetreten. Ihre Eingaben wurden nicht verändert.",
            "",
            500,
        )
        return render_problem(problem, 500)


def _security_headers(response: Response) -> Response:
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
        "frame-ancestors *; form-action *",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Launch tokens travel in URLs; never send them to another site.
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
