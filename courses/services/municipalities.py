"""Each Navigator's municipality: the official list of Saxon Gemeinden and the stored assignment
(the page where a Navigator chooses it once is :mod:`courses.web.municipality`).

Where the assignment comes from, strongest first: a Lotse's correction, the LMS's custom parameter
``gemeinde`` (MUNICIPALITY_CUSTOM_PARAM) when it matches the list, the Navigator's own choice. A
Navigator chooses only while nothing is assigned; afterwards only the Lotse changes it.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from courses.models import MunicipalitySource, NavigatorMunicipality
from lti_tool.context import LaunchContext
from lti_tool.extensions import db
from lti_tool.models import utcnow

log = logging.getLogger(__name__)

DEFAULT_LIST_PATH = Path(__file__).resolve().parent.parent / "data" / "gemeinden_sachsen.csv"

#: Kreise of Saxony by the first five digits of the municipality key (for a list without Kreise).
KREISE = {
    "14511": "Kreisfreie Stadt Chemnitz",
    "14521": "Erzgebirgskreis",
    "14522": "Landkreis Mittelsachsen",
    "14523": "Vogtlandkreis",
    "14524": "Landkreis Zwickau",
    "14612": "Kreisfreie Stadt Dresden",
    "14625": "Landkreis Bautzen",
    "14626": "Landkreis Görlitz",
    "14627": "Landkreis Meißen",
    "14628": "Landkreis Sächsische Schweiz-Osterzgebirge",
    "14713": "Kreisfreie Stadt Leipzig",
    "14729": "Landkreis Leipzig",
    "14730": "Landkreis Nordsachsen",
}

# Header names of the official formats (Statistisches Landesamt, Destatis GV-ISys, REVOSax).
_KEY_COLUMNS = {
    "ags",
    "amtlicher gemeindeschlüssel",
    "amtlicher gemeindeschluessel",
    "gemeindeschlüssel",
    "gemeindeschluessel",
    "schlüsselnummer",
    "schluesselnummer",
    "gemeindekennziffer",
    "gkz",
    "ars",
    "regionalschlüssel",
    "regionalschluessel",
    "amtlicher regionalschlüssel",
}
_NAME_COLUMNS = {
    "gemeindename",
    "gemeinde",
    "name",
    "amtlicher gemeindename",
    "gemeindename amtlich",
    "bezeichnung",
}
_KREIS_COLUMNS = {"kreis", "landkreis", "kreisname", "kreis/kreisfreie stadt"}


class MunicipalityListError(ValueError):
    """The list file cannot be read (message for the admin)."""


@dataclass(frozen=True)
class Municipality:
    """A Gemeinde of the official list."""

    key: str
    """The Amtlicher Gemeindeschlüssel (AGS), eight digits, e.g. ``14628310``."""
    name: str
    """Official spelling, e.g. ``Rathen, Kurort``."""
    kreis: str

    @property
    def display_name(self) -> str:
        """The name as people write it: ``Kurort Rathen``, ``Annaberg-Buchholz``."""
        parts = [p.strip() for p in self.name.split(",")]
        base, extras = parts[0], parts[1:]
        if "Kurort" in extras:
            return f"Kurort {base}"
        return base

    @property
    def label(self) -> str:
        """Unique text for the chooser: display name and Kreis."""
        return f"{self.display_name} ({self.kreis})"


def _normalise_header(value: str) -> str:
    return " ".join(value.replace("\ufeff", "").strip().strip('"').lower().split())


def _fold(value: str) -> str:
    value = unicodedata.normalize("NFC", value).casefold()
    return " ".join(re.sub(r"[\u2010-\u2015]", "-", value).split())


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # The statistics offices' exports from Excel are often Windows-1252.
        return data.decode("cp1252")


def _key_of(raw: str) -> str | None:
    digits = re.sub(r"\D", "", raw)
    if len(digits) == 12:  # Amtlicher Regionalschlüssel: Land, RB, Kreis, Verband, Gemeinde
        digits = digits[:5] + digits[9:]
    if len(digits) != 8 or not digits.startswith("14"):
        return None
    return digits


def parse_list(data: bytes) -> list[Municipality]:
    """Read a Gemeinde list in the formats described in ``courses/data/README.md``."""
    lines = [
        line for line in _decode(data).splitlines() if line.strip() and not line.startswith("#")
    ]
    if not lines:
        raise MunicipalityListError("Die Gemeindeliste ist leer.")
    header_line = lines[0]
    delimiter = max((";", ",", "\t"), key=header_line.count)
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
    header = [_normalise_header(h) for h in rows[0]]

    def column(names: set[str]) -> int | None:
        return next((i for i, h in enumerate(header) if h in names), None)

    key_col, name_col, kreis_col = (
        column(_KEY_COLUMNS),
        column(_NAME_COLUMNS),
        column(_KREIS_COLUMNS),
    )
    if key_col is None or name_col is None:
        raise MunicipalityListError(
            "Die Kopfzeile der Gemeindeliste braucht eine Schlüssel- und eine Namensspalte "
            f"(gefunden: {', '.join(rows[0])})."
        )
    found: dict[str, Municipality] = {}
    for row in rows[1:]:
        if len(row) <= max(key_col, name_col):
            continue
        key = _key_of(row[key_col])
        name = row[name_col].strip()
        if key is None or not name or key in found:
            continue
        kreis = row[kreis_col].strip() if kreis_col is not None and len(row) > kreis_col else ""
        found[key] = Municipality(key=key, name=name, kreis=kreis or KREISE.get(key[:5], ""))
    if not found:
        raise MunicipalityListError("Die Gemeindeliste enthält keine sächsische Gemeinde.")
    return sorted(found.values(), key=lambda m: (_fold(m.display_name), m.kreis))


@lru_cache(maxsize=4)
def _load(path: str) -> tuple[Municipality, ...]:
    return tuple(parse_list(Path(path).read_bytes()))


def _list_path() -> str:
    return str(current_app.config.get("MUNICIPALITY_LIST_PATH") or DEFAULT_LIST_PATH)


def official_list() -> tuple[Municipality, ...]:
    """The Gemeinden of MUNICIPALITY_LIST_PATH, sorted by name (read once per process)."""
    return _load(_list_path())


@dataclass(frozen=True)
class _Index:
    """The official list folded once: every launch with a ``gemeinde`` parameter matches it
    (folding 418 names per call cost ~20 ms under load)."""

    by_key: dict[str, Municipality]
    by_label: dict[str, list[Municipality]]
    by_name: dict[str, list[Municipality]]
    labels: tuple[tuple[str, Municipality], ...]


def _index() -> _Index:
    return _index_of(_list_path())


@lru_cache(maxsize=4)
def _index_of(path: str) -> _Index:
    # Keyed by the list's path: hashing 418 entries per call would cost what the index saves.
    municipalities = _load(path)
    by_label: dict[str, list[Municipality]] = {}
    by_name: dict[str, list[Municipality]] = {}
    for m in municipalities:
        by_label.setdefault(_fold(m.label), []).append(m)
        for name in {_fold(m.name), _fold(m.display_name)}:
            by_name.setdefault(name, []).append(m)
    return _Index(
        by_key={m.key: m for m in municipalities},
        by_label=by_label,
        by_name=by_name,
        labels=tuple((_fold(m.label), m) for m in municipalities),
    )


def by_key(key: str) -> Municipality | None:
    """The Gemeinde of the official list with this key."""
    return _index().by_key.get(key)


def match(value: Any) -> Municipality | None:
    """The Gemeinde ``value`` names unambiguously: its AGS (or ARS), its chooser label, its
    official name or its display name. Case and spacing do not matter."""
    if not isinstance(value, str) or not value.strip():
        return None
    key = _key_of(value) if re.fullmatch(r"[\d\s]+", value.strip()) else None
    if key:
        return by_key(key)
    index = _index()
    wanted = _fold(value)
    by_label = index.by_label.get(wanted, [])
    if len(by_label) == 1:
        return by_label[0]
    # "Bernsdorf" is the official name of one Gemeinde and the everyday name of another
    # ("Bernsdorf, Stadt"): a name that fits several is no match.
    by_name = index.by_name.get(wanted, [])
    return by_name[0] if len(by_name) == 1 else None


def search(value: str, limit: int = 12) -> list[Municipality]:
    """Gemeinden whose name contains ``value`` (for a chooser without JavaScript)."""
    wanted = _fold(value)
    if not wanted:
        return []
    return [m for label, m in _index().labels if wanted in label][:limit]


#: A source may replace an assignment of the same or a weaker source only.
_STRENGTH = {
    MunicipalitySource.NAVIGATOR: 0,
    MunicipalitySource.LMS: 1,
    MunicipalitySource.LOTSE: 2,
}


def assignment_of(user_pk: int) -> NavigatorMunicipality | None:
    """The Navigator's stored municipality, if any."""
    return db.session.get(NavigatorMunicipality, user_pk)


