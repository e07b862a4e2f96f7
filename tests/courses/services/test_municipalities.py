"""The official list of Saxon Gemeinden, its loader, matching, and who assigns a Navigator's
municipality: the LMS's custom parameter, the Navigator once, the Lotse's correction."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from flask import Flask

from courses.models import NavigatorMunicipality
from courses.services.municipalities import (
    DEFAULT_LIST_PATH,
    KREISE,
    MunicipalityListError,
    match,
    official_list,
    parse_list,
)
from lti_tool.extensions import db
from tests import factories as f
from tests.courses.conftest import TokenClient


def test_the_shipped_list_is_complete_and_well_formed(sqlite_app: Flask) -> None:
    found = official_list()
    assert len(found) == 418
    assert len({m.key for m in found}) == 418
    assert sum(1 for m in found if m.name.endswith(", Stadt")) == 169
    assert all(len(m.key) == 8 and m.key.isdigit() and m.key.startswith("14") for m in found)
    assert {m.key[:5] for m in found} == set(KREISE)
    assert all(m.kreis == KREISE[m.key[:5]] for m in found)
    kreisfrei = sorted(m.display_name for m in found if m.kreis.startswith("Kreisfreie"))
    assert kreisfrei == ["Chemnitz", "Dresden", "Leipzig"]
    assert Counter(m.kreis for m in found)["Erzgebirgskreis"] == 59
    rathen = match("14628310")
    assert rathen is not None and rathen.display_name == "Kurort Rathen"
    assert len({m.label for m in found}) == 418  # the chooser's labels are unique
    header = DEFAULT_LIST_PATH.read_text(encoding="utf-8").splitlines()[:8]
    assert any("Statistischen Landesamtes" in line for line in header)


@pytest.mark.parametrize(
    ("value", "ags"),
    [
        ("14628310", "14628310"),
        ("146280000310", "14628310"),  # Amtlicher Regionalschlüssel
        ("Rathen, Kurort", "14628310"),
        ("Kurort Rathen", "14628310"),
        ("  kurort   RATHEN ", "14628310"),
        ("Kurort Rathen (Landkreis Sächsische Schweiz-Osterzgebirge)", "14628310"),
        ("Annaberg-Buchholz", "14521020"),
        ("Bernsdorf, Stadt", "14625030"),
        ("Bernsdorf (Landkreis Zwickau)", "14524010"),
        ("Bernsdorf", None),  # two Gemeinden: no guess
        ("Atlantis", None),
        ("09162000", None),  # München
        ("", None),
    ],
)
def test_match(sqlite_app: Flask, value: str, ags: str | None) -> None:
    found = match(value)
    assert (found.key if found else None) == ags


def test_loader_reads_the_official_formats() -> None:
    # Destatis/Statistisches Landesamt style: ARS, Windows-1252, no Kreis column, other Länder.
    cp1252 = (
        "Amtlicher Regionalschlüssel;Gemeindename;Einwohner\r\n"
        "146280000310;Rathen, Kurort;346\r\n"
        "091620000000;München, Landeshauptstadt;1500000\r\n"
        "145210000020;Annaberg-Buchholz, Stadt;19000\r\n"
    ).encode("cp1252")
    found = parse_list(cp1252)
    assert [(m.key, m.kreis) for m in found] == [
        ("14521020", "Erzgebirgskreis"),
        ("14628310", "Landkreis Sächsische Schweiz-Osterzgebirge"),
    ]
    comma = (
        '\ufeff"AGS","Gemeinde","Landkreis"\n'
        '"14511000","Chemnitz, Stadt","Kreisfreie Stadt Chemnitz"\n'
    )
    assert [m.display_name for m in parse_list(comma.encode())] == ["Chemnitz"]
    with pytest.raises(MunicipalityListError):
        parse_list(b"Spalte1;Spalte2\n1;2\n")
    with pytest.raises(MunicipalityListError):
        parse_list(b"# nur Kommentar\n")


def test_another_list_file_can_be_configured(sqlite_app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "gv.csv"
    path.write_text("Gemeindeschlüssel;Gemeindename\n14628310;Rathen, Kurort\n", encoding="utf-8")
    sqlite_app.config["MUNICIPALITY_LIST_PATH"] = str(path)
    assert [m.key for m in official_list()] == ["14628310"]
    result = sqlite_app.test_cli_runner().invoke(args=["courses", "lotse", "gemeinden"])
    assert "1 Gemeinden" in result.output


def _assignment(user_pk: int) -> NavigatorMunicipality | None:
    db.session.rollback()
    return db.session.get(NavigatorMunicipality, user_pk)


def test_navigator_chooses_once_and_the_lotse_corrects(app: Flask, tc: TokenClient) -> None:
    registration = f.platform()
    lotse = f.launch(registration, "lotse-1", lotse=True)
    nav = f.launch(registration, "nav-1", name="Nora Navi")

    page = tc.get("/gemeinde", nav.token)
    assert page.status_code == 200
    assert page.text.count("<option value=") == 418
    assert 'list="gemeinden"' in page.text

    ambiguous = tc.post("/gemeinde", nav.token, {"gemeinde": "Bernsdorf"})
    assert ambiguous.status_code == 422
    assert "Bernsdorf (Landkreis Bautzen)" in ambiguous.text
    assert "Bernsdorf (Landkreis Zwickau)" in ambiguous.text
    assert _assignment(nav.user.id) is None

    chosen = tc.post("/gemeinde", nav.token, {"ags": "14625030"})
    assert chosen.status_code == 303 and chosen.headers["Location"].startswith("/start?lt=")
    row = _assignment(nav.user.id)
    assert row is not None and (row.municipality_key, row.source) == ("14625030", "navigator")

    # Chosen once: the Navigator cannot change it any more.
    again = tc.post("/gemeinde", nav.token, {"ags": "14628310"})
    assert again.status_code == 200 and "wenden Sie sich bitte" in again.text
    assert _assignment(nav.user.id).municipality_key == "14625030"  # type: ignore[union-attr]

    # The Lotse corrects it in the roster.
    assert tc.get("/lotse/teilnehmende", lotse.token).status_code == 200
    wrong = tc.post(
        f"/lotse/teilnehmende/{nav.user.id}/gemeinde", lotse.token, {"gemeinde": "Atlantis"}
    )
    assert wrong.status_code == 422 and "nicht in der Liste" in wrong.text
    fixed = tc.post(
        f"/lotse/teilnehmende/{nav.user.id}/gemeinde", lotse.token, {"gemeinde": "Kurort Rathen"}
    )
    assert fixed.status_code == 303
    row = _assignment(nav.user.id)
    assert row is not None
    assert (row.municipality_key, row.source, row.updated_by_pk) == (
        "14628310",
        "lotse",
        lotse.user.id,
    )

    # A Lotse's correction outranks the LMS's parameter at later launches.
    later = f.launch(registration, "nav-1", custom={"gemeinde": "Pirna"})
    assert tc.get("/gemeinde", later.token).status_code == 200
    assert _assignment(nav.user.id).municipality_key == "14628310"  # type: ignore[union-attr]
    assert tc.get("/gemeinde", lotse.token).status_code == 403


def test_the_lms_custom_parameter_assigns_the_municipality(app: Flask, tc: TokenClient) -> None:
    registration = f.platform()
    nav = f.launch(registration, "nav-1", custom={"gemeinde": "Pirna"})
    page = tc.get("/gemeinde", nav.token)
    assert "Ihre Gemeinde:" in page.text and "Pirna" in page.text
    row = _assignment(nav.user.id)
    assert row is not None and (row.municipality_key, row.source) == ("14628270", "lms")
    # An unknown value is ignored: the Navigator chooses.
    other = f.launch(registration, "nav-2", custom={"gemeinde": "Entenhausen"})
    page = tc.get("/gemeinde", other.token)
    assert "einmalig Ihre Gemeinde" in page.text
    assert _assignment(other.user.id) is None
    # The LMS may change its own value (and overrides a Navigator's choice).
    moved = f.launch(registration, "nav-1", custom={"gemeinde": "14521020"})
    tc.get("/gemeinde", moved.token)
    assert _assignment(nav.user.id).municipality_key == "14521020"  # type: ignore[union-attr]


def test_the_overview_shows_the_lms_municipality_of_every_launcher(
    app: Flask, tc: TokenClient
) -> None:
    registration = f.platform()
    lotse = f.launch(registration, "lotse-1", lotse=True)
    f.launch(registration, "nav-1", custom={"gemeinde": "Pirna"})
    f.launch(registration, "nav-2", custom={"gemeinde": "14628310"})
    f.place(lotse.context, f.module("b1"))
    data = tc.get("/api/lotse/uebersicht", lotse.token).get_json()
    assert {n["sub"]: n["municipality"]["ags"] for n in data["navigators"]} == {
        "nav-1": "14628270",
        "nav-2": "14628310",
    }


def test_meine_module_asks_for_the_municipality_only_when_the_lms_sends_none(
    app: Flask, tc: TokenClient
) -> None:
    platform = f.platform()
    without = f.launch(platform, "nav-ohne")
    page = tc.get("/module", without.token)
    assert page.status_code == 200
    assert "Kommune wählen" in page.text

    with_param = f.launch(platform, "nav-mit", custom={"gemeinde": "Riesa"})
    page = tc.get("/module", with_param.token)
    assert page.status_code == 200
    assert "Kommune wählen" not in page.text
