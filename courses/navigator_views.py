"""The Navigator's pages and JSON API: "Meine Module", a module, its units (reading, quiz,
assignment), quiz attempts, submissions and their files.

Every page belongs to a launch: links and forms carry the launch token (``tool_url``,
``token_field``); the API takes it in the ``X-Launch-Token`` header. A Navigator reaches only the
modules assigned to them and only their own attempts, submissions and files; everything else is 404.
"""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    abort,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from markupsafe import Markup
from marshmallow import Schema, ValidationError

from lti_tool.extensions import db
from lti_tool.models import Launch, utcnow
from lti_tool.sessions import current_launch, launch_required
from lti_tool.vocab import ToolRole

from .learning import (
    SaveOutcome,
    SubmissionLocked,
    assigned_course_module,
    assigned_course_modules,
    delete_submission_file,
    downloadable_file,
    mark_read,
    neighbours,
    open_unit,
    save_submission,
    take_quiz,
    unit_of,
)
from .models import CatalogUnit, CourseModule, UnitKind, UnitState, UnitVersion
from .municipalities import needs_choice
from .progress import (
    UNIT_STATE_LABELS,
    ModuleProgress,
    UnitStatus,
    module_progress,
    modules_progress,
    rubric_maximum,
    unit_state,
)
from .quizzes import (
    QuizAttempt,
    attempts_of,
    counted_attempt,
    load_quiz,
    public_questions,
    result_of,
)
from .schemas import (
    AttemptResultSchema,
    ModuleDetailSchema,
    ModuleSummarySchema,
    QuizAnswersSchema,
    ReadConfirmationSchema,
    SubmissionDumpSchema,
    SubmissionLoadSchema,
    UnitDetailSchema,
)
from .submissions import (
    ACCEPT_ATTRIBUTE,
    ALLOWED_LABEL,
    MAX_TEXT_LENGTH,
    Submission,
    SubmissionState,
    chosen_files,
    file_path,
    format_size,
    max_upload_bytes,
    max_upload_files,
    request_size_limit,
    review_of,
    submission_of,
)
from .views import format_day, known_id, launch_token, refuse_nul_bytes, tool_url

log = logging.getLogger(__name__)

bp = Blueprint(
    "navigator",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/courses",
)

navigator_only = launch_required(ToolRole.NAVIGATOR)

NOTICES = {
    "gelesen": lazy_gettext("Die Einheit ist als gelesen markiert."),
    "entwurf": lazy_gettext("Ihr Entwurf ist gespeichert."),
    "eingereicht": lazy_gettext(
        "Ihre Abgabe ist eingereicht. Sie wartet jetzt auf die Bewertung durch Ihre "
        "Digital-Lotsin oder Ihren Digital-Lotsen."
    ),
    "datei-entfernt": lazy_gettext("Die Datei wurde entfernt."),
    "not_assigned": lazy_gettext(
        "Das Modul dieses Links ist Ihnen nicht zugewiesen. Hier sehen Sie Ihre Module."
    ),
}
KIND_LABELS = {
    UnitKind.READING: lazy_gettext("Lesetext"),
    UnitKind.QUIZ: lazy_gettext("Quiz"),
    UnitKind.ASSIGNMENT: lazy_gettext("Praxisaufgabe"),
}
SUBMISSION_STATE_LABELS = {
    SubmissionState.DRAFT: lazy_gettext("Entwurf – noch nicht eingereicht"),
    SubmissionState.SUBMITTED: lazy_gettext("eingereicht – wartet auf Bewertung"),
    SubmissionState.GRADED: lazy_gettext("bewertet"),
    SubmissionState.RETURNED: lazy_gettext(
        "zur Überarbeitung zurückgegeben – Sie können sie ändern und erneut einreichen"
    ),
}


@bp.before_request
def _request_limit() -> None:
    # Above the per-file limits, so that our own check refuses a big file and the text survives.
    request.max_content_length = request_size_limit()


# After the request limit: reading the form parses the body.
bp.before_request(refuse_nul_bytes)


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    return {
        "format_size": format_size,
        "KIND_LABELS": KIND_LABELS,
        "UNIT_STATE_LABELS": UNIT_STATE_LABELS,
        "SUBMISSION_STATE_LABELS": SUBMISSION_STATE_LABELS,
    }


