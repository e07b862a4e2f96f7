"""The Lotse's view of the gradebook sync (Notenbuch): per Navigator and module whether the LMS
has the current state (übertragen / ausstehend / fehlgeschlagen with the platform's reason), and a
button to try a failed one again. Only rows of the launch's own course are ever shown."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, redirect, render_template
from werkzeug.wrappers import Response

from courses.gradebook.outbox import requeue, row_in_course, rows_of_course
from lti_tool.extensions import db

from .helpers import (
    TOKEN_FIELD,
    current_launch,
    known_id,
    launch_context,
    launch_token,
    lotse_required,
    refuse_nul_bytes,
    tool_url,
)

log = logging.getLogger(__name__)

bp = Blueprint("gradebook", __name__, template_folder="../templates")
bp.before_request(refuse_nul_bytes)


@bp.get("/lotse/notenbuch")
@lotse_required
def gradebook_page() -> str:
    """Sync state of every Navigator × module of this course."""
    rows, counts = rows_of_course(launch_context().id)
    return render_template(
        "gradebook/notenbuch.html",
        launch=current_launch(),
        rows=rows,
        counts=counts,
        token=launch_token(),
        token_field=TOKEN_FIELD,
    )


@bp.post("/lotse/notenbuch/<int:outbox_id>/wiederholen")
@lotse_required
def retry(outbox_id: int) -> Response:
    """Queue a failed (or waiting) row again, now. A row of another course does not exist here."""
    row = row_in_course(known_id(outbox_id), launch_context().id)
    if row is None:
        abort(404)
    requeue(row)
    db.session.commit()
    log.info("gradebook retry by lotse: outbox=%s launch=%s", outbox_id, current_launch().id)
    return redirect(tool_url(".gradebook_page"), code=303)
