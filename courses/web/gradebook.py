"""The Lotse's view of the gradebook sync (Notenbuch): per Navigator and module whether the LMS
has the current state (übertragen / ausstehend / fehlgeschlagen with the platform's reason), and a
button to try a failed one again. Only rows of the launch's own course are ever shown."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, redirect, render_template
from flask_babel import format_decimal
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from courses.gradebook.outbox import requeue, row_in_course, rows_of_course
from courses.services.progress import MODULE_STATUS_LABELS, status_of_score
from lti_tool.extensions import db
from lti_tool.vocab import progress_label

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


def sent_state(payload: Mapping[str, Any]) -> str:
    """What a queued or sent score says, in the words of the overview: the module status it
    stands for (``"abgeschlossen – 7 von 10 Punkten"``), never the raw AGS terms."""
    activity, grading = payload.get("activityProgress"), payload.get("gradingProgress")
    status = status_of_score(activity, grading)
    text = str(MODULE_STATUS_LABELS[status]) if status else progress_label(activity, grading)
    given, maximum = payload.get("scoreGiven"), payload.get("scoreMaximum")
    if given is not None and maximum is not None:
        points = _(
            "%(given)s von %(maximum)s Punkten",
            given=format_decimal(given),
            maximum=format_decimal(maximum),
        )
        text = f"{text} – {points}"
    return text


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
        sent_state=sent_state,
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
