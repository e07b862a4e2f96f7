"""Dates as the programme means them: Europe/Berlin, written TT.MM.JJJJ, a due date ending at the
end of its day."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

BERLIN = ZoneInfo("Europe/Berlin")


def format_day(value: datetime | None) -> str:
    """TT.MM.JJJJ in Europe/Berlin."""
    return value.astimezone(BERLIN).strftime("%d.%m.%Y") if value else ""


def format_moment(value: datetime | None) -> str:
    """TT.MM.JJJJ, HH:MM Uhr in Europe/Berlin (the word "Uhr" in the page's language)."""
    if not value:
        return ""
    local = value.astimezone(BERLIN)
    return _("%(day)s, %(time)s Uhr", day=local.strftime("%d.%m.%Y"), time=local.strftime("%H:%M"))


def iso_day(value: datetime | None) -> str:
    """YYYY-MM-DD in Europe/Berlin (the value of a date input, a file name's date)."""
    return value.astimezone(BERLIN).date().isoformat() if value else ""


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
