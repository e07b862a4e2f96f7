"""The Lotse grades submitted practical assignments with the module's rubric.

A decision is either "bewertet" (graded) or "zur Überarbeitung zurückgegeben" (returned, with what
to change). The total is always computed here from the points per criterion; a total sent by the
browser is never read. Every decision is kept as a :class:`GradingDecision` row (the history);
the newest one is what the Navigator sees. Deciding updates the submission's state and the unit's
progress and queues the new score (:func:`courses.services.progress.queue_score`) in the same
transaction, so the gradebook outbox row is committed with it or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy import select

from courses.models import (
    CatalogModule,
    CatalogUnit,
    CourseModule,
    Decision,
    GradingDecision,
    NavigatorMunicipality,
    Submission,
    SubmissionFile,
    SubmissionState,
    UnitState,
    UnitVersion,
)
from lti_tool.extensions import db
from lti_tool.models import LtiContext, utcnow

from .errors import Invalid, Locked
from .progress import queue_score, set_unit_state
from .roster import NO_MUNICIPALITY, Person, select_people
from .submissions import Criterion, criteria_of

log = logging.getLogger(__name__)

#: Points can be given in steps of this size.
POINT_STEP = Decimal("0.5")
MAX_FEEDBACK_LENGTH = 20_000


#: The submission states a Lotse can decide on: submitted, and graded (to correct a grade).
DECIDABLE_STATES = frozenset({SubmissionState.SUBMITTED, SubmissionState.GRADED})


def pass_points(version: UnitVersion) -> int | None:
    value = (version.rubric or {}).get("pass_points")
    return int(value) if isinstance(value, int) else None


@dataclass(frozen=True)
class GradingInput:
    decision: Decision
    points: dict[str, float] = field(default_factory=dict)
    feedback: str = ""
    revision_notes: str = ""


POINTS_FIELD = "punkte-{}"


def parse_form(form: Mapping[str, str], criteria: list[Criterion]) -> GradingInput:
    """Read the grading form. Only the points per criterion, the decision and the texts are
    read: any total the browser sends is ignored. Raises :class:`Invalid` (field -> message)."""
    errors: dict[str, str] = {}
    raw_decision = (form.get("entscheidung") or "").strip()
    decision = {"bewertet": Decision.GRADED, "zurueckgegeben": Decision.RETURNED}.get(raw_decision)
    if decision is None:
        errors["entscheidung"] = _(
            "Bitte wählen Sie „bewertet“ oder „zur Überarbeitung zurückgeben“."
        )
    points: dict[str, float] = {}
    for criterion in criteria:
        name = POINTS_FIELD.format(criterion.id)
        raw = (form.get(name) or "").strip().replace(",", ".")
        if not raw:
            if decision is Decision.GRADED:
                errors[name] = _("Bitte vergeben Sie Punkte für dieses Kriterium.")
            continue
        try:
            value = Decimal(raw)
        except InvalidOperation:
            errors[name] = _("Bitte geben Sie eine Zahl ein.")
            continue
        if not value.is_finite() or value < 0 or value > criterion.max_points:
            errors[name] = _("Erlaubt sind 0 bis %(max)d Punkte.", max=criterion.max_points)
            continue
        if value % POINT_STEP != 0:
            errors[name] = _("Punkte bitte in halben oder ganzen Schritten.")
            continue
        points[criterion.id] = float(value)
    feedback = (form.get("rueckmeldung") or "").strip()
    revision_notes = (form.get("ueberarbeitung") or "").strip()
    if len(feedback) > MAX_FEEDBACK_LENGTH:
        errors["rueckmeldung"] = _("Die Rückmeldung ist zu lang.")
    if len(revision_notes) > MAX_FEEDBACK_LENGTH:
        errors["ueberarbeitung"] = _("Der Text ist zu lang.")
    if decision is Decision.RETURNED and not revision_notes:
        errors["ueberarbeitung"] = _("Bitte schreiben Sie, was überarbeitet werden soll.")
    if errors or decision is None:
        raise Invalid(errors)
    return GradingInput(decision, points, feedback, revision_notes)


def course_module_of(submission: Submission) -> CourseModule | None:
    """The placement of the submission's module in its course."""
    return db.session.scalars(
        select(CourseModule)
        .join(CatalogUnit, CatalogUnit.module_pk == CourseModule.module_pk)
        .where(
            CourseModule.context_pk == submission.context_pk, CatalogUnit.id == submission.unit_pk
        )
    ).first()


