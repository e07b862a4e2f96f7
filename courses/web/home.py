"""The landing pages: outside a launch what the tool is, after a launch the page that places the
linked module and sends each role on."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template
from flask.typing import ResponseReturnValue

from courses.services.learning import catalogue_modules, is_assigned, place_modules
from courses.services.municipalities import apply_from_launch
from courses.services.roles import is_lotse

from .helpers import (
    commit_keeping_loaded,
    current_launch,
    launch_required,
    launch_token,
    tool_url,
)
from .navigator import render_module, render_my_modules

bp = Blueprint("courses", __name__, template_folder="../templates")


@bp.get("/start")
@launch_required
def home() -> ResponseReturnValue:
    """Landing page after a launch. Places the module the resource link names, then sends a
    Lotse to the Lotse pages (``LOTSE_HOME_ENDPOINT``, else this welcome page) and shows a
    Navigator the linked module or "Meine Module"."""
    launch = current_launch()
    if launch.course is None:
        # From a user's home page, a portfolio, a tool placed outside a course: a valid launch
        # (the certification's "without context" case) that no course page can serve.
        return render_template(
            "courses/no_course.html",
            launch=launch,
            lotse=is_lotse(launch),
            modules=catalogue_modules(),
        )
    opened = place_modules(launch)
    lotse = is_lotse(launch)
    if not lotse:
        # The Gemeinde the LMS sends (custom parameter) applies at every Navigator's landing,
        # whichever page it shows.
        apply_from_launch(launch)
    commit_keeping_loaded()
    if lotse:
        endpoint = current_app.config.get("LOTSE_HOME_ENDPOINT")
        if endpoint:
            return redirect(tool_url(endpoint), code=303)
        return render_template("courses/home.html", launch=launch, token=launch_token())
    if opened is not None:
        if is_assigned(launch.user_pk, opened):
            # The module page itself, not a redirect to it: one request less per launch, and
            # the page's links carry the launch token as those of /module/<slug> do.
            return render_module(launch, opened)
        return render_my_modules(launch, notice="not_assigned")
    return render_my_modules(launch)


@bp.get("/")
def index() -> str:
    """Outside a launch: what this is and where to start it."""
    return render_template("courses/index.html")
