"""The Navigator's learning path as services: placing modules in a course on launch, the modules
assigned to a Navigator, and the actions that move a unit on (open, read, quiz, submission).

Services flush; the view that calls them commits once. Whatever a Navigator may not reach is
:class:`~courses.services.errors.NotFound`, so ids cannot be probed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import contains_eager
from werkzeug.datastructures import FileStorage

from courses.models import (
    CatalogModule,
    CatalogUnit,
    CourseModule,
    CourseModuleMember,
    ModuleKind,
    QuizAttempt,
    Submission,
    SubmissionFile,
    SubmissionState,
    UnitKind,
    UnitState,
    UnitVersion,
)
from lti_tool.context import LaunchContext
from lti_tool.extensions import db, insert_if_missing
from lti_tool.models import utcnow
from lti_tool.vocab import MessageType

from .errors import Locked, NotFound
from .progress import current_version, queue_score, set_unit_state, unit_state
from .quizzes import QuizResult, attempts_of, counted_attempt, load_quiz, record_attempt
from .roles import is_lotse
from .rows import unit_row
from .submissions import (
    UploadRefused,
    accept_uploads,
    chosen_files,
    remove_file,
    store_uploads,
)

log = logging.getLogger(__name__)


# --- Placement ------------------------------------------------------------------------------------


def module_slug_of(launch: LaunchContext) -> str | None:
    """The catalogue module the launch's resource link names in its custom parameters."""
    value = (launch.custom or {}).get(current_app.config.get("MODULE_CUSTOM_PARAM", "module_id"))
    return value.strip() if isinstance(value, str) and value.strip() else None


def catalogue_modules(kind: str | None = None, search: str = "") -> list[CatalogModule]:
    """The active catalogue modules in catalogue order, of one ``kind`` and matching ``search``
    (title or slug) if given."""
    query = select(CatalogModule).where(CatalogModule.retired_at.is_(None))
    if kind in (ModuleKind.BASISWISSEN, ModuleKind.BEST_PRACTICE):
        query = query.where(CatalogModule.kind == kind)
    modules = list(
        db.session.scalars(
            query.order_by(CatalogModule.kind, CatalogModule.position, CatalogModule.title)
        )
    )
    if search:
        wanted = search.casefold()
        modules = [m for m in modules if wanted in m.title.casefold() or wanted in m.slug]
    return modules


def _active_module(slug: str) -> CatalogModule | None:
    return db.session.scalars(
        select(CatalogModule).where(CatalogModule.slug == slug, CatalogModule.retired_at.is_(None))
    ).first()


def ensure_course_module(
    context_pk: int, module: CatalogModule, link_pk: int | None = None
) -> CourseModule:
    """The placement of ``module`` in the course ``context_pk``, opened by the resource link
    ``link_pk`` if given; created if missing (flushes)."""
    query = select(CourseModule).where(
        CourseModule.context_pk == context_pk, CourseModule.module_pk == module.id
    )
    placed = db.session.scalars(query).first()
    if placed is None:
        # Two first launches of the same course at once place it once.
        insert_if_missing(
            CourseModule,
            context_pk=context_pk,
            module_pk=module.id,
            resource_link_pk=link_pk,
            limited_to_members=False,
        )
        placed = db.session.scalars(query).one()
        log.info("module placed: context=%s module=%s", context_pk, module.id)
    if placed.resource_link_pk is None and link_pk is not None:
        placed.resource_link_pk = link_pk
        db.session.flush()
    return placed


