"""Praxisprojekte: a Navigator's project in their own Kommune, coached by the Lotse of the course,
shared as a Praxisbeispiel with the Navigator's consent.

Rules
-----
* **One project, one Kommune, one course.** A project is created in the Navigator's launch
  course and takes the Kommune (AGS, name, Landkreis) of the Navigator's
  :class:`~courses.models.NavigatorMunicipality` at that moment; without one it cannot be
  created. Other Navigatoren of the *same* course and the *same* Kommune may join
  (:func:`join_project`); every member edits it. The project holds no personal data: its
  people are the member rows (pseudonymous user ids).
* **From the Steckbrief.** :func:`steckbrief_of` reads the text answer of the Navigator's B6
  Projektsteckbrief (unit ``projektsteckbrief`` of ``b6-digitalisierungsmanagement``) in the
  course: its first non-empty line (without Markdown marks such as ``#`` or ``**``) becomes the
  title, the rest the goal. A Best-Practice module is suggested when the text names one by its
  id (``p1-hundesteuer-online``) or its title. The Steckbrief itself is mostly a PDF: then the
  prefill is empty apart from what the text says, and the Navigator types the rest.
* **History.** Every change is a :class:`~courses.models.ProjectRevision` (who, when, per field
  old → new; milestone fields as ``milestone.<id>.<field>``), also creation, joining, a
  Lotse's "besprochen" mark, publication and withdrawal (without the e-mail address).
* **Coaching.** The Lotse of the course sees every project of the course, alphabetically by
  title (never ranked), leaves notes the members see and marks milestones as discussed.
* **Gradebook column** (per course, :func:`set_gradebook_column`): each member's project is a
  score in the course's own Praxisprojekt column (its own ``resourceId``, so it never takes a
  module's column): Completed/FullyGraded with 100 of 100 while the project is ``in_betrieb``,
  else InProgress/Pending. Queued through the outbox in the transaction of the change.
* **Sharing.** A member publishes a project that is ``in_betrieb`` by consenting to the current
  :func:`consent_text`: project text and Kommune always, their name (as the platform shared it)
  only with ``show_name``, a contact e-mail only if given. Consents are rows that are never
  changed except for ``withdrawn_at``; a project has at most one consent in force (a new one
  withdraws the one before). It is published while that consent is in force and the status is
  ``in_betrieb``. Any member may withdraw it (the Kommune's team decides together), with
  immediate effect: every read below asks the database, nothing is cached.
* **Programme.** Published examples are visible to every Navigator and Lotse whose launch
  registration belongs to the same programme: ``PROGRAMMES`` maps a programme name to issuer
  URLs; a registration not listed is in ``"default"`` (so by default all are one programme).
  Examples hold only what the consent allows (:class:`Example`), never ids of people.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy import and_, delete, exists, func, or_, select
from sqlalchemy.orm import selectinload

from courses.gradebook.outbox import enqueue_project_score, rowcount
from courses.gradebook.score import ScoreState
from courses.models import (
    CatalogModule,
    CatalogUnit,
    CourseMembership,
    MembershipStatus,
    MilestoneState,
    ModuleKind,
    NavigatorMunicipality,
    Project,
    ProjectConsent,
    ProjectCourseSetting,
    ProjectMember,
    ProjectMilestone,
    ProjectNote,
    ProjectRevision,
    ProjectStatus,
    SizeClass,
    Submission,
)
from lti_tool.extensions import db
from lti_tool.models import Launch, LtiContext, LtiUser, Registration, utcnow
from lti_tool.vocab import ActivityProgress, GradingProgress

from .errors import DomainError, Invalid, NotAllowed, NotFound
from .municipalities import KREISE, by_key
from .roles import ToolRole, role_of, rules_for

log = logging.getLogger(__name__)

#: The catalogue unit whose submission is the Projektsteckbrief.
STECKBRIEF_MODULE = "b6-digitalisierungsmanagement"
STECKBRIEF_UNIT = "projektsteckbrief"

#: The version of :func:`consent_text`; a consent names the version the Navigator agreed to.
CONSENT_VERSION = "2026-12"

TITLE_MAX = 200
TEXT_MAX = 10_000
NOTE_MAX = 5_000
EMAIL_MAX = 255
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

STATUS_LABELS: dict[ProjectStatus, Any] = {
    ProjectStatus.IDEE: lazy_gettext("Idee"),
    ProjectStatus.GEPLANT: lazy_gettext("geplant"),
    ProjectStatus.IN_UMSETZUNG: lazy_gettext("in Umsetzung"),
    ProjectStatus.IN_BETRIEB: lazy_gettext("in Betrieb"),
    ProjectStatus.PAUSIERT: lazy_gettext("pausiert"),
}
#: Size classes of a Kommune in Einwohner, smallest first: (value, label).
SIZE_CLASSES: list[tuple[str, Any]] = [
    (SizeClass.UNTER_5000.value, lazy_gettext("unter 5.000 Einwohner")),
    (SizeClass.BIS_20000.value, lazy_gettext("5.000–20.000 Einwohner")),
    (SizeClass.BIS_100000.value, lazy_gettext("20.000–100.000 Einwohner")),
    (SizeClass.UEBER_100000.value, lazy_gettext("über 100.000 Einwohner")),
]
SIZE_CLASS_LABELS: dict[str, Any] = dict(SIZE_CLASSES)
MILESTONE_STATE_LABELS: dict[MilestoneState, Any] = {
    MilestoneState.OFFEN: lazy_gettext("offen"),
    MilestoneState.ERLEDIGT: lazy_gettext("erledigt"),
}
#: Labels of the field keys of a revision's ``changes`` (milestone keys:
#: ``milestone.<id>.<field>``, labelled by their last part).
FIELD_LABELS: dict[str, Any] = {
    "title": lazy_gettext("Titel"),
    "goal": lazy_gettext("Ziel"),
    "module_pk": lazy_gettext("Best-Practice-Modul"),
    "services": lazy_gettext("Betroffene Leistungen"),
    "status": lazy_gettext("Status"),
    "result": lazy_gettext("Ergebnis"),
    "lessons": lazy_gettext("Erkenntnisse"),
    "size_class": lazy_gettext("Größe der Kommune"),
    "municipality": lazy_gettext("Kommune"),
    "due_on": lazy_gettext("Termin"),
    "state": lazy_gettext("Stand"),
    "discussed_at": lazy_gettext("besprochen"),
    "member": lazy_gettext("Mitglied"),
    "consent": lazy_gettext("Veröffentlichung"),
}
PROJECT_FIELDS = (
    "title",
    "goal",
    "module_pk",
    "services",
    "status",
    "result",
    "lessons",
    "size_class",
)
MILESTONE_FIELDS = ("title", "due_on", "state")


# --- errors --------------------------------------------------------------------------------------


class ProjectError(DomainError):
    """Base of the errors of this module."""


class ProjectNotFound(ProjectError, NotFound):
    """No such project for this person (or not published): the page answers 404."""

    def __init__(self) -> None:
        super().__init__(_("Dieses Praxisprojekt gibt es nicht oder nicht für Sie."))


class ProjectForbidden(ProjectError, NotAllowed):
    """The person may not do this with the project: 403. ``message`` is German."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ProjectInvalid(ProjectError, Invalid):
    """Input that does not fit: ``field_errors`` maps the field names of ``data`` to German
    messages (422). Nothing was changed."""

    def __init__(self, field_errors: Mapping[str, str]) -> None:
        super().__init__(field_errors)
        self.field_errors = dict(field_errors)


