"""The domain: the module catalogue, assignments, progress, quizzes, submissions, grading and the
views of Navigatoren and Lotsen. It never imports pylti1p3."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the domain's views and CLI."""
    from . import models, views  # noqa: F401  (models registers the tables)

    views.init_app(app)
    from . import cli; cli.init_app(app)  # noqa: E702, I001  (one line: flask courses …)

    from . import gradebook

    gradebook.init_app(app)
    from . import lotse_cli, lotse_views, municipalities  # Lotse pages, roster, grading

    municipalities.init_app(app)
    lotse_views.init_app(app)
    lotse_cli.init_app(app)
