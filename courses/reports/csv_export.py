"""The Lotse's overview as CSV for German Excel: UTF-8 with BOM, ``;``, CRLF, German headers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext

from courses.services.dates import format_day

from .overview import Cell, Overview

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


#: Navigatoren per chunk of the streamed CSV (about 1,200 lines of 12 modules).
CHUNK_NAVIGATORS = 100


class CsvFields:
    """Fields as a piece of a CSV line (``;``-separated, quoted where needed, formula-safe);
    pieces joined with ``;`` are the line the csv module writes for all fields at once."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(
            self._buffer, delimiter=";", lineterminator="", quoting=csv.QUOTE_MINIMAL
        )

    def __call__(self, values: list[Any]) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow([_cell_text(v) for v in values])
        return self._buffer.getvalue()


def overview_csv(overview: Overview) -> Iterator[bytes]:
    """The overview as CSV for German Excel: UTF-8 with BOM, ``;``, CRLF, German headers, one
    row per Navigator and module (a Navigator without modules gets one row).

    Streamed: the texts are translated here, in the request; the iterator only formats, in
    chunks of :data:`CHUNK_NAVIGATORS` Navigatoren, and needs neither the request nor the
    database. Each distinct cell is formatted once, each person once."""
    fields = CsvFields()
    header = fields([str(h) for h in CSV_HEADERS])
    yes, no = _("ja"), _("nein")
    columns = {
        c.course_module_pk: (c.title, c.slug, format_day(c.due_at)) for c in overview.modules
    }
    no_cells = fields([""] * 7)
    tails: dict[Cell, str] = {}

    def tail(cell: Cell) -> str:
        text = tails.get(cell)
        if text is None:
            title, slug, due = columns[cell.course_module_pk]
            text = tails[cell] = fields(
                [
                    title,
                    slug,
                    yes if cell.assigned else no,
                    cell.status_label,
                    cell.percent if cell.assigned else "",
                    due,
                    (yes if cell.overdue else no) if cell.assigned else "",
                ]
            )
        return text

    def chunks() -> Iterator[bytes]:
        # The BOM: Excel reads UTF-8 only with it.
        lines = ["\ufeff" + header]
        rows = overview.rows
        for start in range(0, len(rows), CHUNK_NAVIGATORS):
            for row in rows[start : start + CHUNK_NAVIGATORS]:
                person = fields(
                    [
                        row.name or "",
                        row.sub,
                        row.municipality_name or "",
                        row.municipality_key or "",
                        row.kreis or "",
                        yes if row.started else no,
                    ]
                )
                if not row.cells:
                    lines.append(f"{person};{no_cells}")
                lines.extend(f"{person};{tail(cell)}" for cell in row.cells)
            yield ("\r\n".join(lines) + "\r\n").encode("utf-8")
            lines = []
        if not rows:
            yield ("\r\n".join(lines) + "\r\n").encode("utf-8")

    return chunks()
