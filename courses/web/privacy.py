"""'Meine Daten': every person who launched (Navigator or Lotse) sees what the tool holds on them
(Art. 15 DSGVO) and downloads it as JSON (Art. 20) or as a readable HTML document, and their own
uploaded files from any course of their platform. Each download is recorded in the privacy audit
with the launch's id (:mod:`courses.services.privacy`); viewing the page is not a download."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, abort, render_template
from flask.typing import ResponseReturnValue

from courses.models import PrivacyAction, PrivacyActor
from courses.reports.personal_data import render_document, summary_context
from courses.services import privacy
from courses.services.dates import iso_day
from lti_tool.extensions import db
from lti_tool.models import LtiUser

from .helpers import current_launch, file_response, known_id, launch_required, refuse_nul_bytes

log = logging.getLogger(__name__)

bp = Blueprint("privacy", __name__, template_folder="../templates")
bp.before_request(refuse_nul_bytes)


def _person() -> LtiUser:
    user = db.session.get(LtiUser, current_launch().user_pk)
    if user is None:
        abort(404)
    return user


def _private(response: Response, filename: str) -> Response:
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _recorded_export(format: str) -> dict[str, Any]:
    """The person's data, with the export recorded (committed) under the launch's id."""
    launch = current_launch()
    user = _person()
    document = privacy.personal_data(user)
    privacy.record(
        PrivacyAction.EXPORT,
        actor=PrivacyActor.SELF,
        actor_ref=launch.id,
        counts=document["counts"],
        registration_pk=user.registration_pk,
        subject=privacy.subject_ref(user.registration_pk, user.sub),
        format=format,
    )
    db.session.commit()
    return document


@bp.get("/meine-daten")
@launch_required
def my_data() -> str:
    """The summary of everything stored on the launching person, with the download links."""
    return render_template(
        "privacy/meine_daten.html",
        launch=current_launch(),
        **summary_context(privacy.personal_data(_person())),
    )


@bp.get("/meine-daten.json")
@launch_required
def my_data_json() -> Response:
    """Everything as JSON (format: :func:`courses.services.privacy.personal_data`)."""
    document = _recorded_export("json")
    response = Response(privacy.to_json(document), mimetype="application/json")
    return _private(response, f"meine-daten-{iso_day(document['generated_at'])}.json")


@bp.get("/meine-daten.html")
@launch_required
def my_data_html() -> Response:
    """The readable, printable summary as one self-contained HTML file."""
    document = _recorded_export("html")
    response = Response(render_document(document), mimetype="text/html")
    response = _private(response, f"meine-daten-{iso_day(document['generated_at'])}.html")
    # Opened from the tool it is a download; should a browser show it, nothing may run.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


@bp.get("/meine-daten/dateien/<int:file_id>")
@launch_required
def own_file(file_id: int) -> ResponseReturnValue:
    """One of the person's own uploaded files, from any course of their platform."""
    launch = current_launch()
    stored = privacy.file_of_person(launch.user_pk, known_id(file_id))
    path = privacy.upload_path(stored.id) if stored is not None else None
    if stored is None or path is None or not path.is_file():
        abort(404)
    log.info("own file downloaded: file=%s user=%s", stored.id, launch.user_pk)
    return file_response(path, stored)
