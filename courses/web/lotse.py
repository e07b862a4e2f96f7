"""The Lotse's pages: the catalogue picker of Deep Linking, the progress overview with its
exports, the roster with municipalities, the assignment settings of each module, and grading.

Every view is guarded by :func:`lotse_required`: a valid launch token, the Lotse role (as
:func:`courses.services.roles.effective_role` decides) and a course. A view only ever works on the
launch's own course: every id in a URL is looked up within ``current_launch().context`` and is a
404 otherwise, so neither another course nor another platform's course with the same context id
can be reached.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select

from courses.gradebook.line_items import LINE_ITEM_SCORE_MAXIMUM, LINE_ITEM_TAG
from courses.models import (
    CatalogModule,
    CourseModule,
    CourseModuleMember,
    MunicipalitySource,
    Submission,
)
from courses.reports.chart import distribution_svg
from courses.reports.csv_export import overview_csv
from courses.reports.overview import STATE_FILTERS, Cell, Filters, Overview, build_overview
from courses.reports.schema import OverviewSchema
from courses.services import grading
from courses.services.dates import iso_day, parse_due_date
from courses.services.errors import Invalid
from courses.services.learning import catalogue_modules, ensure_course_module
from courses.services.municipalities import assign, match, official_list
from courses.services.progress import MODULE_STATUS_LABELS, ModuleStatus
from courses.services.roles import ToolRole
from courses.services.roster import (
    NO_MUNICIPALITY,
    active_navigators,
    failure_notice,
    last_sync,
    member_of,
    record_launchers,
    request_refresh,
    roster,
)
from courses.services.submissions import criteria_of, file_path, latest_decision
from lti_tool.context import LaunchContext
from lti_tool.extensions import db
from lti_tool.models import LtiContext
from lti_tool.services.platform import (
    DeepLinkingError,
    LineItem,
    ResourceLinkItem,
    deep_linking_answer,
)
from lti_tool.urls import launch_url

from .helpers import (
    current_launch,
    file_response,
    known_id,
    launch_context,
    lotse_required,
    parse_id,
    refuse_nul_bytes,
    tool_url,
)

bp = Blueprint(
    "lotse",
    __name__,
    template_folder="../templates",
    static_folder="../static",
    static_url_path="/lotse/static",
)
bp.before_request(refuse_nul_bytes)


@bp.context_processor
def _template_values() -> dict[str, Any]:
    return {
        "launch": g.get("launch"),
        "status_labels": {s.value: str(label) for s, label in MODULE_STATUS_LABELS.items()},
        "state_filters": STATE_FILTERS,
        "no_municipality": NO_MUNICIPALITY,
        "statuses": list(ModuleStatus),
    }


# --- Deep Linking: the catalogue picker ----------------------------------------------------


def _deep_linking_launch() -> LaunchContext:
    launch = current_launch()
    if launch.deep_linking is None:
        abort(404)
    return launch


def _placed_slugs(context: LtiContext) -> set[str]:
    return set(
        db.session.scalars(
            select(CatalogModule.slug)
            .join(CourseModule, CourseModule.module_pk == CatalogModule.id)
            .where(CourseModule.context_pk == context.id)
        )
    )


@bp.get("/lotse/auswahl")
@lotse_required
def deep_linking() -> ResponseReturnValue:
    """The catalogue picker a Deep Linking launch opens: filter, search, preview, choose."""
    launch = _deep_linking_launch()
    kind = request.args.get("art") or None
    search = (request.args.get("suche") or "").strip()[:100]
    assert launch.deep_linking is not None
    return render_template(
        "lotse/auswahl.html",
        modules=catalogue_modules(kind, search),
        kind=kind,
        search=search,
        placed=_placed_slugs(launch_context()),
        multiple=launch.deep_linking.accept_multiple,
        error=None,
    )


@bp.get("/lotse/auswahl/modul/<slug>")
@lotse_required
def preview(slug: str) -> ResponseReturnValue:
    """A module's summary, objectives and units before choosing it."""
    _deep_linking_launch()
    module = db.session.scalars(
        select(CatalogModule).where(CatalogModule.slug == slug, CatalogModule.retired_at.is_(None))
    ).first()
    if module is None:
        abort(404)
    return render_template("lotse/vorschau.html", module=module)


