"""The data-protection rights of a person (DSGVO): everything the tool holds on them as a
machine-readable export (Art. 15 and 20), their erasure (Art. 17), and the retention rule that
purges what old courses hold on people. Every export, erasure and purge adds a
:class:`~courses.models.PrivacyAudit` row (who, when, what kind, how many rows; never content).

A *person* is an :class:`~lti_tool.models.LtiUser`: a ``sub`` on one platform registration. Their
data is every row that refers to that user (:data:`PERSON_REFERENCES`, checked against the
tables' foreign keys by the tests) and every row keyed by their ``sub`` (:data:`SUB_COLUMNS`),
plus the uploaded files of their submissions on disk.

Erasure (:func:`erase`) deletes the person's rows and files everywhere and keeps only what other
people's data and the gradebook sync of everybody else still need:

- the person's own rows are deleted: launches, memberships, module assignments, progress, quiz
  attempts, submissions with their files and the Lotse's decisions on them, municipality, Lotse
  grant, and their gradebook outbox rows. A score not yet delivered is not sent any more; the LMS
  keeps the last score it received (its gradebook is the LMS's, erase the person there too);
- decisions a Lotse made about *other* people's submissions stay (they are the other person's
  review and their grade), but lose the link to the Lotse (``lotse_pk`` NULL), as do
  municipalities the Lotse corrected for others (``updated_by_pk`` NULL): nothing is left that
  points back to the erased person;
- Praxisprojekte: the person leaves every project (``project_member``); a project nobody is left
  in goes with its milestones, notes, history and consents. The person's publication consents
  are deleted, so an example they published disappears at once. Coaching notes, "besprochen"
  marks and history entries of a Lotse or co-member stay for the project but lose the link to
  the person (NULL);
- the protocol's caches that may hold values of the person's launches lose them: a resource
  link's ``custom`` parameters are those of its newest launch (they may carry substituted
  personal values such as ``$Person.address.locality``), so they become those of the newest launch
  that remains; a roster refresh marker naming one of the person's launches is cleared.

Retention (:func:`purge_expired`): ``RETENTION_DAYS_AFTER_COURSE_END`` days after a course's end
(:func:`course_ends`) its personal data goes: launches, memberships, module assignments,
progress, quiz attempts, submissions with files and decisions, and the gradebook rows that are
delivered or failed. Progress and quiz attempts go with the submissions on purpose: a score
computed later from half of a Navigator's work (a "graded" unit without its grade) would replace
the LMS's grade with a wrong one. Pending gradebook rows stay until delivered (the LMS does not
have that state yet); a later run removes them. Then every person with nothing left in any
course, and not seen for the same number of days, is deleted with their municipality.
Praxisprojekte go with their course (members, milestones, history, notes), except a published
example: its consent in force is the reason to keep it (and its author's person row); it loses
its coaching notes and history, and goes at the first run after the consent is withdrawn. The
project column's gradebook rows that are delivered or failed go with the course. Uploaded
files no row names any more (left by a failed request) are removed after a day.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import Select, String, cast, delete, func, select, update
from sqlalchemy.sql import ColumnElement

from courses.gradebook.line_items import PROJECT_RESOURCE_ID
from courses.gradebook.outbox import rowcount
from courses.models import (
    CatalogModule,
    CatalogUnit,
    CourseMembership,
    CourseModule,
    CourseModuleMember,
    GradebookOutbox,
    GradingDecision,
    LotseGrant,
    NavigatorMunicipality,
    OutboxState,
    PrivacyAction,
    PrivacyActor,
    PrivacyAudit,
    ProjectCourseSetting,
    QuizAttempt,
    RosterSync,
    Submission,
    SubmissionFile,
    UnitProgress,
    UnitVersion,
)
from lti_tool.extensions import db
from lti_tool.models import Launch, LtiContext, LtiResourceLink, LtiUser, Registration, utcnow

from .dates import BERLIN
from .projects import delete_memberless_projects, personal_projects, purge_course_projects
from .submissions import upload_folder

log = logging.getLogger(__name__)

#: Version of the export's format (the ``format_version`` field).
FORMAT_VERSION = 1
FORMAT_NAME = "lotsen-lti/personal-data"

#: Every column that refers to a person (``lti_user.id``) and what erasure and the retention
#: purge do with its rows: ``delete`` the row, or ``unlink`` it (set the column NULL: the row is
#: someone else's data). Both apply this table as it stands (:func:`_delete_references`), and the
#: tests compare it with the foreign keys of every table, so a new table that refers to a person
#: cannot be forgotten (the export, :func:`personal_data`, must then show it too).
PERSON_REFERENCES: dict[tuple[str, str], str] = {
    ("course_membership", "user_pk"): "delete",
    ("course_module_member", "user_pk"): "delete",
    ("gradebook_outbox", "user_pk"): "delete",
    ("grading_decision", "lotse_pk"): "unlink",
    ("launch", "user_pk"): "delete",
    ("navigator_municipality", "user_pk"): "delete",
    ("navigator_municipality", "updated_by_pk"): "unlink",
    ("project_consent", "user_pk"): "delete",
    ("project_member", "user_pk"): "delete",
    ("project_milestone", "discussed_by_pk"): "unlink",
    ("project_note", "lotse_pk"): "unlink",
    ("project_revision", "user_pk"): "unlink",
    ("quiz_attempt", "user_pk"): "delete",
    ("submission", "user_pk"): "delete",
    ("unit_progress", "user_pk"): "delete",
}
#: Columns that hold a person's ``sub`` themselves (besides the gradebook payload's ``userId``).
SUB_COLUMNS = frozenset({("lti_user", "sub"), ("lotse_grant", "sub")})
#: The rows that hang under a person's rows: they go with them (their foreign key cascades),
#: or, a project started from a Steckbrief submission, lose the link (SET NULL).
DEPENDENT_ROWS = frozenset(
    {
        ("grading_decision", "submission_pk"),
        ("submission_file", "submission_pk"),
        ("project", "source_submission_pk"),
    }
)

#: Stray upload files (no row names them) younger than this may belong to a running request.
STRAY_FILE_AGE = timedelta(days=1)


class PrivacyError(Exception):
    """A privacy request that cannot be carried out; the message is German."""


# --- who -----------------------------------------------------------------------------------------


def find_person(registration: Registration, sub: str) -> LtiUser | None:
    """The person ``sub`` on ``registration``, or None."""
    return db.session.scalars(
        select(LtiUser).where(LtiUser.registration_pk == registration.id, LtiUser.sub == sub)
    ).first()


def subject_ref(registration_pk: int, sub: str) -> str:
    """A keyed hash (HMAC-SHA256 with ``SECRET_KEY``) of a person: the audit finds their entries
    again when an admin names the ``sub``, but holds neither the ``sub`` nor anything that leads
    to it without the key. A new ``SECRET_KEY`` starts new references."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    message = f"privacy-audit\x00{registration_pk}\x00{sub}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def cli_actor() -> str:
    """The operating-system account running a command (for the audit's ``actor_ref``)."""
    try:
        return getpass.getuser()[:100]
    except (KeyError, OSError):
        return "unbekannt"


