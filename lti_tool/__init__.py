"""Lotsen-LTI: the application factory and the LTI 1.3 protocol adapter."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from config.settings import PROJECT_ROOT, load_settings

from .errors import PROBLEMS, LaunchError, Problem
from .extensions import babel, db, migrate

log = logging.getLogger(__name__)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the Lotsen-LTI application; ``test_config`` overrides the environment's settings."""
    app = Flask(__name__, instance_path=str(PROJECT_ROOT / "instance"))
    env_name = (test_config or {}).get("LOTSEN_ENV")
    app.config.update(load_settings(env_name))
    if test_config:
        app.config.update(test_config)
    _development_defaults(app)

    if app.config["PROXY_FIX"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    babel.init_app(app, locale_selector=lambda: "de", timezone_selector=lambda: "Europe/Berlin")

    from courses import init_app as init_courses

    # (models registers the tables)
    from . import cli, dynamic_registration, log_filters, models, views  # noqa: F401

    views.init_app(app)
    dynamic_registration.init_app(app)
    cli.init_app(app)
    init_courses(app)
    if app.config["DEMO_LMS"]:
        from .demo_lms import init_app as init_demo_lms

        init_demo_lms(app)

    log_filters.install()
    _register_error_pages(app)
    app.after_request(_security_headers)
    return app


def _development_defaults(app: Flask) -> None:
    """Local defaults for development and demo: SQLite and a secret in ``instance/``."""
    instance = Path(app.instance_path)
    if app.config.get("UPLOAD_FOLDER") is None:
        app.config["UPLOAD_FOLDER"] = str(instance / "uploads")
    if app.config["ENV_NAME"] != "development":
        return
    instance.mkdir(parents=True, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'lotsen.sqlite'}"
    if not app.config.get("SECRET_KEY"):
        secret_file = instance / "secret_key"
        if not secret_file.exists():
            secret_file.write_text(secrets.token_urlsafe(48))
            secret_file.chmod(0o600)
        app.config["SECRET_KEY"] = secret_file.read_text().strip()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    # SQLite: enforce foreign keys, and let readers and one writer work side by side.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


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