@bp.post("/lotse/auswahl")
@lotse_required
def deep_linking_return() -> ResponseReturnValue:
    """Answer the platform: a signed LtiDeepLinkingResponse with one resource link per chosen
    module, posted by the browser to ``deep_link_return_url``. The modules are placed in the
    course now; the links the platform creates open them by their custom ``module_id``."""
    launch = _deep_linking_launch()
    request_ = launch.deep_linking
    assert request_ is not None
    slugs = list(dict.fromkeys(s for s in request.form.getlist("modul") if s))
    modules = (
        list(
            db.session.scalars(
                select(CatalogModule).where(
                    CatalogModule.slug.in_(slugs), CatalogModule.retired_at.is_(None)
                )
            )
        )
        if slugs
        else []
    )
    by_slug = {m.slug: m for m in modules}
    chosen = [by_slug[s] for s in slugs if s in by_slug]
    error = None
    if not chosen or len(chosen) != len(slugs):
        error = _("Bitte wählen Sie mindestens ein Modul aus dem Katalog.")
    param = current_app.config.get("MODULE_CUSTOM_PARAM", "module_id")
    items = [
        ResourceLinkItem(
            title=m.title,
            text=m.summary.strip() or None,
            # One launch URL for every link (Moodle compares redirect URIs exactly, lti-notes
            # §2); the module travels in the custom parameters.
            url=launch_url(),
            custom={param: m.slug},
            # Moodle creates a gradebook column only for an item with a lineItem.
            line_item=LineItem(
                label=m.title,
                resource_id=m.slug,
                score_maximum=LINE_ITEM_SCORE_MAXIMUM,
                tag=LINE_ITEM_TAG,
            ),
        )
        for m in chosen
    ]
    jwt_value = None
    if error is None:
        try:
            jwt_value = deep_linking_answer(launch, items)
        except DeepLinkingError as refused:
            error = str(refused)
    if error is not None or jwt_value is None:
        db.session.rollback()
        return (
            render_template(
                "lotse/auswahl.html",
                modules=catalogue_modules(None, ""),
                kind=None,
                search="",
                placed=_placed_slugs(launch_context()),
                multiple=request_.accept_multiple,
                error=error,
            ),
            422,
        )
    for module in chosen:
        ensure_course_module(launch_context().id, module)
    db.session.commit()
    current_app.logger.info(
        "deep linking response: launch=%s context=%s modules=%s",
        launch.id,
        launch.context_pk,
        ",".join(m.slug for m in chosen),
    )
    return render_template(
        "lotse/auswahl_zurueck.html",
        return_url=request_.return_url,
        jwt=jwt_value,
        modules=chosen,
    )


# --- the overview --------------------------------------------------------------------------


def _focus_module(context: LtiContext) -> int | None:
    """The course module of the resource link this Lotse launched from (custom module_id)."""
    launch = current_launch()
    param = current_app.config.get("MODULE_CUSTOM_PARAM", "module_id")
    slug = launch.custom.get(param) if launch.resource_link is not None else None
    if not isinstance(slug, str) or not slug:
        return None
    return db.session.scalars(
        select(CourseModule.id)
        .join(CatalogModule, CatalogModule.id == CourseModule.module_pk)
        .where(CourseModule.context_pk == context.id, CatalogModule.slug == slug.strip())
    ).first()


def _filters(context: LtiContext, *, focus: bool) -> Filters:
    municipality = request.args.get("gemeinde") or None
    raw_module = request.args.get("modul")
    course_module_pk: int | None = None
    if raw_module and raw_module != "alle":
        course_module_pk = _course_module(parse_id(raw_module)).id
    elif raw_module is None and focus:
        course_module_pk = _focus_module(context)
    state = request.args.get("status") or None
    if state is not None and state not in {value for value, _label in STATE_FILTERS}:
        state = None
    return Filters(municipality=municipality, course_module_pk=course_module_pk, state=state)


@bp.get("/lotse/uebersicht")
@lotse_required
def dashboard() -> ResponseReturnValue:
    """Progress of the course's Navigatoren, per module; asks once per launch for a roster
    refresh, which the worker does (the page never waits on the platform)."""
    context = launch_context()
    request_refresh(context, current_launch())
    db.session.commit()
    sync = last_sync(context)
    notice = failure_notice(sync.error_status) if sync is not None and sync.failing else None
    overview = build_overview(context, _filters(context, focus=True))
    chart = distribution_svg(
        overview.distribution,
        title=_("Verteilung des Fortschritts"),
        description=_(
            "Balkendiagramm: Anzahl der zugewiesenen Module je Fortschrittsbereich. "
            "Die Zahlen stehen auch in der Tabelle darunter."
        ),
    )
    return render_template(
        "lotse/uebersicht.html",
        overview=overview,
        chart=chart,
        notice=notice,
        row_cells=_row_cells,
    )