def record(
    action: PrivacyAction,
    *,
    actor: PrivacyActor,
    actor_ref: str | None,
    counts: dict[str, Any],
    registration_pk: int | None = None,
    subject: str | None = None,
    format: str | None = None,
) -> PrivacyAudit:
    """Add the audit row of an export, erasure or purge (flushes; the caller commits)."""
    row = PrivacyAudit(
        action=action.value,
        format=format,
        actor=actor.value,
        actor_ref=actor_ref,
        registration_pk=registration_pk,
        subject_ref=subject,
        counts=dict(counts),
        created_at=utcnow(),
    )
    db.session.add(row)
    db.session.flush()
    log.info(
        "privacy %s: audit=%s actor=%s registration=%s format=%s",
        action.value,
        row.id,
        actor.value,
        registration_pk,
        format,
    )
    return row


def audit_entries(registration: Registration | None = None, sub: str | None = None) -> list[Any]:
    """Audit rows, newest first; with ``registration`` and ``sub`` only that person's."""
    query = select(PrivacyAudit).order_by(PrivacyAudit.created_at.desc(), PrivacyAudit.id.desc())
    if registration is not None and sub is not None:
        query = query.where(PrivacyAudit.subject_ref == subject_ref(registration.id, sub))
    return list(db.session.scalars(query))


# --- export (Art. 15 and 20) ---------------------------------------------------------------------


@dataclass
class _Names:
    """Titles of the courses, modules and units a person's rows name (loaded once each)."""

    units: dict[int, dict[str, Any]] = field(default_factory=dict)
    courses: dict[int, dict[str, Any]] = field(default_factory=dict)

    def unit(self, unit_pk: int) -> dict[str, Any]:
        if unit_pk not in self.units:
            row = db.session.execute(
                select(
                    CatalogUnit.id,
                    CatalogUnit.slug,
                    CatalogUnit.title,
                    CatalogUnit.kind,
                    CatalogModule.slug,
                    CatalogModule.title,
                )
                .join(CatalogModule, CatalogModule.id == CatalogUnit.module_pk)
                .where(CatalogUnit.id == unit_pk)
            ).first()
            self.units[unit_pk] = (
                {
                    "module": row[4],
                    "module_title": row[5],
                    "unit": row[1],
                    "unit_title": row[2],
                    "unit_kind": row[3],
                }
                if row is not None
                else dict.fromkeys(("module", "module_title", "unit", "unit_title", "unit_kind"))
            )
        return self.units[unit_pk]

    def course(self, context_pk: int | None) -> int | None:
        if context_pk is not None and context_pk not in self.courses:
            context = db.session.get(LtiContext, context_pk)
            self.courses[context_pk] = {
                "id": context_pk,
                "context_id": context.context_id if context else None,
                "title": context.title if context else None,
                "label": context.label if context else None,
            }
        return context_pk


