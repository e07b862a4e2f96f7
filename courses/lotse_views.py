"""The Lotse's pages: the catalogue picker of Deep Linking, the progress overview with its
exports, the roster with municipalities, the assignment settings of each module, and grading.

Every view is guarded by :func:`lotse_required`: a valid launch token, the Lotse role (as
:func:`courses.roster.effective_role` decides) and a course. A view only ever works on the
launch's own course: every id in a URL is looked up within ``current_launch().context`` and is a
404 otherwise, so neither another course nor another platform's course with the same context id
can be reached.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from functools import wraps
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select

from lti_tool.deep_linking import DeepLinkingError, LineItem, ResourceLinkItem, response_jwt
from lti_tool.errors import LaunchError
from lti_tool.extensions import db
from lti_tool.launch import launch_url
from lti_tool.models import Launch, LtiContext
from lti_tool.sessions import TOKEN_FIELD, current_launch, issue_token, launch_required
from lti_tool.vocab import MessageType, ToolRole

from . import grading
from .dashboard import (
    NO_MUNICIPALITY,
    STATE_FILTERS,
    Filters,
    OverviewSchema,
    build_overview,
    distribution_svg,
    overview_csv,
)
from .learning import ensure_course_module
from .models import CatalogModule, CourseModule, CourseModuleMember, ModuleKind
from .municipalities import MunicipalitySource, assign, match, official_list
from .progress import MODULE_STATUS_LABELS, ModuleStatus
from .roster import (
    MembershipStatus,
    effective_role,
    failure_notice,
    last_sync,
    member_of,
    record_launchers,
    refresh,
    refresh_once_per_launch,
    roster,
)
from .submissions import Submission, file_path
from .views import known_id, parse_id, refuse_nul_bytes

BERLIN = ZoneInfo("Europe/Berlin")
LINE_ITEM_TAG = "lotsen-lti"
"""Tag of the line items Deep Linking asks the platform to create."""

bp = Blueprint(
    "lotse",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/lotse/static",
)
bp.before_request(refuse_nul_bytes)

F = TypeVar("F", bound=Callable[..., Any])


# --- guard and template helpers ------------------------------------------------------------


def lotse_required(view: F) -> F:
    """The request must carry a valid launch token of a Lotse (platform role, grant or trusted
    custom parameter) launched in a course. Anonymous: 401; Navigator: 403."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        launch = current_launch()
        if effective_role(launch) is not ToolRole.LOTSE:
            raise LaunchError("forbidden", "Lotsen-Seite")
        if launch.context is None:
            raise LaunchError("forbidden", "Start ohne Kurs")
        return view(*args, **kwargs)

    return cast(F, launch_required()(guarded))


def _context() -> LtiContext:
    context = current_launch().context
    assert context is not None  # lotse_required
    return context


def _token() -> str:
    # One renewed token per launch and response. Keyed by launch: in tests several requests
    # share one application context, and with it ``g``.
    launch = current_launch()
    tokens: dict[str, str] = g.setdefault("lotse_tokens", {})
    if launch.id not in tokens:
        tokens[launch.id] = issue_token(launch)
    return tokens[launch.id]


def lurl(endpoint: str, **values: Any) -> str:
    """``url_for`` with the launch token: every link of a launch carries it."""
    values[TOKEN_FIELD] = _token()
    return url_for(endpoint, **values)