# --- value types ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SteckbriefDraft:
    """What a new project is prefilled with from the B6 Steckbrief."""

    submission_pk: int
    title: str
    goal: str
    module_pk: int | None
    services: str = ""


@dataclass(frozen=True)
class ProjectFilter:
    """The Lotse's filters of the course's projects (None: any)."""

    municipality_key: str | None = None
    landkreis: str | None = None
    status: str | None = None
    module_pk: int | None = None


@dataclass(frozen=True)
class ProjectRow:
    """A project in the Lotse's list of the course."""

    id: int
    course_pk: int
    title: str
    status: str
    status_label: str
    municipality_key: str
    municipality_name: str
    landkreis: str
    module_pk: int | None
    module_title: str | None
    size_class: str | None
    members: int
    milestones: int
    milestones_done: int
    milestones_undiscussed: int
    notes: int
    published: bool
    is_demo: bool
    updated_at: datetime


@dataclass(frozen=True)
class FilterOptions:
    """The values the Lotse's filters offer: what the course's projects have."""

    municipalities: list[tuple[str, str]]
    landkreise: list[str]
    modules: list[tuple[int, str]]


@dataclass(frozen=True)
class ConsentText:
    version: str
    text: str


@dataclass(frozen=True)
class ExampleMilestone:
    title: str
    due_on: date | None
    state: str


@dataclass(frozen=True)
class Example:
    """A published project as every Navigator and Lotse of the programme sees it: only what
    the consent allows, no ids of people."""

    project_id: int
    title: str
    goal: str
    services: str
    module_pk: int | None
    module_slug: str | None
    module_title: str | None
    status: str
    status_label: str
    result: str
    lessons: str
    municipality_name: str
    landkreis: str
    size_class: str | None
    size_label: str | None
    milestones: tuple[ExampleMilestone, ...]
    contact_name: str | None
    contact_email: str | None
    published_at: datetime
    is_demo: bool


@dataclass(frozen=True)
class ExampleQuery:
    """The catalogue's search: words in the text, module, Landkreis, size class (None: any)."""

    text: str | None = None
    module_pk: int | None = None
    landkreis: str | None = None
    size_class: str | None = None


@dataclass
class _Parsed:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


# --- validation ----------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    return str(value).replace("\r\n", "\n").strip()


def _parse_project(data: Mapping[str, Any], *, creating: bool) -> _Parsed:
    """The project fields present in ``data``, checked (all required ones when ``creating``)."""
    parsed = _Parsed()
    for name in PROJECT_FIELDS:
        if name not in data and not (creating and name == "title"):
            continue
        raw = data.get(name)
        if name == "title":
            value = _text(raw)
            if not value:
                parsed.errors[name] = _("Bitte geben Sie dem Projekt einen Titel.")
            elif len(value) > TITLE_MAX:
                parsed.errors[name] = _(
                    "Der Titel darf höchstens %(max)d Zeichen lang sein.", max=TITLE_MAX
                )
            parsed.values[name] = value
        elif name in ("goal", "services", "result", "lessons"):
            value = _text(raw)
            if len(value) > TEXT_MAX:
                parsed.errors[name] = _(
                    "Der Text darf höchstens %(max)d Zeichen lang sein.", max=TEXT_MAX
                )
            parsed.values[name] = value
        elif name == "status":
            value = _text(raw)
            if value not in {s.value for s in ProjectStatus}:
                parsed.errors[name] = _("Bitte wählen Sie einen Status aus der Liste.")
            parsed.values[name] = value
        elif name == "size_class":
            size = _text(raw) or None
            if size is not None and size not in SIZE_CLASS_LABELS:
                parsed.errors[name] = _("Bitte wählen Sie eine Größe aus der Liste.")
            parsed.values[name] = size
        elif name == "module_pk":
            module_pk = _module_pk(raw)
            if module_pk is False:
                parsed.errors[name] = _("Bitte wählen Sie ein Best-Practice-Modul aus der Liste.")
            else:
                parsed.values[name] = module_pk
    return parsed


def _module_pk(raw: Any) -> int | bool | None:
    """The id of an active Best-Practice module, None for none, False when it is none of them."""
    if raw is None or _text(raw) == "":
        return None
    try:
        module_pk = int(raw)
    except (TypeError, ValueError):
        return False
    module = db.session.get(CatalogModule, module_pk)
    if module is None or module.kind != ModuleKind.BEST_PRACTICE or module.retired_at is not None:
        return False
    return module_pk


