"""The Lotse grades submitted practical assignments with the module's rubric.

A decision is either "bewertet" (graded) or "zur Überarbeitung zurückgegeben" (returned, with what
to change). The total is always computed here from the points per criterion; a total sent by the
browser is never read. Every decision is kept as a :class:`GradingDecision` row (the history);
the newest one is what the Navigator sees. Deciding updates the submission's state and the unit's
progress and announces the change (:func:`courses.events.progress_changed`) in the same
transaction, so the gradebook outbox row is committed with it or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy import JSON, Float, ForeignKey, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.extensions import db
from lti_tool.models import LtiContext, LtiUser, UTCDateTime, utcnow

from . import events
from .models import CatalogModule, CatalogUnit, CourseModule, UnitState, UnitVersion
from .municipalities import NavigatorMunicipality
from .progress import set_unit_state
from .roster import display_name
from .submissions import (
    CriterionReview,
    Review,
    Submission,
    SubmissionFile,
    SubmissionState,
    register_review_lookup,
)

log = logging.getLogger(__name__)

#: Points can be given in steps of this size.
POINT_STEP = Decimal("0.5")
MAX_FEEDBACK_LENGTH = 20_000


class Decision(StrEnum):
    GRADED = "graded"
    RETURNED = "returned"


DECISION_LABELS = {
    Decision.GRADED: lazy_gettext("bewertet"),
    Decision.RETURNED: lazy_gettext("zur Überarbeitung zurückgegeben"),
}

#: The submission states a Lotse can decide on: submitted, and graded (to correct a grade).
DECIDABLE_STATES = frozenset({SubmissionState.SUBMITTED, SubmissionState.GRADED})


class GradingDecision(db.Model):  # type: ignore[name-defined]
    """One decision of a Lotse on a submission. Never changed; a new decision adds a row."""

    __tablename__ = "grading_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_pk: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), index=True
    )
    lotse_pk: Mapped[int | None] = mapped_column(ForeignKey("lti_user.id", ondelete="SET NULL"))
    """The Lotse who decided (kept as None if that account is deleted)."""
    unit_version_pk: Mapped[int] = mapped_column(ForeignKey("unit_version.id"))
    """The rubric version the points refer to."""
    decision: Mapped[str] = mapped_column(String(20))
    """``graded`` or ``returned``."""
    points: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    """Points per rubric criterion id."""
    total: Mapped[float | None] = mapped_column(Float)
    """Sum of ``points``, computed on the server; None when no criterion was scored."""
    max_total: Mapped[float] = mapped_column(Float)
    feedback: Mapped[str] = mapped_column(Text, default="")
    revision_notes: Mapped[str] = mapped_column(Text, default="")
    """What to change, for a returned submission."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lotse: Mapped[LtiUser | None] = relationship()
    unit_version: Mapped[UnitVersion] = relationship()

    @property
    def decision_label(self) -> str:
        return str(DECISION_LABELS[Decision(self.decision)])


@dataclass(frozen=True)
class Criterion:
    id: str
    title: str
    description: str
    max_points: int


def criteria_of(version: UnitVersion) -> list[Criterion]:
    """The rubric criteria of an assignment's version."""
    rubric = version.rubric or {}
    return [
        Criterion(
            id=str(c["id"]),
            title=str(c.get("title") or c["id"]),
            description=str(c.get("description") or ""),
            max_points=int(c.get("points") or 0),
        )
        for c in rubric.get("criteria") or []
        if isinstance(c, dict) and c.get("id") is not None
    ]


def pass_points(version: UnitVersion) -> int | None:
    value = (version.rubric or {}).get("pass_points")
    return int(value) if isinstance(value, int) else None


