"""The built-in demo LMS: a small but real LTI 1.3 platform under ``/demo-lms`` that launches
the tool over HTTP exactly as Moodle would (Dynamic Registration, OIDC login, signed id_token,
Deep Linking, OAuth2 client credentials, AGS, NRPS). A platform, so a package beside the tool
that uses only the tool's public pieces (keys, vocabulary, registrations). Only for development
and demonstrations: :func:`init_app` mounts nothing unless ``DEMO_LMS`` is on, which production
forbids.

Its state (key, resource links, gradebook, tokens) lives in its own SQLite file, never in the
tool's schema.
"""

from __future__ import annotations

from flask import Flask

# Importing the endpoint modules attaches their routes to the blueprint.
from . import ags, deep_linking, nrps, oauth, oidc, pages, registration, store  # noqa: F401
from .blueprint import bp
from .cli import demo_lms


def init_app(app: Flask) -> None:
    """Mount the blueprint, the ``demo-lms`` CLI group and the demo's own database, when
    ``DEMO_LMS`` is on."""
    if not app.config["DEMO_LMS"]:
        return
    store.init_app(app)
    app.register_blueprint(bp)
    app.cli.add_command(demo_lms)
