"""The Lotse's progress overview of one course: Navigatoren × modules with percent and status,
counts per status, a summary per municipality, a distribution chart drawn here as inline SVG, and
the CSV and JSON exports.

Works with a constant number of SQL queries whatever the number of Navigatoren: the course's
modules with their units, the Navigatoren with their municipality, the limited assignments, and
the unit states aggregated per Navigator and module in SQL.

Staff council and DSGVO (domain brief §4.2): shown only to the course's Lotse, never ranked, never
sorted by progress; rows are alphabetical.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext
from markupsafe import Markup
from marshmallow import Schema, fields
from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload

from lti_tool.extensions import db
from lti_tool.models import LtiContext, LtiUser, utcnow
from lti_tool.vocab import ToolRole

from .models import CatalogModule, CatalogUnit, CourseModule, CourseModuleMember, UnitProgress
from .models import UnitState as US
from .municipalities import NavigatorMunicipality, by_ags
from .progress import COMPLETE_STATES, MODULE_STATUS_LABELS, ModuleStatus
from .roster import CourseMembership, MembershipStatus, display_name, sort_key

BERLIN = ZoneInfo("Europe/Berlin")
NO_MUNICIPALITY = "ohne"
"""Filter value for Navigatoren without a municipality."""
OVERDUE = "ueberfaellig"
NOT_LAUNCHED = "nicht-gestartet"
"""Filter values besides the module statuses."""

#: The buckets of the distribution chart: (label, lowest percent, highest percent).
BUCKETS: list[tuple[str, int, int]] = [
    ("0 %", 0, 0),
    ("1–24 %", 1, 24),
    ("25–49 %", 25, 49),
    ("50–74 %", 50, 74),
    ("75–99 %", 75, 99),
    ("100 %", 100, 100),
]


def module_status(
    total: int, complete: int, returned: int, submitted: int, started: int
) -> ModuleStatus:
    """A module's status from unit counts, by the rules of :class:`courses.progress.ModuleProgress`
    (returned, pending review, completed, in progress, not started)."""
    if returned:
        return ModuleStatus.RETURNED
    if total and complete >= total:
        return ModuleStatus.PENDING_REVIEW if submitted else ModuleStatus.COMPLETED
    if started:
        return ModuleStatus.IN_PROGRESS
    return ModuleStatus.NOT_STARTED


@dataclass(frozen=True)
class ModuleColumn:
    course_module_pk: int
    slug: str
    title: str
    kind: str
    due_at: datetime | None
    limited: bool
    unit_count: int


@dataclass(frozen=True)
class Cell:
    """One Navigator in one course module; ``assigned`` False: the module is not theirs."""

    course_module_pk: int
    assigned: bool
    status: ModuleStatus | None = None
    percent: int = 0
    overdue: bool = False

    @property
    def status_label(self) -> str:
        return str(MODULE_STATUS_LABELS[self.status]) if self.status else _("nicht zugewiesen")


@dataclass(frozen=True)
class NavigatorRow:
    user_pk: int
    sub: str
    name: str | None
    started: bool
    """Launched the tool in this course at least once."""
    municipality_ags: str | None
    municipality_name: str | None
    kreis: str | None
    cells: list[Cell]


@dataclass(frozen=True)
class MunicipalitySummary:
    ags: str | None
    name: str
    navigators: int
    counts: dict[ModuleStatus, int]
    overdue: int


@dataclass(frozen=True)
class Bucket:
    label: str
    count: int


@dataclass(frozen=True)
class Filters:
    municipality: str | None = None
    """An AGS, :data:`NO_MUNICIPALITY` or None (all)."""
    course_module_pk: int | None = None
    state: str | None = None
    """A :class:`ModuleStatus` value, :data:`OVERDUE`, :data:`NOT_LAUNCHED` or None."""

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.municipality, self.course_module_pk, self.state))


@dataclass
class Overview:
    context: LtiContext
    filters: Filters
    generated_at: datetime
    modules: list[ModuleColumn]
    """Visible columns (the module filter applied)."""
    all_modules: list[ModuleColumn]
    rows: list[NavigatorRow]
    total_navigators: int
    counts: dict[ModuleStatus, int] = field(default_factory=dict)
    overdue: int = 0
    not_launched: int = 0
    municipalities: list[MunicipalitySummary] = field(default_factory=list)
    all_municipalities: list[tuple[str, str]] = field(default_factory=list)
    """(AGS, name) of every municipality in the course, for the filter."""
    distribution: list[Bucket] = field(default_factory=list)


STATE_FILTERS: list[tuple[str, Any]] = [
    *[(status.value, MODULE_STATUS_LABELS[status]) for status in ModuleStatus],
    (OVERDUE, lazy_gettext("überfällig")),
    (NOT_LAUNCHED, lazy_gettext("noch nicht gestartet")),
]


def _modules(context: LtiContext) -> list[tuple[CourseModule, int]]:
    placed = db.session.scalars(
        select(CourseModule)
        .join(CatalogModule, CatalogModule.id == CourseModule.module_pk)
        .where(CourseModule.context_pk == context.id, CatalogModule.retired_at.is_(None))
        .options(joinedload(CourseModule.module).selectinload(CatalogModule.units))
        .order_by(CatalogModule.kind, CatalogModule.position, CatalogModule.title)
    ).unique()
    return [(cm, len(cm.module.active_units)) for cm in placed]


def _navigators(context: LtiContext) -> list[Any]:
    return list(
        db.session.execute(
            select(
                CourseMembership.user_pk,
                LtiUser.sub,
                LtiUser.name,
                LtiUser.given_name,
                LtiUser.family_name,
                CourseMembership.last_launch_at,
                NavigatorMunicipality.ags,
                NavigatorMunicipality.name,
            )
            .join(LtiUser, LtiUser.id == CourseMembership.user_pk)
            .outerjoin(
                NavigatorMunicipality, NavigatorMunicipality.user_pk == CourseMembership.user_pk
            )
            .where(
                CourseMembership.context_pk == context.id,
                CourseMembership.role == ToolRole.NAVIGATOR.value,
                CourseMembership.status == MembershipStatus.ACTIVE.value,
            )
        ).all()
    )


def _limited_members(course_module_pks: list[int]) -> dict[int, set[int]]:
    members: dict[int, set[int]] = defaultdict(set)
    if not course_module_pks:
        return members
    for cm_pk, user_pk in db.session.execute(
        select(CourseModuleMember.course_module_pk, CourseModuleMember.user_pk).where(
            CourseModuleMember.course_module_pk.in_(course_module_pks)
        )
    ):
        members[cm_pk].add(user_pk)
    return members


def _unit_counts(
    context: LtiContext, module_pks: list[int]
) -> dict[tuple[int, int], tuple[int, ...]]:
    """(user, module) -> (complete, returned, submitted, started) unit counts, in one query."""
    if not module_pks:
        return {}

    def count_if(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    state = UnitProgress.state
    rows = db.session.execute(
        select(
            UnitProgress.user_pk,
            CatalogUnit.module_pk,
            count_if(state.in_([s.value for s in COMPLETE_STATES])),
            count_if(state == US.RETURNED.value),
            count_if(state == US.SUBMITTED.value),
            count_if(state != US.NOT_STARTED.value),
        )
        .join(CatalogUnit, CatalogUnit.id == UnitProgress.unit_pk)
        .where(
            UnitProgress.context_pk == context.id,
            CatalogUnit.module_pk.in_(module_pks),
            CatalogUnit.retired_at.is_(None),
        )
        .group_by(UnitProgress.user_pk, CatalogUnit.module_pk)
    )
    return {(r[0], r[1]): tuple(int(v or 0) for v in r[2:]) for r in rows}


def _bucket(percent: int) -> int:
    return next(i for i, (_l, low, high) in enumerate(BUCKETS) if low <= percent <= high)


def build_overview(context: LtiContext, filters: Filters | None = None) -> Overview:
    """The overview of ``context`` with ``filters`` applied (constant number of queries)."""
    filters = filters or Filters()
    now = utcnow()
    placed = _modules(context)
    columns = [
        ModuleColumn(
            course_module_pk=cm.id,
            slug=cm.module.slug,
            title=cm.module.title,
            kind=cm.module.kind,
            due_at=cm.due_at,
            limited=cm.limited_to_members,
            unit_count=units,
        )
        for cm, units in placed
    ]
    members = _limited_members([cm.id for cm, _u in placed if cm.limited_to_members])
    counts = _unit_counts(context, [cm.module_pk for cm, _u in placed])
    navigators = _navigators(context)

    rows: list[NavigatorRow] = []
    for user_pk, sub, name, given, family, last_launch, ags, municipality_name in navigators:
        cells = []
        for cm, total in placed:
            assigned = not cm.limited_to_members or user_pk in members[cm.id]
            if not assigned:
                cells.append(Cell(cm.id, assigned=False))
                continue
            complete, returned, submitted, started = counts.get(
                (user_pk, cm.module_pk), (0, 0, 0, 0)
            )
            status = module_status(total, complete, returned, submitted, started)
            overdue = (
                cm.due_at is not None
                and now > cm.due_at
                and status not in (ModuleStatus.PENDING_REVIEW, ModuleStatus.COMPLETED)
            )
            percent = min(complete, total) * 100 // total if total else 0
            cells.append(Cell(cm.id, True, status, percent, overdue))
        municipality = by_ags(ags) if ags else None
        rows.append(
            NavigatorRow(
                user_pk=user_pk,
                sub=sub,
                name=display_name(name, given, family),
                started=last_launch is not None,
                municipality_ags=ags,
                municipality_name=(
                    municipality.display_name if municipality else municipality_name
                ),
                kreis=municipality.kreis if municipality else None,
                cells=cells,
            )
        )
    rows.sort(key=lambda r: sort_key(r.name, r.sub))
    all_municipalities = sorted(
        {(r.municipality_ags, r.municipality_name or "") for r in rows if r.municipality_ags},
        key=lambda m: m[1].casefold(),
    )

    # Filters: columns by module, rows by municipality and state.
    visible = [c for c in columns if filters.course_module_pk in (None, c.course_module_pk)]
    visible_pks = {c.course_module_pk for c in visible}

    def shown_cells(row: NavigatorRow) -> list[Cell]:
        return [c for c in row.cells if c.course_module_pk in visible_pks]

    def keep(row: NavigatorRow) -> bool:
        if filters.municipality == NO_MUNICIPALITY and row.municipality_ags is not None:
            return False
        if (
            filters.municipality not in (None, NO_MUNICIPALITY)
            and row.municipality_ags != filters.municipality
        ):
            return False
        if filters.state is None:
            return True
        if filters.state == NOT_LAUNCHED:
            return not row.started
        if filters.state == OVERDUE:
            return any(c.overdue for c in shown_cells(row))
        return any(c.assigned and c.status == filters.state for c in shown_cells(row))

    kept = [r for r in rows if keep(r)]
    shown = [replace(r, cells=shown_cells(r)) for r in kept]

    overview = Overview(
        context=context,
        filters=filters,
        generated_at=now,
        modules=visible,
        all_modules=columns,
        rows=shown,
        total_navigators=len(rows),
        all_municipalities=all_municipalities,
    )
    status_counts: Counter[ModuleStatus] = Counter()
    buckets = [0] * len(BUCKETS)
    by_municipality: dict[str | None, list[NavigatorRow]] = defaultdict(list)
    for row in shown:
        by_municipality[row.municipality_ags].append(row)
        if not row.started:
            overview.not_launched += 1
        for cell in row.cells:
            if not cell.assigned or cell.status is None:
                continue
            status_counts[cell.status] += 1
            buckets[_bucket(cell.percent)] += 1
            overview.overdue += int(cell.overdue)
    overview.counts = {status: status_counts.get(status, 0) for status in ModuleStatus}
    overview.distribution = [Bucket(BUCKETS[i][0], n) for i, n in enumerate(buckets)]
    summaries = []
    for ags, group in by_municipality.items():
        group_counts: Counter[ModuleStatus] = Counter(
            c.status for r in group for c in r.cells if c.assigned and c.status is not None
        )
        summaries.append(
            MunicipalitySummary(
                ags=ags,
                name=group[0].municipality_name or _("ohne Gemeinde"),
                navigators=len(group),
                counts={status: group_counts.get(status, 0) for status in ModuleStatus},
                overdue=sum(1 for r in group for c in r.cells if c.overdue),
            )
        )
    # Alphabetical, "ohne Gemeinde" last: never ordered by progress.
    overview.municipalities = sorted(summaries, key=lambda s: (s.ags is None, s.name.casefold()))
    return overview


# --- chart ---------------------------------------------------------------------------------


def distribution_svg(buckets: list[Bucket], *, title: str, description: str) -> Markup:
    """A horizontal bar chart of ``buckets`` as inline SVG (no script, no external resource).
    The page shows the same numbers as a table next to it."""
    width, label_w, bar_max, row_h, top = 560, 90, 380, 34, 8
    height = top * 2 + row_h * len(buckets)
    highest = max((b.count for b in buckets), default=0) or 1
    parts = [
        Markup(
            '<svg class="lotse-chart" xmlns="http://www.w3.org/2000/svg" role="img" '
            'viewBox="0 0 {w} {h}" width="100%" preserveAspectRatio="xMinYMin meet" '
            'aria-labelledby="chart-title chart-desc" focusable="false">'
        ).format(w=width, h=height),
        Markup('<title id="chart-title">{}</title>').format(title),
        Markup('<desc id="chart-desc">{}</desc>').format(description),
    ]
    for index, bucket in enumerate(buckets):
        y = top + index * row_h
        length = round(bar_max * bucket.count / highest)
        parts.append(
            Markup(
                '<g class="lotse-chart-row">'
                '<text x="{lx}" y="{ty}" text-anchor="end" class="lotse-chart-label">{label}</text>'
                '<rect x="{bx}" y="{by}" width="{bw}" height="{bh}" class="lotse-chart-bar b{i}"/>'
                '<text x="{vx}" y="{ty}" class="lotse-chart-value">{count}</text>'
                "</g>"
            ).format(
                lx=label_w - 8,
                ty=y + row_h / 2 + 5,
                label=bucket.label,
                bx=label_w,
                by=y + 4,
                bw=max(length, 1 if bucket.count else 0),
                bh=row_h - 8,
                i=index,
                vx=label_w + length + 6,
                count=bucket.count,
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


# --- CSV -----------------------------------------------------------------------------------

CSV_HEADERS = [
    lazy_gettext("Name"),
    lazy_gettext("Kennung im LMS"),
    lazy_gettext("Gemeinde"),
    lazy_gettext("Gemeindeschlüssel"),
    lazy_gettext("Landkreis"),
    lazy_gettext("Im Werkzeug gestartet"),
    lazy_gettext("Modul"),
    lazy_gettext("Modul-ID"),
    lazy_gettext("Zugewiesen"),
    lazy_gettext("Status"),
    lazy_gettext("Fortschritt in %"),
    lazy_gettext("Fällig am"),
    lazy_gettext("Überfällig"),
]


def _day(value: datetime | None) -> str:
    return value.astimezone(BERLIN).strftime("%d.%m.%Y") if value else ""


def _cell_text(value: Any) -> str:
    text = "" if value is None else str(value)
    # Excel runs cells that start with these as formulas (CSV injection): make them text.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


def overview_csv(overview: Overview) -> bytes:
    """The overview as CSV for German Excel: UTF-8 with BOM, ``;``, CRLF, German headers, one
    row per Navigator and module (a Navigator without modules gets one row)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([str(h) for h in CSV_HEADERS])
    yes, no = _("ja"), _("nein")
    columns = {c.course_module_pk: c for c in overview.modules}
    for row in overview.rows:
        person = [
            row.name or "",
            row.sub,
            row.municipality_name or "",
            row.municipality_ags or "",
            row.kreis or "",
            yes if row.started else no,
        ]
        if not row.cells:
            writer.writerow([_cell_text(v) for v in person + [""] * 7])
            continue
        for cell in row.cells:
            column = columns[cell.course_module_pk]
            writer.writerow(
                [
                    _cell_text(v)
                    for v in [
                        *person,
                        column.title,
                        column.slug,
                        yes if cell.assigned else no,
                        cell.status_label,
                        cell.percent if cell.assigned else "",
                        _day(column.due_at),
                        (yes if cell.overdue else no) if cell.assigned else "",
                    ]
                ]
            )
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