def _version_number(unit_version_pk: int) -> int | None:
    version = db.session.get(UnitVersion, unit_version_pk)
    return version.version if version is not None else None


def _decision(row: GradingDecision) -> dict[str, Any]:
    return {
        "id": row.id,
        "created_at": row.created_at,
        "decision": row.decision,
        "points": dict(row.points or {}),
        "total": row.total,
        "max_total": row.max_total,
        "feedback": row.feedback,
        "revision_notes": row.revision_notes,
    }


def personal_data(user: LtiUser) -> dict[str, Any]:
    """Everything the tool holds on ``user``, as one document (datetimes as such; :func:`to_json`
    writes it). Reviews of the person's submissions carry no Lotse; decisions the person made as
    Lotse carry no Navigator: each part is only this person's data."""
    names = _Names()
    registration = db.session.get(Registration, user.registration_pk)
    assert registration is not None
    launches = list(
        db.session.scalars(
            select(Launch).where(Launch.user_pk == user.id).order_by(Launch.created_at, Launch.id)
        )
    )
    refreshed = set(
        db.session.scalars(
            select(RosterSync.last_launch_id).where(
                RosterSync.last_launch_id.in_([launch.id for launch in launches])
            )
        )
    )
    grant = db.session.scalars(
        select(LotseGrant).where(
            LotseGrant.registration_pk == user.registration_pk, LotseGrant.sub == user.sub
        )
    ).first()
    municipality = db.session.get(NavigatorMunicipality, user.id)
    memberships = db.session.scalars(
        select(CourseMembership)
        .where(CourseMembership.user_pk == user.id)
        .order_by(CourseMembership.context_pk)
    )
    assignments = db.session.execute(
        select(CourseModule.context_pk, CatalogModule.slug, CatalogModule.title)
        .join(CourseModuleMember, CourseModuleMember.course_module_pk == CourseModule.id)
        .join(CatalogModule, CatalogModule.id == CourseModule.module_pk)
        .where(CourseModuleMember.user_pk == user.id)
        .order_by(CourseModule.context_pk, CatalogModule.position)
    )
    progress = db.session.scalars(
        select(UnitProgress)
        .where(UnitProgress.user_pk == user.id)
        .order_by(UnitProgress.context_pk, UnitProgress.started_at, UnitProgress.id)
    )
    attempts = db.session.scalars(
        select(QuizAttempt)
        .where(QuizAttempt.user_pk == user.id)
        .order_by(QuizAttempt.created_at, QuizAttempt.id)
    )
    submissions = list(
        db.session.scalars(
            select(Submission)
            .where(Submission.user_pk == user.id)
            .order_by(Submission.context_pk, Submission.created_at, Submission.id)
        )
    )
    context_of_row = func.coalesce(CourseModule.context_pk, ProjectCourseSetting.context_pk)
    outbox = db.session.execute(
        select(GradebookOutbox, context_of_row, CatalogModule.slug, CatalogModule.title)
        .outerjoin(CourseModule, CourseModule.id == GradebookOutbox.course_module_pk)
        .outerjoin(CatalogModule, CatalogModule.id == CourseModule.module_pk)
        .outerjoin(
            ProjectCourseSetting, ProjectCourseSetting.id == GradebookOutbox.project_column_pk
        )
        .where(GradebookOutbox.user_pk == user.id)
        .order_by(context_of_row, CatalogModule.position, GradebookOutbox.id)
    )
    made = db.session.execute(
        select(GradingDecision, Submission.context_pk, Submission.unit_pk)
        .join(Submission, Submission.id == GradingDecision.submission_pk)
        .where(GradingDecision.lotse_pk == user.id)
        .order_by(GradingDecision.created_at, GradingDecision.id)
    )
    corrected = db.session.scalar(
        select(func.count())
        .select_from(NavigatorMunicipality)
        .where(NavigatorMunicipality.updated_by_pk == user.id)
    )
    document: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "generated_at": utcnow(),
        "operator": current_app.config.get("OPERATOR_NAME"),
        "platform": {
            "name": registration.name,
            "issuer": registration.issuer,
            "client_id": registration.client_id,
        },
        "person": {
            "id": user.id,
            "sub": user.sub,
            "name": user.name,
            "given_name": user.given_name,
            "family_name": user.family_name,
            "email": user.email,
            "created_at": user.created_at,
            "last_launch_at": user.last_launch_at,
        },
        "lotse_grant": {"created_at": grant.created_at, "note": grant.note} if grant else None,
        "municipality": {
            "key": municipality.municipality_key,
            "name": municipality.name,
            "source": municipality.source,
            "updated_at": municipality.updated_at,
            "corrected_by_lotse": municipality.updated_by_pk is not None,
        }
        if municipality
        else None,
        "launches": [
            {
                "id": launch.id,
                "created_at": launch.created_at,
                "expires_at": launch.expires_at,
                "course_id": names.course(launch.context_pk),
                "message_type": launch.message_type,
                "lti_roles": list(launch.lti_roles or []),
                "custom": dict(launch.custom or {}),
                "locale": launch.locale,
                "return_url": launch.return_url,
                "refreshed_roster": launch.id in refreshed,
            }
            for launch in launches
        ],
        "memberships": [
            {
                "course_id": names.course(m.context_pk),
                "role": m.role,
                "source": m.source,
                "status": m.status,
                "lti_roles": list(m.lti_roles or []),
                "first_launch_at": m.first_launch_at,
                "last_launch_at": m.last_launch_at,
                "synced_at": m.synced_at,
                "created_at": m.created_at,
            }
            for m in memberships
        ],
        "module_assignments": [
            {"course_id": names.course(context_pk), "module": slug, "module_title": title}
            for context_pk, slug, title in assignments
        ],
        "progress": [
            {
                "course_id": names.course(p.context_pk),
                **names.unit(p.unit_pk),
                "unit_version": p.unit_version.version,
                "state": p.state,
                "started_at": p.started_at,
                "updated_at": p.updated_at,
                "completed_at": p.completed_at,
            }
            for p in progress
        ],
        "quiz_attempts": [
            {
                "id": a.id,
                "course_id": names.course(a.context_pk),
                **names.unit(a.unit_pk),
                "unit_version": _version_number(a.unit_version_pk),
                "answers": dict(a.answers or {}),
                "correct_count": a.correct_count,
                "question_count": a.question_count,
                "percent": round(a.percent, 2),
                "passed": a.passed,
                "created_at": a.created_at,
            }
            for a in attempts
        ],
        "submissions": [
            {
                "id": s.id,
                "course_id": names.course(s.context_pk),
                **names.unit(s.unit_pk),
                "unit_version": s.unit_version.version,
                "state": s.state,
                "text": s.text,
                "created_at": s.created_at,
                "updated_at": s.updated_at,
                "submitted_at": s.submitted_at,
                "files": [
                    {
                        "id": f.id,
                        "name": f.original_name,
                        "content_type": f.content_type,
                        "size": f.size,
                        "sha256": f.sha256,
                        "created_at": f.created_at,
                    }
                    for f in s.files
                ],
                "reviews": [
                    _decision(d)
                    for d in db.session.scalars(
                        select(GradingDecision)
                        .where(GradingDecision.submission_pk == s.id)
                        .order_by(GradingDecision.created_at, GradingDecision.id)
                    )
                ],
            }
            for s in submissions
        ],
        "gradebook": [
            {
                "course_id": names.course(context_pk),
                # The Praxisprojekt column has no module.
                "module": slug if row.course_module_pk is not None else PROJECT_RESOURCE_ID,
                "module_title": title if row.course_module_pk is not None else "Praxisprojekt",
                "state": row.state,
                "score": dict(row.payload or {}),
                "attempts": row.attempts,
                "last_status": row.last_status,
                "last_error": row.last_error,
                "delivered_at": row.delivered_at,
                "created_at": row.created_at,
                "updated_at": row.updated_at,
            }
            for row, context_pk, slug, title in outbox
        ],
        "decisions_made": [
            {**_decision(decision), "course_id": names.course(context_pk), **names.unit(unit_pk)}
            for decision, context_pk, unit_pk in made
        ],
        "municipalities_corrected": int(corrected or 0),
        "privacy_log": [
            {"action": a.action, "format": a.format, "actor": a.actor, "created_at": a.created_at}
            for a in db.session.scalars(
                select(PrivacyAudit)
                .where(PrivacyAudit.subject_ref == subject_ref(user.registration_pk, user.sub))
                .order_by(PrivacyAudit.created_at, PrivacyAudit.id)
            )
        ],
    }
    projects = personal_projects(user.id)
    for project in projects["projects"]:
        project["course_id"] = names.course(project.pop("course_pk"))
    document.update(projects)
    document["courses"] = [names.courses[pk] for pk in sorted(names.courses)]
    document["counts"] = export_counts(document)
    return document


