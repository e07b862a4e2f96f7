"""Pages of the tool after a launch."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template

from lti_tool.sessions import current_launch, issue_token, launch_required

bp = Blueprint("courses", __name__, template_folder="templates")


@bp.get("/start")
@launch_required()
def home() -> str:
    """Landing page after a launch: who you are, your role, your course and platform."""
    launch = current_launch()
    return render_template("courses/home.html", launch=launch, token=issue_token(launch))


@bp.get("/")
def index() -> str:
    """Outside a launch: what this is and where to start it."""
    return render_template("courses/index.html")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