def _parse_milestone(data: Mapping[str, Any], *, creating: bool) -> _Parsed:
    parsed = _Parsed()
    if creating or "title" in data:
        title = _text(data.get("title"))
        if not title:
            parsed.errors["title"] = _("Bitte geben Sie dem Meilenstein einen Titel.")
        elif len(title) > TITLE_MAX:
            parsed.errors["title"] = _(
                "Der Titel darf höchstens %(max)d Zeichen lang sein.", max=TITLE_MAX
            )
        parsed.values["title"] = title
    if "due_on" in data:
        raw = data.get("due_on")
        if isinstance(raw, datetime):
            parsed.values["due_on"] = raw.date()
        elif isinstance(raw, date) or raw is None:
            parsed.values["due_on"] = raw
        elif _text(raw) == "":
            parsed.values["due_on"] = None
        else:
            try:
                parsed.values["due_on"] = date.fromisoformat(_text(raw))
            except ValueError:
                parsed.errors["due_on"] = _(
                    "Bitte geben Sie den Termin als Datum an (z. B. 2027-03-31)."
                )
    if creating or "state" in data:
        state = _text(data.get("state")) or MilestoneState.OFFEN.value
        if state not in {s.value for s in MilestoneState}:
            parsed.errors["state"] = _("Bitte wählen Sie einen Stand aus der Liste.")
        parsed.values["state"] = state
    return parsed


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _revise(
    project: Project, user_pk: int | None, action: str, changes: dict[str, Any]
) -> ProjectRevision:
    revision = ProjectRevision(
        project_pk=project.id, user_pk=user_pk, action=action, changes=changes, created_at=utcnow()
    )
    db.session.add(revision)
    project.updated_at = revision.created_at
    return revision


# --- the Navigator -------------------------------------------------------------------------------


def _member_ids(project: Project) -> list[int]:
    return [member.user_pk for member in project.members]


def projects_of_navigator(user_pk: int, course_pk: int) -> list[Project]:
    """The Navigator's projects in the course, alphabetically."""
    return list(
        db.session.scalars(
            select(Project)
            .join(ProjectMember, ProjectMember.project_pk == Project.id)
            .where(ProjectMember.user_pk == user_pk, Project.context_pk == course_pk)
            .order_by(func.lower(Project.title), Project.id)
        )
    )


def joinable_projects(user_pk: int, course_pk: int) -> list[Project]:
    """Projects of the course in the Navigator's Kommune that they are not a member of."""
    municipality = db.session.get(NavigatorMunicipality, user_pk)
    if municipality is None:
        return []
    member = exists().where(
        ProjectMember.project_pk == Project.id, ProjectMember.user_pk == user_pk
    )
    return list(
        db.session.scalars(
            select(Project)
            .where(
                Project.context_pk == course_pk,
                Project.municipality_key == municipality.municipality_key,
                ~member,
            )
            .order_by(func.lower(Project.title), Project.id)
        )
    )


def _steckbrief_submission(user_pk: int, course_pk: int) -> Submission | None:
    return db.session.scalars(
        select(Submission)
        .join(CatalogUnit, CatalogUnit.id == Submission.unit_pk)
        .join(CatalogModule, CatalogModule.id == CatalogUnit.module_pk)
        .where(
            Submission.user_pk == user_pk,
            Submission.context_pk == course_pk,
            CatalogModule.slug == STECKBRIEF_MODULE,
            CatalogUnit.slug == STECKBRIEF_UNIT,
        )
    ).first()


_MARKS = re.compile(r"^[#>*\-\s]+|[*_`]+")


def _suggested_module(text: str) -> int | None:
    folded = text.casefold()
    modules = db.session.scalars(
        select(CatalogModule)
        .where(
            CatalogModule.kind == ModuleKind.BEST_PRACTICE.value, CatalogModule.retired_at.is_(None)
        )
        .order_by(CatalogModule.position, CatalogModule.id)
    )
    for module in modules:
        if module.slug.casefold() in folded or module.title.casefold() in folded:
            return module.id
    return None


def steckbrief_of(user_pk: int, course_pk: int) -> SteckbriefDraft | None:
    """The prefill of a new project from the Navigator's B6 Steckbrief in the course (module
    docstring), or None when there is no Steckbrief submission."""
    submission = _steckbrief_submission(user_pk, course_pk)
    if submission is None:
        return None
    lines = [line.strip() for line in (submission.text or "").replace("\r\n", "\n").split("\n")]
    title = ""
    rest: list[str] = []
    for index, line in enumerate(lines):
        if line:
            title = _MARKS.sub("", line).strip()[:TITLE_MAX]
            rest = lines[index + 1 :]
            break
    goal = "\n".join(rest).strip()[:TEXT_MAX]
    return SteckbriefDraft(
        submission_pk=submission.id,
        title=title,
        goal=goal,
        module_pk=_suggested_module(submission.text or ""),
    )


def create_project(
    *,
    user_pk: int,
    course_pk: int,
    data: Mapping[str, Any],
    from_submission_pk: int | None = None,
) -> Project:
    """A new project of the Navigator in their Kommune, coached in ``course_pk``. Flushes.
    Raises ProjectInvalid (nothing stored) for bad fields or a Navigator without a Kommune."""
    parsed = _parse_project(data, creating=True)
    municipality = db.session.get(NavigatorMunicipality, user_pk)
    if municipality is None:
        parsed.errors["municipality"] = _(
            "Bitte wählen Sie zuerst Ihre Kommune; das Projekt gehört zu ihr."
        )
    if from_submission_pk is not None:
        submission = db.session.get(Submission, from_submission_pk)
        if (
            submission is None
            or submission.user_pk != user_pk
            or submission.context_pk != course_pk
        ):
            raise ProjectNotFound()
    if parsed.errors:
        raise ProjectInvalid(parsed.errors)
    assert municipality is not None
    known = by_key(municipality.municipality_key)
    values = {"status": ProjectStatus.IDEE.value, **parsed.values}
    now = utcnow()
    project = Project(
        context_pk=course_pk,
        title=values["title"],
        goal=values.get("goal", ""),
        module_pk=values.get("module_pk"),
        services=values.get("services", ""),
        status=values["status"],
        result=values.get("result", ""),
        lessons=values.get("lessons", ""),
        size_class=values.get("size_class"),
        municipality_key=municipality.municipality_key,
        municipality_name=municipality.name,
        landkreis=(known.kreis if known else "")
        or KREISE.get(municipality.municipality_key[:5], ""),
        source_submission_pk=from_submission_pk,
        created_at=now,
        updated_at=now,
    )
    project.members.append(ProjectMember(user_pk=user_pk, joined_at=now))
    db.session.add(project)
    db.session.flush()
    _revise(
        project,
        user_pk,
        "created",
        {
            name: {"old": None, "new": _json_value(getattr(project, name))}
            for name in PROJECT_FIELDS
        },
    )
    db.session.flush()
    queue_scores(project)
    log.info("project created: project=%s course=%s user=%s", project.id, course_pk, user_pk)
    return project


