"""The Navigator's pages: "Meine Module", a module, its units (reading, quiz, assignment), quiz
attempts, submissions and their files (the same as JSON: :mod:`.navigator_api`).

Every page belongs to a launch: links and forms carry the launch token (``tool_url``,
``token_field``). A Navigator reaches only the modules assigned to them and only their own
attempts, submissions and files; everything else is 404.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Blueprint, abort, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from markupsafe import Markup
from werkzeug.wrappers import Response

from courses.models import (
    CatalogUnit,
    CourseModule,
    QuizAttempt,
    SubmissionState,
    UnitKind,
    UnitVersion,
)
from courses.services.errors import Invalid, Locked, NotFound
from courses.services.learning import (
    SaveOutcome,
    assigned_course_module,
    assigned_course_modules,
    delete_submission_file,
    downloadable_file,
    mark_read,
    module_elsewhere,
    neighbours,
    open_unit,
    save_submission,
    take_quiz,
    unit_of,
)
from courses.services.municipalities import needs_choice
from courses.services.progress import (
    UNIT_STATE_LABELS,
    module_progress,
    modules_progress,
    rubric_maximum,
    unit_state,
)
from courses.services.quizzes import (
    attempts_of,
    counted_attempt,
    load_quiz,
    public_questions,
    result_of,
)
from courses.services.submissions import (
    ACCEPT_ATTRIBUTE,
    ALLOWED_LABEL,
    MAX_TEXT_LENGTH,
    chosen_files,
    file_path,
    format_size,
    max_upload_bytes,
    max_upload_files,
    request_size_limit,
    review_of,
    submission_of,
)
from lti_tool.context import LaunchContext
from lti_tool.extensions import db
from lti_tool.models import utcnow

from .helpers import (
    commit_keeping_loaded,
    current_launch,
    file_response,
    known_id,
    launch_required,
    launch_token,
    navigator_required,
    refuse_nul_bytes,
    tool_url,
)

log = logging.getLogger(__name__)

bp = Blueprint(
    "navigator",
    __name__,
    template_folder="../templates",
    static_folder="../static",
    static_url_path="/static/courses",
)

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


def limit_request_size() -> None:
    """``before_request``: above the per-file limits, so that our own check refuses a big file and
    the text answer survives."""
    request.max_content_length = request_size_limit()


bp.before_request(limit_request_size)
# After the request limit: reading the form parses the body.
bp.before_request(refuse_nul_bytes)


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    return {
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


def with_token_links(body_html: str | None, origin: tuple[str, str] | None = None) -> Markup:
    """The sanitised HTML of a reading or brief, with internal links (``data-internal="1"``,
    ``/module/...``) carrying the launch token. Other links never get the token. A link into
    another module also names ``origin`` (module and unit slug of the page) as ``von``, so that
    the page it leads to can link back (:func:`render_elsewhere`)."""
    if not body_html:
        return Markup("")
    token = html.escape(quote(launch_token(), safe=""))

    def rewrite(path: str, fragment: str) -> str:
        query = f"?lt={token}"
        if origin is not None and path.split("/")[2] != origin[0]:
            query += "&amp;von=" + html.escape(quote(f"{origin[0]}/{origin[1]}", safe="/"))
        return f'href="{html.escape(request.script_root)}{path}{query}{fragment}"'

    def add_token(match: re.Match[str]) -> str:
        tag = match.group(0)
        if 'data-internal="1"' not in tag:
            return tag
        return _INTERNAL_HREF.sub(lambda m: rewrite(m.group(1), m.group(2) or ""), tag, count=1)

    # The HTML was sanitised at import (nh3); only our own attribute is added here.
    return Markup(_A_TAG.sub(add_token, body_html))  # noqa: S704


# --- Pages ----------------------------------------------------------------------------------------


def render_my_modules(launch: LaunchContext, notice: str | None = None) -> str:
    """ "Meine Module": the Navigator's assigned modules with progress and the next step."""
    # The LMS's `gemeinde` parameter is applied here; without it the Navigator chooses once.
    # Committed before the page's rows are read, so that nothing read is expired and reloaded.
    choose_municipality = needs_choice(launch)
    commit_keeping_loaded()
    modules = (
        assigned_course_modules(launch.user_pk, launch.context_pk) if launch.context_pk else []
    )
    return render_template(
        "courses/my_modules.html",
        launch=launch,
        choose_municipality=choose_municipality,
        modules=modules_progress(launch.user_pk, modules),
        notice=_notice(notice),
        now=utcnow(),
    )


