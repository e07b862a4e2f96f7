"""The Lotse's progress overview of one course: Navigatoren × modules with percent and status,
counts per status, a summary per municipality and the distribution the chart draws (the chart,
CSV and JSON are :mod:`.chart`, :mod:`.csv_export` and :mod:`.schema`).

Works with a constant number of SQL queries whatever the number of Navigatoren: the course's
modules with their units, the Navigatoren with their municipality, the limited assignments, and
the unit states aggregated per Navigator and module in SQL.

Staff council and DSGVO (domain brief §4.2): shown only to the course's Lotse, never ranked, never
sorted by progress; rows are alphabetical.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy import BigInteger, case, cast, func, select
from sqlalchemy.orm import joinedload

from courses.models import (
    CatalogModule,
    CatalogUnit,
    CourseModule,
    CourseModuleMember,
    UnitKind,
    UnitProgress,
)
from courses.models import UnitState as US
from courses.services.municipalities import by_key
from courses.services.progress import (
    COMPLETE_STATES,
    MODULE_STATUS_LABELS,
    ModuleStatus,
    UnitCounts,
    module_percent,
    module_status,
)
from courses.services.roster import NO_MUNICIPALITY, active_navigators, sort_key
from lti_tool.extensions import db
from lti_tool.models import LtiContext, utcnow

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


@dataclass(frozen=True)
class ModuleColumn:
    course_module_pk: int
    slug: str
    title: str
    kind: str
    due_at: datetime | None
    limited: bool
    unit_count: int


@dataclass(frozen=True, eq=False)
class Cell:
    """One Navigator in one course module; ``assigned`` False: the module is not theirs.

    Interned: an overview holds one instance per distinct cell (the 12,000 cells of 1,000
    Navigatoren × 12 modules are a few hundred objects), so the page, the CSV and the JSON turn
    each distinct cell into text once. Compared and hashed by identity."""

    course_module_pk: int
    assigned: bool
    status: ModuleStatus | None = None
    percent: int = 0
    overdue: bool = False
    status_label: str = ""
    """The status in the request's language ("nicht zugewiesen" when not assigned)."""


def status_labels() -> dict[ModuleStatus | None, str]:
    """The label of each status in the request's language, turned into text once per
    overview (not once per cell)."""
    labels: dict[ModuleStatus | None, str] = {
        status: str(label) for status, label in MODULE_STATUS_LABELS.items()
    }
    labels[None] = _("nicht zugewiesen")
    return labels


@dataclass(frozen=True)
class NavigatorRow:
    user_pk: int
    sub: str
    name: str | None
    started: bool
    """Launched the tool in this course at least once."""
    municipality_key: str | None
    municipality_name: str | None
    kreis: str | None
    cells: list[Cell]


@dataclass(frozen=True)
class MunicipalitySummary:
    municipality_key: str | None
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
    """A municipality key, :data:`NO_MUNICIPALITY` or None (all)."""
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
    """(municipality key, name) of every municipality in the course, for the filter."""
    distribution: list[Bucket] = field(default_factory=list)


STATE_FILTERS: list[tuple[str, Any]] = [
    *[(status.value, MODULE_STATUS_LABELS[status]) for status in ModuleStatus],
    (OVERDUE, lazy_gettext("überfällig")),
    (NOT_LAUNCHED, lazy_gettext("noch nicht gestartet")),
]


def _modules(context: LtiContext) -> list[tuple[CourseModule, int, int]]:
    placed = db.session.scalars(
        select(CourseModule)
        .join(CatalogModule, CatalogModule.id == CourseModule.module_pk)
        .where(CourseModule.context_pk == context.id, CatalogModule.retired_at.is_(None))
        .options(joinedload(CourseModule.module).selectinload(CatalogModule.units))
        .order_by(CatalogModule.kind, CatalogModule.position, CatalogModule.title)
    ).unique()
    return [
        (
            cm,
            len(cm.module.active_units),
            sum(1 for unit in cm.module.active_units if unit.kind == UnitKind.ASSIGNMENT),
        )
        for cm in placed
    ]


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


