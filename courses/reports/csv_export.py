"""The Lotse's overview as CSV for German Excel: UTF-8 with BOM, ``;``, CRLF, German headers."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext

from courses.services.dates import format_day

from .overview import Overview

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
            row.municipality_key or "",
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
                        format_day(column.due_at),
                        (yes if cell.overdue else no) if cell.assigned else "",
                    ]
                ]
            )
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")