@bp.get("/module")
@navigator_required
def my_modules() -> str:
    return render_my_modules(current_launch())


@dataclass(frozen=True)
class BackLink:
    url: str
    title: str


def _back_link(launch: LaunchContext) -> BackLink | None:
    """The unit a cross-reference came from (``von=<module>/<unit>``), if the Navigator may open
    it; anything else in ``von`` is ignored."""
    origin = request.args.get("von", "")
    module_slug, _sep, unit_slug = origin.partition("/")
    if not module_slug or not unit_slug:
        return None
    try:
        placed = assigned_course_module(launch, module_slug)
        unit, _version = unit_of(placed, unit_slug)
    except NotFound:
        return None
    url = tool_url("navigator.unit", slug=placed.module.slug, unit=unit.slug)
    return BackLink(url=url, title=unit.title)


def render_elsewhere(launch: LaunchContext, slug: str, unit_slug: str | None = None) -> str:
    """The page of a catalogue module that is not the Navigator's in this course (a reading's
    cross-reference leads there): what it is, that it is not part of the course, and the way
    back. A 404 only when the catalogue has no such module or unit."""
    elsewhere = module_elsewhere(launch, slug, unit_slug)
    log.info(
        "cross-reference outside the course: launch=%s module=%s placed=%s",
        launch.id,
        elsewhere.module.id,
        elsewhere.placed,
    )
    return render_template(
        "courses/module_elsewhere.html",
        launch=launch,
        module=elsewhere.module,
        elsewhere=elsewhere,
        back=_back_link(launch),
    )


@bp.get("/module/<slug>")
@navigator_required
def module(slug: str) -> str:
    """A module: summary, objectives, sources, units with their states, where to go on. A
    catalogue module that is not the Navigator's here: :func:`render_elsewhere`."""
    launch = current_launch()
    try:
        placed = assigned_course_module(launch, slug)
    except NotFound:
        return render_elsewhere(launch, slug)
    return render_module(launch, placed)


def render_module(launch: LaunchContext, placed: CourseModule) -> str:
    """The page of a course module assigned to the Navigator."""
    return render_template(
        "courses/module.html",
        launch=launch,
        progress=module_progress(launch.user_pk, placed),
        module=placed.module,
        now=utcnow(),
    )


UnitView = Callable[..., ResponseReturnValue]


def unit_route(
    blueprint: Blueprint,
    rule: str,
    *,
    kind: UnitKind | None = None,
    elsewhere: bool = False,
    **options: Any,
) -> Callable[[UnitView], UnitView]:
    """Register a Navigator's view of one unit (its ``rule`` has ``<slug>`` and ``<unit>``): the
    view gets the launch, the assigned course module, the unit and its current version instead;
    anything not assigned to the Navigator, or a unit not of ``kind``, is 404 — with
    ``elsewhere``, a unit of a catalogue module that is not the Navigator's here shows
    :func:`render_elsewhere` instead (the target of a cross-reference)."""

    def decorator(view: UnitView) -> UnitView:
        @wraps(view)
        def resolved(slug: str, unit: str, **values: Any) -> ResponseReturnValue:
            if elsewhere:
                launch = current_launch()
                try:
                    assigned_course_module(launch, slug)
                except NotFound:
                    return render_elsewhere(launch, slug, unit)
            context = unit_context(slug, unit)
            if kind is not None and context[2].kind != kind:
                abort(404)
            return view(*context, **values)

        guarded = navigator_required(resolved)
        blueprint.route(rule, **options)(guarded)
        return guarded

    return decorator


def unit_context(
    slug: str, unit_slug: str
) -> tuple[LaunchContext, CourseModule, CatalogUnit, UnitVersion]:
    """The launch, the assigned course module of ``slug``, its unit ``unit_slug`` and the unit's
    current version (NotFound for anything not assigned to the Navigator)."""
    launch = current_launch()
    placed = assigned_course_module(launch, slug)
    unit, version = unit_of(placed, unit_slug)
    return launch, placed, unit, version