def project_for_navigator(project_id: int, user_pk: int, course_pk: int) -> Project:
    """The project if the Navigator is a member and it is coached in ``course_pk``."""
    project = db.session.get(Project, project_id)
    if project is None or project.context_pk != course_pk or user_pk not in _member_ids(project):
        raise ProjectNotFound()
    return project


def _require_member(project: Project, user_pk: int) -> None:
    if user_pk not in _member_ids(project):
        raise ProjectForbidden(_("Nur die Navigatoren des Projekts können es ändern."))


def update_project(
    project: Project, *, user_pk: int, data: Mapping[str, Any]
) -> ProjectRevision | None:
    """Change the fields present in ``data``; a revision of what changed, None if nothing did.
    Flushes. Raises ProjectInvalid (nothing changed)."""
    _require_member(project, user_pk)
    parsed = _parse_project(data, creating=False)
    if parsed.errors:
        raise ProjectInvalid(parsed.errors)
    changes = {}
    for name, value in parsed.values.items():
        old = getattr(project, name)
        if old != value:
            changes[name] = {"old": _json_value(old), "new": _json_value(value)}
            setattr(project, name, value)
    if not changes:
        return None
    revision = _revise(project, user_pk, "updated", changes)
    db.session.flush()
    if "status" in changes:
        queue_scores(project)
    log.info("project updated: project=%s user=%s fields=%s", project.id, user_pk, sorted(changes))
    return revision


def add_milestone(project: Project, *, user_pk: int, data: Mapping[str, Any]) -> ProjectMilestone:
    """A new milestone (title, optional due date, state). Flushes; ProjectInvalid on bad input."""
    _require_member(project, user_pk)
    parsed = _parse_milestone(data, creating=True)
    if parsed.errors:
        raise ProjectInvalid(parsed.errors)
    milestone = ProjectMilestone(
        project_pk=project.id,
        title=parsed.values["title"],
        due_on=parsed.values.get("due_on"),
        state=parsed.values["state"],
        created_at=utcnow(),
    )
    project.milestones.append(milestone)
    db.session.flush()
    _revise(
        project,
        user_pk,
        "milestone_added",
        {
            f"milestone.{milestone.id}.{name}": {
                "old": None,
                "new": _json_value(getattr(milestone, name)),
            }
            for name in MILESTONE_FIELDS
        },
    )
    db.session.flush()
    return milestone


def _milestone(project: Project, milestone_id: int) -> ProjectMilestone:
    for milestone in project.milestones:
        if milestone.id == milestone_id:
            return milestone
    raise ProjectNotFound()


def update_milestone(
    project: Project, milestone_id: int, *, user_pk: int, data: Mapping[str, Any]
) -> ProjectMilestone:
    """Change a milestone's fields present in ``data``. Flushes; ProjectInvalid on bad input,
    ProjectNotFound for a milestone of another project."""
    _require_member(project, user_pk)
    milestone = _milestone(project, milestone_id)
    parsed = _parse_milestone(data, creating=False)
    if parsed.errors:
        raise ProjectInvalid(parsed.errors)
    changes = {}
    for name, value in parsed.values.items():
        old = getattr(milestone, name)
        if old != value:
            changes[f"milestone.{milestone.id}.{name}"] = {
                "old": _json_value(old),
                "new": _json_value(value),
            }
            setattr(milestone, name, value)
    if changes:
        _revise(project, user_pk, "milestone_updated", changes)
        db.session.flush()
    return milestone


def join_project(project_id: int, *, user_pk: int, course_pk: int) -> Project:
    """Join a project of the course in one's own Kommune. Flushes. ProjectNotFound for a
    project of another course, ProjectForbidden for another Kommune (or none)."""
    project = db.session.get(Project, project_id)
    if project is None or project.context_pk != course_pk:
        raise ProjectNotFound()
    if user_pk in _member_ids(project):
        return project
    municipality = db.session.get(NavigatorMunicipality, user_pk)
    if municipality is None or municipality.municipality_key != project.municipality_key:
        raise ProjectForbidden(
            _("Nur Navigatoren derselben Kommune können diesem Projekt beitreten.")
        )
    project.members.append(ProjectMember(user_pk=user_pk, joined_at=utcnow()))
    db.session.flush()
    _revise(project, user_pk, "joined", {"member": {"old": None, "new": "joined"}})
    db.session.flush()
    queue_scores(project)
    log.info("project joined: project=%s user=%s", project.id, user_pk)
    return project


def history(project: Project) -> list[ProjectRevision]:
    """Every change of the project, oldest first."""
    return list(
        db.session.scalars(
            select(ProjectRevision)
            .where(ProjectRevision.project_pk == project.id)
            .order_by(ProjectRevision.created_at, ProjectRevision.id)
        )
    )


def notes(project: Project) -> list[ProjectNote]:
    """The Lotse's coaching notes on the project, oldest first."""
    return list(
        db.session.scalars(
            select(ProjectNote)
            .where(ProjectNote.project_pk == project.id)
            .order_by(ProjectNote.created_at, ProjectNote.id)
        )
    )


# --- the Lotse -----------------------------------------------------------------------------------


def _active_consent_exists() -> Any:
    return exists().where(
        ProjectConsent.project_pk == Project.id, ProjectConsent.withdrawn_at.is_(None)
    )


def _published() -> Any:
    return and_(Project.status == ProjectStatus.IN_BETRIEB.value, _active_consent_exists())


