"""The Lotse's view of the gradebook sync: per Navigator and module whether the LMS has the
current state (übertragen / ausstehend / fehlgeschlagen with the platform's reason), and a
button to try a failed one again. Only rows of the launch's own course are ever shown."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, abort, current_app, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from lti_tool.extensions import db
from lti_tool.models import LtiUser
from lti_tool.sessions import TOKEN_FIELD, current_launch, issue_token, launch_required
from lti_tool.vocab import ToolRole

from .gradebook import GradebookOutbox, OutboxState, requeue
from .lotse_views import lurl
from .models import CatalogModule, CourseModule
from .views import known_id

log = logging.getLogger(__name__)

bp = Blueprint("gradebook", __name__, template_folder="templates")


def _context_pk() -> int:
    launch = current_launch()
    if launch.context_pk is None:
        abort(404)
    return launch.context_pk


@bp.get("/lotse/notenbuch")
@launch_required(ToolRole.LOTSE)
def notenbuch() -> str:
    """Sync state of every Navigator × module of this course."""
    launch = current_launch()
    rows: list[Any] = list(
        db.session.execute(
            select(GradebookOutbox, CatalogModule.title, LtiUser)
            .join(CourseModule, CourseModule.id == GradebookOutbox.course_module_pk)
            .join(CatalogModule, CatalogModule.id == CourseModule.module_pk)
            .join(LtiUser, LtiUser.id == GradebookOutbox.user_pk)
            .where(CourseModule.context_pk == _context_pk())
            .order_by(CatalogModule.position, CatalogModule.title, LtiUser.id)
        )
    )
    counts = {state.value: 0 for state in OutboxState}
    for outbox, _title, _user in rows:
        counts[outbox.state] = counts.get(outbox.state, 0) + 1
    return render_template(
        "gradebook/notenbuch.html",
        launch=launch,
        rows=rows,
        counts=counts,
        token=issue_token(launch),
        token_field=TOKEN_FIELD,
        # The Lotse navigation (lotse/base.html) of the Lotse's other pages.
        lurl=lurl,
        has_endpoint=lambda endpoint: endpoint in current_app.view_functions,
    )


@bp.post("/lotse/notenbuch/<int:outbox_id>/wiederholen")
@launch_required(ToolRole.LOTSE)
def wiederholen(outbox_id: int) -> Response:
    """Queue a failed (or waiting) row again, now. A row of another course does not exist here."""
    launch = current_launch()
    row = db.session.get(GradebookOutbox, known_id(outbox_id))
    if row is None or row.course_module.context_pk != _context_pk():
        abort(404)
    requeue(row)
    db.session.commit()
    log.info("gradebook retry by lotse: outbox=%s launch=%s", outbox_id, launch.id)
    target = url_for(".notenbuch") + "?" + urlencode({TOKEN_FIELD: issue_token(launch)})
    return redirect(target, code=303)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
