"""The domain of Lotsen-LTI (catalogue, learning path, grading, Lotse reports, gradebook sync),
wired into an app by :func:`init_app`; it never imports pylti1p3."""

from __future__ import annotations

from flask import Flask

from courses import cli, models
from courses.gradebook.worker import start_background_worker
from courses.services.errors import DomainError
from courses.services.municipalities import DEFAULT_LIST_PATH
from courses.services.roster import refresh_requested
from courses.services.submissions import request_size_limit
from courses.web import (
    gradebook,
    home,
    legal,
    lotse,
    municipality,
    navigator,
    navigator_api,
    privacy,
    projects,
)
from courses.web.helpers import domain_error_response, template_helpers

__all__ = ["BLUEPRINTS", "init_app", "models"]

#: Every blueprint of the domain, in the order :func:`init_app` registers them.
BLUEPRINTS = (
    home.bp,
    navigator.bp,
    navigator_api.bp,
    municipality.bp,
    lotse.bp,
    gradebook.bp,
    privacy.bp,
    projects.bp,
)


def init_app(app: Flask) -> None:
    """Register every blueprint, CLI group and error handler of the domain, and (if asked) the
    gradebook's background worker."""
    app.config.setdefault("MUNICIPALITY_LIST_PATH", str(DEFAULT_LIST_PATH))
    app.config.setdefault("LOTSE_HOME_ENDPOINT", "lotse.dashboard")
    # Where the protocol sends a validated launch.
    app.config["LAUNCH_LANDING_ENDPOINT"] = "courses.home"
    app.config["DEEP_LINKING_ENDPOINT"] = "lotse.deep_linking"
    # Uploads are limited per file by our own check, which keeps the text answer; Flask's
    # request limit only stops absurd requests.
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        with app.app_context():
            app.config["MAX_CONTENT_LENGTH"] = request_size_limit()

    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    # Impressum, Datenschutz, Barrierefreiheit (with its production check of the settings).
    legal.init_app(app)
    app.context_processor(template_helpers)
    app.register_error_handler(DomainError, domain_error_response)

    app.cli.add_command(cli.courses)
    app.cli.add_command(cli.gradebook)
    if app.config.get("GRADEBOOK_BACKGROUND_WORKER", False):
        start_background_worker(app, idle=refresh_requested)
