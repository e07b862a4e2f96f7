"""The domain: the module catalogue, assignments, progress, quizzes, submissions, grading and the
views of Navigatoren and Lotsen. It never imports pylti1p3."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the domain's tables, views, CLI and its part in the launch's role."""
    from lti_tool.roles import set_role_resolver

    from . import (
        cli,
        gradebook,
        lotse_cli,
        lotse_views,
        models,  # noqa: F401  (registers the tables)
        municipalities,
        roster,
        views,
    )

    # An admin's Lotse grant (ILIAS "always learner") counts wherever a role is checked.
    set_role_resolver(app, roster.effective_role)
    views.init_app(app)
    cli.init_app(app)
    gradebook.init_app(app)
    municipalities.init_app(app)
    lotse_views.init_app(app)
    lotse_cli.init_app(app)
    from .web.legal import init_app as init_legal_pages  # Impressum, Datenschutz, Barrierefreiheit

    init_legal_pages(app)