def purge_course_projects(context_pks: list[int]) -> dict[str, int]:
    """Retention for the Praxisprojekte of ended courses (``services.privacy.purge_expired``):
    a project goes with its course, with its members, milestones, history, notes and
    withdrawn consents; a published one stays (the consent in force is the reason to keep it,
    and its author may withdraw it at any time; the next run then removes it), but loses its
    coaching notes and its history, which belonged to the course. Flushes nothing itself: bulk
    deletes, the foreign keys cascade."""
    if not context_pks:
        return {}
    of_due = select(Project.id).where(Project.context_pk.in_(context_pks))
    counts: dict[str, int] = {}
    for model in (ProjectNote, ProjectRevision):
        notes_or_history = (
            delete(model)
            .where(model.project_pk.in_(of_due))
            .execution_options(synchronize_session=False)
        )
        counts[model.__tablename__] = rowcount(db.session.execute(notes_or_history))
    unpublished = (
        delete(Project)
        .where(Project.context_pk.in_(context_pks), ~_published())
        .execution_options(synchronize_session=False)
    )
    counts["project"] = rowcount(db.session.execute(unpublished))
    return counts


def projects_of_course(course_pk: int, *, filters: ProjectFilter | None = None) -> list[ProjectRow]:
    """The course's projects for its Lotse, filtered, alphabetically by title (never ranked).
    A constant number of queries, however many projects."""
    return project_rows([course_pk], filters=filters or ProjectFilter())


def _count_per_project(project_pk: Any, *conditions: Any) -> Any:
    """The number of rows whose ``project_pk`` column names the project of the outer query (and
    that meet ``conditions``), as a column of that query."""
    return (
        select(func.count())
        .where(project_pk == Project.id, *conditions)
        .correlate(Project)
        .scalar_subquery()
    )


def project_rows(course_pks: list[int], *, filters: ProjectFilter) -> list[ProjectRow]:
    """:func:`projects_of_course` for several courses (the Lotse's programme view)."""
    if not course_pks:
        return []
    members = _count_per_project(ProjectMember.project_pk)
    milestones = _count_per_project(ProjectMilestone.project_pk)
    done = _count_per_project(
        ProjectMilestone.project_pk, ProjectMilestone.state == MilestoneState.ERLEDIGT.value
    )
    undiscussed = _count_per_project(
        ProjectMilestone.project_pk, ProjectMilestone.discussed_at.is_(None)
    )
    note_count = _count_per_project(ProjectNote.project_pk)
    query = (
        select(
            Project,
            CatalogModule.title,
            members,
            milestones,
            done,
            undiscussed,
            note_count,
            _published().label("published"),
        )
        .outerjoin(CatalogModule, CatalogModule.id == Project.module_pk)
        .where(Project.context_pk.in_(course_pks))
        .order_by(func.lower(Project.title), Project.id)
    )
    if filters.municipality_key:
        query = query.where(Project.municipality_key == filters.municipality_key)
    if filters.landkreis:
        query = query.where(Project.landkreis == filters.landkreis)
    if filters.status:
        query = query.where(Project.status == filters.status)
    if filters.module_pk:
        query = query.where(Project.module_pk == filters.module_pk)
    rows = []
    for (
        project,
        module_title,
        n_members,
        n_ms,
        n_done,
        n_undiscussed,
        n_notes,
        published,
    ) in db.session.execute(query):
        rows.append(
            ProjectRow(
                id=project.id,
                course_pk=project.context_pk,
                title=project.title,
                status=project.status,
                status_label=str(STATUS_LABELS[ProjectStatus(project.status)]),
                municipality_key=project.municipality_key,
                municipality_name=project.municipality_name,
                landkreis=project.landkreis,
                module_pk=project.module_pk,
                module_title=module_title,
                size_class=project.size_class,
                members=int(n_members or 0),
                milestones=int(n_ms or 0),
                milestones_done=int(n_done or 0),
                milestones_undiscussed=int(n_undiscussed or 0),
                notes=int(n_notes or 0),
                published=bool(published),
                is_demo=project.is_demo,
                updated_at=project.updated_at,
            )
        )
    return rows


def filter_options(course_pk: int) -> FilterOptions:
    """The Kommunen, Landkreise and modules the course's projects have (for the filters)."""
    municipalities = sorted(
        {
            (str(key), str(name))
            for key, name in db.session.execute(
                select(Project.municipality_key, Project.municipality_name).where(
                    Project.context_pk == course_pk
                )
            )
        },
        key=lambda m: (m[1].casefold(), m[0]),
    )
    landkreise = sorted(
        {
            kreis
            for kreis in db.session.scalars(
                select(Project.landkreis).where(Project.context_pk == course_pk)
            )
            if kreis
        },
        key=str.casefold,
    )
    modules = [
        (int(pk), str(title))
        for pk, title in db.session.execute(
            select(CatalogModule.id, CatalogModule.title)
            .where(
                CatalogModule.id.in_(
                    select(Project.module_pk).where(Project.context_pk == course_pk)
                )
            )
            .order_by(CatalogModule.position, CatalogModule.title)
        )
    ]
    return FilterOptions(municipalities=municipalities, landkreise=landkreise, modules=modules)


def project_for_lotse(project_id: int, course_pk: int) -> Project:
    """The project if it is coached in the Lotse's course ``course_pk``."""
    project = db.session.get(Project, project_id)
    if project is None or project.context_pk != course_pk:
        raise ProjectNotFound()
    return project


def add_note(project: Project, *, lotse_pk: int, text: str) -> ProjectNote:
    """A coaching note of the Lotse. Flushes; ProjectInvalid for an empty or too long text."""
    value = _text(text)
    if not value:
        raise ProjectInvalid({"text": _("Bitte schreiben Sie einen Hinweis.")})
    if len(value) > NOTE_MAX:
        raise ProjectInvalid(
            {"text": _("Der Hinweis darf höchstens %(max)d Zeichen lang sein.", max=NOTE_MAX)}
        )
    note = ProjectNote(project_pk=project.id, lotse_pk=lotse_pk, text=value, created_at=utcnow())
    db.session.add(note)
    db.session.flush()
    log.info("project note added: project=%s lotse=%s", project.id, lotse_pk)
    return note