def place_modules(launch: LaunchContext) -> CourseModule | None:
    """On a resource-link launch: place the demo's default modules in a course that has none, and
    the module the link names. Returns the course module the link opens, if any."""
    context_pk = launch.context_pk
    if launch.message_type != MessageType.RESOURCE_LINK or context_pk is None:
        return None
    defaults = current_app.config.get("DEFAULT_COURSE_MODULES") or ()
    if (
        defaults
        and not db.session.scalars(
            select(CourseModule.id).where(CourseModule.context_pk == context_pk)
        ).first()
    ):
        for slug in defaults:
            module = _active_module(slug)
            if module is not None:
                ensure_course_module(context_pk, module)
    slug = module_slug_of(launch)
    if slug is None:
        return None
    # The usual case, a link launched before: its placement and module in one statement.
    placed = db.session.scalars(
        select(CourseModule)
        .join(CatalogModule, CatalogModule.id == CourseModule.module_pk)
        .where(
            CourseModule.context_pk == context_pk,
            CatalogModule.slug == slug,
            CatalogModule.retired_at.is_(None),
        )
        .options(contains_eager(CourseModule.module))
    ).first()
    if placed is not None and (
        placed.resource_link_pk is not None or launch.resource_link_pk is None
    ):
        return placed
    module = _active_module(slug)
    if module is None:
        log.warning("launch names unknown module: launch=%s", launch.id)
        return None
    return ensure_course_module(context_pk, module, launch.resource_link_pk)


# --- What a Navigator may see ---------------------------------------------------------------------


def _assigned_query(user_pk: int, context_pk: int) -> Select[Any]:
    member = exists().where(
        CourseModuleMember.course_module_pk == CourseModule.id,
        CourseModuleMember.user_pk == user_pk,
    )
    return (
        select(CourseModule)
        .join(CatalogModule, CatalogModule.id == CourseModule.module_pk)
        .where(
            CourseModule.context_pk == context_pk,
            CatalogModule.retired_at.is_(None),
            or_(CourseModule.limited_to_members.is_(False), member),
        )
    )


def assigned_course_modules(user_pk: int, context_pk: int) -> list[CourseModule]:
    """The course modules assigned to a Navigator: every unlimited one of the course plus the
    limited ones that list them; basic modules first, then in catalogue order."""
    # The page shows each module's title: loaded with the placement, not once per module.
    return list(
        db.session.scalars(
            _assigned_query(user_pk, context_pk)
            .options(contains_eager(CourseModule.module))
            .order_by(CatalogModule.kind, CatalogModule.position, CatalogModule.title)
        )
    )


def is_assigned(user_pk: int, course_module: CourseModule) -> bool:
    """Whether ``course_module`` is assigned to the Navigator."""
    if not course_module.limited_to_members and course_module.module.retired_at is None:
        return True  # assigned to everyone in the course: nothing to ask the database
    return (
        db.session.scalars(
            _assigned_query(user_pk, course_module.context_pk).where(
                CourseModule.id == course_module.id
            )
        ).first()
        is not None
    )


def assigned_course_module(launch: LaunchContext, slug: str) -> CourseModule:
    """The course module of ``slug`` if it is assigned to the launching Navigator, else
    :class:`NotFound`."""
    if launch.context_pk is None:
        raise NotFound("launch without a course")
    placed = db.session.scalars(
        _assigned_query(launch.user_pk, launch.context_pk).where(CatalogModule.slug == slug)
    ).first()
    if placed is None:
        raise NotFound("module not assigned")
    return placed


@dataclass(frozen=True)
class ModuleElsewhere:
    """A catalogue module that a cross-reference leads to and the Navigator cannot open in this
    course: what it is, and why it is not theirs here."""

    module: CatalogModule
    placed: bool
    """Placed in this course, but limited to other Navigatoren."""
    unit: CatalogUnit | None
    """The unit the link named, if it named one."""

    @property
    def retired(self) -> bool:
        return self.module.retired_at is not None


