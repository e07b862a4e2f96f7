"""A person's data export as people read it: German labels for every kind of data and value, and
the self-contained HTML document (printable, no links that need a launch) that the "Meine Daten"
page offers for download and ``flask courses privacy export`` puts next to the JSON."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from flask import render_template
from flask_babel import lazy_gettext

from courses.models import DECISION_LABELS
from courses.services.grading import SUBMISSION_STATE_LABELS
from courses.services.privacy import to_json, upload_path
from courses.services.progress import UNIT_STATE_LABELS
from courses.services.projects import MILESTONE_STATE_LABELS, SIZE_CLASS_LABELS, STATUS_LABELS
from lti_tool.vocab import role_local_name

#: The kinds of data of :func:`courses.services.privacy.export_counts`, in the summary's order.
COUNT_LABELS = {
    "launch": lazy_gettext("Starts aus dem LMS"),
    "course_membership": lazy_gettext("Kursmitgliedschaften"),
    "course_module_member": lazy_gettext("Persönliche Modulzuweisungen"),
    "unit_progress": lazy_gettext("Fortschritt in Einheiten"),
    "quiz_attempt": lazy_gettext("Quizversuche"),
    "submission": lazy_gettext("Abgaben von Praxisaufgaben"),
    "submission_file": lazy_gettext("Hochgeladene Dateien"),
    "grading_decision": lazy_gettext("Bewertungen der Abgaben"),
    "gradebook_outbox": lazy_gettext("Übertragungen ins Notenbuch des LMS"),
    "decisions_made": lazy_gettext("Als Lotse/Lotsin abgegebene Bewertungen"),
    "navigator_municipality": lazy_gettext("Angabe der Kommune"),
    "lotse_grant": lazy_gettext("Freischaltung als Lotse/Lotsin"),
    "project_member": lazy_gettext("Praxisprojekte"),
    "project_milestone": lazy_gettext("Meilensteine Ihrer Praxisprojekte"),
    "project_note": lazy_gettext("Coaching-Hinweise zu Ihren Praxisprojekten"),
    "project_consent": lazy_gettext("Einwilligungen zur Veröffentlichung als Praxisbeispiel"),
    "project_notes_written": lazy_gettext("Als Lotse/Lotsin geschriebene Coaching-Hinweise"),
    "project_milestones_discussed": lazy_gettext(
        "Als Lotse/Lotsin als besprochen markierte Meilensteine"
    ),
}
#: Every kind of row (and file) an erasure or a retention purge counts, for the CLI's report.
ROW_LABELS = {
    **COUNT_LABELS,
    "grading_decision": lazy_gettext("Bewertungen von Abgaben"),
    "grading_decision.lotse_pk": lazy_gettext(
        "Bewertungen anderer, bei denen der Bezug zum Lotsen entfällt"
    ),
    "navigator_municipality.updated_by_pk": lazy_gettext(
        "Kommunen anderer, bei denen der Bezug zum Lotsen entfällt"
    ),
    "roster_sync_unlinked": lazy_gettext("Vermerke der Teilnehmerliste"),
    "project": lazy_gettext("Praxisprojekte ohne verbleibende Mitglieder"),
    "project_milestone.discussed_by_pk": lazy_gettext(
        "Meilensteine, bei denen der Bezug zum Lotsen entfällt"
    ),
    "project_note.lotse_pk": lazy_gettext(
        "Coaching-Hinweise, bei denen der Bezug zum Lotsen entfällt"
    ),
    "project_revision.user_pk": lazy_gettext(
        "Einträge im Projektverlauf, bei denen der Bezug zur Person entfällt"
    ),
    "resource_link_custom": lazy_gettext("Custom-Parameter von Links (aus Starts übernommen)"),
    "lti_user": lazy_gettext("Personen (Kennung, Name, E-Mail-Adresse)"),
    "file": lazy_gettext("Dateien im Upload-Ordner"),
    "stray_file": lazy_gettext("verwaiste Dateien im Upload-Ordner (ohne Abgabe)"),
}
ROLE_LABELS = {
    "lotse": lazy_gettext("Digital-Lotse/-Lotsin"),
    "navigator": lazy_gettext("Digital-Navigator/in"),
}
MEMBERSHIP_SOURCE_LABELS = {
    "nrps": lazy_gettext("Teilnehmerliste des LMS"),
    "launch": lazy_gettext("Ihr Start aus dem LMS"),
}
MEMBERSHIP_STATUS_LABELS = {
    "active": lazy_gettext("aktiv"),
    "inactive": lazy_gettext("nicht mehr im Kurs"),
}
MUNICIPALITY_SOURCE_LABELS = {
    "lotse": lazy_gettext("von Ihrer Lotsin oder Ihrem Lotsen eingetragen"),
    "lms": lazy_gettext("vom LMS übermittelt"),
    "navigator": lazy_gettext("von Ihnen gewählt"),
}
OUTBOX_STATE_LABELS = {
    "pending": lazy_gettext("ausstehend"),
    "delivered": lazy_gettext("übertragen"),
    "failed": lazy_gettext("fehlgeschlagen"),
}
MESSAGE_TYPE_LABELS = {
    "LtiResourceLinkRequest": lazy_gettext("Start eines Links"),
    "LtiDeepLinkingRequest": lazy_gettext("Modulauswahl (Deep Linking)"),
}
PRIVACY_ACTION_LABELS = {
    "export": lazy_gettext("Auskunft / Export"),
    "erasure": lazy_gettext("Löschung"),
    "retention": lazy_gettext("Löschung nach Aufbewahrungsfrist"),
}
PRIVACY_ACTOR_LABELS = {
    "self": lazy_gettext("Sie selbst"),
    "cli": lazy_gettext("Administration"),
}


def _label(labels: dict[str, Any], value: Any) -> str:
    return str(labels.get(value, value)) if value is not None else ""


def summary_context(document: dict[str, Any]) -> dict[str, Any]:
    """What the summary templates (``privacy/_summary.html``) need besides the document."""
    courses = {course["id"]: course for course in document["courses"]}

    def course_name(course_id: int | None) -> str:
        course = courses.get(course_id) if course_id is not None else None
        if course is None:
            return str(lazy_gettext("ohne Kurs"))
        # The title with the LMS's short name or id: a course copied each year keeps its title.
        key = course["label"] or course["context_id"]
        return f"{course['title']} ({key})" if course["title"] else str(key)

    def role_names(roles: list[str]) -> str:
        return ", ".join(role_local_name(role) for role in roles) or "–"

    return {
        "data": document,
        "count_labels": COUNT_LABELS,
        "course_name": course_name,
        "role_names": role_names,
        "label": _label,
        "ROLE_LABELS": ROLE_LABELS,
        "MEMBERSHIP_SOURCE_LABELS": MEMBERSHIP_SOURCE_LABELS,
        "MEMBERSHIP_STATUS_LABELS": MEMBERSHIP_STATUS_LABELS,
        "MUNICIPALITY_SOURCE_LABELS": MUNICIPALITY_SOURCE_LABELS,
        "OUTBOX_STATE_LABELS": OUTBOX_STATE_LABELS,
        "MESSAGE_TYPE_LABELS": MESSAGE_TYPE_LABELS,
        "PRIVACY_ACTION_LABELS": PRIVACY_ACTION_LABELS,
        "PRIVACY_ACTOR_LABELS": PRIVACY_ACTOR_LABELS,
        "UNIT_STATE_LABELS": UNIT_STATE_LABELS,
        "SUBMISSION_STATES": SUBMISSION_STATE_LABELS,
        "DECISION_LABELS": DECISION_LABELS,
        "PROJECT_STATUS_LABELS": STATUS_LABELS,
        "SIZE_CLASS_LABELS": SIZE_CLASS_LABELS,
        "MILESTONE_STATE_LABELS": MILESTONE_STATE_LABELS,
    }


def render_document(document: dict[str, Any]) -> str:
    """The export as one self-contained HTML page: German, printable, without links into the
    tool (they would need a launch). Rendered in a request context (the CLI makes one)."""
    return render_template("privacy/auskunft.html", **summary_context(document))


def archive(document: dict[str, Any]) -> bytes:
    """A ZIP with the export as JSON (``daten.json``), the summary (``zusammenfassung.html``)
    and every uploaded file of the person (``dateien/<id>-<name>``); a file missing on disk is
    named in ``dateien/FEHLT.txt``."""
    buffer = io.BytesIO()
    missing = []
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as out:
        out.writestr("daten.json", to_json(document))
        out.writestr("zusammenfassung.html", render_document(document))
        for submission in document["submissions"]:
            for stored in submission["files"]:
                path = upload_path(stored["id"])
                name = f"dateien/{stored['id']}-{stored['name']}"
                if path is not None and path.is_file():
                    out.write(path, name)
                else:
                    missing.append(name)
        if missing:
            out.writestr("dateien/FEHLT.txt", "Nicht mehr vorhanden:\n" + "\n".join(missing) + "\n")
    return buffer.getvalue()
