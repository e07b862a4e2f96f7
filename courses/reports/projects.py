"""The Lotse's programme view: the Praxisprojekte of every course the Lotse has launched in
(cohorts, LMS contexts) together, by Landkreis and status, as rows, as a chart with its table
equivalent (the same counts), and as CSV for German Excel (as :mod:`.csv_export`).

What web calls:

* :func:`programme_view` ``(lotse_pk, *, filters=None) -> ProgrammeView`` with
  ``courses`` (:class:`CourseInfo`: ``id, title, label``), ``rows`` (the
  :class:`~courses.services.projects.ProjectRow` of every project, alphabetically by title,
  never ranked; ``course_pk`` names the course), ``statuses`` (``[(value, label)]`` in the
  order of :class:`~courses.models.ProjectStatus`), ``landkreise`` (:class:`LandkreisCounts`:
  ``landkreis, counts`` — one number per status, in ``statuses`` order — and ``total``),
  ``totals`` (per status, same order) and ``total``.
* :func:`programme_svg` ``(view, *, title, description) -> Markup``: one group per Landkreis,
  one labelled bar per status (the status is written next to each bar, so nothing is told by
  colour alone); the page shows ``view.landkreise`` as the table equivalent.
* :func:`programme_csv` ``(view) -> Iterator[str]``: the CSV in chunks for a streamed response
  (UTF-8 with BOM, ``;``, CRLF, German headers); encode each chunk as UTF-8.

No names of people appear anywhere here: projects hold none, and what a consent showed in an
example (name, contact) is not part of this view at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext
from markupsafe import Markup
from sqlalchemy import select

from courses.models import ProjectStatus
from courses.services.dates import format_day
from courses.services.projects import (
    SIZE_CLASS_LABELS,
    STATUS_LABELS,
    ProjectFilter,
    ProjectRow,
    lotse_courses,
    project_rows,
)
from lti_tool.extensions import db
from lti_tool.models import LtiContext

from .csv_export import CsvFields

#: Rows without a Landkreis (a Kommune missing from the list) are counted under this label.
NO_LANDKREIS = lazy_gettext("ohne Landkreis")

CSV_HEADERS = [
    lazy_gettext("Kurs"),
    lazy_gettext("Projekt"),
    lazy_gettext("Status"),
    lazy_gettext("Kommune"),
    lazy_gettext("Gemeindeschlüssel"),
    lazy_gettext("Landkreis"),
    lazy_gettext("Größe der Kommune"),
    lazy_gettext("Best-Practice-Modul"),
    lazy_gettext("Navigatoren"),
    lazy_gettext("Meilensteine"),
    lazy_gettext("Meilensteine erledigt"),
    lazy_gettext("Coaching-Hinweise"),
    lazy_gettext("Als Praxisbeispiel veröffentlicht"),
    lazy_gettext("Demo"),
    lazy_gettext("Zuletzt geändert"),
]


@dataclass(frozen=True)
class CourseInfo:
    id: int
    title: str
    label: str | None


@dataclass(frozen=True)
class LandkreisCounts:
    """One row of the table equivalent: the projects of a Landkreis per status."""

    landkreis: str
    counts: tuple[int, ...]
    total: int


@dataclass(frozen=True)
class ProgrammeView:
    courses: list[CourseInfo]
    rows: list[ProjectRow]
    statuses: list[tuple[str, str]]
    landkreise: list[LandkreisCounts]
    totals: tuple[int, ...]
    total: int

    def course_title(self, course_pk: int) -> str:
        """The course's title with its short name (a course copied each year keeps its title)."""
        for course in self.courses:
            if course.id == course_pk:
                return f"{course.title} ({course.label})" if course.label else course.title
        return ""


