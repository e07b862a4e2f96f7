"""Pages of the tool after a launch: the landing page that sends each role on, and the template
helpers every page of a launch uses (links that carry the launch token, German dates)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from markupsafe import Markup, escape

from lti_tool.extensions import db
from lti_tool.sessions import TOKEN_FIELD, current_launch, issue_token, launch_required

from .learning import is_assigned, place_modules
from .submissions import request_size_limit

bp = Blueprint("courses", __name__, template_folder="templates")

BERLIN = ZoneInfo("Europe/Berlin")

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
    """``before_request`` of the Navigator and Lotse pages: a NUL character in the path, the query
    or a form field is a 400. PostgreSQL can neither store nor compare text containing NUL; such a
    request failed in the database with a 500, and the error log carried its parameters (a
    submission's text, a Lotse's feedback)."""
    values: list[Any] = list((request.view_args or {}).values())
    for source in (request.args, request.form):
        for key, value in source.items(multi=True):
            values += (key, value)
    if any(isinstance(value, str) and "\x00" in value for value in values):
        abort(400)


def launch_token() -> str:
    """The launch token for links and forms of this response (renewed once per request)."""
    if "launch_token" not in g:
        g.launch_token = issue_token(current_launch())
    return str(g.launch_token)


def tool_url(endpoint: str, **values: Any) -> str:
    """``url_for`` plus the launch token, so the next request belongs to the same launch."""
    values[TOKEN_FIELD] = launch_token()
    return url_for(endpoint, **values)


def token_field() -> Markup:
    """The hidden form field that carries the launch token on POST."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(TOKEN_FIELD, launch_token())


def format_day(value: datetime | None) -> str:
    """TT.MM.JJJJ in Europe/Berlin."""
    return value.astimezone(BERLIN).strftime("%d.%m.%Y") if value else ""


def format_moment(value: datetime | None) -> str:
    """TT.MM.JJJJ, HH:MM Uhr in Europe/Berlin."""
    return value.astimezone(BERLIN).strftime("%d.%m.%Y, %H:%M Uhr") if value else ""


def format_percent(value: float) -> str:
    """``66.666`` -> ``"66,7 %"``; whole numbers without decimals."""
    text = f"{value:.1f}".removesuffix(".0")
    return escape(text.replace(".", ",")) + "\u00a0%"


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {
        "tool_url": tool_url,
        "token_field": token_field,
        "format_day": format_day,
        "format_moment": format_moment,
        "format_percent": format_percent,
    }


@bp.get("/start")
@launch_required()
def home() -> ResponseReturnValue:
    """Landing page after a launch. Places the module the resource link names, then sends a
    Lotse to the Lotse pages (``LOTSE_HOME_ENDPOINT``, else this welcome page) and a Navigator to
    the linked module or to "Meine Module"."""
    from .navigator_views import render_my_modules

    launch = current_launch()
    opened = place_modules(launch)
    db.session.commit()
    if launch.is_lotse:
        endpoint = current_app.config.get("LOTSE_HOME_ENDPOINT")
        if endpoint:
            return redirect(tool_url(endpoint), code=303)
        return render_template("courses/home.html", launch=launch, token=launch_token())
    if opened is not None:
        if is_assigned(launch.user_id, opened):
            return redirect(tool_url("navigator.module", slug=opened.module.slug), code=303)
        return render_my_modules(launch, notice="not_assigned")
    return render_my_modules(launch)


@bp.get("/")
def index() -> str:
    """Outside a launch: what this is and where to start it."""
    return render_template("courses/index.html")


def init_app(app: Flask) -> None:
    # Uploads are limited per file by our own check, which keeps the text answer; Flask's
    # request limit only stops absurd requests.
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        with app.app_context():
            app.config["MAX_CONTENT_LENGTH"] = request_size_limit()
    from .navigator_views import bp as navigator_bp

    app.register_blueprint(bp)
    app.register_blueprint(navigator_bp)