def export_counts(document: dict[str, Any]) -> dict[str, int]:
    """Rows per kind of data in an export (what the audit records and the summary lists)."""
    submissions = document["submissions"]
    return {
        "launch": len(document["launches"]),
        "course_membership": len(document["memberships"]),
        "course_module_member": len(document["module_assignments"]),
        "unit_progress": len(document["progress"]),
        "quiz_attempt": len(document["quiz_attempts"]),
        "submission": len(submissions),
        "submission_file": sum(len(s["files"]) for s in submissions),
        "grading_decision": sum(len(s["reviews"]) for s in submissions),
        "gradebook_outbox": len(document["gradebook"]),
        "decisions_made": len(document["decisions_made"]),
        "navigator_municipality": 1 if document["municipality"] else 0,
        "lotse_grant": 1 if document["lotse_grant"] else 0,
        "project_member": len(document["projects"]),
        "project_milestone": sum(len(p["milestones"]) for p in document["projects"]),
        "project_note": sum(len(p["notes"]) for p in document["projects"]),
        "project_consent": len(document["project_consents"]),
        "project_notes_written": len(document["project_notes_written"]),
        "project_milestones_discussed": len(document["project_milestones_discussed"]),
    }


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(document: dict[str, Any]) -> str:
    """The export as JSON text (UTF-8, timestamps ISO 8601 in UTC)."""
    return json.dumps(document, ensure_ascii=False, indent=2, default=_json_value) + "\n"


