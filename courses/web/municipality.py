"""The page where a Navigator chooses their municipality once from the official list
(``/gemeinde``); afterwards only a Lotse changes it."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from courses.models import MunicipalitySource
from courses.services.municipalities import (
    Municipality,
    apply_from_launch,
    assign,
    by_key,
    match,
    official_list,
    search,
)
from lti_tool.extensions import db

from .helpers import TOKEN_FIELD, current_launch, launch_token, navigator_required, tool_url

bp = Blueprint("municipality", __name__, template_folder="../templates")


@bp.route("/gemeinde", methods=["GET", "POST"])
@navigator_required
def choose() -> ResponseReturnValue:
    """A Navigator chooses their municipality once from the official list."""
    launch = current_launch()
    current = apply_from_launch(launch)
    error = None
    candidates: list[Municipality] = []
    value = ""
    if request.method == "POST" and current is None:
        value = (request.form.get("gemeinde") or "").strip()
        # The radio buttons of the suggestions send the key as "ags" (Amtlicher Gemeindeschlüssel).
        key = request.form.get("ags")
        chosen = by_key(key) if key else match(value)
        if chosen is not None:
            assign(launch.user_pk, chosen, MunicipalitySource.NAVIGATOR)
            db.session.commit()
            return redirect(tool_url("courses.home"), code=303)
        candidates = search(value)
        error = (
            _("Bitte wählen Sie Ihre Gemeinde aus den Vorschlägen.")
            if candidates
            else _("Diese Gemeinde steht nicht in der Liste der sächsischen Gemeinden.")
        )
    db.session.commit()
    status = 422 if error else 200
    return (
        render_template(
            "lotse/gemeinde.html",
            current=current,
            current_municipality=by_key(current.municipality_key) if current else None,
            municipalities=official_list(),
            candidates=candidates,
            error=error,
            value=value,
            token=launch_token(),
            token_name=TOKEN_FIELD,
        ),
        status,
    )