# --- JSON ----------------------------------------------------------------------------------


class _ModuleSchema(Schema):
    course_module_id = fields.Integer(attribute="course_module_pk")
    module_id = fields.String(attribute="slug")
    title = fields.String()
    kind = fields.String()
    due_at = fields.AwareDateTime(allow_none=True)
    limited_to_members = fields.Boolean(attribute="limited")
    units = fields.Integer(attribute="unit_count")


class _CellSchema(Schema):
    course_module_id = fields.Integer(attribute="course_module_pk")
    assigned = fields.Boolean()
    status = fields.Function(lambda c: c.status.value if c.status else None)
    status_label = fields.String()
    percent = fields.Function(lambda c: c.percent if c.assigned else None)
    overdue = fields.Boolean()


class _MunicipalityRefSchema(Schema):
    ags = fields.String(attribute="municipality_ags")
    name = fields.String(attribute="municipality_name")
    kreis = fields.String()


class _NavigatorSchema(Schema):
    user_id = fields.Integer(attribute="user_pk")
    sub = fields.String()
    name = fields.String(allow_none=True)
    started = fields.Boolean()
    municipality = fields.Function(
        lambda r: _MunicipalityRefSchema().dump(r) if r.municipality_ags else None
    )
    modules = fields.List(fields.Nested(_CellSchema), attribute="cells")


