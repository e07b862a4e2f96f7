"""The JSON schema of the Lotse's overview (``GET /api/lotse/uebersicht``): every field a Lotse
gets, and nothing else."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from .overview import Cell, NavigatorRow, Overview


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
    # The JSON keeps the field name "ags" (Amtlicher Gemeindeschlüssel) of the published API.
    ags = fields.String(attribute="municipality_key")
    name = fields.String(attribute="municipality_name")
    kreis = fields.String()


class _NavigatorSchema(Schema):
    """A row without its cells (:meth:`OverviewSchema.dump_navigators` adds ``modules``)."""

    user_id = fields.Integer(attribute="user_pk")
    sub = fields.String()
    name = fields.String(allow_none=True)
    started = fields.Boolean()


class _SummarySchema(Schema):
    ags = fields.String(attribute="municipality_key", allow_none=True)
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
    navigators = fields.Method("dump_navigators")
    counts = fields.Function(lambda o: {k.value: v for k, v in o.counts.items()})
    overdue = fields.Integer()
    not_launched = fields.Integer()
    total_navigators = fields.Integer()
    municipalities = fields.List(fields.Nested(_SummarySchema))
    distribution = fields.List(fields.Nested(_BucketSchema))

    def dump_navigators(self, overview: Overview) -> list[dict[str, Any]]:
        """The rows, each distinct cell and each municipality dumped once (the overview's cells
        are interned: 1,000 Navigatoren × 12 modules are 12,000 cells but a few hundred
        distinct ones). The rows share these dicts; the response serialises them right away."""
        person, cell_schema, municipality = (
            _NavigatorSchema(),
            _CellSchema(),
            _MunicipalityRefSchema(),
        )
        cells: dict[Cell, dict[str, Any]] = {}
        municipalities: dict[str | None, dict[str, Any] | None] = {None: None}

        def cell(value: Cell) -> dict[str, Any]:
            dumped = cells.get(value)
            if dumped is None:
                dumped = cells[value] = cell_schema.dump(value)
            return dumped

        def navigator(row: NavigatorRow) -> dict[str, Any]:
            dumped = person.dump(row)
            if row.municipality_key not in municipalities:
                municipalities[row.municipality_key] = municipality.dump(row)
            dumped["municipality"] = municipalities[row.municipality_key]
            dumped["modules"] = [cell(c) for c in row.cells]
            return dumped

        return [navigator(row) for row in overview.rows]