def assign(
    user_pk: int,
    municipality: Municipality,
    source: MunicipalitySource,
    *,
    by_user_pk: int | None = None,
) -> NavigatorMunicipality | None:
    """Assign ``municipality`` unless a stronger source already did; returns the row. Flushes."""
    row = _assign(assignment_of(user_pk), user_pk, municipality, source, by_user_pk)
    db.session.flush()
    return row


def _assign(
    row: NavigatorMunicipality | None,
    user_pk: int,
    municipality: Municipality,
    source: MunicipalitySource,
    by_user_pk: int | None = None,
) -> NavigatorMunicipality:
    if row is not None and _STRENGTH[MunicipalitySource(row.source)] > _STRENGTH[source]:
        return row
    if row is None:
        row = NavigatorMunicipality(user_pk=user_pk)
        db.session.add(row)
    if (row.municipality_key, row.source) != (
        municipality.key,
        source.value,
    ) or row.name != municipality.name:
        row.municipality_key = municipality.key
        row.name = municipality.name
        row.source = source.value
        row.updated_at = utcnow()
        row.updated_by_pk = by_user_pk
        log.info(
            "municipality assigned: user=%s key=%s source=%s",
            user_pk,
            row.municipality_key,
            source.value,
        )
    return row


def apply_from_customs(customs: dict[int, dict[str, Any] | None]) -> None:
    """For several Navigatoren at once (user pk -> custom parameters of their newest launch):
    assign what the LMS sends, in one query. Flushes."""
    found = {
        user_pk: municipality
        for user_pk, custom in customs.items()
        if (municipality := launch_municipality(custom)) is not None
    }
    if not found:
        return
    existing = {
        row.user_pk: row
        for row in db.session.scalars(
            select(NavigatorMunicipality).where(NavigatorMunicipality.user_pk.in_(list(found)))
        )
    }
    for user_pk, municipality in found.items():
        _assign(existing.get(user_pk), user_pk, municipality, MunicipalitySource.LMS)
    db.session.flush()


def launch_municipality(custom: Mapping[str, Any] | None) -> Municipality | None:
    """The Gemeinde a launch's custom parameters name, if it is on the list."""
    if not custom:
        return None
    return match(custom.get(current_app.config["MUNICIPALITY_CUSTOM_PARAM"]))


def apply_from_launch(launch: LaunchContext) -> NavigatorMunicipality | None:
    """Take the municipality from the launch's custom parameter when the LMS sends one that is
    on the list. Call it when a Navigator launches. Flushes."""
    found = launch_municipality(launch.custom)
    if found is None:
        return assignment_of(launch.user_pk)
    return assign(launch.user_pk, found, MunicipalitySource.LMS)


def needs_choice(launch: LaunchContext) -> bool:
    """True when this Navigator has no municipality yet (the Navigator views link to /gemeinde)."""
    return apply_from_launch(launch) is None