def decide(submission: Submission, lotse_pk: int, data: GradingInput) -> GradingDecision:
    """Store a decision; update the submission and the unit progress and queue the score.
    Flushes; the caller commits. Raises :class:`Locked` for a draft or a submission waiting for
    the Navigator's revision."""
    if SubmissionState(submission.state) not in DECIDABLE_STATES:
        raise Locked(submission.state)
    course_module = course_module_of(submission)
    if course_module is None:
        raise Locked("module not placed")
    version = submission.unit_version
    criteria = criteria_of(version)
    # The total is the sum of the rubric points, computed here and nowhere else.
    total = float(sum(Decimal(str(v)) for v in data.points.values())) if data.points else None
    row = GradingDecision(
        submission_pk=submission.id,
        lotse_pk=lotse_pk,
        unit_version_pk=version.id,
        decision=data.decision.value,
        points=dict(data.points),
        total=total,
        max_total=float(sum(c.max_points for c in criteria)),
        feedback=data.feedback,
        revision_notes=data.revision_notes,
        created_at=utcnow(),
    )
    db.session.add(row)
    submission.state = (
        SubmissionState.GRADED.value
        if data.decision is Decision.GRADED
        else SubmissionState.RETURNED.value
    )
    db.session.flush()
    state = UnitState.GRADED if data.decision is Decision.GRADED else UnitState.RETURNED
    changed = set_unit_state(
        user_pk=submission.user_pk, course_module=course_module, version=version, state=state
    )
    if not changed:
        # A corrected grade: the unit state stays "graded" but the score changed.
        queue_score(submission.user_pk, course_module)
    log.info(
        "grading decision: submission=%s decision=%s lotse=%s row=%s",
        submission.id,
        row.decision,
        lotse_pk,
        row.id,
    )
    return row


def decisions_of(submission: Submission) -> list[GradingDecision]:
    """Every decision on ``submission``, newest first."""
    return list(
        db.session.scalars(
            select(GradingDecision)
            .where(GradingDecision.submission_pk == submission.id)
            .order_by(GradingDecision.created_at.desc(), GradingDecision.id.desc())
        )
    )


# --- the queue -----------------------------------------------------------------------------


QUEUE_STATES = {
    "eingereicht": [SubmissionState.SUBMITTED],
    "bewertet": [SubmissionState.GRADED],
    "zurueckgegeben": [SubmissionState.RETURNED],
    "alle": [SubmissionState.SUBMITTED, SubmissionState.GRADED, SubmissionState.RETURNED],
}
QUEUE_STATE_LABELS = {
    "eingereicht": lazy_gettext("eingereicht – wartet auf Bewertung"),
    "bewertet": lazy_gettext("bewertet"),
    "zurueckgegeben": lazy_gettext("zur Überarbeitung zurückgegeben"),
    "alle": lazy_gettext("alle"),
}
SUBMISSION_STATE_LABELS = {
    SubmissionState.DRAFT: lazy_gettext("Entwurf"),
    SubmissionState.SUBMITTED: lazy_gettext("eingereicht"),
    SubmissionState.GRADED: lazy_gettext("bewertet"),
    SubmissionState.RETURNED: lazy_gettext("zur Überarbeitung zurückgegeben"),
}


@dataclass(frozen=True)
class QueueEntry:
    submission_pk: int
    user_pk: int
    name: str | None
    sub: str
    municipality: str | None
    module_title: str
    course_module_pk: int
    unit_title: str
    state: str
    submitted_at: datetime | None

    @property
    def state_label(self) -> str:
        return str(SUBMISSION_STATE_LABELS[SubmissionState(self.state)])


def queue(
    context: LtiContext,
    *,
    state: str = "eingereicht",
    course_module_pk: int | None = None,
    municipality: str | None = None,
) -> list[QueueEntry]:
    """Submissions of the course, oldest submission first (one query)."""
    query = (
        select_people(
            Submission.user_pk,
            Submission.id,
            Submission.user_pk,
            CatalogModule.title,
            CourseModule.id,
            CatalogUnit.title,
            Submission.state,
            Submission.submitted_at,
        )
        .join(CatalogUnit, CatalogUnit.id == Submission.unit_pk)
        .join(CatalogModule, CatalogModule.id == CatalogUnit.module_pk)
        .join(
            CourseModule,
            (CourseModule.module_pk == CatalogModule.id)
            & (CourseModule.context_pk == Submission.context_pk),
        )
        .where(
            Submission.context_pk == context.id,
            Submission.state.in_(
                [s.value for s in QUEUE_STATES.get(state, QUEUE_STATES["eingereicht"])]
            ),
        )
        .order_by(Submission.submitted_at.asc(), Submission.id.asc())
    )
    if course_module_pk is not None:
        query = query.where(CourseModule.id == course_module_pk)
    if municipality == NO_MUNICIPALITY:
        query = query.where(NavigatorMunicipality.municipality_key.is_(None))
    elif municipality:
        query = query.where(NavigatorMunicipality.municipality_key == municipality)
    entries = []
    for r in db.session.execute(query):
        person = Person.from_columns(r)
        entries.append(
            QueueEntry(
                submission_pk=r[0],
                user_pk=r[1],
                name=person.name,
                sub=person.sub,
                municipality=person.municipality_name,
                module_title=r[2],
                course_module_pk=r[3],
                unit_title=r[4],
                state=r[5],
                submitted_at=r[6],
            )
        )
    return entries


def submission_in(context: LtiContext, submission_pk: int) -> Submission | None:
    """The submission if it belongs to ``context`` and was submitted at least once (a draft is
    the Navigator's alone)."""
    submission = db.session.get(Submission, submission_pk)
    if (
        submission is None
        or submission.context_pk != context.id
        or submission.state == SubmissionState.DRAFT
    ):
        return None
    return submission


def file_of(submission: Submission, file_pk: int) -> SubmissionFile | None:
    return next((f for f in submission.files if f.id == file_pk), None)


INLINE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg"})
"""File types shown inside the page; everything else is downloaded."""


def is_inline(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in INLINE_TYPES


def person_label(name: str | None, sub: str) -> str:
    return name or _("Teilnehmer/in %(kennung)s", kennung=sub[:12])
