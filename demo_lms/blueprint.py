"""The ``demo_lms`` blueprint under ``/demo-lms`` and what all its responses share."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from .course import base_url, origin

bp = Blueprint(
    "demo_lms",
    __name__,
    url_prefix="/demo-lms",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


@bp.after_request
def _demo_headers(response: Response) -> Response:
    # Runs before the app's own header hook, which only sets what is still missing. The demo's
    # pages use no inline script: the auto-submit of the id_token form is a static file.
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"object-src 'none'; base-uri 'none'; frame-ancestors 'self'; "
        f"form-action 'self' {origin(base_url())}",
    )
    return response


def api_error(status: int, error: str, description: str, **headers: str) -> Response:
    """A JSON error for the machine endpoints (token, AGS, NRPS): never the tool's HTML page."""
    body: dict[str, Any] = {"error": error, "error_description": description}
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers)
    return response