def mark_discussed(project: Project, milestone_id: int, *, lotse_pk: int) -> ProjectMilestone:
    """Mark a milestone as discussed with the Navigator ("besprochen"). Flushes; a second mark
    keeps the first date."""
    milestone = _milestone(project, milestone_id)
    if milestone.discussed_at is None:
        milestone.discussed_at = utcnow()
        milestone.discussed_by_pk = lotse_pk
        _revise(
            project,
            lotse_pk,
            "milestone_discussed",
            {
                f"milestone.{milestone.id}.discussed_at": {
                    "old": None,
                    "new": _json_value(milestone.discussed_at),
                }
            },
        )
        db.session.flush()
    return milestone


# --- the gradebook column ------------------------------------------------------------------------


def _setting(course_pk: int) -> ProjectCourseSetting | None:
    return db.session.scalars(
        select(ProjectCourseSetting).where(ProjectCourseSetting.context_pk == course_pk)
    ).first()


def gradebook_column_enabled(course_pk: int) -> bool:
    """Whether the course's projects count as their own gradebook column."""
    setting = _setting(course_pk)
    return bool(setting and setting.gradebook_column)


def set_gradebook_column(course_pk: int, enabled: bool) -> None:
    """Switch the course's Praxisprojekt column on or off. Switched on, every member's current
    state is queued at once. Switched off, nothing more is sent (the LMS keeps its column and
    what it received). Flushes."""
    setting = _setting(course_pk)
    if setting is None:
        if db.session.get(LtiContext, course_pk) is None:
            raise ProjectNotFound()
        setting = ProjectCourseSetting(context_pk=course_pk, gradebook_column=False)
        db.session.add(setting)
    was = setting.gradebook_column
    setting.gradebook_column = bool(enabled)
    db.session.flush()
    if enabled and not was:
        for project in db.session.scalars(
            select(Project)
            .where(Project.context_pk == course_pk)
            .options(selectinload(Project.members))
        ):
            queue_scores(project)
    log.info("project gradebook column: course=%s enabled=%s", course_pk, bool(enabled))


def score_of(project: Project) -> ScoreState:
    """The score of each member in the Praxisprojekt column."""
    if project.status == ProjectStatus.IN_BETRIEB:
        return ScoreState(ActivityProgress.COMPLETED, GradingProgress.FULLY_GRADED, 100.0, 100.0)
    return ScoreState(ActivityProgress.IN_PROGRESS, GradingProgress.PENDING)


def queue_scores(project: Project) -> int:
    """Queue each member's score when the course's column is on; how many were queued.
    Flushes (in the transaction of the change)."""
    setting = _setting(project.context_pk)
    if setting is None or not setting.gradebook_column:
        return 0
    queued = 0
    for user_pk in _member_ids(project):
        project_pk = project.id

        def state(project_pk: int = project_pk) -> ScoreState | None:
            # Read after the outbox row is locked (see enqueue_score).
            current = db.session.get(Project, project_pk)
            return score_of(current) if current is not None else None

        if enqueue_project_score(user_pk, setting.id, state) is not None:
            queued += 1
    return queued


# --- sharing -------------------------------------------------------------------------------------


def consent_text() -> ConsentText:
    """The current text of the publication consent, and its version."""
    return ConsentText(
        version=CONSENT_VERSION,
        text=_(
            "Ich bin damit einverstanden, dass dieses Praxisprojekt als Praxisbeispiel für alle "
            "Digital-Navigatorinnen, Digital-Navigatoren, Digital-Lotsinnen und Digital-Lotsen "
            "des Programms sichtbar wird. Sichtbar werden: Titel, Ziel, betroffene Leistungen, "
            "Best-Practice-Modul, Status, Meilensteine (Titel und Termin), Ergebnis, "
            "Erkenntnisse, der Name der Kommune mit Landkreis und ihre Größenklasse. Mein Name "
            "wird nur gezeigt, wenn ich es unten auswähle, eine Kontakt-E-Mail-Adresse nur, "
            "wenn ich eine angebe. Coaching-Hinweise und der Verlauf bleiben intern. Ich kann "
            "die Einwilligung jederzeit widerrufen; das Praxisbeispiel ist dann sofort nicht "
            "mehr sichtbar."
        ),
    )


def _active_consent(project: Project) -> ProjectConsent | None:
    return db.session.scalars(
        select(ProjectConsent)
        .where(ProjectConsent.project_pk == project.id, ProjectConsent.withdrawn_at.is_(None))
        .order_by(ProjectConsent.created_at.desc(), ProjectConsent.id.desc())
    ).first()


def is_published(project: Project) -> bool:
    """Whether the project is a Praxisbeispiel right now (consent in force and in Betrieb)."""
    return project.status == ProjectStatus.IN_BETRIEB and _active_consent(project) is not None


def active_consent(project: Project) -> ProjectConsent | None:
    """The consent in force, if any (the project pages show what it makes visible)."""
    return _active_consent(project)


def consents(project: Project) -> list[ProjectConsent]:
    """Every consent of the project, oldest first (the record of consent changes)."""
    return list(
        db.session.scalars(
            select(ProjectConsent)
            .where(ProjectConsent.project_pk == project.id)
            .order_by(ProjectConsent.created_at, ProjectConsent.id)
        )
    )


def publish(
    project: Project,
    *,
    user_pk: int,
    show_name: bool,
    contact_email: str | None,
    consent_version: str,
) -> ProjectConsent:
    """Publish the project with the member's consent (module docstring). Flushes.
    ProjectInvalid when it is not in Betrieb, the consent text is not the current one, or the
    e-mail is not one; ProjectForbidden for a non-member."""
    _require_member(project, user_pk)
    errors: dict[str, str] = {}
    if project.status != ProjectStatus.IN_BETRIEB:
        errors["status"] = _("Nur Projekte „in Betrieb“ können veröffentlicht werden.")
    if consent_version != CONSENT_VERSION:
        errors["consent_version"] = _(
            "Bitte lesen und bestätigen Sie den aktuellen Text der Einwilligung."
        )
    email = _text(contact_email) or None
    if email is not None and (len(email) > EMAIL_MAX or not _EMAIL.match(email)):
        errors["contact_email"] = _(
            "Bitte geben Sie eine E-Mail-Adresse wie name@kommune.de an, oder lassen Sie das "
            "Feld leer."
        )
    if errors:
        raise ProjectInvalid(errors)
    now = utcnow()
    previous = _active_consent(project)
    if previous is not None:
        previous.withdrawn_at = now
    consent = ProjectConsent(
        project_pk=project.id,
        user_pk=user_pk,
        consent_version=consent_version,
        show_name=bool(show_name),
        contact_email=email,
        created_at=now,
    )
    db.session.add(consent)
    db.session.flush()
    _revise(
        project,
        user_pk,
        "published",
        {
            "consent": {
                "old": None,
                "new": {
                    "version": consent_version,
                    "show_name": bool(show_name),
                    "contact_email": email is not None,
                },
            }
        },
    )
    db.session.flush()
    log.info("project published: project=%s consent=%s", project.id, consent.id)
    return consent