def lt_field() -> Markup:
    """The hidden form field with the launch token (POST never takes it from the URL)."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(TOKEN_FIELD, _token())


def day(value: datetime | None) -> str:
    """TT.MM.JJJJ in Europe/Berlin."""
    return value.astimezone(BERLIN).strftime("%d.%m.%Y") if value else ""


def moment(value: datetime | None) -> str:
    return value.astimezone(BERLIN).strftime("%d.%m.%Y, %H:%M Uhr") if value else ""


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {
        "launch": g.get("launch"),
        "has_endpoint": lambda endpoint: endpoint in current_app.view_functions,
        "lurl": lurl,
        "lt_field": lt_field,
        "day": day,
        "moment": moment,
        "status_labels": {s.value: str(label) for s, label in MODULE_STATUS_LABELS.items()},
    }


# --- Deep Linking: the catalogue picker ----------------------------------------------------


def _deep_linking_launch() -> Launch:
    launch = current_launch()
    if launch.message_type != MessageType.DEEP_LINKING or not launch.deep_linking_settings:
        abort(404)
    return launch


def _catalogue(kind: str | None, search: str) -> list[CatalogModule]:
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
    settings = launch.deep_linking_settings or {}
    return render_template(
        "lotse/auswahl.html",
        modules=_catalogue(kind, search),
        kind=kind,
        search=search,
        placed=_placed_slugs(_context()),
        multiple=str(settings.get("accept_multiple", True)).lower() != "false",
        settings=settings,
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
    settings = launch.deep_linking_settings or {}
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
                label=m.title, resource_id=m.slug, score_maximum=100, tag=LINE_ITEM_TAG
            ),
        )
        for m in chosen
    ]
    jwt_value = None
    if error is None:
        try:
            jwt_value = response_jwt(
                registration=launch.registration,
                deployment_id=launch.deployment.deployment_id,
                settings=settings,
                items=items,
            )
        except DeepLinkingError as refused:
            error = str(refused)
    if error is not None or jwt_value is None:
        db.session.rollback()
        return (
            render_template(
                "lotse/auswahl.html",
                modules=_catalogue(None, ""),
                kind=None,
                search="",
                placed=_placed_slugs(_context()),
                multiple=str(settings.get("accept_multiple", True)).lower() != "false",
                settings=settings,
                error=error,
            ),
            422,
        )
    for module in chosen:
        ensure_course_module(_context(), module)
    db.session.commit()
    current_app.logger.info(
        "deep linking response: launch=%s context=%s modules=%s",
        launch.id,
        launch.context_pk,
        ",".join(m.slug for m in chosen),
    )
    return render_template(
        "lotse/auswahl_zurueck.html",
        return_url=settings["deep_link_return_url"],
        jwt=jwt_value,
        modules=chosen,
    )


# --- the overview --------------------------------------------------------------------------


def _focus_module(context: LtiContext) -> int | None:
    """The course module of the resource link this Lotse launched from (custom module_id)."""
    link = current_launch().resource_link
    param = current_app.config.get("MODULE_CUSTOM_PARAM", "module_id")
    slug = (link.custom or {}).get(param) if link is not None else None
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
    """Progress of the course's Navigatoren, per module; refreshes the roster once per launch."""
    context = _context()
    result = refresh_once_per_launch(context, current_launch())
    sync = last_sync(context)
    notice = result.error if result is not None else None
    if notice is None and sync is not None and sync.failing:
        notice = failure_notice(sync.error_status)
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
        state_filters=STATE_FILTERS,
        no_municipality=NO_MUNICIPALITY,
        statuses=list(ModuleStatus),
    )


def _record_launchers(context: LtiContext) -> None:
    if record_launchers(context):
        db.session.commit()