def _render_unit(
    launch: LaunchContext,
    placed: CourseModule,
    unit: CatalogUnit,
    version: UnitVersion,
    *,
    status: int = 200,
    **extra: Any,
) -> tuple[str, int]:
    previous, following = neighbours(placed, unit)
    state = unit_state(launch.user_pk, placed.context_pk, unit)
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
        attempts = attempts_of(launch.user_pk, placed.context_pk, unit.id)
        context.update(
            questions=public_questions(quiz),
            quiz=quiz,
            attempts=attempts,
            counted=counted_attempt(attempts, quiz.scoring),
            errors={},
            chosen={},
        )
    elif unit.kind == UnitKind.ASSIGNMENT:
        submission = submission_of(launch.user_pk, placed.context_pk, unit.id)
        context.update(
            body=with_token_links(version.body_html, (placed.module.slug, unit.slug)),
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
        context.update(body=with_token_links(version.body_html, (placed.module.slug, unit.slug)))
    context.update(extra)
    return render_template(f"courses/unit_{unit.kind}.html", **context), status


@unit_route(bp, "/module/<slug>/einheit/<unit>", elsewhere=True)
def unit(
    launch: LaunchContext, placed: CourseModule, catalog_unit: CatalogUnit, version: UnitVersion
) -> ResponseReturnValue:
    """A unit of a module. Opening it starts it."""
    open_unit(launch.user_pk, placed, version)
    db.session.commit()
    return _render_unit(launch, placed, catalog_unit, version)


@unit_route(bp, "/module/<slug>/einheit/<unit>/gelesen", methods=["POST"])
def mark_unit_read(
    launch: LaunchContext, placed: CourseModule, catalog_unit: CatalogUnit, version: UnitVersion
) -> ResponseReturnValue:
    mark_read(launch.user_pk, placed, version)
    db.session.commit()
    return _back_to_unit(placed, catalog_unit, "gelesen")


@unit_route(bp, "/module/<slug>/einheit/<unit>/quiz", methods=["POST"])
def submit_quiz(
    launch: LaunchContext, placed: CourseModule, catalog_unit: CatalogUnit, version: UnitVersion
) -> ResponseReturnValue:
    """Score a quiz attempt from the form. Only the chosen option ids are read from the form:
    anything else a client sends (a score, correct flags) is ignored."""
    quiz = load_quiz(version)
    answers = {
        q.id: request.form.getlist(f"antwort-{q.id}")
        for q in quiz.questions
        if request.form.getlist(f"antwort-{q.id}")
    }
    try:
        outcome = take_quiz(launch.user_pk, placed, version, answers)
    except Invalid as invalid:
        db.session.rollback()
        return _render_unit(
            launch,
            placed,
            catalog_unit,
            version,
            status=422,
            errors=invalid.errors.get("answers", {}),
            chosen=answers,
        )
    db.session.commit()
    return redirect(
        tool_url(
            "navigator.attempt",
            slug=placed.module.slug,
            unit=catalog_unit.slug,
            attempt_id=outcome.attempt.id,
        ),
        code=303,
    )


def _own_attempt(launch: LaunchContext, catalog_unit: CatalogUnit, attempt_id: int) -> QuizAttempt:
    # Another person's attempt, or one of another unit or course, does not exist here.
    attempt = db.session.get(QuizAttempt, known_id(attempt_id))
    if (
        attempt is None
        or attempt.user_pk != launch.user_pk
        or attempt.context_pk != launch.context_pk
        or attempt.unit_pk != catalog_unit.id
    ):
        abort(404)
    return attempt


@unit_route(bp, "/module/<slug>/einheit/<unit>/versuch/<int:attempt_id>")
def attempt(
    launch: LaunchContext,
    placed: CourseModule,
    catalog_unit: CatalogUnit,
    version: UnitVersion,
    attempt_id: int,
) -> str:
    """The result of one attempt: score, per-question feedback, explanations, history."""
    own = _own_attempt(launch, catalog_unit, attempt_id)
    quiz = load_quiz(version)
    attempts = attempts_of(launch.user_pk, placed.context_pk, catalog_unit.id)
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
        state=unit_state(launch.user_pk, placed.context_pk, catalog_unit),
        following=following,
    )