def _row_cells(render: Callable[[Cell], Markup]) -> Callable[[list[Cell]], Markup]:
    """``cells -> markup`` of one row of the matrix, ``render`` (the template's macro) called
    once per distinct cell: the overview's cells are interned, and 1,000 Navigatoren × 12
    modules would be 12,000 macro calls."""
    rendered: dict[Cell, Markup] = {}

    def cells_of(cells: list[Cell]) -> Markup:
        parts = []
        for cell in cells:
            html = rendered.get(cell)
            if html is None:
                html = rendered[cell] = render(cell)
            parts.append(html)
        # Each part is the macro's output, escaped there (Markup.join would escape 12,000 again).
        return Markup("".join(parts))  # noqa: S704

    return cells_of


def _record_launchers(context: LtiContext) -> None:
    if record_launchers(context):
        db.session.commit()


def _exported_overview() -> Overview:
    """The overview an export carries: launchers recorded, the filters of the query string."""
    context = launch_context()
    _record_launchers(context)
    return build_overview(context, _filters(context, focus=False))


_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def export_filename(overview: Overview, extension: str) -> str:
    """``uebersicht-<course>-<YYYY-MM-DD>.<extension>``: the course's short name (or its id) in
    lower-case ASCII letters, digits and dashes, so the header needs no quoting rules and the
    file says which course and day it holds."""
    context = overview.context
    course = (context.label or context.context_id or "").casefold().translate(_UMLAUTS)
    course = re.sub(r"[^a-z0-9]+", "-", course).strip("-")[:40].strip("-") or "kurs"
    return f"uebersicht-{course}-{iso_day(overview.generated_at)}.{extension}"


def _download(response: Response, overview: Overview, extension: str) -> Response:
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{export_filename(overview, extension)}"'
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/lotse/uebersicht.csv")
@lotse_required
def dashboard_csv() -> Response:
    """The overview as CSV for German Excel (UTF-8 with BOM, ``;``, CRLF), a download."""
    overview = _exported_overview()
    # mimetype "text/csv" becomes "text/csv; charset=utf-8" (werkzeug adds the charset).
    return _download(Response(overview_csv(overview), mimetype="text/csv"), overview, "csv")


@bp.get("/api/lotse/uebersicht")
@lotse_required
def dashboard_json() -> Response:
    """The overview as JSON (fields: :class:`courses.reports.schema.OverviewSchema`), served as
    a download: a person who follows the page's link gets a file, never a bare JSON page (no
    title, no language, no landmarks); a script reads the same body."""
    overview = _exported_overview()
    return _download(jsonify(OverviewSchema().dump(overview)), overview, "json")


# --- roster and municipalities -------------------------------------------------------------


def _render_roster(
    error: str | None = None, error_user: int | None = None, status: int = 200
) -> ResponseReturnValue:
    context = launch_context()
    sync = last_sync(context)
    notice = failure_notice(sync.error_status) if sync is not None and sync.failing else None
    return (
        render_template(
            "lotse/teilnehmende.html",
            entries=roster(context),
            sync=sync,
            has_nrps=bool(context.nrps_url),
            notice=notice,
            municipalities=official_list(),
            error=error,
            error_user=error_user,
            refreshed=request.args.get("aktualisiert") == "1",
        ),
        status,
    )


@bp.get("/lotse/teilnehmende")
@lotse_required
def members() -> ResponseReturnValue:
    """Everyone in the course with role, status and municipality, as of the last roster
    refresh (asked for once per launch, done by the worker)."""
    request_refresh(launch_context(), current_launch())
    db.session.commit()
    return _render_roster()


@bp.post("/lotse/teilnehmende/aktualisieren")
@lotse_required
def refresh_members() -> ResponseReturnValue:
    """ "Teilnehmerliste aktualisieren": ask the worker to read NRPS now (failures become a
    notice on the page)."""
    request_refresh(launch_context())
    db.session.commit()
    return redirect(tool_url("lotse.members", aktualisiert="1"), code=303)


