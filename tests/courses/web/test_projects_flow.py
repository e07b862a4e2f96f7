"""The whole way of a Praxisprojekt over HTTP, on SQLite and PostgreSQL: the B6 Steckbrief →
the project → milestones → a coaching note of the Lotse → "in Betrieb" → published with consent →
visible in another course (another launch) → withdrawn → gone everywhere at once."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from sqlalchemy import select

from courses.models import MunicipalitySource, Project, ProjectConsent, ProjectRevision
from courses.services.municipalities import assign, by_key
from lti_tool.extensions import db
from tests import factories as f
from tests.courses.conftest import TokenClient

#: The Kommune of the project (Kurort Rathen, Landkreis Sächsische Schweiz-Osterzgebirge).
RATHEN = "14628310"
STECKBRIEF = "b6-digitalisierungsmanagement"
BEST_PRACTICE = "p1-hundesteuer-online"


def kommune(user_pk: int, key: str = RATHEN) -> None:
    """The Navigator works for the Gemeinde ``key``."""
    chosen = by_key(key)
    assert chosen is not None
    assign(user_pk, chosen, MunicipalitySource.NAVIGATOR)
    db.session.commit()


def catalogue() -> tuple[Any, Any]:
    """The B6 module (its assignment is the Steckbrief) and a Best-Practice module."""
    b6 = f.make_module(
        STECKBRIEF,
        title="Digitalisierungsmanagement",
        position=6,
        units=(("rolle", "reading"), ("projektsteckbrief", "assignment")),
    )
    p1 = f.make_module(
        BEST_PRACTICE, title="Online-Hundesteueranmeldung über Amt24", kind="best-practice"
    )
    return b6, p1


def project_form(**values: str) -> dict[str, str]:
    form = {
        "titel": "Hundesteuer online",
        "ziel": "Die Hundesteuer wird online angemeldet.",
        "modul": "",
        "leistungen": "Hundesteuer über Amt24",
        "status": "geplant",
        "groesse": "unter_5000",
        "ergebnis": "",
        "erkenntnisse": "",
    }
    form.update(values)
    return form


def project_id_of(location: str) -> int:
    match = re.search(r"/projekte/(\d+)", location)
    assert match, location
    return int(match.group(1))


def test_the_whole_way(app: Flask, tc: TokenClient) -> None:
    moodle = f.platform()
    b6, p1 = catalogue()
    nav = f.launch(
        moodle, "nav-1", context_id="kurs-1", name="Nora Navi", email="nora@rathen.example"
    )
    lotse = f.launch(moodle, "lotse-1", lotse=True, context_id="kurs-1")
    elsewhere = f.launch(moodle, "nav-2", context_id="kurs-2", name="Olaf Anders")
    lotse_elsewhere = f.launch(moodle, "lotse-2", lotse=True, context_id="kurs-2")
    f.place(nav.context, b6)
    f.place(nav.context, p1)
    f.place(elsewhere.context, p1)
    kommune(nav.user.id)

    # The B6 Steckbrief, handed in through the assignment page.
    handed_in = tc.post(
        f"/module/{STECKBRIEF}/einheit/projektsteckbrief/abgabe",
        nav.token,
        {"text": "Titel: Hundesteuer online\nZiel: Anmeldung ohne Papier.", "aktion": "einreichen"},
    )
    assert handed_in.status_code == 303
    mine = tc.get("/projekte", nav.token)
    assert mine.status_code == 200
    assert "Aus meinem Steckbrief beginnen" in mine.text

    # The project, started from the Steckbrief: the form is prefilled, the Navigator completes it.
    prefilled = tc.get("/projekte/neu", nav.token, aus="steckbrief")
    assert prefilled.status_code == 200
    source = re.search(r'name="steckbrief" value="(\d+)"', prefilled.text)
    assert source, "the form names the Steckbrief it starts from"
    created = tc.post(
        "/projekte/neu",
        nav.token,
        {**project_form(modul=str(p1.id)), "steckbrief": source.group(1)},
    )
    assert created.status_code == 303, created.text
    pid = project_id_of(created.headers["Location"])
    project = db.session.get(Project, pid)
    assert project is not None
    assert project.municipality_key == RATHEN and project.source_submission_pk is not None
    assert "Ihr Praxisprojekt ist angelegt." in f.text_of(
        tc.client.get(created.headers["Location"]).data
    )

    # Milestones.
    for title, due in (("Formular steht", "2027-02-01"), ("Online in Amt24", "2027-04-01")):
        added = tc.post(
            f"/projekte/{pid}/meilensteine",
            nav.token,
            {"titel": title, "faellig_am": due, "zustand": "offen"},
        )
        assert added.status_code == 303, added.text
    db.session.expire_all()
    project = db.session.get(Project, pid)
    assert project is not None
    assert [m.title for m in project.milestones] == ["Formular steht", "Online in Amt24"]
    first = project.milestones[0]

    # The Lotse: the course's projects, a note, the first milestone discussed.
    listed = tc.get("/lotse/projekte", lotse.token)
    assert listed.status_code == 200 and "Hundesteuer online" in listed.text
    assert "Hundesteuer online" not in tc.get("/lotse/projekte", lotse_elsewhere.token).text
    noted = tc.post(
        f"/lotse/projekte/{pid}/notizen", lotse.token, {"notiz": "Denken Sie an die Satzung."}
    )
    assert noted.status_code == 303
    discussed = tc.post(f"/lotse/projekte/{pid}/meilensteine/{first.id}/besprochen", lotse.token)
    assert discussed.status_code == 303
    page = f.text_of(tc.get(f"/projekte/{pid}", nav.token).data)
    assert "Denken Sie an die Satzung." in page
    assert "besprochen am" in page

    # Not yet in Betrieb: nothing to publish.
    early = tc.post(
        f"/projekte/{pid}/veroeffentlichen",
        nav.token,
        {"einwilligung": "ja", "version": "1"},
    )
    assert early.status_code in (403, 409, 422)
    assert db.session.scalars(select(ProjectConsent)).first() is None

    # In Betrieb, then published with consent (name and e-mail shown).
    done = tc.post(
        f"/projekte/{pid}",
        nav.token,
        project_form(
            modul=str(p1.id),
            status="in_betrieb",
            ergebnis="40 % online.",
            erkenntnisse="Früh die Kasse fragen.",
        ),
    )
    assert done.status_code == 303
    consent_page = tc.get(f"/projekte/{pid}/veroeffentlichen", nav.token)
    assert consent_page.status_code == 200
    version = re.search(r'name="version" value="([^"]+)"', consent_page.text)
    assert version
    published = tc.post(
        f"/projekte/{pid}/veroeffentlichen",
        nav.token,
        {
            "einwilligung": "ja",
            "version": version.group(1),
            "mit_name": "ja",
            "mit_email": "ja",
            "email": "nora@rathen.example",
        },
    )
    assert published.status_code == 303, published.text

    # Visible in another course of the programme, for its Navigator and its Lotse, and on the
    # Best-Practice module's page there.
    for token in (elsewhere.token, lotse_elsewhere.token):
        catalogue_page = tc.get("/praxisbeispiele", token)
        assert catalogue_page.status_code == 200
        assert "Hundesteuer online" in catalogue_page.text
        detail = f.text_of(tc.get(f"/praxisbeispiele/{pid}", token).data)
        assert "Nora Navi" in detail and "nora@rathen.example" in detail
        assert "Denken Sie an die Satzung." not in detail  # coaching notes are never shared
    module_page = tc.get(f"/module/{BEST_PRACTICE}", elsewhere.token)
    assert "So haben es andere umgesetzt" in module_page.text
    assert "Hundesteuer online" in module_page.text

    # Withdrawn: gone at once, from the catalogue, the detail, the module page.
    withdrawn = tc.post(f"/projekte/{pid}/zurueckziehen", nav.token)
    assert withdrawn.status_code == 303
    for token in (elsewhere.token, lotse_elsewhere.token, nav.token):
        assert "Hundesteuer online" not in tc.get("/praxisbeispiele", token).text
        assert tc.get(f"/praxisbeispiele/{pid}", token).status_code == 404
    assert (
        "So haben es andere umgesetzt"
        not in tc.get(f"/module/{BEST_PRACTICE}", elsewhere.token).text
    )
    consents = db.session.scalars(select(ProjectConsent)).all()
    assert len(consents) == 1 and consents[0].withdrawn_at is not None

    # Every change is in the history, which the Navigator sees.
    actions = [
        r.action for r in db.session.scalars(select(ProjectRevision).order_by(ProjectRevision.id))
    ]
    assert actions[0] == "created" and "updated" in actions
    history = tc.get(f"/projekte/{pid}/verlauf", nav.token)
    assert history.status_code == 200 and "in Betrieb" in history.text