def module_elsewhere(
    launch: LaunchContext, slug: str, unit_slug: str | None = None
) -> ModuleElsewhere:
    """The catalogue module ``slug`` (and its unit ``unit_slug``) for a Navigator it is not
    assigned to. Readings link to every module of the catalogue, whichever a course holds; the
    catalogue itself is no secret, so the description is shown instead of a 404. Raises
    :class:`NotFound` when the catalogue has no such module or unit (or the launch no course)."""
    if launch.context_pk is None:
        raise NotFound("launch without a course")
    module = db.session.scalars(select(CatalogModule).where(CatalogModule.slug == slug)).first()
    if module is None:
        raise NotFound("no such module")
    unit = None
    if unit_slug is not None:
        unit = next((u for u in module.units if u.slug == unit_slug), None)
        if unit is None:
            raise NotFound("no such unit")
    placed = (
        db.session.scalars(
            select(CourseModule.id).where(
                CourseModule.context_pk == launch.context_pk, CourseModule.module_pk == module.id
            )
        ).first()
        is not None
    )
    return ModuleElsewhere(module=module, placed=placed, unit=unit)


def unit_of(course_module: CourseModule, unit_slug: str) -> tuple[CatalogUnit, UnitVersion]:
    """An active unit of the module and its current content version, else :class:`NotFound`."""
    unit = next((u for u in course_module.module.active_units if u.slug == unit_slug), None)
    if unit is None:
        raise NotFound("no such unit")
    version = current_version(unit)
    if version is None:
        raise NotFound("unit without content")
    return unit, version


def neighbours(
    course_module: CourseModule, unit: CatalogUnit
) -> tuple[CatalogUnit | None, CatalogUnit | None]:
    """The units before and after ``unit`` in the module."""
    units = course_module.module.active_units
    index = next(i for i, u in enumerate(units) if u.id == unit.id)
    return (units[index - 1] if index > 0 else None), (
        units[index + 1] if index + 1 < len(units) else None
    )


# --- Actions --------------------------------------------------------------------------------------


def open_unit(user_pk: int, course_module: CourseModule, version: UnitVersion) -> UnitState:
    """Opening a unit starts it. Returns its state."""
    state = unit_state(user_pk, course_module.context_pk, version.unit)
    if state == UnitState.NOT_STARTED:
        set_unit_state(
            user_pk=user_pk,
            course_module=course_module,
            version=version,
            state=UnitState.IN_PROGRESS,
        )
        return UnitState.IN_PROGRESS
    return state


def mark_read(user_pk: int, course_module: CourseModule, version: UnitVersion) -> None:
    """The Navigator confirms a reading as read."""
    if version.unit.kind != UnitKind.READING:
        raise NotFound("not a reading")
    set_unit_state(
        user_pk=user_pk, course_module=course_module, version=version, state=UnitState.DONE
    )


@dataclass(frozen=True)
class QuizOutcome:
    attempt: QuizAttempt
    result: QuizResult
    counted: QuizAttempt
    """The attempt that counts now (best or latest)."""
    state: UnitState


def take_quiz(
    user_pk: int, course_module: CourseModule, version: UnitVersion, answers: dict[str, list[str]]
) -> QuizOutcome:
    """Score and store an attempt; the unit is done while the counted attempt passes.
    Raises :class:`~courses.services.errors.Invalid` for answers that do not fit the quiz."""
    if version.unit.kind != UnitKind.QUIZ:
        raise NotFound("not a quiz")
    attempt, result = record_attempt(
        user_pk=user_pk, context_pk=course_module.context_pk, version=version, answers=answers
    )
    attempts = attempts_of(user_pk, course_module.context_pk, version.unit_pk)
    counted = counted_attempt(attempts, load_quiz(version).scoring)
    assert counted is not None  # there is at least the attempt just stored
    state = UnitState.DONE if counted.passed else UnitState.IN_PROGRESS
    changed = set_unit_state(
        user_pk=user_pk, course_module=course_module, version=version, state=state
    )
    if not changed:
        # The unit stays done (or in progress), but the counted attempt may have changed, and a
        # quiz-only module is graded with it: queue it like any change (an unchanged score is
        # not queued again).
        queue_score(user_pk, course_module)
    log.info(
        "quiz attempt: user=%s unit=%s attempt=%s percent=%.0f",
        user_pk,
        version.unit_pk,
        attempt.id,
        attempt.percent,
    )
    return QuizOutcome(attempt, result, counted, state)