@bp.get("/lotse/uebersicht.csv")
@lotse_required
def dashboard_csv() -> Response:
    """The overview as CSV for German Excel (UTF-8 with BOM, ``;``, CRLF)."""
    context = _context()
    _record_launchers(context)
    overview = build_overview(context, _filters(context, focus=False))
    response = Response(overview_csv(overview), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    stamp = overview.generated_at.astimezone(BERLIN).strftime("%Y-%m-%d")
    response.headers["Content-Disposition"] = f'attachment; filename="uebersicht-{stamp}.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/api/lotse/uebersicht")
@lotse_required
def dashboard_json() -> Response:
    """The overview as JSON (fields: :class:`courses.dashboard.OverviewSchema`)."""
    context = _context()
    _record_launchers(context)
    overview = build_overview(context, _filters(context, focus=False))
    response = jsonify(OverviewSchema().dump(overview))
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- roster and municipalities -------------------------------------------------------------


def _render_roster(
    error: str | None = None, error_user: int | None = None, status: int = 200
) -> ResponseReturnValue:
    context = _context()
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
    """Everyone in the course with role, status and municipality."""
    refresh_once_per_launch(_context(), current_launch())
    return _render_roster()


@bp.post("/lotse/teilnehmende/aktualisieren")
@lotse_required
def refresh_members() -> ResponseReturnValue:
    """ "Teilnehmerliste aktualisieren": read NRPS now (failures become a notice)."""
    refresh(_context(), current_launch())
    return redirect(lurl("lotse.members", aktualisiert="1"), code=303)


@bp.post("/lotse/teilnehmende/<int:user_pk>/gemeinde")
@lotse_required
def set_municipality(user_pk: int) -> ResponseReturnValue:
    """The Lotse corrects a Navigator's municipality."""
    context = _context()
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
    assign(user_pk, chosen, MunicipalitySource.LOTSE, by_user_pk=current_launch().user_id)
    db.session.commit()
    return redirect(lurl("lotse.members") + f"#person-{user_pk}", code=303)


# --- assignments: due dates and limits -----------------------------------------------------


def _course_module(course_module_pk: int) -> CourseModule:
    placed = db.session.get(CourseModule, known_id(course_module_pk))
    if placed is None or placed.context_pk != _context().id:
        abort(404)
    return placed


def _navigator_memberships(context: LtiContext) -> list[Any]:
    _record_launchers(context)
    return [
        e
        for e in roster(context)
        if e.role == ToolRole.NAVIGATOR and e.status == MembershipStatus.ACTIVE
    ]


@bp.get("/lotse/module")
@lotse_required
def modules() -> ResponseReturnValue:
    """The modules placed in this course with due date and who they are assigned to."""
    context = _context()
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
    due_value = placed.due_at.astimezone(BERLIN).date().isoformat() if placed.due_at else ""
    return (
        render_template(
            "lotse/modul_einstellungen.html",
            placed=placed,
            navigators=_navigator_memberships(_context()),
            chosen=chosen,
            due_value=request.form.get("faellig_am", due_value) if errors else due_value,
            errors=errors,
        ),
        status,
    )


def parse_due_date(value: str | None) -> datetime | None:
    """``YYYY-MM-DD`` (the date input) or ``TT.MM.JJJJ`` (typed where a browser shows a plain text
    field; the error message asks for it) -> the end of that day in Europe/Berlin, as UTC. Raises
    ValueError for anything else."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{4}", text):
        day_value = datetime.strptime(text, "%d.%m.%Y").date()
    else:
        day_value = date.fromisoformat(text)
    return datetime.combine(day_value, time(23, 59, 59), tzinfo=BERLIN).astimezone(UTC)


@bp.post("/lotse/module/<int:course_module_pk>")
@lotse_required
def save_module_settings(course_module_pk: int) -> ResponseReturnValue:
    """Due date and "only for chosen Navigatoren"."""
    placed = _course_module(course_module_pk)
    context = _context()
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
    return redirect(lurl("lotse.modules"), code=303)


# --- grading -------------------------------------------------------------------------------


@bp.get("/lotse/bewertung")
@lotse_required
def grading_queue() -> ResponseReturnValue:
    """Submitted assignments, oldest first; filters by module, municipality, state."""
    context = _context()
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
        {(e.municipality_ags, e.municipality_name) for e in roster(context) if e.municipality_ags},
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
    submission = grading.submission_in(_context(), known_id(submission_pk))
    if submission is None:
        abort(404)
    return submission


def _render_grading(
    submission: Submission, errors: dict[str, str], status: int = 200
) -> ResponseReturnValue:
    criteria = grading.criteria_of(submission.unit_version)
    latest = grading.latest_decision(submission)
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
            person=member_of(_context(), submission.user_pk),
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
        data = grading.parse_form(request.form, grading.criteria_of(submission.unit_version))
        grading.decide(submission, current_launch().user, data)
    except grading.GradingInvalid as invalid:
        db.session.rollback()
        return _render_grading(submission, errors=invalid.errors, status=422)
    except grading.NotDecidable:
        db.session.rollback()
        abort(409)
    db.session.commit()
    return redirect(lurl("lotse.grading_queue", hinweis="gespeichert"), code=303)


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
    inline = grading.is_inline(stored.content_type)
    response = send_file(
        path,
        mimetype=stored.content_type,
        as_attachment=not inline,
        download_name=stored.original_name,
        max_age=0,
        conditional=False,
        etag=False,
    )
    response.headers["Cache-Control"] = "private, no-store"
    if not inline:
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- registration --------------------------------------------------------------------------


ROUTES: list[tuple[str, str]] = []
"""(method, endpoint) of every Lotse route, filled by :func:`init_app` (tests walk it)."""


def init_app(app: Flask) -> None:
    app.config.setdefault("LOTSE_HOME_ENDPOINT", "lotse.dashboard")
    app.config["DEEP_LINKING_ENDPOINT"] = "lotse.deep_linking"
    grading.init_app()
    app.register_blueprint(bp)
    ROUTES[:] = sorted(
        (method, rule.endpoint)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("lotse.") and rule.endpoint != "lotse.static"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    )