class GradingInvalid(ValueError):
    """The grading form has errors: ``errors`` maps field names to German messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class GradingInput:
    decision: Decision
    points: dict[str, float] = field(default_factory=dict)
    feedback: str = ""
    revision_notes: str = ""


POINTS_FIELD = "punkte-{}"


def parse_form(form: Mapping[str, str], criteria: list[Criterion]) -> GradingInput:
    """Read the grading form. Only the points per criterion, the decision and the texts are
    read: any total the browser sends is ignored. Raises :class:`GradingInvalid`."""
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
        raise GradingInvalid(errors)
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


class NotDecidable(Exception):
    """The submission is a draft or waits for the Navigator's revision."""


def decide(submission: Submission, lotse: LtiUser, data: GradingInput) -> GradingDecision:
    """Store a decision; update the submission, the unit progress and announce the change.
    Flushes; the caller commits."""
    if SubmissionState(submission.state) not in DECIDABLE_STATES:
        raise NotDecidable(submission.state)
    course_module = course_module_of(submission)
    if course_module is None:
        raise NotDecidable("module not placed")
    version = submission.unit_version
    criteria = criteria_of(version)
    # The total is the sum of the rubric points, computed here and nowhere else.
    total = float(sum(Decimal(str(v)) for v in data.points.values())) if data.points else None
    row = GradingDecision(
        submission_pk=submission.id,
        lotse_pk=lotse.id,
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
        events.progress_changed(submission.user_pk, course_module.id)
    log.info(
        "grading decision: submission=%s decision=%s lotse=%s row=%s",
        submission.id,
        row.decision,
        lotse.id,
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


def latest_decision(submission: Submission) -> GradingDecision | None:
    """The newest decision on ``submission`` (what the Navigator sees), or None."""
    return db.session.scalars(
        select(GradingDecision)
        .where(GradingDecision.submission_pk == submission.id)
        .order_by(GradingDecision.created_at.desc(), GradingDecision.id.desc())
        .limit(1)
    ).first()


def review(submission: Submission) -> Review | None:
    """The latest decision as the :class:`courses.submissions.Review` the Navigator views and the
    gradebook read; only for a graded or returned submission."""
    if submission.state not in (SubmissionState.GRADED, SubmissionState.RETURNED):
        return None
    decision = latest_decision(submission)
    if decision is None:
        return None
    criteria = criteria_of(decision.unit_version)
    comment = "\n\n".join(t for t in (decision.feedback, decision.revision_notes) if t) or None
    return Review(
        points=decision.total,
        max_points=decision.max_total,
        comment=comment,
        criteria=[
            CriterionReview(c.title, decision.points.get(c.id), float(c.max_points))
            for c in criteria
        ],
        reviewed_at=decision.created_at,
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
        select(
            Submission.id,
            Submission.user_pk,
            LtiUser.name,
            LtiUser.given_name,
            LtiUser.family_name,
            LtiUser.sub,
            NavigatorMunicipality.name,
            CatalogModule.title,
            CourseModule.id,
            CatalogUnit.title,
            Submission.state,
            Submission.submitted_at,
        )
        .join(LtiUser, LtiUser.id == Submission.user_pk)
        .join(CatalogUnit, CatalogUnit.id == Submission.unit_pk)
        .join(CatalogModule, CatalogModule.id == CatalogUnit.module_pk)
        .join(
            CourseModule,
            (CourseModule.module_pk == CatalogModule.id)
            & (CourseModule.context_pk == Submission.context_pk),
        )
        .outerjoin(NavigatorMunicipality, NavigatorMunicipality.user_pk == Submission.user_pk)
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
    if municipality == "ohne":
        query = query.where(NavigatorMunicipality.ags.is_(None))
    elif municipality:
        query = query.where(NavigatorMunicipality.ags == municipality)
    return [
        QueueEntry(
            submission_pk=r[0],
            user_pk=r[1],
            name=display_name(r[2], r[3], r[4]),
            sub=r[5],
            municipality=r[6],
            module_title=r[7],
            course_module_pk=r[8],
            unit_title=r[9],
            state=r[10],
            submitted_at=r[11],
        )
        for r in db.session.execute(query)
    ]


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


def init_app() -> None:
    """Tell the submissions module where reviews come from (idempotent)."""
    register_review_lookup(review)