def _notice(code: str | None = None) -> str | None:
    code = code or request.args.get("hinweis")
    return str(NOTICES[code]) if code in NOTICES else None


# --- Internal links in imported HTML --------------------------------------------------------------

_A_TAG = re.compile(r"<a\s[^>]*>", re.IGNORECASE)
_INTERNAL_HREF = re.compile(r'href="(/module/[A-Za-z0-9_\-/]*)(#[^"]*)?"')


def with_token_links(body_html: str | None) -> Markup:
    """The sanitised HTML of a reading or brief, with internal links (``data-internal="1"``,
    ``/module/...``) carrying the launch token. Other links never get the token."""
    if not body_html:
        return Markup("")
    token = html.escape(quote(launch_token(), safe=""))

    def add_token(match: re.Match[str]) -> str:
        tag = match.group(0)
        if 'data-internal="1"' not in tag:
            return tag
        return _INTERNAL_HREF.sub(
            lambda m: (
                f'href="{html.escape(request.script_root)}{m.group(1)}?lt={token}'
                f'{m.group(2) or ""}"'
            ),
            tag,
            count=1,
        )

    # The HTML was sanitised at import (nh3); only our own attribute is added here.
    return Markup(_A_TAG.sub(add_token, body_html))  # noqa: S704


# --- Pages ----------------------------------------------------------------------------------------


def render_my_modules(launch: Launch, notice: str | None = None) -> str:
    """ "Meine Module": the Navigator's assigned modules with progress and the next step."""
    modules = (
        assigned_course_modules(launch.user_id, launch.context_pk) if launch.context_pk else []
    )
    # The LMS's `gemeinde` parameter is applied here; without it the Navigator chooses once.
    choose_municipality = needs_choice(launch)
    db.session.commit()
    return render_template(
        "courses/my_modules.html",
        launch=launch,
        choose_municipality=choose_municipality,
        modules=modules_progress(launch.user_id, modules),
        notice=_notice(notice),
        now=utcnow(),
    )


@bp.get("/module")
@navigator_only
def my_modules() -> str:
    return render_my_modules(current_launch())


@bp.get("/module/<slug>")
@navigator_only
def module(slug: str) -> str:
    """A module: summary, objectives, sources, units with their states, where to go on."""
    launch = current_launch()
    placed = assigned_course_module(launch, slug)
    return render_template(
        "courses/module.html",
        launch=launch,
        progress=module_progress(launch.user_id, placed),
        module=placed.module,
        now=utcnow(),
    )


def _unit_context(
    slug: str, unit_slug: str
) -> tuple[Launch, CourseModule, CatalogUnit, UnitVersion]:
    launch = current_launch()
    placed = assigned_course_module(launch, slug)
    unit, version = unit_of(placed, unit_slug)
    return launch, placed, unit, version


def _render_unit(
    launch: Launch,
    placed: CourseModule,
    unit: CatalogUnit,
    version: UnitVersion,
    *,
    status: int = 200,
    **extra: Any,
) -> tuple[str, int]:
    previous, following = neighbours(placed, unit)
    state = unit_state(launch.user_id, placed.context_pk, unit)
    context: dict[str, Any] = {
        "launch": launch,
        "module": placed.module,
        "unit": unit,
        "version": version,
        "state": state,
        "previous": previous,
        "following": following,
        "notice": _notice(),
    }
    if unit.kind == UnitKind.QUIZ:
        quiz = load_quiz(version)
        attempts = attempts_of(launch.user_id, placed.context_pk, unit.id)
        context.update(
            questions=public_questions(quiz),
            quiz=quiz,
            attempts=attempts,
            counted=counted_attempt(attempts, quiz.scoring),
            errors={},
            chosen={},
        )
    elif unit.kind == UnitKind.ASSIGNMENT:
        submission = submission_of(launch.user_id, placed.context_pk, unit.id)
        context.update(
            body=with_token_links(version.body_html),
            criteria=(version.rubric or {}).get("criteria") or [],
            max_points=rubric_maximum(version),
            submission=submission,
            review=review_of(submission) if submission is not None else None,
            text=submission.text if submission is not None else "",
            problems=[],
            invalid=set(),
            limits={
                "files": max_upload_files(),
                "size": format_size(max_upload_bytes()),
                "types": ALLOWED_LABEL,
                "accept": ACCEPT_ATTRIBUTE,
                "text": MAX_TEXT_LENGTH,
            },
        )
    else:
        context.update(body=with_token_links(version.body_html))
    context.update(extra)
    return render_template(f"courses/unit_{unit.kind}.html", **context), status


