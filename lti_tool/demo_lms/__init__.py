"""Placeholder: the demo LMS is being written."""
from flask import Blueprint, Flask

bp = Blueprint("demo_lms", __name__, url_prefix="/demo-lms")


@bp.get("/")
def course() -> str:
    return "Demo-LMS folgt."


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