#: What a unit in each state adds to its module's counts, in the order of :func:`_unpack`:
#: complete, started, submitted, graded, returned (only assignments can be the last three).
_COUNTED: dict[US, tuple[int, int, int, int, int]] = {
    state: (
        int(state in COMPLETE_STATES),
        int(state != US.NOT_STARTED),
        int(state == US.SUBMITTED),
        int(state == US.GRADED),
        int(state == US.RETURNED),
    )
    for state in US
}


def _unit_counts(
    context: LtiContext, module_pks: list[int], base: int
) -> dict[tuple[int, int], int]:
    """(user, module) -> the module's unit counts of :data:`_COUNTED`, packed into one integer
    as digits to ``base`` (more than a module's units, so no digit overflows; :func:`_unpack`).

    One query, one sum per Navigator and module: each unit row adds its state's packed counts.
    Summing five conditional counts instead takes twice as long (1,000 × 12, SQLite)."""
    if not module_pks:
        return {}
    assert base**5 < 2**63, base  # a 64-bit integer on both databases
    weights = {
        state.value: sum(n * base**i for i, n in enumerate(counted))
        for state, counted in _COUNTED.items()
    }
    packed = cast(func.sum(case(weights, value=UnitProgress.state, else_=0)), BigInteger)
    rows = db.session.execute(
        select(UnitProgress.user_pk, CatalogUnit.module_pk, packed)
        .join(CatalogUnit, CatalogUnit.id == UnitProgress.unit_pk)
        .where(
            UnitProgress.context_pk == context.id,
            CatalogUnit.module_pk.in_(module_pks),
            CatalogUnit.retired_at.is_(None),
        )
        .group_by(UnitProgress.user_pk, CatalogUnit.module_pk)
    )
    return {(user, module): value for user, module, value in rows}


def _unpack(packed: int, base: int) -> tuple[int, int, int, int, int]:
    """The counts :func:`_unit_counts` packed: complete, started, submitted, graded, returned."""
    complete, packed = packed % base, packed // base
    started, packed = packed % base, packed // base
    submitted, packed = packed % base, packed // base
    graded, returned = packed % base, packed // base
    return complete, started, submitted, graded, returned


def _bucket(percent: int) -> int:
    return next(i for i, (_l, low, high) in enumerate(BUCKETS) if low <= percent <= high)


@dataclass(frozen=True)
class _Column:
    """What the cells of one course module are computed from."""

    course_module_pk: int
    module_pk: int
    total: int
    assignments: int
    members: set[int] | None
    """The Navigatoren it is limited to, or None (everyone)."""
    past_due: bool