def programme_view(lotse_pk: int, *, filters: ProjectFilter | None = None) -> ProgrammeView:
    """The projects of every course the Lotse has launched in, with their counts. A constant
    number of queries, however many projects and courses."""
    course_pks = lotse_courses(lotse_pk)
    courses = [
        CourseInfo(id=pk, title=title or context_id, label=label)
        for pk, title, label, context_id in db.session.execute(
            select(LtiContext.id, LtiContext.title, LtiContext.label, LtiContext.context_id)
            .where(LtiContext.id.in_(course_pks))
            .order_by(LtiContext.title, LtiContext.id)
        )
    ]
    rows = project_rows(course_pks, filters=filters or ProjectFilter())
    statuses = [(status.value, str(STATUS_LABELS[status])) for status in ProjectStatus]
    index = {value: i for i, (value, _label) in enumerate(statuses)}
    by_kreis: dict[str, list[int]] = {}
    for row in rows:
        counts = by_kreis.setdefault(row.landkreis or str(NO_LANDKREIS), [0] * len(statuses))
        counts[index[row.status]] += 1
    landkreise = [
        LandkreisCounts(landkreis=kreis, counts=tuple(counts), total=sum(counts))
        for kreis, counts in sorted(by_kreis.items(), key=lambda item: item[0].casefold())
    ]
    totals = tuple(sum(k.counts[i] for k in landkreise) for i in range(len(statuses)))
    return ProgrammeView(
        courses=courses,
        rows=rows,
        statuses=statuses,
        landkreise=landkreise,
        totals=totals,
        total=len(rows),
    )


def programme_svg(view: ProgrammeView, *, title: str, description: str) -> Markup:
    """Projects per Landkreis and status as inline SVG (no script, no external resource): a
    heading line per Landkreis, then a bar per status with the status's name and count."""
    width, label_w, bar_max, row_h, head_h, top = 620, 150, 380, 24, 28, 8
    groups = view.landkreise
    height = top * 2 + sum(head_h + row_h * len(view.statuses) for _g in groups)
    highest = max((c for g in groups for c in g.counts), default=0) or 1
    parts = [
        Markup(
            '<svg class="lotse-chart projects-chart" xmlns="http://www.w3.org/2000/svg" '
            'role="img" viewBox="0 0 {w} {h}" width="100%" preserveAspectRatio="xMinYMin meet" '
            'aria-labelledby="projects-chart-title projects-chart-desc" focusable="false">'
        ).format(w=width, h=max(height, top * 2)),
        Markup('<title id="projects-chart-title">{}</title>').format(title),
        Markup('<desc id="projects-chart-desc">{}</desc>').format(description),
    ]
    y = top
    for group in groups:
        parts.append(
            Markup('<text x="0" y="{y}" class="lotse-chart-heading">{name}</text>').format(
                y=y + head_h - 8, name=group.landkreis
            )
        )
        y += head_h
        for i, ((_value, label), count) in enumerate(zip(view.statuses, group.counts, strict=True)):
            length = round(bar_max * count / highest)
            parts.append(
                Markup(
                    '<g class="lotse-chart-row">'
                    '<text x="{lx}" y="{ty}" text-anchor="end" class="lotse-chart-label">'
                    "{label}</text>"
                    '<rect x="{bx}" y="{by}" width="{bw}" height="{bh}" '
                    'class="lotse-chart-bar b{i}"/>'
                    '<text x="{vx}" y="{ty}" class="lotse-chart-value">{count}</text>'
                    "</g>"
                ).format(
                    lx=label_w - 8,
                    ty=y + row_h / 2 + 5,
                    label=label,
                    bx=label_w,
                    by=y + 3,
                    bw=max(length, 1 if count else 0),
                    bh=row_h - 6,
                    i=i,
                    vx=label_w + length + 6,
                    count=count,
                )
            )
            y += row_h
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def programme_csv(view: ProgrammeView) -> Iterator[str]:
    """The programme view as CSV for German Excel, in chunks (BOM first): one row per project,
    alphabetically by title. Cells that Excel would run as formulas stay text."""
    yes, no = _("ja"), _("nein")
    fields = CsvFields()
    yield "\ufeff" + fields([str(h) for h in CSV_HEADERS]) + "\r\n"
    for row in view.rows:
        yield (
            fields(
                [
                    view.course_title(row.course_pk),
                    row.title,
                    row.status_label,
                    row.municipality_name,
                    row.municipality_key,
                    row.landkreis,
                    str(SIZE_CLASS_LABELS[row.size_class]) if row.size_class else "",
                    row.module_title or "",
                    row.members,
                    row.milestones,
                    row.milestones_done,
                    row.notes,
                    yes if row.published else no,
                    yes if row.is_demo else no,
                    format_day(row.updated_at),
                ]
            )
            + "\r\n"
        )
