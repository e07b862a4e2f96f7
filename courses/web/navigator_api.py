"""The Navigator's JSON API: the same modules, units, quiz attempts and submissions as the pages,
for a client that presents the launch token in the ``X-Launch-Token`` header. Load schemas refuse
unknown fields with German field errors (422); a Navigator reaches only what is theirs (404)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError

from courses.models import (
    CatalogUnit,
    CourseModule,
    QuizAttempt,
    Submission,
    SubmissionState,
    UnitKind,
    UnitState,
    UnitVersion,
)
from courses.services import learning
from courses.services.dates import format_day
from courses.services.errors import Invalid, Locked
from courses.services.progress import ModuleProgress, UnitStatus, module_progress, modules_progress
from courses.services.quizzes import attempts_of, counted_attempt, load_quiz, public_questions
from courses.services.submissions import submission_of
from lti_tool.context import LaunchContext
from lti_tool.extensions import db

from .helpers import current_launch, navigator_required, refuse_nul_bytes
from .navigator import SUBMISSION_STATE_LABELS, limit_request_size, unit_route
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

bp = Blueprint("navigator_api", __name__)
bp.before_request(limit_request_size)
bp.before_request(refuse_nul_bytes)


@bp.errorhandler(ValidationError)
@bp.errorhandler(Invalid)
def _invalid(error: ValidationError | Invalid) -> ResponseReturnValue:
    db.session.rollback()
    messages = error.messages if isinstance(error, ValidationError) else error.errors
    body = {"message": _("Einige Angaben sind nicht gültig."), "errors": messages}
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
    return url_for("navigator_api.unit", slug=placed.module.slug, unit=unit.slug)


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
        "url": url_for("navigator_api.module", slug=placed.module.slug),
    }


@bp.get("/api/module")
@navigator_required
def modules() -> ResponseReturnValue:
    """My modules with progress."""
    launch = current_launch()
    modules = (
        learning.assigned_course_modules(launch.user_pk, launch.context_pk)
        if launch.context_pk
        else []
    )
    data = [_module_summary(p) for p in modules_progress(launch.user_pk, modules)]
    return jsonify({"modules": ModuleSummarySchema(many=True).dump(data)})


@bp.get("/api/module/<slug>")
@navigator_required
def module(slug: str) -> ResponseReturnValue:
    launch = current_launch()
    placed = learning.assigned_course_module(launch, slug)
    progress = module_progress(launch.user_pk, placed)
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


@unit_route(bp, "/api/module/<slug>/einheit/<unit>")
def unit(
    launch: LaunchContext, placed: CourseModule, catalog_unit: CatalogUnit, version: UnitVersion
) -> ResponseReturnValue:
    """A unit's content for the Navigator; quizzes without correct answers."""
    state = learning.open_unit(launch.user_pk, placed, version)
    db.session.commit()
    data: dict[str, Any] = _unit_summary(placed, UnitStatus(catalog_unit, state)) | {
        "module": placed.module.slug,
        "body_html": version.body_html,
    }
    if catalog_unit.kind == UnitKind.QUIZ:
        quiz = load_quiz(version)
        attempts = attempts_of(launch.user_pk, placed.context_pk, catalog_unit.id)
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
                submission_of(launch.user_pk, placed.context_pk, catalog_unit.id)
            ),
        }
    return jsonify(UnitDetailSchema().dump(data))


@unit_route(bp, "/api/module/<slug>/einheit/<unit>/gelesen", methods=["POST"])
def mark_read(
    launch: LaunchContext, placed: CourseModule, catalog_unit: CatalogUnit, version: UnitVersion
) -> ResponseReturnValue:
    _load(ReadConfirmationSchema(), empty_is_object=True)
    learning.mark_read(launch.user_pk, placed, version)
    db.session.commit()
    return jsonify(
        _unit_summary(placed, UnitStatus(catalog_unit, UnitState.DONE))
        | {"module_percent": module_progress(launch.user_pk, placed).percent}
    )


@unit_route(bp, "/api/module/<slug>/einheit/<unit>/quiz", kind=UnitKind.QUIZ, methods=["POST"])
def submit_quiz(
    launch: LaunchContext, placed: CourseModule, catalog_unit: CatalogUnit, version: UnitVersion
) -> ResponseReturnValue:
    """``{"answers": {"q1": ["a"]}}`` → the scored attempt with per-question feedback."""
    answers = _load(QuizAnswersSchema())["answers"]
    outcome = learning.take_quiz(launch.user_pk, placed, version, answers)
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


@unit_route(
    bp, "/api/module/<slug>/einheit/<unit>/abgabe", kind=UnitKind.ASSIGNMENT, methods=["POST"]
)
def save_assignment(
    launch: LaunchContext, placed: CourseModule, catalog_unit: CatalogUnit, version: UnitVersion
) -> ResponseReturnValue:
    """``{"text": "…", "state": "draft" | "submitted"}``. Files are uploaded with the page form."""
    data = _load(SubmissionLoadSchema())
    try:
        outcome = learning.save_submission(
            user_pk=launch.user_pk,
            course_module=placed,
            version=version,
            text=data["text"],
            submit=data["state"] == SubmissionState.SUBMITTED,
            files=[],
        )
    except Locked:
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
