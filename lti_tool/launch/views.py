"""The LTI endpoints: OIDC login initiation, the launch (redirect URI) and the tool's JWKS."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    url_for,
)
from flask.typing import ResponseReturnValue

from ..extensions import db
from ..keys import active_key, public_jwks
from ..vocab import MessageType
from ..web import content_security_policy
from .login import oidc_login
from .record import record_launch
from .token import TOKEN_FIELD, current_launch, issue_token, launch_required
from .validation import validate_launch

bp = Blueprint("lti", __name__, url_prefix="/lti")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    """OIDC third-party initiated login (LTI 1.3 core, section 5.1.1)."""
    response = oidc_login()
    # A fresh installation makes its signing key with its first login, so that it is published
    # before any service call signs with it (no statement once the key is known).
    active_key()
    # The nonce (and that key) must be stored before the browser goes on to the platform.
    db.session.commit()
    # pylti1p3's cookie check page runs an inline script.
    response.headers["Content-Security-Policy"] = content_security_policy(
        script="'unsafe-inline'", style="'unsafe-inline'"
    )
    return response


@bp.route("/launch", methods=["POST"])
def launch() -> ResponseReturnValue:
    """The one redirect URI: validates the id_token, records the launch, then sends the browser
    on (303, so a reload does not resend the launch) with the launch token."""
    message_launch = validate_launch()
    stored = record_launch(message_launch.stored_registration, message_launch.body)
    endpoint = (
        current_app.config["DEEP_LINKING_ENDPOINT"]
        if stored.message_type == MessageType.DEEP_LINKING
        else current_app.config["LAUNCH_LANDING_ENDPOINT"]
    )
    # The token before the commit: afterwards reading the row would load it again.
    token_value: dict[str, Any] = {TOKEN_FIELD: issue_token(stored)}
    db.session.commit()
    return redirect(url_for(endpoint or "lti.accepted", **token_value), code=303)


@bp.get("/gestartet")
@launch_required
def accepted() -> str:
    """Where a launch lands when no component names a page for it (the protocol alone)."""
    return render_template("launch_accepted.html", launch=current_launch())


@bp.get("/jwks.json")
def jwks() -> Response:
    """The tool's public keys, current and still-overlapping ones."""
    response = jsonify(public_jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def init_app(app: Flask) -> None:
    """Register the LTI endpoints. A component names the pages launches land on with
    ``LAUNCH_LANDING_ENDPOINT`` and ``DEEP_LINKING_ENDPOINT``; without one they land on a plain
    confirmation."""
    app.config.setdefault("LAUNCH_LANDING_ENDPOINT", None)
    app.config.setdefault("DEEP_LINKING_ENDPOINT", None)
    app.register_blueprint(bp)
