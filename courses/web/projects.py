"""The pages of the Praxisprojekte: the Navigator's projects in their own Kommune (start from the
B6 Steckbrief or empty, edit, milestones, history, the Lotse's notes, join, publish with consent,
withdraw), the Lotse's coaching pages (the course's projects, notes, "Meilenstein besprochen", the
gradebook column, the programme view over all their courses), and the Praxisbeispiele of the
programme for both.

Every route checks role and course: a Navigator reaches only projects they are a member of in the
course of their launch (others are 404, :func:`courses.services.projects.project_for_navigator`);
a Lotse only the projects of their launch's course; the Praxisbeispiele only of the programme of
their launch's registration. The catalogue and every list are alphabetical: no likes, no
rankings, no view counts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from courses.models import CatalogModule, ModuleKind, Project
from courses.reports import projects as programme_report
from courses.services import projects as service
from courses.services.dates import iso_day
from courses.services.municipalities import Municipality, apply_from_launch
from courses.services.projects import ProjectInvalid
from courses.services.roles import ToolRole, effective_role
from lti_tool.context import LaunchContext
from lti_tool.extensions import db
from lti_tool.models import utcnow

from .helpers import (
    current_launch,
    known_id,
    launch_required,
    lotse_required,
    navigator_required,
    parse_id,
    refuse_nul_bytes,
    tool_url,
)

log = logging.getLogger(__name__)

bp = Blueprint("projects", __name__, template_folder="../templates")
bp.before_request(refuse_nul_bytes)

#: Form field (German, as on the page) → the key of the service's ``data``.
PROJECT_FIELDS = {
    "titel": "title",
    "ziel": "goal",
    "modul": "module_pk",
    "leistungen": "services",
    "status": "status",
    "ergebnis": "result",
    "erkenntnisse": "lessons",
    "groesse": "size_class",
}
MILESTONE_FIELDS = {"titel": "title", "faellig_am": "due_on", "zustand": "state"}

NOTICES = {
    "angelegt": lazy_gettext("Ihr Praxisprojekt ist angelegt."),
    "gespeichert": lazy_gettext("Ihre Änderungen sind gespeichert."),
    "unveraendert": lazy_gettext("Es gab nichts zu speichern: Sie haben nichts geändert."),
    "meilenstein": lazy_gettext("Der Meilenstein ist gespeichert."),
    "beigetreten": lazy_gettext("Sie arbeiten jetzt an diesem Praxisprojekt mit."),
    "veroeffentlicht": lazy_gettext(
        "Ihr Praxisprojekt ist jetzt als Praxisbeispiel im Programm sichtbar."
    ),
    "zurueckgezogen": lazy_gettext(
        "Ihre Einwilligung ist widerrufen. Das Praxisbeispiel ist ab sofort nirgends mehr sichtbar."
    ),
    "notiz": lazy_gettext("Ihre Coaching-Notiz ist gespeichert."),
    "besprochen": lazy_gettext("Der Meilenstein ist als besprochen markiert."),
    "einstellung": lazy_gettext("Die Einstellung ist gespeichert."),
}


def _notice() -> str | None:
    code = request.args.get("hinweis")
    return str(NOTICES[code]) if code in NOTICES else None


#: The form fields' labels, for the error summary (German form name → label).
PROJECT_FIELD_LABELS = {
    "titel": lazy_gettext("Titel"),
    "ziel": lazy_gettext("Ziel"),
    "modul": lazy_gettext("Best-Practice-Modul"),
    "leistungen": lazy_gettext("Betroffene Leistungen"),
    "status": lazy_gettext("Status"),
    "ergebnis": lazy_gettext("Ergebnis"),
    "erkenntnisse": lazy_gettext("Erkenntnisse"),
    "groesse": lazy_gettext("Größe Ihrer Kommune"),
    "municipality": lazy_gettext("Kommune"),
}
MILESTONE_FIELD_LABELS = {
    "titel": lazy_gettext("Meilenstein"),
    "faellig_am": lazy_gettext("Termin"),
    "zustand": lazy_gettext("Stand"),
}
#: What a revision did, in the words of the history page.
REVISION_ACTIONS = {
    "created": lazy_gettext("angelegt"),
    "updated": lazy_gettext("geändert"),
    "milestone_added": lazy_gettext("Meilenstein hinzugefügt"),
    "milestone_updated": lazy_gettext("Meilenstein geändert"),
    "milestone_discussed": lazy_gettext("Meilenstein besprochen"),
    "joined": lazy_gettext("mitarbeitende Person hinzugekommen"),
    "published": lazy_gettext("als Praxisbeispiel veröffentlicht"),
    "withdrawn": lazy_gettext("Veröffentlichung widerrufen"),
}


def date_de(value: date | None) -> str:
    """A calendar day (a milestone's date) as TT.MM.JJJJ."""
    return value.strftime("%d.%m.%Y") if value else ""


def kommune(name: str) -> str:
    """A Kommune's official name (``Rathen, Kurort``) as people write it (``Kurort Rathen``)."""
    return Municipality(key="", name=name, kreis="").display_name


def field_label(key: str) -> str:
    """The label of a revision's field key (``milestone.<id>.<field>`` by its last part)."""
    name = key.rsplit(".", 1)[-1]
    label = str(service.FIELD_LABELS.get(name, name))
    return _("Meilenstein: %(field)s", field=label) if key.startswith("milestone.") else label


def change_text(key: str, value: Any) -> str:
    """A revision's old or new value as the page shows it: labels instead of codes."""
    name = key.rsplit(".", 1)[-1]
    if value is None or value == "":
        return "–"
    if name == "status" and value in service.STATUS_LABELS:
        return str(service.STATUS_LABELS[value])
    if name == "state" and value in service.MILESTONE_STATE_LABELS:
        return str(service.MILESTONE_STATE_LABELS[value])
    if name == "size_class" and value in service.SIZE_CLASS_LABELS:
        return str(service.SIZE_CLASS_LABELS[value])
    if name == "module_pk":
        module = db.session.get(CatalogModule, value) if isinstance(value, int) else None
        return module.title if module is not None else "–"
    if name == "due_on" and isinstance(value, str):
        try:
            return date_de(date.fromisoformat(value))
        except ValueError:
            return value
    if name == "consent":
        return _("veröffentlicht") if value else "–"
    if name == "member":
        return _("ja")
    if isinstance(value, bool):
        return _("ja") if value else _("nein")
    return str(value)


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    return {
        "project_status_labels": service.STATUS_LABELS,
        "project_size_labels": service.SIZE_CLASS_LABELS,
        "milestone_state_labels": service.MILESTONE_STATE_LABELS,
        "project_field_labels": PROJECT_FIELD_LABELS,
        "milestone_field_labels": MILESTONE_FIELD_LABELS,
        "module_examples": module_examples,
        "date_de": date_de,
        "kommune": kommune,
    }


def module_examples(module_pk: int) -> list[service.Example]:
    """The Praxisbeispiele of the launch's programme that follow ``module_pk`` ("So haben es
    andere umgesetzt" on a Best-Practice module's page); empty without a launch."""
    launch = g.get("launch")
    if launch is None:
        return []
    return service.examples_for_module(service.programme_of(launch.registration_pk), module_pk)


def _course_pk(launch: LaunchContext) -> int:
    """The launch's course; a launch without one has no projects here."""
    if launch.context_pk is None:
        abort(404)
    return launch.context_pk


def _best_practice_modules() -> list[tuple[int, str]]:
    """(id, title) of the catalogue's Best-Practice modules, for the select fields."""
    rows = db.session.execute(
        select(CatalogModule.id, CatalogModule.title)
        .where(
            CatalogModule.kind == ModuleKind.BEST_PRACTICE.value,
            CatalogModule.retired_at.is_(None),
        )
        .order_by(CatalogModule.position, CatalogModule.title)
    )
    return [(row.id, row.title) for row in rows]


def _data(form: Mapping[str, str], fields: Mapping[str, str]) -> dict[str, Any]:
    """The service's ``data`` from the German form fields that were sent (a field not sent is
    not changed)."""
    return {key: form.get(name, "").strip() for name, key in fields.items() if name in form}


def _form_errors(invalid: ProjectInvalid, fields: Mapping[str, str]) -> dict[str, str]:
    """The service's field errors under the form's German field names."""
    names = {key: name for name, key in fields.items()}
    return {names.get(key, key): message for key, message in invalid.field_errors.items()}


def _project_values(project: Project) -> dict[str, str]:
    return {
        "titel": project.title,
        "ziel": project.goal,
        "modul": str(project.module_pk or ""),
        "leistungen": project.services,
        "status": project.status,
        "ergebnis": project.result,
        "erkenntnisse": project.lessons,
        "groesse": project.size_class or "",
    }


def _redirect(endpoint: str, **values: Any) -> WerkzeugResponse:
    return redirect(tool_url(endpoint, **values), code=303)


# --- the Navigator: my projects ----------------------------------------------------------------


def _render_mine(launch: LaunchContext) -> ResponseReturnValue:
    course_pk = _course_pk(launch)
    # The LMS's `gemeinde` parameter counts here too, as on "Meine Module".
    municipality = apply_from_launch(launch)
    db.session.commit()
    return render_template(
        "projects/meine.html",
        launch=launch,
        projects=service.projects_of_navigator(launch.user_pk, course_pk),
        joinable=service.joinable_projects(launch.user_pk, course_pk),
        steckbrief=service.steckbrief_of(launch.user_pk, course_pk),
        municipality=municipality,
        notice=_notice(),
    )


@bp.get("/projekte")
@navigator_required
def my_projects() -> ResponseReturnValue:
    """The Navigator's Praxisprojekte in this course, the ones of their Kommune they may join,
    and the way to start one (from the B6 Steckbrief or empty)."""
    return _render_mine(current_launch())


def _render_new(
    launch: LaunchContext,
    values: Mapping[str, str],
    *,
    from_submission: int | None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    return (
        render_template(
            "projects/neu.html",
            launch=launch,
            values=values,
            errors=errors or {},
            from_submission=from_submission,
            modules=_best_practice_modules(),
        ),
        status,
    )


@bp.get("/projekte/neu")
@navigator_required
def new_project() -> ResponseReturnValue:
    """The form of a new project: empty, or with ``aus=steckbrief`` prefilled from the B6
    Steckbrief submission."""
    launch = current_launch()
    course_pk = _course_pk(launch)
    values: dict[str, str] = {"status": "idee"}
    from_submission = None
    if request.args.get("aus") == "steckbrief":
        draft = service.steckbrief_of(launch.user_pk, course_pk)
        if draft is None:
            abort(404)
        from_submission = draft.submission_pk
        values.update(
            titel=draft.title or "",
            ziel=draft.goal or "",
            modul=str(draft.module_pk or ""),
            leistungen=draft.services or "",
        )
    return _render_new(launch, values, from_submission=from_submission)


@bp.post("/projekte/neu")
@navigator_required
def create_project() -> ResponseReturnValue:
    """Create the project from the form (and the Steckbrief submission it names, if any)."""
    launch = current_launch()
    course_pk = _course_pk(launch)
    raw_source = request.form.get("steckbrief") or None
    from_submission = parse_id(raw_source) if raw_source else None
    apply_from_launch(launch)
    try:
        project = service.create_project(
            user_pk=launch.user_pk,
            course_pk=course_pk,
            data=_data(request.form, PROJECT_FIELDS),
            from_submission_pk=from_submission,
        )
    except ProjectInvalid as invalid:
        db.session.rollback()
        return _render_new(
            launch,
            request.form,
            from_submission=from_submission,
            errors=_form_errors(invalid, PROJECT_FIELDS),
            status=422,
        )
    db.session.commit()
    return _redirect("projects.project", project_id=project.id, hinweis="angelegt")


# --- the Navigator: one project ----------------------------------------------------------------


def _own_project(launch: LaunchContext, project_id: int) -> Project:
    return service.project_for_navigator(known_id(project_id), launch.user_pk, _course_pk(launch))


def _render_project(
    launch: LaunchContext,
    project: Project,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    milestone_values: Mapping[str, str] | None = None,
    milestone_errors: Mapping[str, str] | None = None,
    edited_milestone: int | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    return (
        render_template(
            "projects/projekt.html",
            launch=launch,
            project=project,
            values=values if values is not None else _project_values(project),
            errors=errors or {},
            milestone_values=milestone_values or {},
            milestone_errors=milestone_errors or {},
            edited_milestone=edited_milestone,
            modules=_best_practice_modules(),
            notes=service.notes(project),
            published=service.is_published(project),
            notice=_notice(),
        ),
        status,
    )


@bp.get("/projekte/<int:project_id>")
@navigator_required
def project(project_id: int) -> ResponseReturnValue:
    """A project of the Navigator: edit form, milestones, the Lotse's notes, sharing."""
    launch = current_launch()
    return _render_project(launch, _own_project(launch, project_id))


@bp.post("/projekte/<int:project_id>")
@navigator_required
def save_project(project_id: int) -> ResponseReturnValue:
    """Save the edit form; every change is kept as a revision."""
    launch = current_launch()
    own = _own_project(launch, project_id)
    try:
        revision = service.update_project(
            own, user_pk=launch.user_pk, data=_data(request.form, PROJECT_FIELDS)
        )
    except ProjectInvalid as invalid:
        db.session.rollback()
        own = _own_project(launch, project_id)
        return _render_project(
            launch,
            own,
            values=request.form,
            errors=_form_errors(invalid, PROJECT_FIELDS),
            status=422,
        )
    db.session.commit()
    notice = "gespeichert" if revision is not None else "unveraendert"
    return _redirect("projects.project", project_id=own.id, hinweis=notice)


@bp.post("/projekte/<int:project_id>/meilensteine")
@navigator_required
def add_milestone(project_id: int) -> ResponseReturnValue:
    """Add a milestone (title, due date, state)."""
    launch = current_launch()
    own = _own_project(launch, project_id)
    try:
        service.add_milestone(
            own, user_pk=launch.user_pk, data=_data(request.form, MILESTONE_FIELDS)
        )
    except ProjectInvalid as invalid:
        db.session.rollback()
        own = _own_project(launch, project_id)
        return _render_project(
            launch,
            own,
            milestone_values=request.form,
            milestone_errors=_form_errors(invalid, MILESTONE_FIELDS),
            status=422,
        )
    db.session.commit()
    return _redirect("projects.project", project_id=own.id, hinweis="meilenstein")


@bp.post("/projekte/<int:project_id>/meilensteine/<int:milestone_id>")
@navigator_required
def save_milestone(project_id: int, milestone_id: int) -> ResponseReturnValue:
    """Change a milestone's title, due date or state."""
    launch = current_launch()
    own = _own_project(launch, project_id)
    try:
        service.update_milestone(
            own,
            known_id(milestone_id),
            user_pk=launch.user_pk,
            data=_data(request.form, MILESTONE_FIELDS),
        )
    except ProjectInvalid as invalid:
        db.session.rollback()
        own = _own_project(launch, project_id)
        return _render_project(
            launch,
            own,
            milestone_values=request.form,
            milestone_errors=_form_errors(invalid, MILESTONE_FIELDS),
            edited_milestone=milestone_id,
            status=422,
        )
    db.session.commit()
    return _redirect("projects.project", project_id=own.id, hinweis="meilenstein")


@bp.get("/projekte/<int:project_id>/verlauf")
@navigator_required
def history(project_id: int) -> ResponseReturnValue:
    """Every change of the project: who (you or a co-worker), when, old → new."""
    launch = current_launch()
    own = _own_project(launch, project_id)
    return render_template(
        "projects/verlauf.html",
        launch=launch,
        project=own,
        revisions=service.history(own),
        revision_action_labels=REVISION_ACTIONS,
        field_label=field_label,
        change_text=change_text,
    )


@bp.post("/projekte/<int:project_id>/beitreten")
@navigator_required
def join(project_id: int) -> ResponseReturnValue:
    """Join a project of the same Kommune in this course."""
    launch = current_launch()
    # A refusal (another Kommune, another course) is a DomainError: the app's handler answers.
    joined = service.join_project(
        known_id(project_id), user_pk=launch.user_pk, course_pk=_course_pk(launch)
    )
    db.session.commit()
    return _redirect("projects.project", project_id=joined.id, hinweis="beigetreten")


# --- the Navigator: sharing as a Praxisbeispiel --------------------------------------------------


def _render_publish(
    launch: LaunchContext,
    own: Project,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    return (
        render_template(
            "projects/veroeffentlichen.html",
            launch=launch,
            project=own,
            consent=service.consent_text(),
            values=values or {"email": launch.user.email or ""},
            errors=errors or {},
            published=service.is_published(own),
        ),
        status,
    )


@bp.get("/projekte/<int:project_id>/veroeffentlichen")
@navigator_required
def publish_form(project_id: int) -> ResponseReturnValue:
    """The consent form: exactly what becomes visible, to whom, and how to withdraw."""
    launch = current_launch()
    return _render_publish(launch, _own_project(launch, project_id))


@bp.post("/projekte/<int:project_id>/veroeffentlichen")
@navigator_required
def publish(project_id: int) -> ResponseReturnValue:
    """Publish with the explicit consent of the form (only while the project is in Betrieb)."""
    launch = current_launch()
    own = _own_project(launch, project_id)
    errors: dict[str, str] = {}
    if request.form.get("einwilligung") != "ja":
        errors["einwilligung"] = _(
            "Bitte bestätigen Sie die Einwilligung, sonst wird nichts veröffentlicht."
        )
    with_email = request.form.get("mit_email") == "ja"
    email = (request.form.get("email") or "").strip() if with_email else None
    if not errors:
        try:
            service.publish(
                own,
                user_pk=launch.user_pk,
                show_name=request.form.get("mit_name") == "ja",
                contact_email=email or None,
                consent_version=request.form.get("version", ""),
            )
        except ProjectInvalid as invalid:
            db.session.rollback()
            own = _own_project(launch, project_id)
            names = {
                "contact_email": "email",
                "consent_version": "einwilligung",
                "status": "status",
            }
            errors = {names.get(key, key): text for key, text in invalid.field_errors.items()}
    if errors:
        return _render_publish(launch, own, values=request.form, errors=errors, status=422)
    db.session.commit()
    return _redirect("projects.project", project_id=own.id, hinweis="veroeffentlicht")


@bp.post("/projekte/<int:project_id>/zurueckziehen")
@navigator_required
def withdraw(project_id: int) -> ResponseReturnValue:
    """Withdraw the consent: the example disappears at once, everywhere."""
    launch = current_launch()
    own = _own_project(launch, project_id)
    service.withdraw(own, user_pk=launch.user_pk)
    db.session.commit()
    return _redirect("projects.project", project_id=own.id, hinweis="zurueckgezogen")


# --- Praxisbeispiele (Navigator and Lotse of the programme) -------------------------------------


def _programme(launch: LaunchContext) -> str:
    return service.programme_of(launch.registration_pk)


def _layout(launch: LaunchContext) -> str:
    """The Lotse's layout for a Lotse in a course, the Navigator's otherwise."""
    if effective_role(launch) is ToolRole.LOTSE and launch.course is not None:
        return "lotse/base.html"
    return "courses/_layout.html"


@bp.get("/praxisbeispiele")
@launch_required
def examples() -> ResponseReturnValue:
    """The published Praxisbeispiele of the programme: search by topic, module, Landkreis and
    size of the Kommune; alphabetical, no likes, no rankings, no view counts."""
    launch = current_launch()
    raw_module = request.args.get("modul") or None
    module_pk = parse_id(raw_module) if raw_module else None
    size = request.args.get("groesse") or None
    if size is not None and size not in service.SIZE_CLASS_LABELS:
        size = None
    query = service.ExampleQuery(
        text=(request.args.get("thema") or "").strip()[:200] or None,
        module_pk=module_pk,
        landkreis=(request.args.get("landkreis") or None),
        size_class=size,
    )
    found = service.examples(_programme(launch), query=query)
    return render_template(
        "projects/beispiele.html",
        layout=_layout(launch),
        launch=launch,
        examples=found,
        query=query,
        modules=_best_practice_modules(),
        landkreise=service.example_landkreise(_programme(launch)),
    )


@bp.get("/praxisbeispiele/<int:project_id>")
@launch_required
def example(project_id: int) -> ResponseReturnValue:
    """One Praxisbeispiel: only what its consent makes visible."""
    launch = current_launch()
    shown = service.example(_programme(launch), known_id(project_id))
    return render_template(
        "projects/beispiel.html", layout=_layout(launch), launch=launch, example=shown
    )


# --- the Lotse: the course's projects ----------------------------------------------------------


def _lotse_filters() -> service.ProjectFilter:
    raw_module = request.args.get("modul") or None
    status = request.args.get("status") or None
    if status is not None and status not in service.STATUS_LABELS:
        status = None
    return service.ProjectFilter(
        municipality_key=request.args.get("gemeinde") or None,
        landkreis=request.args.get("landkreis") or None,
        status=status,
        module_pk=parse_id(raw_module) if raw_module else None,
    )


@bp.get("/lotse/projekte")
@lotse_required
def course_projects() -> ResponseReturnValue:
    """Every project of the course, filtered by Kommune, Landkreis, status, module;
    alphabetical by title, never ranked."""
    launch = current_launch()
    course_pk = _course_pk(launch)
    filters = _lotse_filters()
    options = service.filter_options(course_pk)
    return render_template(
        "projects/lotse_liste.html",
        launch=launch,
        rows=service.projects_of_course(course_pk, filters=filters),
        filters=filters,
        municipalities=options.municipalities,
        landkreise=options.landkreise,
        modules=options.modules,
        gradebook_column=service.gradebook_column_enabled(course_pk),
        notice=_notice(),
    )


def _render_lotse_project(
    launch: LaunchContext,
    coached: Project,
    *,
    note: str = "",
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    return (
        render_template(
            "projects/lotse_projekt.html",
            launch=launch,
            project=coached,
            notes=service.notes(coached),
            note=note,
            errors=errors or {},
            published=service.is_published(coached),
            notice=_notice(),
        ),
        status,
    )


def _coached(launch: LaunchContext, project_id: int) -> Project:
    return service.project_for_lotse(known_id(project_id), _course_pk(launch))


@bp.get("/lotse/projekte/<int:project_id>")
@lotse_required
def course_project(project_id: int) -> ResponseReturnValue:
    """A project of the course with its milestones, notes and the notes form."""
    launch = current_launch()
    return _render_lotse_project(launch, _coached(launch, project_id))


@bp.post("/lotse/projekte/<int:project_id>/notizen")
@lotse_required
def add_note(project_id: int) -> ResponseReturnValue:
    """A coaching note the project's Navigatoren see."""
    launch = current_launch()
    coached = _coached(launch, project_id)
    text = request.form.get("notiz", "")
    try:
        service.add_note(coached, lotse_pk=launch.user_pk, text=text)
    except ProjectInvalid as invalid:
        db.session.rollback()
        coached = _coached(launch, project_id)
        message = next(iter(invalid.field_errors.values()), _("Bitte schreiben Sie eine Notiz."))
        return _render_lotse_project(
            launch, coached, note=text, errors={"notiz": message}, status=422
        )
    db.session.commit()
    return _redirect("projects.course_project", project_id=coached.id, hinweis="notiz")


@bp.post("/lotse/projekte/<int:project_id>/meilensteine/<int:milestone_id>/besprochen")
@lotse_required
def mark_discussed(project_id: int, milestone_id: int) -> ResponseReturnValue:
    """ "Meilenstein besprochen"."""
    launch = current_launch()
    coached = _coached(launch, project_id)
    service.mark_discussed(coached, known_id(milestone_id), lotse_pk=launch.user_pk)
    db.session.commit()
    return _redirect("projects.course_project", project_id=coached.id, hinweis="besprochen")


@bp.get("/lotse/projekte/einstellungen")
@lotse_required
def settings() -> ResponseReturnValue:
    """The per-course setting: the project as its own gradebook column (Completed when in
    Betrieb)."""
    launch = current_launch()
    return render_template(
        "projects/lotse_einstellungen.html",
        launch=launch,
        enabled=service.gradebook_column_enabled(_course_pk(launch)),
        notice=_notice(),
    )


@bp.post("/lotse/projekte/einstellungen")
@lotse_required
def save_settings() -> ResponseReturnValue:
    launch = current_launch()
    choice = request.form.get("notenbuch")
    if choice not in {"ja", "nein"}:
        return (
            render_template(
                "projects/lotse_einstellungen.html",
                launch=launch,
                enabled=service.gradebook_column_enabled(_course_pk(launch)),
                error=_("Bitte wählen Sie „ja“ oder „nein“."),
                notice=None,
            ),
            422,
        )
    service.set_gradebook_column(_course_pk(launch), choice == "ja")
    db.session.commit()
    log.info("project gradebook column: context=%s enabled=%s", launch.context_pk, choice == "ja")
    return _redirect("projects.settings", hinweis="einstellung")


# --- the Lotse: the programme view -------------------------------------------------------------


def _programme_view(launch: LaunchContext) -> programme_report.ProgrammeView:
    """The programme view of the Lotse: every course they launched in as a Lotse."""
    return programme_report.programme_view(launch.user_pk)


@bp.get("/lotse/programm")
@lotse_required
def programme() -> ResponseReturnValue:
    """All projects of every course this Lotse launched in, by Landkreis and status: a table, a
    chart with the same numbers as a table, and the CSV."""
    launch = current_launch()
    view = _programme_view(launch)
    return render_template(
        "projects/programm.html",
        launch=launch,
        view=view,
        chart=programme_report.programme_svg(
            view,
            title=_("Praxisprojekte nach Landkreis und Status"),
            description=_(
                "Balkendiagramm: Anzahl der Praxisprojekte je Landkreis und Status in allen "
                "Ihren Kursen. Die Zahlen stehen auch in der Tabelle darunter."
            ),
        ),
    )


@bp.get("/lotse/programm.csv")
@lotse_required
def programme_csv() -> Response:
    """The programme view as CSV for German Excel (UTF-8 with BOM, ``;``, CRLF), a download."""
    launch = current_launch()
    view = _programme_view(launch)
    chunks = (chunk.encode("utf-8") for chunk in programme_report.programme_csv(view))
    response = Response(stream_with_context(chunks), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="praxisprojekte-{iso_day(utcnow())}.csv"'
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