def withdraw(project: Project, *, user_pk: int) -> ProjectConsent | None:
    """Withdraw the consent in force, with immediate effect; None if none was. Flushes."""
    _require_member(project, user_pk)
    consent = _active_consent(project)
    if consent is None:
        return None
    now = utcnow()
    # Any consent left in force (there is at most one) goes too.
    for row in db.session.scalars(
        select(ProjectConsent).where(
            ProjectConsent.project_pk == project.id, ProjectConsent.withdrawn_at.is_(None)
        )
    ):
        row.withdrawn_at = now
    _revise(project, user_pk, "withdrawn", {"consent": {"old": "published", "new": None}})
    db.session.flush()
    log.info("project withdrawn: project=%s consent=%s", project.id, consent.id)
    return consent


def programme_of(registration_pk: int) -> str:
    """The programme of a platform registration (``PROGRAMMES``: name → issuer URLs)."""
    registration = db.session.get(Registration, registration_pk)
    if registration is None:
        return "default"
    return _programme_of_issuer(registration.issuer)


def _programmes() -> Mapping[str, Any]:
    return current_app.config.get("PROGRAMMES") or {}


def _programme_of_issuer(issuer: str) -> str:
    for name, issuers in _programmes().items():
        if issuer in (issuers or ()):
            return str(name)
    return "default"


def _registrations_of(programme: str) -> list[int]:
    return [
        pk
        for pk, issuer in db.session.execute(select(Registration.id, Registration.issuer))
        if _programme_of_issuer(issuer) == programme
    ]


def _example_query(programme: str) -> Any:
    active = (
        select(ProjectConsent.id)
        .where(ProjectConsent.project_pk == Project.id, ProjectConsent.withdrawn_at.is_(None))
        .order_by(ProjectConsent.created_at.desc(), ProjectConsent.id.desc())
        .limit(1)
        .correlate(Project)
        .scalar_subquery()
    )
    return (
        select(Project, ProjectConsent, CatalogModule)
        .join(LtiContext, LtiContext.id == Project.context_pk)
        .join(ProjectConsent, ProjectConsent.id == active)
        .outerjoin(CatalogModule, CatalogModule.id == Project.module_pk)
        .where(
            Project.status == ProjectStatus.IN_BETRIEB.value,
            LtiContext.registration_pk.in_(_registrations_of(programme)),
        )
        .options(selectinload(Project.milestones))
    )


def _examples(query: Any) -> list[Example]:
    rows = list(db.session.execute(query).unique())
    named = {consent.user_pk for _p, consent, _m in rows if consent.show_name}
    names = {
        user.id: user.display_name
        for user in (
            db.session.scalars(select(LtiUser).where(LtiUser.id.in_(named))) if named else []
        )
    }
    return [
        Example(
            project_id=project.id,
            title=project.title,
            goal=project.goal,
            services=project.services,
            module_pk=project.module_pk,
            module_slug=module.slug if module else None,
            module_title=module.title if module else None,
            status=project.status,
            status_label=str(STATUS_LABELS[ProjectStatus(project.status)]),
            result=project.result,
            lessons=project.lessons,
            municipality_name=project.municipality_name,
            landkreis=project.landkreis,
            size_class=project.size_class,
            size_label=str(SIZE_CLASS_LABELS[project.size_class]) if project.size_class else None,
            milestones=tuple(
                ExampleMilestone(m.title, m.due_on, m.state) for m in project.milestones
            ),
            contact_name=names.get(consent.user_pk) if consent.show_name else None,
            contact_email=consent.contact_email,
            published_at=consent.created_at,
            is_demo=project.is_demo,
        )
        for project, consent, module in rows
    ]


def examples(programme: str, *, query: ExampleQuery | None = None) -> list[Example]:
    """The programme's published examples, alphabetically by title (no ranking), filtered by
    words (in title, goal, services, result, lessons, Kommune, module), module, Landkreis and
    size class."""
    query = query or ExampleQuery()
    statement = _example_query(programme).order_by(func.lower(Project.title), Project.id)
    if query.module_pk:
        statement = statement.where(Project.module_pk == query.module_pk)
    if query.landkreis:
        statement = statement.where(Project.landkreis == query.landkreis)
    if query.size_class:
        statement = statement.where(Project.size_class == query.size_class)
    for word in _text(query.text).split()[:8]:
        pattern = f"%{word.replace('%', '').replace('_', '')}%"
        statement = statement.where(
            or_(
                Project.title.ilike(pattern),
                Project.goal.ilike(pattern),
                Project.services.ilike(pattern),
                Project.result.ilike(pattern),
                Project.lessons.ilike(pattern),
                Project.municipality_name.ilike(pattern),
                CatalogModule.title.ilike(pattern),
            )
        )
    return _examples(statement)


def example(programme: str, project_id: int) -> Example:
    """One published example of the programme; ProjectNotFound when it is not (any more)."""
    found = _examples(_example_query(programme).where(Project.id == project_id))
    if not found:
        raise ProjectNotFound()
    return found[0]


def examples_for_module(programme: str, module_pk: int) -> list[Example]:
    """The examples that follow a Best-Practice module ("So haben es andere umgesetzt")."""
    return examples(programme, query=ExampleQuery(module_pk=module_pk))