@bp.get("/module/<slug>/einheit/<unit>")
@navigator_only
def unit(slug: str, unit: str) -> ResponseReturnValue:
    """A unit of a module. Opening it starts it."""
    launch, placed, catalog_unit, version = _unit_context(slug, unit)
    open_unit(launch.user_id, placed, version)
    db.session.commit()
    return _render_unit(launch, placed, catalog_unit, version)


@bp.post("/module/<slug>/einheit/<unit>/gelesen")
@navigator_only
def mark_unit_read(slug: str, unit: str) -> ResponseReturnValue:
    launch, placed, _catalog_unit, version = _unit_context(slug, unit)
    mark_read(launch.user_id, placed, version)
    db.session.commit()
    return redirect(tool_url("navigator.unit", slug=slug, unit=unit, hinweis="gelesen"), code=303)


@bp.post("/module/<slug>/einheit/<unit>/quiz")
@navigator_only
def submit_quiz(slug: str, unit: str) -> ResponseReturnValue:
    """Score a quiz attempt from the form. Only the chosen option ids are read from the form:
    anything else a client sends (a score, correct flags) is ignored."""
    launch, placed, catalog_unit, version = _unit_context(slug, unit)
    quiz = load_quiz(version)
    answers = {
        q.id: request.form.getlist(f"antwort-{q.id}")
        for q in quiz.questions
        if request.form.getlist(f"antwort-{q.id}")
    }
    try:
        outcome = take_quiz(launch.user_id, placed, version, answers)
    except ValidationError as error:
        db.session.rollback()
        messages: dict[str, Any] = error.messages if isinstance(error.messages, dict) else {}
        return _render_unit(
            launch,
            placed,
            catalog_unit,
            version,
            status=422,
            errors=messages.get("answers", {}),
            chosen=answers,
        )
    db.session.commit()
    return redirect(
        tool_url("navigator.attempt", slug=slug, unit=unit, attempt_id=outcome.attempt.id),
        code=303,
    )


def _own_attempt(launch: Launch, catalog_unit: CatalogUnit, attempt_id: int) -> QuizAttempt:
    attempt = db.session.get(QuizAttempt, known_id(attempt_id))
    if (
        attempt is None
        or attempt.user_pk != launch.user_id
        or attempt.context_pk != launch.context_pk
        or attempt.unit_pk != catalog_unit.id
    ):
        abort(404)
    return attempt


@bp.get("/module/<slug>/einheit/<unit>/versuch/<int:attempt_id>")
@navigator_only
def attempt(slug: str, unit: str, attempt_id: int) -> str:
    """The result of one attempt: score, per-question feedback, explanations, history."""
    launch, placed, catalog_unit, version = _unit_context(slug, unit)
    own = _own_attempt(launch, catalog_unit, attempt_id)
    quiz = load_quiz(version)
    attempts = attempts_of(launch.user_id, placed.context_pk, catalog_unit.id)
    _previous, following = neighbours(placed, catalog_unit)
    return render_template(
        "courses/quiz_attempt.html",
        launch=launch,
        module=placed.module,
        unit=catalog_unit,
        attempt=own,
        number=next(i for i, a in enumerate(attempts, 1) if a.id == own.id),
        result=result_of(own),
        quiz=quiz,
        attempts=attempts,
        counted=counted_attempt(attempts, quiz.scoring),
        state=unit_state(launch.user_id, placed.context_pk, catalog_unit),
        following=following,
    )


def _commit_or_remove(paths: list[Path]) -> None:
    """Commit; if that fails, remove the files this request wrote so none is left orphaned."""
    try:
        db.session.commit()
    except Exception:
        for path in paths:
            path.unlink(missing_ok=True)
        raise