class _SummarySchema(Schema):
    ags = fields.String(allow_none=True)
    name = fields.String()
    navigators = fields.Integer()
    counts = fields.Function(lambda s: {k.value: v for k, v in s.counts.items()})
    overdue = fields.Integer()


class _BucketSchema(Schema):
    label = fields.String()
    count = fields.Integer()


class OverviewSchema(Schema):
    """Dump schema of ``GET /api/lotse/uebersicht`` (Lotse of the course only).

    Fields:
        ``course``: ``{context_id, title}`` of the LMS course;
        ``generated_at``: ISO-8601 with time zone;
        ``filters``: ``{municipality, course_module_id, state}`` as applied (null: all);
        ``modules``: the visible course modules — ``course_module_id``, ``module_id`` (catalogue
        slug), ``title``, ``kind`` (basiswissen/best-practice), ``due_at``, ``limited_to_members``,
        ``units``;
        ``navigators``: alphabetical, never by progress — ``user_id``, ``sub`` (the platform's
        pseudonym), ``name`` (null when withheld), ``started`` (launched in this course),
        ``municipality`` (``{ags, name, kreis}`` or null), ``modules``: one cell per visible
        module — ``course_module_id``, ``assigned``, ``status`` (not_started, in_progress,
        returned, pending_review, completed; null when not assigned), ``status_label``,
        ``percent`` (0–100, null when not assigned), ``overdue``;
        ``counts``: cells per status; ``overdue``, ``not_launched``, ``total_navigators``;
        ``municipalities``: per municipality ``{ags, name, navigators, counts, overdue}``,
        alphabetical;
        ``distribution``: ``[{label, count}]`` of the percent buckets.
    """

    course = fields.Function(
        lambda o: {"context_id": o.context.context_id, "title": o.context.title}
    )
    generated_at = fields.AwareDateTime()
    filters = fields.Function(
        lambda o: {
            "municipality": o.filters.municipality,
            "course_module_id": o.filters.course_module_pk,
            "state": o.filters.state,
        }
    )
    modules = fields.List(fields.Nested(_ModuleSchema))
    navigators = fields.List(fields.Nested(_NavigatorSchema), attribute="rows")
    counts = fields.Function(lambda o: {k.value: v for k, v in o.counts.items()})
    overdue = fields.Integer()
    not_launched = fields.Integer()
    total_navigators = fields.Integer()
    municipalities = fields.List(fields.Nested(_SummarySchema))
    distribution = fields.List(fields.Nested(_BucketSchema))