def _cell(column: _Column, packed: int, base: int, labels: dict[Any, str]) -> Cell:
    complete, started, submitted, graded, returned = _unpack(packed, base)
    # The same rules as the Navigator's pages and the gradebook (progress.module_status).
    unit_counts = UnitCounts(
        total=column.total,
        assignments=column.assignments,
        complete=complete,
        started=started,
        submitted=submitted,
        graded=graded,
        returned=returned,
    )
    status = module_status(unit_counts)
    overdue = column.past_due and status not in (
        ModuleStatus.PENDING_REVIEW,
        ModuleStatus.COMPLETED,
    )
    percent = module_percent(unit_counts, status)
    return Cell(column.course_module_pk, True, status, percent, overdue, labels[status])


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
        for cm, units, _assignments in placed
    ]
    members = _limited_members([cm.id for cm, _u, _a in placed if cm.limited_to_members])
    base = max((units for _cm, units, _a in placed), default=0) + 1
    counts = _unit_counts(context, [cm.module_pk for cm, _u, _a in placed], base)
    navigators = active_navigators(context)

    labels = status_labels()
    computed = [
        _Column(
            course_module_pk=cm.id,
            module_pk=cm.module_pk,
            total=total,
            assignments=assignments,
            members=members[cm.id] if cm.limited_to_members else None,
            past_due=cm.due_at is not None and now > cm.due_at,
        )
        for cm, total, assignments in placed
    ]
    unassigned = {
        c.course_module_pk: Cell(c.course_module_pk, False, status_label=labels[None])
        for c in computed
    }
    # One Cell per distinct (module, unit counts): the rows share them.
    interned: dict[tuple[int, int], Cell] = {}

    rows: list[NavigatorRow] = []
    for navigator in navigators:
        user_pk, key = navigator.user_pk, navigator.municipality_key
        cells = []
        for column in computed:
            if column.members is not None and user_pk not in column.members:
                cells.append(unassigned[column.course_module_pk])
                continue
            packed = counts.get((user_pk, column.module_pk), 0)
            cell = interned.get((column.course_module_pk, packed))
            if cell is None:
                cell = _cell(column, packed, base, labels)
                interned[(column.course_module_pk, packed)] = cell
            cells.append(cell)
        municipality = by_key(key) if key else None
        rows.append(
            NavigatorRow(
                user_pk=user_pk,
                sub=navigator.sub,
                name=navigator.name,
                started=navigator.started,
                municipality_key=key,
                municipality_name=(
                    municipality.display_name if municipality else navigator.municipality_name
                ),
                kreis=municipality.kreis if municipality else None,
                cells=cells,
            )
        )
    rows.sort(key=lambda r: sort_key(r.name, r.sub))
    all_municipalities = sorted(
        {(r.municipality_key, r.municipality_name or "") for r in rows if r.municipality_key},
        key=lambda m: m[1].casefold(),
    )

    # Filters: columns by module, rows by municipality and state.
    visible = [c for c in columns if filters.course_module_pk in (None, c.course_module_pk)]
    visible_pks = {c.course_module_pk for c in visible}

    def shown_cells(row: NavigatorRow) -> list[Cell]:
        if filters.course_module_pk is None:
            return row.cells
        return [c for c in row.cells if c.course_module_pk in visible_pks]

    def keep(row: NavigatorRow) -> bool:
        if filters.municipality == NO_MUNICIPALITY and row.municipality_key is not None:
            return False
        if (
            filters.municipality not in (None, NO_MUNICIPALITY)
            and row.municipality_key != filters.municipality
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
    shown = (
        kept
        if filters.course_module_pk is None
        else [replace(r, cells=shown_cells(r)) for r in kept]
    )

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
    # The figures from the distinct cells, each weighed by how often the shown rows hold it.
    by_municipality: dict[str | None, list[NavigatorRow]] = defaultdict(list)
    for row in shown:
        by_municipality[row.municipality_key].append(row)
    overview.not_launched = sum(1 for row in shown if not row.started)
    shown_counts = Counter(c for row in shown for c in row.cells)
    overview.counts, overview.overdue = _tally(shown_counts)
    buckets = [0] * len(BUCKETS)
    for cell, n in shown_counts.items():
        if cell.assigned and cell.status is not None:
            buckets[_bucket(cell.percent)] += n
    overview.distribution = [Bucket(BUCKETS[i][0], n) for i, n in enumerate(buckets)]
    summaries = []
    for key, group in by_municipality.items():
        group_counts, group_overdue = _tally(Counter(c for r in group for c in r.cells))
        summaries.append(
            MunicipalitySummary(
                municipality_key=key,
                name=group[0].municipality_name or _("ohne Gemeinde"),
                navigators=len(group),
                counts=group_counts,
                overdue=group_overdue,
            )
        )
    # Alphabetical, "ohne Gemeinde" last: never ordered by progress.
    overview.municipalities = sorted(
        summaries, key=lambda s: (s.municipality_key is None, s.name.casefold())
    )
    return overview


def _tally(cells: Counter[Cell]) -> tuple[dict[ModuleStatus, int], int]:
    """Assigned cells per status, and overdue cells, of ``cells`` (cell -> how many)."""
    per_status: Counter[ModuleStatus] = Counter()
    overdue = 0
    for cell, n in cells.items():
        if cell.assigned and cell.status is not None:
            per_status[cell.status] += n
        overdue += n if cell.overdue else 0
    return {status: per_status.get(status, 0) for status in ModuleStatus}, overdue
