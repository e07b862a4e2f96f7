"""A Navigator's progress: unit states, module percent and status, and the AGS score mapping.

When a unit is complete
    - reading: when the Navigator confirmed it as read (state ``done``);
    - quiz: when the attempt that counts (``best`` or ``latest``, as the quiz says) passed
      (state ``done``); a later failed attempt under ``latest`` makes it incomplete again;
    - assignment: when it is submitted (``submitted``) or graded (``graded``). A submission the
      Lotse returned for revision (``returned``) is not complete.

When a module is "abgeschlossen" (one definition, :func:`module_status`)
    - A module with practical assignments is abgeschlossen as soon as every assignment is graded:
      the Lotse's judgement decides, whether or not every reading is confirmed and every quiz
      passed (the quizzes are a self-check; a Navigator may hand in the assignment first, and the
      Lotse's grade must not wait for a click on "gelesen").
    - A module without an assignment is abgeschlossen when every unit is complete.

Module status (the first rule that applies)
    1. an assignment is returned                           → zur Überarbeitung zurückgegeben
    2. every assignment graded (or, without assignments,
       every unit complete)                                → abgeschlossen
    3. every assignment handed in, one not yet graded      → eingereicht – Bewertung ausstehend
    4. any unit started                                    → in Bearbeitung
    5. otherwise                                           → nicht begonnen

Module percent
    complete units ÷ active units of the module, rounded down; an abgeschlossen module is 100 %
    (so the percent and the status never contradict each other on a page).

The same status everywhere
    :func:`module_status` is the only place that decides it: the Navigator's pages and API
    (:class:`ModuleProgress`), the Lotse's overview with its CSV and JSON (which counts the unit
    states in SQL and passes the counts in), and the gradebook: the AGS score is the status's row
    of :data:`AGS_PROGRESS` (:func:`score_state`), and the Notenbuch reads the status back from
    what was sent (:func:`status_of_score`).

AGS mapping (lti-notes §6), one score per Navigator and course module:

    ===============================  ================  ===============  =========================
    Status                           activityProgress  gradingProgress  score
    ===============================  ================  ===============  =========================
    nicht begonnen                   Initialized       NotReady         –
    in Bearbeitung                   Started           NotReady         –
    zur Überarbeitung zurückgegeben  InProgress        Pending          –
    eingereicht – Bewertung aussteh. Submitted         PendingManual    –
    abgeschlossen, with assignments  Completed         FullyGraded      Lotse's points of the
                                                                        rubric maximum
    abgeschlossen, quizzes only      Completed         FullyGraded      mean quiz percent of 100
    abgeschlossen, readings only     Completed         FullyGraded      100 of 100
    ===============================  ================  ===============  =========================

A graded submission whose review carries no points gives ``score_given`` None.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cached_property

from flask_babel import lazy_gettext
from sqlalchemy import and_, inspect, select
from sqlalchemy.orm.attributes import set_committed_value

from courses.gradebook.outbox import enqueue_score
from courses.gradebook.score import ScoreState
from courses.models import (
    CatalogUnit,
    CourseModule,
    GradebookOutbox,
    UnitKind,
    UnitProgress,
    UnitState,
    UnitVersion,
)
from lti_tool.extensions import db
from lti_tool.models import LtiUser, utcnow
from lti_tool.vocab import ActivityProgress, GradingProgress

from .quizzes import attempts_of, counted_attempt, load_quiz
from .rows import unit_row
from .submissions import review_of, submission_of

log = logging.getLogger(__name__)

COMPLETE_STATES = frozenset({UnitState.DONE, UnitState.SUBMITTED, UnitState.GRADED})


class ModuleStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    RETURNED = "returned"
    PENDING_REVIEW = "pending_review"
    COMPLETED = "completed"


MODULE_STATUS_LABELS = {
    ModuleStatus.NOT_STARTED: lazy_gettext("nicht begonnen"),
    ModuleStatus.IN_PROGRESS: lazy_gettext("in Bearbeitung"),
    ModuleStatus.RETURNED: lazy_gettext("zur Überarbeitung zurückgegeben"),
    ModuleStatus.PENDING_REVIEW: lazy_gettext("eingereicht – Bewertung ausstehend"),
    ModuleStatus.COMPLETED: lazy_gettext("abgeschlossen"),
}

UNIT_STATE_LABELS = {
    UnitState.NOT_STARTED: lazy_gettext("nicht begonnen"),
    UnitState.IN_PROGRESS: lazy_gettext("in Bearbeitung"),
    UnitState.DONE: lazy_gettext("erledigt"),
    UnitState.SUBMITTED: lazy_gettext("eingereicht – wartet auf Bewertung"),
    UnitState.GRADED: lazy_gettext("bewertet"),
    UnitState.RETURNED: lazy_gettext("zur Überarbeitung zurückgegeben"),
}


def is_complete(state: UnitState) -> bool:
    """Whether a unit in ``state`` counts as complete (see the module docstring)."""
    return state in COMPLETE_STATES


@dataclass(frozen=True)
class UnitCounts:
    """What a module's status and percent are computed from: how many of its active units are in
    which state. The pages count them in Python (:class:`ModuleProgress`), the overview in SQL."""

    total: int
    """Active units of the module."""
    assignments: int
    """Active practical assignments of the module."""
    complete: int = 0
    started: int = 0
    """Units in any state but ``not_started``."""
    submitted: int = 0
    """Assignments handed in and waiting for the Lotse."""
    graded: int = 0
    returned: int = 0


def module_status(counts: UnitCounts) -> ModuleStatus:
    """The module status of the module docstring: the one definition of "abgeschlossen"."""
    if counts.returned:
        return ModuleStatus.RETURNED
    if counts.assignments:
        if counts.graded >= counts.assignments:
            return ModuleStatus.COMPLETED
        if counts.submitted and counts.submitted + counts.graded >= counts.assignments:
            return ModuleStatus.PENDING_REVIEW
    elif counts.total and counts.complete >= counts.total:
        return ModuleStatus.COMPLETED
    if counts.started:
        return ModuleStatus.IN_PROGRESS
    return ModuleStatus.NOT_STARTED


def module_percent(counts: UnitCounts, status: ModuleStatus) -> int:
    """Complete units of all, rounded down; 100 for an abgeschlossen module."""
    if status == ModuleStatus.COMPLETED:
        return 100
    return min(counts.complete, counts.total) * 100 // counts.total if counts.total else 0


#: The AGS progress pair sent for each module status (the table of the module docstring).
AGS_PROGRESS: dict[ModuleStatus, tuple[ActivityProgress, GradingProgress]] = {
    ModuleStatus.NOT_STARTED: (ActivityProgress.INITIALIZED, GradingProgress.NOT_READY),
    ModuleStatus.IN_PROGRESS: (ActivityProgress.STARTED, GradingProgress.NOT_READY),
    ModuleStatus.RETURNED: (ActivityProgress.IN_PROGRESS, GradingProgress.PENDING),
    ModuleStatus.PENDING_REVIEW: (ActivityProgress.SUBMITTED, GradingProgress.PENDING_MANUAL),
    ModuleStatus.COMPLETED: (ActivityProgress.COMPLETED, GradingProgress.FULLY_GRADED),
}


def status_of_score(
    activity_progress: str | None, grading_progress: str | None
) -> ModuleStatus | None:
    """The module status a sent AGS score stands for (the Notenbuch shows it in German, as the
    overview does); None for a pair this tool does not send."""
    return next(
        (
            status
            for status, (activity, grading) in AGS_PROGRESS.items()
            if activity == activity_progress and grading == grading_progress
        ),
        None,
    )


@dataclass(frozen=True)
class UnitStatus:
    unit: CatalogUnit
    state: UnitState

    @property
    def complete(self) -> bool:
        return is_complete(self.state)

    @property
    def label(self) -> str:
        return str(UNIT_STATE_LABELS[self.state])


@dataclass(frozen=True)
class ModuleProgress:
    """Where a Navigator stands in one course module (its figures computed once each: a page
    asks for them several times)."""

    course_module: CourseModule
    units: list[UnitStatus]

    @cached_property
    def total(self) -> int:
        return len(self.units)

    @cached_property
    def complete_count(self) -> int:
        return sum(1 for u in self.units if u.complete)

    @cached_property
    def counts(self) -> UnitCounts:
        """The unit counts :func:`module_status` decides on."""
        states = [u.state for u in self.units]
        assignments = [u.state for u in self.units if u.unit.kind == UnitKind.ASSIGNMENT]
        return UnitCounts(
            total=self.total,
            assignments=len(assignments),
            complete=self.complete_count,
            started=sum(1 for s in states if s != UnitState.NOT_STARTED),
            submitted=assignments.count(UnitState.SUBMITTED),
            graded=assignments.count(UnitState.GRADED),
            returned=assignments.count(UnitState.RETURNED),
        )

    @cached_property
    def percent(self) -> int:
        return module_percent(self.counts, self.status)

    @cached_property
    def status(self) -> ModuleStatus:
        return module_status(self.counts)

    @cached_property
    def status_label(self) -> str:
        return str(MODULE_STATUS_LABELS[self.status])

    @cached_property
    def next_unit(self) -> CatalogUnit | None:
        """Where to go on: the first unit in order that is not complete."""
        return next((u.unit for u in self.units if not u.complete), None)

    def state_of(self, unit: CatalogUnit) -> UnitState:
        return next((u.state for u in self.units if u.unit.id == unit.id), UnitState.NOT_STARTED)

    def is_overdue(self, now: datetime | None = None) -> bool:
        """Past the due date and not yet complete (submitted counts as done in time)."""
        due = self.course_module.due_at
        return (
            due is not None
            and (now or utcnow()) > due
            and self.status not in (ModuleStatus.PENDING_REVIEW, ModuleStatus.COMPLETED)
        )


def _states(user_pk: int, context_pk: int, unit_pks: list[int]) -> dict[int, UnitState]:
    if not unit_pks:
        return {}
    rows = db.session.execute(
        select(UnitProgress.unit_pk, UnitProgress.state).where(
            UnitProgress.user_pk == user_pk,
            UnitProgress.context_pk == context_pk,
            UnitProgress.unit_pk.in_(unit_pks),
        )
    )
    return {unit_pk: UnitState(state) for unit_pk, state in rows}


def modules_progress(user_pk: int, course_modules: list[CourseModule]) -> list[ModuleProgress]:
    """Progress in several course modules: their units and the Navigator's states in them in one
    query (the modules' unit lists are filled from it, not loaded once per module)."""
    modules = {cm.module_pk: cm.module for cm in course_modules}
    units: dict[int, list[CatalogUnit]] = {pk: [] for pk in modules}
    states: dict[tuple[int, int], UnitState] = {}
    if modules:
        contexts = {cm.context_pk for cm in course_modules}
        rows = db.session.execute(
            select(CatalogUnit, UnitProgress.context_pk, UnitProgress.state)
            .outerjoin(
                UnitProgress,
                and_(
                    UnitProgress.unit_pk == CatalogUnit.id,
                    UnitProgress.user_pk == user_pk,
                    UnitProgress.context_pk.in_(contexts),
                ),
            )
            .where(CatalogUnit.module_pk.in_(modules))
            .order_by(CatalogUnit.module_pk, CatalogUnit.position, CatalogUnit.id)
        )
        for unit, context_pk, state in rows:
            if not units[unit.module_pk] or units[unit.module_pk][-1] is not unit:
                units[unit.module_pk].append(unit)
            if state is not None:
                states[unit.id, context_pk] = UnitState(state)
        for module_pk, module in modules.items():
            if "units" not in inspect(module).dict:
                set_committed_value(module, "units", units[module_pk])
    result = []
    for cm in course_modules:
        statuses = [
            UnitStatus(u, states.get((u.id, cm.context_pk), UnitState.NOT_STARTED))
            for u in cm.module.active_units
        ]
        result.append(ModuleProgress(cm, statuses))
    return result


def module_progress(user_pk: int, course_module: CourseModule) -> ModuleProgress:
    """Progress of one Navigator in one course module."""
    return modules_progress(user_pk, [course_module])[0]


def unit_state(user_pk: int, context_pk: int, unit: CatalogUnit) -> UnitState:
    return _states(user_pk, context_pk, [unit.id]).get(unit.id, UnitState.NOT_STARTED)


def set_unit_state(
    *, user_pk: int, course_module: CourseModule, version: UnitVersion, state: UnitState
) -> bool:
    """Record ``state`` for the unit of ``version``; flushes and, if the state changed, queues the
    new score for the LMS (:func:`queue_score`, before the caller commits). Returns whether it
    changed."""
    context_pk = course_module.context_pk
    row = unit_row(UnitProgress, user_pk, context_pk, version, state=UnitState.NOT_STARTED.value)
    if row.state == state.value:
        return False
    row.state = state.value
    row.unit_version_pk = version.id
    row.completed_at = utcnow() if is_complete(state) else None
    db.session.flush()
    log.info(
        "unit state: user=%s context=%s unit=%s state=%s",
        user_pk,
        context_pk,
        version.unit_pk,
        state.value,
    )
    queue_score(user_pk, course_module)
    return True


def rubric_maximum(version: UnitVersion) -> float:
    """The maximum points of an assignment's rubric."""
    criteria = (version.rubric or {}).get("criteria") or []
    return float(sum(c.get("points", 0) for c in criteria))


def current_version(unit: CatalogUnit) -> UnitVersion | None:
    """The unit's content version that is current in the catalogue."""
    return next((v for v in unit.versions if v.version == unit.current_version), None)


def score_state(user: LtiUser, course_module: CourseModule) -> ScoreState:
    """The AGS score of ``user`` in ``course_module``: the row of :data:`AGS_PROGRESS` for the
    module status the pages show, with the score once the module is abgeschlossen."""
    progress = module_progress(user.id, course_module)
    status = progress.status
    activity, grading = AGS_PROGRESS[status]
    if status != ModuleStatus.COMPLETED:
        return ScoreState(activity, grading)
    given, maximum = _final_score(user.id, course_module, progress)
    return ScoreState(activity, grading, given, maximum)


def _final_score(
    user_pk: int, course_module: CourseModule, progress: ModuleProgress
) -> tuple[float | None, float]:
    units = [u.unit for u in progress.units]
    assignments = [u for u in units if u.kind == UnitKind.ASSIGNMENT]
    if assignments:
        given: float | None = 0.0
        maximum = 0.0
        for unit in assignments:
            submission = submission_of(user_pk, course_module.context_pk, unit.id)
            review = review_of(submission) if submission else None
            if review is not None:
                maximum += review.max_points
            elif submission is not None:
                maximum += rubric_maximum(submission.unit_version)
            if review is None or review.points is None or given is None:
                given = None
            else:
                given += review.points
        return given, maximum
    quizzes = [u for u in units if u.kind == UnitKind.QUIZ]
    if quizzes:
        percents = []
        for unit in quizzes:
            version = current_version(unit)
            scoring = load_quiz(version).scoring if version else "best"
            attempts = attempts_of(user_pk, course_module.context_pk, unit.id)
            counted = counted_attempt(attempts, scoring)
            percents.append(counted.percent if counted else 0.0)
        return round(sum(percents) / len(percents), 2), 100.0
    return 100.0, 100.0


# --- the gradebook -------------------------------------------------------------------------------


def queue_score(
    user_pk: int, course_module: CourseModule, *, force: bool = False
) -> GradebookOutbox | None:
    """Queue the Navigator's current score in ``course_module`` for the LMS, in the transaction of
    the change that moved it (the outbox row is committed with the change or not at all). An
    unchanged score is not queued again unless ``force``. Flushes."""
    user = db.session.get(LtiUser, user_pk)
    if user is None:
        return None
    log.debug("score queued: user=%s course_module=%s", user_pk, course_module.id)
    # The score is computed by the outbox once it holds the row's lock (see enqueue_score).
    return enqueue_score(
        user_pk, course_module.id, lambda: score_state(user, course_module), force=force
    )


def resync_course(context_pk: int) -> int:
    """Queue the current state of every Navigator × placed module of an LMS course again, with a
    new timestamp. Navigatoren are those with progress in the module or an outbox row for it.
    Returns how many scores were queued. Flushes."""
    count = 0
    modules = db.session.scalars(
        select(CourseModule).where(CourseModule.context_pk == context_pk).order_by(CourseModule.id)
    ).all()
    for course_module in modules:
        unit_pks = [unit.id for unit in course_module.module.units]
        users = set(
            db.session.scalars(
                select(UnitProgress.user_pk).where(
                    UnitProgress.context_pk == context_pk, UnitProgress.unit_pk.in_(unit_pks)
                )
            )
        ) | set(
            db.session.scalars(
                select(GradebookOutbox.user_pk).where(
                    GradebookOutbox.course_module_pk == course_module.id
                )
            )
        )
        for user_pk in sorted(users):
            if queue_score(user_pk, course_module, force=True) is not None:
                count += 1
    return count
