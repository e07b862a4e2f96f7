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

from typing import Any

from flask import Flask

# Importing the endpoint modules attaches their routes to the blueprint.
from . import ags, deep_linking, nrps, oauth, oidc, pages, registration, store  # noqa: F401
from .blueprint import bp
from .cli import demo_lms
from .course import CLIENT_ID, COURSE, DEPLOYMENT_ID, PEOPLE, PLATFORM_NAME


def tool_facts() -> dict[str, Any]:
    """What the tool's own demo data (``flask courses demo-projects``) needs to know of this
    platform, handed over as the setting ``DEMO_LMS_FACTS`` so that the tool never imports the
    demo LMS."""
    anna = next(person for person in PEOPLE if person.key == "anna")
    return {
        "platform_name": PLATFORM_NAME,
        "client_id": CLIENT_ID,
        "deployment_id": DEPLOYMENT_ID,
        "course": {"id": COURSE.id, "label": COURSE.label, "title": COURSE.title},
        "navigator": {"sub": anna.sub, "municipality": anna.municipality},
    }


def init_app(app: Flask) -> None:
    """Mount the blueprint, the ``demo-lms`` CLI group and the demo's own database, when
    ``DEMO_LMS`` is on."""
    if not app.config["DEMO_LMS"]:
        return
    app.config["DEMO_LMS_FACTS"] = tool_facts()
    store.init_app(app)
    app.register_blueprint(bp)
    app.cli.add_command(demo_lms)