@bp.post("/module/<slug>/einheit/<unit>/abgabe")
@navigator_only
def save_assignment(slug: str, unit: str) -> ResponseReturnValue:
    """Save the draft (``aktion=entwurf``) or submit (``aktion=einreichen``) an assignment: the
    text first, then the files. A refused file leaves the text saved and stores no file."""
    launch, placed, catalog_unit, version = _unit_context(slug, unit)
    text = request.form.get("text", "")
    submit = request.form.get("aktion") == "einreichen"
    if len(text) > MAX_TEXT_LENGTH:
        return _render_unit(
            launch,
            placed,
            catalog_unit,
            version,
            status=422,
            text=text,
            invalid={"text"},
            problems=[
                _(
                    "Ihr Text ist zu lang (höchstens %(max)d Zeichen). Er wurde nicht gespeichert; "
                    "bitte kürzen Sie ihn.",
                    max=MAX_TEXT_LENGTH,
                )
            ],
        )
    try:
        outcome = save_submission(
            user_pk=launch.user_id,
            course_module=placed,
            version=version,
            text=text,
            submit=submit,
            files=request.files.getlist("dateien"),
        )
    except SubmissionLocked:
        db.session.rollback()
        return _locked(launch, placed, catalog_unit, version)
    _commit_or_remove(outcome.new_paths)
    if outcome.problems:
        return _render_unit(
            launch,
            placed,
            catalog_unit,
            version,
            status=422,
            text=text,
            # A refused upload concerns the file field; "nothing to submit" concerns both.
            invalid={"dateien"}
            if chosen_files(request.files.getlist("dateien"))
            else {"text", "dateien"},
            problems=[*outcome.problems, *_saved_anyway(outcome, submit)],
        )
    hinweis = "eingereicht" if outcome.submitted else "entwurf"
    return redirect(tool_url("navigator.unit", slug=slug, unit=unit, hinweis=hinweis), code=303)


def _saved_anyway(outcome: SaveOutcome, submit: bool) -> list[str]:
    messages = [_("Ihr Text ist als Entwurf gespeichert.")]
    if submit and not outcome.submitted:
        messages.append(_("Die Abgabe ist noch nicht eingereicht."))
    return messages


def _locked(
    launch: Launch, placed: CourseModule, catalog_unit: CatalogUnit, version: UnitVersion
) -> ResponseReturnValue:
    return _render_unit(
        launch,
        placed,
        catalog_unit,
        version,
        status=409,
        problems=[
            _(
                "Ihre Abgabe ist bereits eingereicht und kann nicht mehr geändert werden. "
                "Gibt Ihre Digital-Lotsin oder Ihr Digital-Lotse sie zur Überarbeitung zurück, "
                "können Sie sie wieder bearbeiten."
            )
        ],
    )


@bp.post("/module/<slug>/einheit/<unit>/abgabe/datei/<int:file_id>/entfernen")
@navigator_only
def remove_assignment_file(slug: str, unit: str, file_id: int) -> ResponseReturnValue:
    launch, placed, catalog_unit, version = _unit_context(slug, unit)
    submission = submission_of(launch.user_id, placed.context_pk, catalog_unit.id)
    if submission is None:
        abort(404)
    try:
        path = delete_submission_file(submission, file_id)
    except SubmissionLocked:
        db.session.rollback()
        return _locked(launch, placed, catalog_unit, version)
    db.session.commit()
    path.unlink(missing_ok=True)
    return redirect(
        tool_url("navigator.unit", slug=slug, unit=unit, hinweis="datei-entfernt"), code=303
    )