@bp.post("/lotse/teilnehmende/<int:user_pk>/gemeinde")
@lotse_required
def set_municipality(user_pk: int) -> ResponseReturnValue:
    """The Lotse corrects a Navigator's municipality."""
    context = launch_context()
    membership = member_of(context, known_id(user_pk))
    if membership is None or membership.role != ToolRole.NAVIGATOR:
        abort(404)
    chosen = match(request.form.get("gemeinde"))
    if chosen is None:
        return _render_roster(
            error=_("Diese Gemeinde steht nicht in der Liste. Bitte wählen Sie einen Vorschlag."),
            error_user=user_pk,
            status=422,
        )
    assign(user_pk, chosen, MunicipalitySource.LOTSE, by_user_pk=current_launch().user_pk)
    db.session.commit()
    return redirect(tool_url("lotse.members") + f"#person-{user_pk}", code=303)


# --- assignments: due dates and limits -----------------------------------------------------


def _course_module(course_module_pk: int) -> CourseModule:
    placed = db.session.get(CourseModule, known_id(course_module_pk))
    if placed is None or placed.context_pk != launch_context().id:
        abort(404)
    return placed


def _navigator_memberships(context: LtiContext) -> list[Any]:
    _record_launchers(context)
    return active_navigators(context)


@bp.get("/lotse/module")
@lotse_required
def modules() -> ResponseReturnValue:
    """The modules placed in this course with due date and who they are assigned to."""
    context = launch_context()
    placed = list(
        db.session.scalars(
            select(CourseModule)
            .join(CatalogModule, CatalogModule.id == CourseModule.module_pk)
            .where(CourseModule.context_pk == context.id)
            .order_by(CatalogModule.kind, CatalogModule.position, CatalogModule.title)
        )
    )
    return render_template("lotse/module.html", placed=placed)


@bp.get("/lotse/module/<int:course_module_pk>")
@lotse_required
def module_settings(course_module_pk: int) -> ResponseReturnValue:
    placed = _course_module(course_module_pk)
    return _render_settings(placed, errors={})


def _render_settings(
    placed: CourseModule, errors: dict[str, str], status: int = 200
) -> ResponseReturnValue:
    chosen = set(
        db.session.scalars(
            select(CourseModuleMember.user_pk).where(
                CourseModuleMember.course_module_pk == placed.id
            )
        )
    )
    due_value = iso_day(placed.due_at)
    return (
        render_template(
            "lotse/modul_einstellungen.html",
            placed=placed,
            navigators=_navigator_memberships(launch_context()),
            chosen=chosen,
            due_value=request.form.get("faellig_am", due_value) if errors else due_value,
            errors=errors,
        ),
        status,
    )


@bp.post("/lotse/module/<int:course_module_pk>")
@lotse_required
def save_module_settings(course_module_pk: int) -> ResponseReturnValue:
    """Due date and "only for chosen Navigatoren"."""
    placed = _course_module(course_module_pk)
    context = launch_context()
    errors: dict[str, str] = {}
    try:
        due_at = parse_due_date(request.form.get("faellig_am"))
    except ValueError:
        errors["faellig_am"] = _("Bitte geben Sie ein Datum im Format TT.MM.JJJJ an.")
        due_at = None
    limited = request.form.get("beschraenkt") == "1"
    allowed = {e.user_pk for e in _navigator_memberships(context)}
    try:
        wanted = {int(v) for v in request.form.getlist("navigator")}
    except ValueError:
        abort(422)
    if wanted - allowed:
        abort(404)
    if limited and not wanted:
        errors["navigator"] = _(
            "Bitte wählen Sie mindestens eine Person, oder heben Sie die Beschränkung auf."
        )
    if errors:
        db.session.rollback()
        return _render_settings(placed, errors, status=422)
    placed.due_at = due_at
    placed.limited_to_members = limited
    existing = {
        m.user_pk: m
        for m in db.session.scalars(
            select(CourseModuleMember).where(CourseModuleMember.course_module_pk == placed.id)
        )
    }
    target = wanted if limited else set()
    for user_pk, row in existing.items():
        if user_pk not in target:
            db.session.delete(row)
    for user_pk in target - set(existing):
        db.session.add(CourseModuleMember(course_module_pk=placed.id, user_pk=user_pk))
    db.session.commit()
    current_app.logger.info(
        "assignment settings: context=%s course_module=%s limited=%s members=%s",
        context.id,
        placed.id,
        limited,
        len(target),
    )
    return redirect(tool_url("lotse.modules"), code=303)


# --- grading -------------------------------------------------------------------------------