def file_of_person(user_pk: int, file_pk: int) -> SubmissionFile | None:
    """An uploaded file of one of the person's own submissions (any course), else None."""
    stored = db.session.get(SubmissionFile, file_pk)
    if stored is None or stored.submission.user_pk != user_pk:
        return None
    return stored


def upload_path(file_pk: int) -> Path | None:
    """Where the bytes of the uploaded file ``file_pk`` are, or None for no such file."""
    stored = db.session.get(SubmissionFile, file_pk)
    if stored is None:
        return None
    return file_location(stored.submission.context_pk, stored.stored_name)


def file_location(context_pk: int, stored_name: str) -> Path | None:
    """Where an upload's bytes are (None for a name that is not one of ours)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", stored_name):
        return None
    return upload_folder(context_pk, create=False) / stored_name


# --- erasure (Art. 17) ---------------------------------------------------------------------------


@dataclass
class Erasure:
    """What :func:`erase` did: rows per table, the files to remove once it is committed, and how
    many gradebook scores were still waiting for delivery."""

    counts: dict[str, int]
    paths: list[Path]
    pending_scores: int


def _count(statement: Any) -> int:
    return rowcount(db.session.execute(statement))


def _files_of(submission_pks: Select[Any]) -> list[Path]:
    rows = db.session.execute(
        select(Submission.context_pk, SubmissionFile.stored_name)
        .join(Submission, Submission.id == SubmissionFile.submission_pk)
        .where(SubmissionFile.submission_pk.in_(submission_pks))
    )
    return [path for context_pk, name in rows if (path := file_location(context_pk, name))]


def _delete_submissions(where: ColumnElement[bool]) -> tuple[dict[str, int], list[Path]]:
    """Delete the submissions matching ``where`` with their decisions and file rows; return the
    counts and the paths of their files."""
    ids = select(Submission.id).where(where).scalar_subquery()
    paths = _files_of(select(Submission.id).where(where))
    counts = {
        "grading_decision": _count(
            delete(GradingDecision)
            .where(GradingDecision.submission_pk.in_(ids))
            .execution_options(synchronize_session=False)
        ),
        "submission_file": _count(
            delete(SubmissionFile)
            .where(SubmissionFile.submission_pk.in_(ids))
            .execution_options(synchronize_session=False)
        ),
    }
    counts["submission"] = _count(
        delete(Submission).where(where).execution_options(synchronize_session=False)
    )
    return counts, paths


def _renew_link_customs(link_pks: Iterable[int]) -> int:
    """Give each resource link the custom parameters of its newest remaining launch (none: {})."""
    changed = 0
    for link in db.session.scalars(select(LtiResourceLink).where(LtiResourceLink.id.in_(link_pks))):
        newest = db.session.scalars(
            select(Launch.custom)
            .where(Launch.resource_link_pk == link.id)
            .order_by(Launch.created_at.desc(), Launch.id.desc())
            .limit(1)
        ).first()
        custom = dict(newest or {})
        if (link.custom or {}) != custom:
            link.custom = custom
            changed += 1
    db.session.flush()
    return changed


def pending_scores(user: LtiUser) -> int:
    """Gradebook scores of ``user`` that the LMS does not have yet."""
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(GradebookOutbox)
            .where(
                GradebookOutbox.user_pk == user.id,
                GradebookOutbox.state == OutboxState.PENDING.value,
            )
        )
        or 0
    )


def erase(user: LtiUser, *, actor: PrivacyActor, actor_ref: str | None) -> Erasure:
    """Erase ``user`` everywhere (module docstring) and record it. Flushes; the caller commits and
    then removes :attr:`Erasure.paths` (:func:`remove_files`)."""
    user_pk, registration_pk, sub = user.id, user.registration_pk, user.sub
    subject = subject_ref(registration_pk, sub)
    pending = pending_scores(user)
    launch_ids = select(Launch.id).where(Launch.user_pk == user_pk).scalar_subquery()
    link_pks = {
        pk
        for pk in db.session.scalars(
            select(Launch.resource_link_pk).where(Launch.user_pk == user_pk)
        )
        if pk is not None
    }
    db.session.flush()
    counts, paths = _delete_submissions(Submission.user_pk == user_pk)
    # Before the launches go: a roster refresh marker that names one of them.
    counts["roster_sync_unlinked"] = _count(
        update(RosterSync)
        .where(RosterSync.last_launch_id.in_(launch_ids))
        .values(last_launch_id=None)
        .execution_options(synchronize_session=False)
    )
    counts.update(_delete_references([user_pk], skip={("submission", "user_pk")}))
    counts["project"] = delete_memberless_projects()
    counts["lotse_grant"] = _count(
        delete(LotseGrant)
        .where(LotseGrant.registration_pk == registration_pk, LotseGrant.sub == sub)
        .execution_options(synchronize_session=False)
    )
    counts["resource_link_custom"] = _renew_link_customs(link_pks)
    counts["lti_user"] = _count(
        delete(LtiUser).where(LtiUser.id == user_pk).execution_options(synchronize_session=False)
    )
    db.session.expunge(user)
    counts["file"] = len(paths)
    record(
        PrivacyAction.ERASURE,
        actor=actor,
        actor_ref=actor_ref,
        counts=counts,
        registration_pk=registration_pk,
        subject=subject,
    )
    # Everything the session still holds about the person is gone from the database.
    db.session.expire_all()
    log.info("person erased: user=%s rows=%s files=%s", user_pk, sum(counts.values()), len(paths))
    return Erasure(counts=counts, paths=paths, pending_scores=pending)


def remove_files(paths: Iterable[Path]) -> int:
    """Remove the uploads of erased or purged rows (after the commit); returns how many were
    there. Empty course folders go too."""
    removed = 0
    folders: set[Path] = set()
    for path in paths:
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass
        folders.add(path.parent)
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()  # only if empty
    return removed


# --- retention -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CourseEnd:
    """When a course ended, and by which rule (``lms``: the end date the LMS sent; ``launch``:
    its last launch; ``activity``: its newest remaining row, once its launches are purged)."""

    context_pk: int
    ends_at: datetime
    source: str


def parse_course_end(value: Any) -> datetime | None:
    """An end date as an LMS sends it in a custom parameter: ISO 8601 with time (Moodle's
    ``$CourseSection.timeFrame.end`` is ``DateTime::ATOM`` in UTC, mod/lti/locallib.php
    ``lti_calculate_custom_parameter``), or a day (``YYYY-MM-DD`` or ``TT.MM.JJJJ``, set by hand,
    e.g. in ILIAS), which ends at midnight Europe/Berlin. None for anything else, also an
    unsubstituted ``$CourseSection.timeFrame.end`` and the empty value Moodle sends for a course
    without an end date."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        if re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{4}", text):
            return _end_of_day(datetime.strptime(text, "%d.%m.%Y").date())
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return _end_of_day(date.fromisoformat(text))
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _end_of_day(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=BERLIN).astimezone(UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _max_by_course(column: Any, context_column: Any, *where: Any) -> dict[int, datetime]:
    query = select(context_column, func.max(column)).group_by(context_column)
    for clause in where:
        query = query.where(clause)
    return {pk: moment for pk, value in db.session.execute(query) if (moment := _aware(value))}


def course_ends() -> list[CourseEnd]:
    """The end of every course, by this rule: the end date the LMS sends in the custom parameter
    ``COURSE_END_CUSTOM_PARAM`` (the newest launch that carries one decides), but never before
    the course's last launch (a course still used after its end date has not ended); without an
    end date, the last launch. A course without any launch left (its launches were purged) ends
    with its newest remaining row, else when it was created."""
    param = str(current_app.config.get("COURSE_END_CUSTOM_PARAM") or "kursende")
    last_launch = _max_by_course(
        Launch.created_at, Launch.context_pk, Launch.context_pk.is_not(None)
    )
    lms_end: dict[int, datetime] = {}
    rows = db.session.execute(
        select(Launch.context_pk, Launch.custom)
        .where(Launch.context_pk.is_not(None), cast(Launch.custom, String).like(f"%{param}%"))
        .order_by(Launch.created_at.desc(), Launch.id.desc())
    )
    for context_pk, custom in rows:
        if context_pk in lms_end or not isinstance(custom, dict):
            continue
        parsed = parse_course_end(custom.get(param))
        if parsed is not None:
            lms_end[context_pk] = parsed
    activity: dict[int, datetime] = {}
    for found in (
        _max_by_course(CourseMembership.created_at, CourseMembership.context_pk),
        _max_by_course(CourseMembership.last_launch_at, CourseMembership.context_pk),
        _max_by_course(CourseMembership.synced_at, CourseMembership.context_pk),
        _max_by_course(UnitProgress.updated_at, UnitProgress.context_pk),
        _max_by_course(QuizAttempt.created_at, QuizAttempt.context_pk),
        _max_by_course(Submission.updated_at, Submission.context_pk),
        _max_by_course(
            GradebookOutbox.updated_at,
            CourseModule.context_pk,
            GradebookOutbox.course_module_pk == CourseModule.id,
        ),
    ):
        for pk, moment in found.items():
            activity[pk] = max(moment, activity.get(pk, moment))
    ends = []
    for context_pk, created_at in db.session.execute(select(LtiContext.id, LtiContext.created_at)):
        launched = last_launch.get(context_pk)
        if context_pk in lms_end:
            end = lms_end[context_pk] if launched is None else max(lms_end[context_pk], launched)
            ends.append(CourseEnd(context_pk, end, "lms"))
        elif launched is not None:
            ends.append(CourseEnd(context_pk, launched, "launch"))
        else:
            moment = activity.get(context_pk) or _aware(created_at) or utcnow()
            ends.append(CourseEnd(context_pk, moment, "activity"))
    return ends


@dataclass
class Purge:
    """What :func:`purge_expired` did (or, in a dry run, would do)."""

    cutoff: datetime
    courses: list[int]
    counts: dict[str, int]
    paths: list[Path] = field(default_factory=list)
    """Files of purged rows and stray files: the caller removes them after the commit."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _stray_files(now: datetime) -> list[Path]:
    """Upload files no row names (left by a failed request), older than :data:`STRAY_FILE_AGE`."""
    root = Path(current_app.config["UPLOAD_FOLDER"])
    if not root.is_dir():
        return []
    known = set(db.session.scalars(select(SubmissionFile.stored_name)))
    limit = (now - STRAY_FILE_AGE).timestamp()
    found = []
    for folder in root.iterdir():
        if not folder.is_dir() or not folder.name.isdigit():
            continue
        for path in folder.iterdir():
            if path.is_file() and path.name not in known and path.stat().st_mtime < limit:
                found.append(path)
    return sorted(found)


def _clear_link_customs(context_pks: list[int]) -> int:
    """Empty the custom parameters the resource links of purged courses keep from their newest
    launch (they may carry substituted personal values); returns how many links had some."""
    changed = 0
    for link in db.session.scalars(
        select(LtiResourceLink).where(LtiResourceLink.context_pk.in_(context_pks))
    ):
        if link.custom:
            link.custom = {}
            changed += 1
    db.session.flush()
    return changed


def _orphaned_people(cutoff: datetime) -> Select[Any]:
    """People with nothing of their own left in any course, not seen since ``cutoff``. That a
    person decided on someone else's submission or corrected someone else's municipality keeps
    nobody: those links are removed with the person (as on erasure)."""
    references: Sequence[Any] = [
        select(db.metadata.tables[table].c[column])
        for (table, column), how in PERSON_REFERENCES.items()
        if how == "delete" and (table, column) not in GOES_WITH_PERSON
    ]
    seen = func.coalesce(LtiUser.last_launch_at, LtiUser.created_at)
    query = select(LtiUser.id).where(seen < cutoff)
    for reference in references:
        query = query.where(LtiUser.id.not_in(reference))
    return query


def _delete_references(people: list[int], skip: set[tuple[str, str]]) -> dict[str, int]:
    """Apply :data:`PERSON_REFERENCES` to ``people``: delete their rows, unlink the rows of others
    that name them (counted as ``table.column``). The tables come from the metadata, so a
    reference added there is erased without another line here."""
    counts: dict[str, int] = {}
    for (table_name, column), how in PERSON_REFERENCES.items():
        if (table_name, column) in skip:
            continue
        table = db.metadata.tables[table_name]
        where = table.c[column].in_(people)
        if how == "delete":
            key, found = table_name, _count(delete(table).where(where))
        else:
            key = f"{table_name}.{column}"
            found = _count(update(table).where(where).values({column: None}))
        counts[key] = counts.get(key, 0) + found
    return counts


#: What a person has of their own that does not keep them: it goes with them.
GOES_WITH_PERSON = frozenset({("navigator_municipality", "user_pk")})


def _delete_people(people: list[int]) -> dict[str, int]:
    """Delete these people with their municipality; unlink what they did for others."""
    counts: dict[str, int] = {}
    for chunk in (people[start : start + 500] for start in range(0, len(people), 500)):
        found = _delete_references(chunk, skip=set())
        found["project"] = delete_memberless_projects()
        found["lti_user"] = _count(
            delete(LtiUser)
            .where(LtiUser.id.in_(chunk))
            .execution_options(synchronize_session=False)
        )
        for key, value in found.items():
            counts[key] = counts.get(key, 0) + value
    return counts


def purge_expired(
    *,
    days: int,
    now: datetime | None = None,
    dry_run: bool = False,
    actor_ref: str | None = None,
) -> Purge:
    """Apply the retention rule (module docstring) with ``days`` after each course's end.

    Runs the deletes and flushes; the caller commits and then removes :attr:`Purge.paths` — or,
    for a dry run, rolls back and removes nothing (the counts are then what a run would delete).
    Records the purge when not a dry run and something was deleted."""
    if days < 1:
        raise PrivacyError("Die Aufbewahrungsfrist muss mindestens einen Tag betragen.")
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    due = sorted(end.context_pk for end in course_ends() if end.ends_at < cutoff)
    counts: dict[str, int] = {}
    paths: list[Path] = []
    if due:
        modules = select(CourseModule.id).where(CourseModule.context_pk.in_(due))
        submission_counts, paths = _delete_submissions(Submission.context_pk.in_(due))
        counts.update(submission_counts)
        counts["quiz_attempt"] = _count(
            delete(QuizAttempt)
            .where(QuizAttempt.context_pk.in_(due))
            .execution_options(synchronize_session=False)
        )
        counts["unit_progress"] = _count(
            delete(UnitProgress)
            .where(UnitProgress.context_pk.in_(due))
            .execution_options(synchronize_session=False)
        )
        counts["course_module_member"] = _count(
            delete(CourseModuleMember)
            .where(CourseModuleMember.course_module_pk.in_(modules))
            .execution_options(synchronize_session=False)
        )
        counts["course_membership"] = _count(
            delete(CourseMembership)
            .where(CourseMembership.context_pk.in_(due))
            .execution_options(synchronize_session=False)
        )
        columns = select(ProjectCourseSetting.id).where(ProjectCourseSetting.context_pk.in_(due))
        counts["gradebook_outbox"] = _count(
            delete(GradebookOutbox)
            .where(
                GradebookOutbox.course_module_pk.in_(modules)
                | GradebookOutbox.project_column_pk.in_(columns),
                GradebookOutbox.state.in_([OutboxState.DELIVERED.value, OutboxState.FAILED.value]),
            )
            .execution_options(synchronize_session=False)
        )
        _count(
            update(RosterSync)
            .where(RosterSync.context_pk.in_(due))
            .values(last_launch_id=None)
            .execution_options(synchronize_session=False)
        )
        # A launch that arrives while this runs reopens the course: it stays (and with it the
        # next run sees the course as not ended).
        counts["launch"] = _count(
            delete(Launch)
            .where(Launch.context_pk.in_(due), Launch.created_at < cutoff)
            .execution_options(synchronize_session=False)
        )
        counts["resource_link_custom"] = _clear_link_customs(due)
        counts.update(purge_course_projects(due))
    for key, value in _delete_people(list(db.session.scalars(_orphaned_people(cutoff)))).items():
        counts[key] = counts.get(key, 0) + value
    stray = _stray_files(now)
    counts["file"] = len(paths)
    counts["stray_file"] = len(stray)
    counts = {key: value for key, value in counts.items() if value}
    db.session.flush()
    db.session.expire_all()
    result = Purge(cutoff=cutoff, courses=due, counts=counts, paths=paths + stray)
    if not dry_run and result.total:
        record(
            PrivacyAction.RETENTION,
            actor=PrivacyActor.CLI,
            actor_ref=actor_ref,
            counts={**counts, "courses": due},
        )
    log.info(
        "retention %s: courses=%s rows=%s files=%s",
        "dry run" if dry_run else "purge",
        len(due),
        result.total - len(result.paths),
        len(result.paths),
    )
    return result