@bp.get("/abgabe/datei/<int:file_id>")
@launch_required()
def download(file_id: int) -> ResponseReturnValue:
    """A submission file as a download: to its owner, and to a Lotse of the same course."""
    launch = current_launch()
    stored = downloadable_file(launch, known_id(file_id))
    path = file_path(stored)
    if not path.is_file():
        abort(404)
    log.info("file downloaded: file=%s by user=%s", stored.id, launch.user_id)
    response = send_file(
        path,
        mimetype=stored.content_type,
        as_attachment=True,
        download_name=stored.original_name,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- JSON API -------------------------------------------------------------------------------------


@bp.errorhandler(ValidationError)
def _invalid(error: ValidationError) -> ResponseReturnValue:
    db.session.rollback()
    body = {"message": _("Einige Angaben sind nicht gültig."), "errors": error.messages}
    return jsonify(body), 422


def _load(schema: Schema, *, empty_is_object: bool = False) -> dict[str, Any]:
    """The request's JSON body loaded by ``schema``; raises ValidationError (→ 422)."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        # Deeply nested arrays: ``silent`` only covers ValueError, this was a 500.
        data = None
    if data is None and empty_is_object and not request.get_data():
        data = {}
    if data is None:
        raise ValidationError({"_schema": [_("Der Inhalt muss ein JSON-Objekt sein.")]})
    return dict(schema.load(data))


def _api_unit_url(placed: CourseModule, unit: CatalogUnit) -> str:
    return url_for("navigator.api_unit", slug=placed.module.slug, unit=unit.slug)


def _unit_summary(placed: CourseModule, status: UnitStatus) -> dict[str, Any]:
    return {
        "slug": status.unit.slug,
        "kind": status.unit.kind,
        "title": status.unit.title,
        "estimated_minutes": status.unit.estimated_minutes,
        "state": status.state.value,
        "state_label": status.label,
        "complete": status.complete,
        "url": _api_unit_url(placed, status.unit),
    }


def _module_summary(progress: ModuleProgress) -> dict[str, Any]:
    placed = progress.course_module
    following = progress.next_unit
    return {
        "slug": placed.module.slug,
        "title": placed.module.title,
        "kind": placed.module.kind,
        "summary": placed.module.summary,
        "percent": progress.percent,
        "status": progress.status.value,
        "status_label": progress.status_label,
        "units_total": progress.total,
        "units_complete": progress.complete_count,
        "due_at": placed.due_at,
        "due_date": format_day(placed.due_at) or None,
        "overdue": progress.is_overdue(),
        "next_unit": following.slug if following else None,
        "url": url_for("navigator.api_module", slug=placed.module.slug),
    }


@bp.get("/api/module")
@navigator_only
def api_modules() -> ResponseReturnValue:
    """My modules with progress."""
    launch = current_launch()
    modules = (
        assigned_course_modules(launch.user_id, launch.context_pk) if launch.context_pk else []
    )
    data = [_module_summary(p) for p in modules_progress(launch.user_id, modules)]
    return jsonify({"modules": ModuleSummarySchema(many=True).dump(data)})


@bp.get("/api/module/<slug>")
@navigator_only
def api_module(slug: str) -> ResponseReturnValue:
    launch = current_launch()
    placed = assigned_course_module(launch, slug)
    progress = module_progress(launch.user_id, placed)
    data = _module_summary(progress) | {
        "objectives": placed.module.objectives,
        "estimated_minutes": placed.module.estimated_minutes,
        "sources": placed.module.sources,
        "units": [_unit_summary(placed, u) for u in progress.units],
    }
    return jsonify(ModuleDetailSchema().dump(data))


def _submission_data(submission: Submission | None) -> dict[str, Any] | None:
    if submission is None:
        return None
    return {
        "id": submission.id,
        "state": submission.state,
        "state_label": str(SUBMISSION_STATE_LABELS[SubmissionState(submission.state)]),
        "text": submission.text,
        "submitted_at": submission.submitted_at,
        "updated_at": submission.updated_at,
        "editable": submission.editable,
        "files": [
            {
                "id": f.id,
                "name": f.original_name,
                "size": f.size,
                "content_type": f.content_type,
                "url": url_for("navigator.download", file_id=f.id),
            }
            for f in submission.files
        ],
    }


def _attempt_data(attempt: QuizAttempt, counted: QuizAttempt | None) -> dict[str, Any]:
    return {
        "id": attempt.id,
        "created_at": attempt.created_at,
        "percent": round(attempt.percent, 2),
        "correct_count": attempt.correct_count,
        "question_count": attempt.question_count,
        "passed": attempt.passed,
        "counted": counted is not None and counted.id == attempt.id,
    }


@bp.get("/api/module/<slug>/einheit/<unit>")
@navigator_only
def api_unit(slug: str, unit: str) -> ResponseReturnValue:
    """A unit's content for the Navigator; quizzes without correct answers."""
    launch, placed, catalog_unit, version = _unit_context(slug, unit)
    state = open_unit(launch.user_id, placed, version)
    db.session.commit()
    data: dict[str, Any] = _unit_summary(placed, UnitStatus(catalog_unit, state)) | {
        "module": placed.module.slug,
        "body_html": version.body_html,
    }
    if catalog_unit.kind == UnitKind.QUIZ:
        quiz = load_quiz(version)
        attempts = attempts_of(launch.user_id, placed.context_pk, catalog_unit.id)
        counted = counted_attempt(attempts, quiz.scoring)
        data |= {
            "questions": public_questions(quiz),
            "pass_percent": quiz.pass_percent,
            "scoring": quiz.scoring,
            "attempts": [_attempt_data(a, counted) for a in attempts],
        }
    elif catalog_unit.kind == UnitKind.ASSIGNMENT:
        data |= {
            "criteria": [
                {"title": c.get("title", ""), "points": c.get("points", 0)}
                for c in (version.rubric or {}).get("criteria") or []
            ],
            "submission": _submission_data(
                submission_of(launch.user_id, placed.context_pk, catalog_unit.id)
            ),
        }
    return jsonify(UnitDetailSchema().dump(data))


@bp.post("/api/module/<slug>/einheit/<unit>/gelesen")
@navigator_only
def api_mark_read(slug: str, unit: str) -> ResponseReturnValue:
    launch, placed, catalog_unit, version = _unit_context(slug, unit)
    _load(ReadConfirmationSchema(), empty_is_object=True)
    mark_read(launch.user_id, placed, version)
    db.session.commit()
    return jsonify(
        _unit_summary(placed, UnitStatus(catalog_unit, UnitState.DONE))
        | {"module_percent": module_progress(launch.user_id, placed).percent}
    )


@bp.post("/api/module/<slug>/einheit/<unit>/quiz")
@navigator_only
def api_submit_quiz(slug: str, unit: str) -> ResponseReturnValue:
    """``{"answers": {"q1": ["a"]}}`` → the scored attempt with per-question feedback."""
    launch, placed, catalog_unit, version = _unit_context(slug, unit)
    if catalog_unit.kind != UnitKind.QUIZ:
        abort(404)
    answers = _load(QuizAnswersSchema())["answers"]
    outcome = take_quiz(launch.user_id, placed, version, answers)
    db.session.commit()
    data = _attempt_data(outcome.attempt, outcome.counted) | {
        "unit_state": outcome.state.value,
        "questions": [
            {
                "id": r.question.id,
                "correct": r.is_correct,
                "chosen": r.chosen,
                "correct_options": sorted(r.question.correct_ids),
                "explanation": r.question.explanation,
            }
            for r in outcome.result.questions
        ],
    }
    return jsonify(AttemptResultSchema().dump(data)), 201


@bp.post("/api/module/<slug>/einheit/<unit>/abgabe")
@navigator_only
def api_save_assignment(slug: str, unit: str) -> ResponseReturnValue:
    """``{"text": "…", "state": "draft" | "submitted"}``. Files are uploaded with the page form."""
    launch, placed, catalog_unit, version = _unit_context(slug, unit)
    if catalog_unit.kind != UnitKind.ASSIGNMENT:
        abort(404)
    data = _load(SubmissionLoadSchema())
    try:
        outcome = save_submission(
            user_pk=launch.user_id,
            course_module=placed,
            version=version,
            text=data["text"],
            submit=data["state"] == SubmissionState.SUBMITTED,
            files=[],
        )
    except SubmissionLocked:
        db.session.rollback()
        return jsonify(
            {"message": _("Ihre Abgabe ist bereits eingereicht und kann nicht geändert werden.")}
        ), 409
    db.session.commit()
    body = SubmissionDumpSchema().dump(_submission_data(outcome.submission))
    if outcome.problems:
        return jsonify(
            {
                "message": _("Ihr Text ist als Entwurf gespeichert, aber nicht eingereicht."),
                "errors": {"state": outcome.problems},
                "submission": body,
            }
        ), 422
    return jsonify(body)