def _back_to_unit(placed: CourseModule, catalog_unit: CatalogUnit, notice: str) -> Response:
    """303 to the unit's page, which shows ``notice`` (a key of :data:`NOTICES`)."""
    url = tool_url(
        "navigator.unit", slug=placed.module.slug, unit=catalog_unit.slug, hinweis=notice
    )
    return redirect(url, code=303)


def _commit_or_remove(paths: list[Path]) -> None:
    """Commit; if that fails, remove the files this request wrote so none is left orphaned."""
    try:
        db.session.commit()
    except Exception:
        for path in paths:
            path.unlink(missing_ok=True)
        raise


@unit_route(bp, "/module/<slug>/einheit/<unit>/abgabe", methods=["POST"])
def save_assignment(
    launch: LaunchContext, placed: CourseModule, catalog_unit: CatalogUnit, version: UnitVersion
) -> ResponseReturnValue:
    """Save the draft (``aktion=entwurf``) or submit (``aktion=einreichen``) an assignment: the
    text first, then the files. A refused file leaves the text saved and stores no file."""
    text = request.form.get("text", "")
    submit = request.form.get("aktion") == "einreichen"
    page = (launch, placed, catalog_unit, version)
    if len(text) > MAX_TEXT_LENGTH:
        too_long = _(
            "Ihr Text ist zu lang (höchstens %(max)d Zeichen). Er wurde nicht gespeichert; "
            "bitte kürzen Sie ihn.",
            max=MAX_TEXT_LENGTH,
        )
        return _render_unit(*page, status=422, text=text, invalid={"text"}, problems=[too_long])
    try:
        outcome = save_submission(
            user_pk=launch.user_pk,
            course_module=placed,
            version=version,
            text=text,
            submit=submit,
            files=request.files.getlist("dateien"),
        )
    except Locked:
        db.session.rollback()
        return _locked(*page)
    _commit_or_remove(outcome.new_paths)
    if outcome.problems:
        problems = [*outcome.problems, *_saved_anyway(outcome, submit)]
        # A refused upload concerns the file field; "nothing to submit" concerns both.
        invalid = (
            {"dateien"} if chosen_files(request.files.getlist("dateien")) else {"text", "dateien"}
        )
        return _render_unit(*page, status=422, text=text, invalid=invalid, problems=problems)
    notice = "eingereicht" if outcome.submitted else "entwurf"
    return _back_to_unit(placed, catalog_unit, notice)


def _saved_anyway(outcome: SaveOutcome, submit: bool) -> list[str]:
    messages = [_("Ihr Text ist als Entwurf gespeichert.")]
    if submit and not outcome.submitted:
        messages.append(_("Die Abgabe ist noch nicht eingereicht."))
    return messages


def _locked(
    launch: LaunchContext, placed: CourseModule, catalog_unit: CatalogUnit, version: UnitVersion
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


@unit_route(
    bp, "/module/<slug>/einheit/<unit>/abgabe/datei/<int:file_id>/entfernen", methods=["POST"]
)
def remove_assignment_file(
    launch: LaunchContext,
    placed: CourseModule,
    catalog_unit: CatalogUnit,
    version: UnitVersion,
    file_id: int,
) -> ResponseReturnValue:
    submission = submission_of(launch.user_pk, placed.context_pk, catalog_unit.id)
    if submission is None:
        abort(404)
    try:
        path = delete_submission_file(submission, file_id)
    except Locked:
        db.session.rollback()
        return _locked(launch, placed, catalog_unit, version)
    db.session.commit()
    path.unlink(missing_ok=True)
    return _back_to_unit(placed, catalog_unit, "datei-entfernt")


@bp.get("/abgabe/datei/<int:file_id>")
@launch_required
def download(file_id: int) -> ResponseReturnValue:
    """A submission file as a download: to its owner, and to a Lotse of the same course."""
    launch = current_launch()
    stored = downloadable_file(launch, known_id(file_id))
    path = file_path(stored)
    if not path.is_file():
        abort(404)
    log.info("file downloaded: file=%s by user=%s", stored.id, launch.user_pk)
    return file_response(path, stored)