@dataclass
class SaveOutcome:
    submission: Submission
    submitted: bool
    problems: list[str] = field(default_factory=list)
    """German messages: refused files, or why it could not be submitted."""
    new_paths: list[Path] = field(default_factory=list)
    """Files written by this request, to remove if the transaction fails."""


def save_submission(
    *,
    user_pk: int,
    course_module: CourseModule,
    version: UnitVersion,
    text: str,
    submit: bool,
    files: list[FileStorage],
) -> SaveOutcome:
    """Save the text answer first, then the files; submit if asked and possible.

    A refused file never costs the text: the text is saved as a draft, no file of the request is
    stored, and ``problems`` says why. Raises :class:`~courses.services.errors.Locked` when the
    submission is submitted or graded."""
    if version.unit.kind != UnitKind.ASSIGNMENT:
        raise NotFound("not an assignment")
    submission = unit_row(
        Submission,
        user_pk,
        course_module.context_pk,
        version,
        text="",
        state=SubmissionState.DRAFT.value,
    )
    if not submission.editable:
        raise Locked("submission not editable")
    submission.text = text
    submission.unit_version_pk = version.id
    submission.updated_at = utcnow()
    db.session.flush()
    outcome = SaveOutcome(submission, submitted=False)
    chosen = chosen_files(files)
    if chosen:
        try:
            uploads = accept_uploads(
                chosen, context_pk=course_module.context_pk, existing_count=len(submission.files)
            )
        except UploadRefused as refused:
            outcome.problems = refused.messages
            log.info("upload refused: submission=%s files=%s", submission.id, len(chosen))
        else:
            outcome.new_paths = store_uploads(submission, uploads)
    if submit and not outcome.problems:
        if not text.strip() and not submission.files:
            outcome.problems = [
                _(
                    "Bitte schreiben Sie eine Antwort oder laden Sie eine Datei hoch, bevor Sie "
                    "einreichen."
                )
            ]
        else:
            submission.state = SubmissionState.SUBMITTED.value
            submission.submitted_at = utcnow()
            outcome.submitted = True
            log.info("submission submitted: submission=%s", submission.id)
    if outcome.submitted:
        state = UnitState.SUBMITTED
    elif submission.state == SubmissionState.RETURNED:
        state = UnitState.RETURNED
    else:
        state = UnitState.IN_PROGRESS
    db.session.flush()
    set_unit_state(user_pk=user_pk, course_module=course_module, version=version, state=state)
    return outcome


def delete_submission_file(submission: Submission, file_id: int) -> Path:
    """Remove one file of an editable submission (:class:`NotFound` when it is not one of its
    files, :class:`Locked` when it is handed in). Returns the path to delete after the commit."""
    stored = next((f for f in submission.files if f.id == file_id), None)
    if stored is None:
        raise NotFound("no such file")
    if not submission.editable:
        raise Locked("submission not editable")
    log.info("file removed: submission=%s file=%s", submission.id, file_id)
    return remove_file(stored)


def downloadable_file(launch: LaunchContext, file_id: int) -> SubmissionFile:
    """A file the launching user may download: their own in this course, or — for a Lotse — one
    handed in in this course (a draft is the Navigator's alone until it is submitted). Anything
    else is :class:`NotFound`, so ids cannot be probed."""
    stored = db.session.get(SubmissionFile, file_id)
    if stored is None or launch.context_pk is None:
        raise NotFound("no such file")
    submission = stored.submission
    if submission.context_pk != launch.context_pk:
        raise NotFound("file of another course")
    if submission.user_pk != launch.user_pk and (
        submission.state == SubmissionState.DRAFT or not is_lotse(launch)
    ):
        raise NotFound("file of another person")
    return stored