def example_landkreise(programme: str) -> list[str]:
    """The Landkreise that published examples of the programme have (for the search form)."""
    return sorted({e.landkreis for e in examples(programme) if e.landkreis}, key=str.casefold)


# --- the Lotse's programme -----------------------------------------------------------------------


def lotse_courses(lotse_pk: int) -> list[int]:
    """The courses (lti context pks) the person has launched in as a Lotse: their newest
    launch there was a Lotse launch (LTI roles, grant or trusted custom role), or the roster
    knows them there as a Lotse who launched. A constant number of queries."""
    courses = set(
        db.session.scalars(
            select(CourseMembership.context_pk).where(
                CourseMembership.user_pk == lotse_pk,
                CourseMembership.role == ToolRole.LOTSE.value,
                CourseMembership.status == MembershipStatus.ACTIVE.value,
                CourseMembership.last_launch_at.is_not(None),
            )
        )
    )
    user = db.session.get(LtiUser, lotse_pk)
    if user is not None:
        newest: dict[int, Any] = {}
        for row in db.session.execute(
            select(Launch.context_pk, Launch.lti_roles, Launch.custom, Launch.deployment_pk)
            .where(Launch.user_pk == lotse_pk, Launch.context_pk.is_not(None))
            .order_by(Launch.created_at, Launch.id)
        ):
            newest[row.context_pk] = row
        rules = rules_for(user.registration_pk) if newest else None
        for context_pk, row in newest.items():
            assert rules is not None
            role = role_of(row.lti_roles or [], user.sub, row.custom, row.deployment_pk, rules)
            if role is ToolRole.LOTSE:
                courses.add(context_pk)
    return sorted(courses)


# --- privacy -------------------------------------------------------------------------------------


def delete_memberless_projects() -> int:
    """Delete every project no member is left in (after an erasure), with its milestones,
    notes, revisions and consents (their foreign keys cascade). Flushes; returns how many."""
    empty = list(
        db.session.scalars(
            select(Project.id).where(~exists().where(ProjectMember.project_pk == Project.id))
        )
    )
    if empty:
        db.session.execute(
            delete(Project)
            .where(Project.id.in_(empty))
            .execution_options(synchronize_session=False)
        )
        db.session.flush()
    return len(empty)


def personal_projects(user_pk: int) -> dict[str, Any]:
    """A person's Praxisprojekt data for their export (Art. 15/20): the projects they are a
    member of (text, milestones, the coaching notes on them, without who wrote them, and
    their own history entries), the consents *they* gave (a co-member's consent is that
    person's data), and as a Lotse the notes they wrote and the milestones they marked."""
    memberships = list(
        db.session.execute(
            select(ProjectMember, Project)
            .join(Project, Project.id == ProjectMember.project_pk)
            .where(ProjectMember.user_pk == user_pk)
            .options(selectinload(Project.milestones))
            .order_by(Project.context_pk, Project.id)
        )
    )
    project_pks = [project.id for _member, project in memberships]
    notes_on: dict[int, list[ProjectNote]] = {pk: [] for pk in project_pks}
    for note in db.session.scalars(
        select(ProjectNote)
        .where(ProjectNote.project_pk.in_(project_pks))
        .order_by(ProjectNote.created_at, ProjectNote.id)
    ):
        notes_on[note.project_pk].append(note)
    own_revisions: dict[int, list[ProjectRevision]] = {}
    for revision in db.session.scalars(
        select(ProjectRevision)
        .where(ProjectRevision.user_pk == user_pk)
        .order_by(ProjectRevision.created_at, ProjectRevision.id)
    ):
        own_revisions.setdefault(revision.project_pk, []).append(revision)
    given = list(
        db.session.scalars(
            select(ProjectConsent)
            .where(ProjectConsent.user_pk == user_pk)
            .order_by(ProjectConsent.created_at, ProjectConsent.id)
        )
    )
    written = list(
        db.session.scalars(
            select(ProjectNote)
            .where(ProjectNote.lotse_pk == user_pk)
            .order_by(ProjectNote.created_at, ProjectNote.id)
        )
    )
    discussed = list(
        db.session.scalars(
            select(ProjectMilestone)
            .where(ProjectMilestone.discussed_by_pk == user_pk)
            .order_by(ProjectMilestone.discussed_at, ProjectMilestone.id)
        )
    )
    return {
        "projects": [
            {
                "id": project.id,
                "course_pk": project.context_pk,
                "title": project.title,
                "goal": project.goal,
                "module_pk": project.module_pk,
                "services": project.services,
                "status": project.status,
                "result": project.result,
                "lessons": project.lessons,
                "municipality_key": project.municipality_key,
                "municipality_name": project.municipality_name,
                "landkreis": project.landkreis,
                "size_class": project.size_class,
                "joined_at": member.joined_at,
                "created_at": project.created_at,
                "updated_at": project.updated_at,
                "milestones": [
                    {
                        "id": m.id,
                        "title": m.title,
                        "due_on": m.due_on,
                        "state": m.state,
                        "discussed_at": m.discussed_at,
                    }
                    for m in project.milestones
                ],
                "notes": [
                    {"id": n.id, "text": n.text, "created_at": n.created_at}
                    for n in notes_on[project.id]
                ],
                "own_changes": [
                    {
                        "action": r.action,
                        "changes": dict(r.changes or {}),
                        "created_at": r.created_at,
                    }
                    for r in own_revisions.get(project.id, [])
                ],
            }
            for member, project in memberships
        ],
        "project_consents": [
            {
                "id": c.id,
                "project_id": c.project_pk,
                "consent_version": c.consent_version,
                "show_name": c.show_name,
                "contact_email": c.contact_email,
                "created_at": c.created_at,
                "withdrawn_at": c.withdrawn_at,
            }
            for c in given
        ],
        "project_notes_written": [
            {"id": n.id, "project_id": n.project_pk, "text": n.text, "created_at": n.created_at}
            for n in written
        ],
        "project_milestones_discussed": [
            {"id": m.id, "project_id": m.project_pk, "discussed_at": m.discussed_at}
            for m in discussed
        ],
        "project_changes_elsewhere": sum(
            len(rows) for pk, rows in own_revisions.items() if pk not in notes_on
        ),
    }