@bp.get("/lotse/bewertung")
@lotse_required
def grading_queue() -> ResponseReturnValue:
    """Submitted assignments, oldest first; filters by module, municipality, state."""
    context = launch_context()
    state = request.args.get("status") or "eingereicht"
    if state not in grading.QUEUE_STATES:
        state = "eingereicht"
    course_module_pk = None
    if request.args.get("modul"):
        course_module_pk = _course_module(parse_id(request.args["modul"])).id
    municipality = request.args.get("gemeinde") or None
    entries = grading.queue(
        context, state=state, course_module_pk=course_module_pk, municipality=municipality
    )
    placed = list(
        db.session.scalars(
            select(CourseModule)
            .join(CatalogModule, CatalogModule.id == CourseModule.module_pk)
            .where(CourseModule.context_pk == context.id)
            .order_by(CatalogModule.kind, CatalogModule.position)
        )
    )
    municipalities = sorted(
        {(e.municipality_key, e.municipality_name) for e in roster(context) if e.municipality_key},
        key=lambda m: (m[1] or "").casefold(),
    )
    return render_template(
        "lotse/bewertung_liste.html",
        saved=request.args.get("hinweis") == "gespeichert",
        entries=entries,
        state=state,
        states=grading.QUEUE_STATE_LABELS,
        placed=placed,
        course_module_pk=course_module_pk,
        municipalities=municipalities,
        municipality=municipality,
    )


def _submission(submission_pk: int) -> Submission:
    submission = grading.submission_in(launch_context(), known_id(submission_pk))
    if submission is None:
        abort(404)
    return submission


def _render_grading(
    submission: Submission, errors: dict[str, str], status: int = 200
) -> ResponseReturnValue:
    criteria = criteria_of(submission.unit_version)
    latest = latest_decision(submission)
    if errors:
        values = dict(request.form)
    elif latest is not None:
        values = {grading.POINTS_FIELD.format(k): _num(v) for k, v in latest.points.items()}
        values["rueckmeldung"] = latest.feedback
    else:
        values = {}
    return (
        render_template(
            "lotse/bewertung.html",
            submission=submission,
            person=member_of(launch_context(), submission.user_pk),
            criteria=criteria,
            pass_points=grading.pass_points(submission.unit_version),
            max_total=sum(c.max_points for c in criteria),
            history=grading.decisions_of(submission),
            decidable=submission.state in grading.DECIDABLE_STATES,
            errors=errors,
            values=values,
            points_field=grading.POINTS_FIELD,
            is_inline=grading.is_inline,
            state_label=grading.SUBMISSION_STATE_LABELS,
        ),
        status,
    )


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


@bp.get("/lotse/bewertung/<int:submission_pk>")
@lotse_required
def grade(submission_pk: int) -> ResponseReturnValue:
    """A submission with its text, files, the rubric and the decision history."""
    return _render_grading(_submission(submission_pk), errors={})


@bp.post("/lotse/bewertung/<int:submission_pk>")
@lotse_required
def save_grade(submission_pk: int) -> ResponseReturnValue:
    """Store a decision. The total is computed from the rubric points; a total in the form is
    ignored."""
    submission = _submission(submission_pk)
    if submission.state not in grading.DECIDABLE_STATES:
        return _render_grading(
            submission,
            errors={
                "entscheidung": _(
                    "Diese Abgabe wartet auf die Überarbeitung und kann gerade nicht "
                    "bewertet werden."
                )
            },
            status=409,
        )
    try:
        data = grading.parse_form(request.form, criteria_of(submission.unit_version))
        grading.decide(submission, current_launch().user_pk, data)
    except Invalid as invalid:
        db.session.rollback()
        return _render_grading(submission, errors=invalid.errors, status=422)
    db.session.commit()
    return redirect(tool_url("lotse.grading_queue", hinweis="gespeichert"), code=303)


@bp.get("/lotse/bewertung/<int:submission_pk>/dateien/<int:file_pk>")
@lotse_required
def submission_file(submission_pk: int, file_pk: int) -> Response:
    """A submitted file for the Lotse: PDF, PNG and JPEG inline, everything else as a download;
    the type is the one found in the content at upload."""
    submission = _submission(submission_pk)
    stored = grading.file_of(submission, file_pk)
    if stored is None:
        abort(404)
    path = file_path(stored)
    if not path.is_file():
        abort(404)
    return file_response(path, stored, inline=grading.is_inline(stored.content_type))
