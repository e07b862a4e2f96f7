"""The Praxisprojekt pages: what they show in German, their forms, and bad input (a German 422
with the form as the person filled it, nothing stored)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import func, select

from courses.models import (
    Project,
    ProjectConsent,
    ProjectCourseSetting,
    ProjectMilestone,
    ProjectNote,
)
from courses.services.projects import consent_text
from lti_tool.extensions import db
from tests import factories as f
from tests.courses.conftest import TokenClient
from tests.courses.web.test_projects_flow import (
    BEST_PRACTICE,
    catalogue,
    kommune,
    project_form,
    project_id_of,
)


@dataclass
class Course:
    nav: f.Started
    lotse: f.Started
    p1_pk: int
    b6_pk: int


def _course() -> Course:
    moodle = f.platform()
    b6, p1 = catalogue()
    nav = f.launch(moodle, "nav-1", context_id="kurs-1", name="Nora Navi")
    lotse = f.launch(moodle, "lotse-1", lotse=True, context_id="kurs-1")
    f.place(nav.context, b6)
    f.place(nav.context, p1)
    kommune(nav.user.id)
    return Course(nav=nav, lotse=lotse, p1_pk=p1.id, b6_pk=b6.id)


def _project(tc: TokenClient, course: Course, **values: str) -> int:
    created = tc.post("/projekte/neu", course.nav.token, project_form(**values))
    assert created.status_code == 303, created.text
    return project_id_of(created.headers["Location"])


def _count(model: type) -> int:
    db.session.rollback()
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def test_my_projects_empty_offers_an_empty_project(app: Flask, tc: TokenClient) -> None:
    course = _course()
    page = tc.get("/projekte", course.nav.token)
    assert page.status_code == 200
    text = f.text_of(page.data)
    assert "Meine Praxisprojekte" in text
    assert "Leeres Praxisprojekt anlegen" in text
    assert "Aus meinem Steckbrief beginnen" not in text  # no Steckbrief handed in
    # The Navigator's navigation links the new pages.
    assert 'href="/projekte?lt=' in page.text and 'href="/praxisbeispiele?lt=' in page.text


def test_without_a_kommune_the_page_asks_for_it(app: Flask, tc: TokenClient) -> None:
    moodle = f.platform()
    nav = f.launch(moodle, "nav-ohne", context_id="kurs-1")
    text = f.text_of(tc.get("/projekte", nav.token).data)
    assert "Bitte geben Sie zuerst an, für welche Kommune Sie arbeiten." in text
    refused = tc.post("/projekte/neu", nav.token, project_form())
    assert refused.status_code == 422
    assert "Bitte wählen Sie zuerst Ihre Kommune" in f.text_of(refused.data)
    assert _count(Project) == 0


def test_new_project_from_the_steckbrief_is_prefilled(app: Flask, tc: TokenClient) -> None:
    course = _course()
    handed_in = tc.post(
        "/module/b6-digitalisierungsmanagement/einheit/projektsteckbrief/abgabe",
        course.nav.token,
        {
            "text": "# Bewohnerparken digital\nAntrag bis Zahlung online, p1-hundesteuer-online.",
            "aktion": "einreichen",
        },
    )
    assert handed_in.status_code == 303
    assert "Aus meinem Steckbrief beginnen" in tc.get("/projekte", course.nav.token).text
    form = tc.get("/projekte/neu", course.nav.token, aus="steckbrief")
    assert form.status_code == 200
    assert 'value="Bewohnerparken digital"' in form.text
    assert "Antrag bis Zahlung online" in form.text
    assert f'<option value="{course.p1_pk}" selected>' in form.text
    assert "Die Angaben stammen aus Ihrem Projektsteckbrief." in f.text_of(form.data)


def test_new_project_without_steckbrief_from_steckbrief_is_404(app: Flask, tc: TokenClient) -> None:
    course = _course()
    assert tc.get("/projekte/neu", course.nav.token, aus="steckbrief").status_code == 404


def test_bad_new_project_keeps_the_input(app: Flask, tc: TokenClient) -> None:
    course = _course()
    sent = project_form(
        titel="", ziel="Mein langer Zieltext <b>", status="fertig", groesse="riesig"
    )
    refused = tc.post("/projekte/neu", course.nav.token, sent)
    assert refused.status_code == 422
    text = f.text_of(refused.data)
    assert "Bitte prüfen Sie Ihre Angaben" in text
    assert "Bitte geben Sie dem Projekt einen Titel." in text
    assert "Bitte wählen Sie einen Status aus der Liste." in text
    assert "Bitte wählen Sie eine Größe aus der Liste." in text
    assert "Mein langer Zieltext &lt;b&gt;" in refused.text  # kept, and escaped
    assert 'href="#titel"' in refused.text and 'aria-invalid="true"' in refused.text
    assert "<title>Fehler: " in refused.text
    assert _count(Project) == 0


def test_the_project_page_and_saving(app: Flask, tc: TokenClient) -> None:
    course = _course()
    pid = _project(tc, course, modul="")
    page = tc.get(f"/projekte/{pid}", course.nav.token)
    assert page.status_code == 200
    text = f.text_of(page.data)
    for words in (
        "Projekt bearbeiten",
        "Meilensteine",
        "Noch keine Meilensteine.",
        "Notizen Ihrer Digital-Lotsin oder Ihres Digital-Lotsen",
        "Veröffentlichen können Sie das Projekt, sobald es „in Betrieb“ ist.",
        "Kurort Rathen",
    ):
        assert words in text, words
    unchanged = tc.post(f"/projekte/{pid}", course.nav.token, project_form())
    assert "Es gab nichts zu speichern" in f.text_of(
        tc.client.get(unchanged.headers["Location"]).data
    )
    saved = tc.post(
        f"/projekte/{pid}",
        course.nav.token,
        project_form(status="in_umsetzung", modul=str(course.p1_pk)),
    )
    assert saved.status_code == 303
    after = f.text_of(tc.client.get(saved.headers["Location"]).data)
    assert "Ihre Änderungen sind gespeichert." in after and "in Umsetzung" in after
    history = f.text_of(tc.get(f"/projekte/{pid}/verlauf", course.nav.token).data)
    assert "Verlauf der Änderungen" in history
    assert "geplant" in history and "in Umsetzung" in history
    assert "Online-Hundesteueranmeldung über Amt24" in history  # the module by its title, no id


def test_bad_project_edit_keeps_the_input_and_changes_nothing(app: Flask, tc: TokenClient) -> None:
    course = _course()
    pid = _project(tc, course)
    refused = tc.post(
        f"/projekte/{pid}",
        course.nav.token,
        project_form(titel="x" * 201, ergebnis="Mein Ergebnis bleibt", modul="999999"),
    )
    assert refused.status_code == 422
    text = f.text_of(refused.data)
    assert "Der Titel darf höchstens 200 Zeichen lang sein." in text
    assert "Bitte wählen Sie ein Best-Practice-Modul aus der Liste." in text
    assert "Mein Ergebnis bleibt" in text and "x" * 201 in refused.text
    db.session.rollback()
    project = db.session.get(Project, pid)
    assert project is not None and project.title == "Hundesteuer online" and project.result == ""


def test_milestones_add_change_and_bad_input(app: Flask, tc: TokenClient) -> None:
    course = _course()
    pid = _project(tc, course)
    refused = tc.post(
        f"/projekte/{pid}/meilensteine",
        course.nav.token,
        {"titel": "", "faellig_am": "31.02.2027", "zustand": "offen"},
    )
    assert refused.status_code == 422
    text = f.text_of(refused.data)
    assert "Bitte geben Sie dem Meilenstein einen Titel." in text
    assert "Bitte geben Sie den Termin als Datum an" in text
    assert 'value="31.02.2027"' in refused.text and 'href="#ms-titel"' in refused.text
    assert _count(ProjectMilestone) == 0

    added = tc.post(
        f"/projekte/{pid}/meilensteine",
        course.nav.token,
        {"titel": "Satzung beschlossen", "faellig_am": "2027-03-31", "zustand": "offen"},
    )
    assert added.status_code == 303
    page = f.text_of(tc.client.get(added.headers["Location"]).data)
    assert "Der Meilenstein ist gespeichert." in page
    assert "Satzung beschlossen" in page and "31.03.2027" in page
    milestone = db.session.scalars(select(ProjectMilestone)).one()
    bad_change = tc.post(
        f"/projekte/{pid}/meilensteine/{milestone.id}",
        course.nav.token,
        {"titel": "Satzung geändert", "faellig_am": "2027-03-31", "zustand": "vielleicht"},
    )
    assert bad_change.status_code == 422
    assert 'value="Satzung geändert"' in bad_change.text
    assert f'href="#ms{milestone.id}-zustand"' in bad_change.text
    done = tc.post(
        f"/projekte/{pid}/meilensteine/{milestone.id}",
        course.nav.token,
        {"titel": "Satzung beschlossen", "faellig_am": "2027-03-31", "zustand": "erledigt"},
    )
    assert done.status_code == 303
    db.session.rollback()
    assert db.session.get(ProjectMilestone, milestone.id).state == "erledigt"  # type: ignore[union-attr]
    assert (
        tc.post(
            f"/projekte/{pid}/meilensteine/999999", course.nav.token, {"zustand": "offen"}
        ).status_code
        == 404
    )


def test_publish_form_says_what_becomes_visible(app: Flask, tc: TokenClient) -> None:
    course = _course()
    pid = _project(tc, course, status="in_betrieb")
    form = tc.get(f"/projekte/{pid}/veroeffentlichen", course.nav.token)
    assert form.status_code == 200
    text = f.text_of(form.data)
    assert "Was sichtbar wird" in text
    assert "Kurort Rathen" in text
    assert "nur wenn Sie es unten ankreuzen: Ihr Name" in text
    assert "Meinen Namen zeigen (Nora Navi)" in text
    assert "jederzeit mit sofortiger Wirkung widerrufen" in text
    assert consent_text().version in form.text

    no_consent = tc.post(
        f"/projekte/{pid}/veroeffentlichen",
        course.nav.token,
        {"version": consent_text().version, "mit_email": "ja", "email": "nora@rathen.example"},
    )
    assert no_consent.status_code == 422
    assert "Bitte bestätigen Sie die Einwilligung" in f.text_of(no_consent.data)
    assert 'value="nora@rathen.example"' in no_consent.text
    bad_email = tc.post(
        f"/projekte/{pid}/veroeffentlichen",
        course.nav.token,
        {
            "einwilligung": "ja",
            "version": consent_text().version,
            "mit_email": "ja",
            "email": "nora",
        },
    )
    assert bad_email.status_code == 422
    assert "Bitte geben Sie eine E-Mail-Adresse wie name@kommune.de an" in f.text_of(bad_email.data)
    assert 'value="nora"' in bad_email.text
    assert _count(ProjectConsent) == 0

    published = tc.post(
        f"/projekte/{pid}/veroeffentlichen",
        course.nav.token,
        {"einwilligung": "ja", "version": consent_text().version},
    )
    assert published.status_code == 303
    page = f.text_of(tc.client.get(published.headers["Location"]).data)
    assert "Ihr Praxisprojekt ist jetzt als Praxisbeispiel im Programm sichtbar." in page
    assert "Einwilligung widerrufen und Veröffentlichung beenden" in page
    consent = db.session.scalars(select(ProjectConsent)).one()
    assert consent.show_name is False and consent.contact_email is None


def test_publishing_a_project_not_in_betrieb_is_refused(app: Flask, tc: TokenClient) -> None:
    course = _course()
    pid = _project(tc, course, status="geplant")
    form = f.text_of(tc.get(f"/projekte/{pid}/veroeffentlichen", course.nav.token).data)
    assert "erst, wenn sein Status „in Betrieb“ ist" in form
    refused = tc.post(
        f"/projekte/{pid}/veroeffentlichen",
        course.nav.token,
        {"einwilligung": "ja", "version": consent_text().version},
    )
    assert refused.status_code == 422
    assert "Nur Projekte „in Betrieb“ können veröffentlicht werden." in f.text_of(refused.data)
    assert _count(ProjectConsent) == 0


def test_lotse_pages(app: Flask, tc: TokenClient) -> None:
    course = _course()
    pid = _project(tc, course, modul="")
    tc.post(
        f"/projekte/{pid}/meilensteine", course.nav.token, {"titel": "Start", "zustand": "offen"}
    )
    listed = tc.get("/lotse/projekte", course.lotse.token)
    assert listed.status_code == 200
    text = f.text_of(listed.data)
    assert "Praxisprojekte des Kurses" in text and "Hundesteuer online" in text
    assert "alphabetisch" in text.casefold()
    assert "0 von 1 erledigt" in text
    assert 'href="/lotse/projekte?lt=' in listed.text  # the Lotse navigation
    filtered = tc.get("/lotse/projekte", course.lotse.token, status="in_betrieb")
    assert "Keine Praxisprojekte für diese Auswahl." in f.text_of(filtered.data)
    by_kreis = tc.get(
        "/lotse/projekte",
        course.lotse.token,
        landkreis="Landkreis Sächsische Schweiz-Osterzgebirge",
    )
    assert "Hundesteuer online" in by_kreis.text
    assert tc.get("/lotse/projekte", course.lotse.token, modul="abc").status_code == 404

    page = tc.get(f"/lotse/projekte/{pid}", course.lotse.token)
    assert page.status_code == 200
    assert "Coaching-Notizen" in f.text_of(page.data) and "Meilenstein besprochen" in page.text
    empty = tc.post(f"/lotse/projekte/{pid}/notizen", course.lotse.token, {"notiz": "   "})
    assert empty.status_code == 422
    assert "Bitte prüfen Sie Ihre Angaben" in f.text_of(empty.data)
    too_long = tc.post(f"/lotse/projekte/{pid}/notizen", course.lotse.token, {"notiz": "z" * 5001})
    assert too_long.status_code == 422 and "z" * 5001 in too_long.text
    assert _count(ProjectNote) == 0
    noted = tc.post(f"/lotse/projekte/{pid}/notizen", course.lotse.token, {"notiz": "Gut so."})
    assert "Ihre Coaching-Notiz ist gespeichert." in f.text_of(
        tc.client.get(noted.headers["Location"]).data
    )


def test_gradebook_column_setting(app: Flask, tc: TokenClient) -> None:
    course = _course()
    page = tc.get("/lotse/projekte/einstellungen", course.lotse.token)
    assert page.status_code == 200
    assert "Notenbuch-Spalte für Praxisprojekte" in f.text_of(page.data)
    refused = tc.post(
        "/lotse/projekte/einstellungen", course.lotse.token, {"notenbuch": "vielleicht"}
    )
    assert refused.status_code == 422
    assert (
        _count(ProjectCourseSetting) == 0
        or not db.session.scalars(select(ProjectCourseSetting.gradebook_column)).first()
    )
    saved = tc.post("/lotse/projekte/einstellungen", course.lotse.token, {"notenbuch": "ja"})
    assert saved.status_code == 303
    db.session.rollback()
    assert db.session.scalars(select(ProjectCourseSetting.gradebook_column)).one() is True
    assert "Die Einstellung ist gespeichert." in f.text_of(
        tc.client.get(saved.headers["Location"]).data
    )


def test_examples_catalogue_and_module_section(app: Flask, tc: TokenClient) -> None:
    course = _course()
    pid = _project(tc, course, status="in_betrieb", modul="", groesse="unter_5000")
    module_page = tc.get(f"/module/{BEST_PRACTICE}", course.nav.token)
    assert module_page.status_code == 200
    assert "So haben es andere umgesetzt" not in module_page.text  # only if there are any
    tc.post(
        f"/projekte/{pid}",
        course.nav.token,
        project_form(status="in_betrieb", modul=str(course.p1_pk)),
    )
    tc.post(
        f"/projekte/{pid}/veroeffentlichen",
        course.nav.token,
        {"einwilligung": "ja", "version": consent_text().version},
    )
    empty = tc.get("/praxisbeispiele", course.nav.token, thema="Gremien")
    assert "Keine Praxisbeispiele für diese Auswahl." in f.text_of(empty.data)
    for query in (
        {"thema": "hundesteuer"},
        {"modul": str(course.p1_pk)},
        {"groesse": "unter_5000"},
        {"landkreis": "Landkreis Sächsische Schweiz-Osterzgebirge"},
    ):
        found = tc.get("/praxisbeispiele", course.nav.token, **query)
        assert "Hundesteuer online" in found.text, query
    text = f.text_of(tc.get("/praxisbeispiele", course.lotse.token).data)
    assert "keine Bewertungen, Ranglisten oder Aufrufzahlen" in text
    assert "Nora Navi" not in tc.get(f"/praxisbeispiele/{pid}", course.lotse.token).text  # no name
    assert tc.get("/praxisbeispiele", course.nav.token, modul="x").status_code == 404
    module_page = tc.get(f"/module/{BEST_PRACTICE}", course.nav.token)
    assert "So haben es andere umgesetzt" in module_page.text
    assert f"/praxisbeispiele/{pid}?lt=" in module_page.text


@pytest.mark.parametrize("path", ["/projekte", "/lotse/projekte", "/praxisbeispiele"])
def test_without_a_launch_401(app: Flask, tc: TokenClient, path: str) -> None:
    assert tc.get(path).status_code == 401


def test_programme_view_and_csv(app: Flask, tc: TokenClient) -> None:
    """A Lotse with two courses sees the projects of both, by Landkreis and status; a course they
    never launched in is not part of it."""
    course = _course()
    moodle = course.nav.launch.registration
    _project(tc, course, titel="Hundesteuer online", status="in_betrieb")
    second = f.launch(moodle, "lotse-1", lotse=True, context_id="kurs-2")
    nav_2 = f.launch(moodle, "nav-2", context_id="kurs-2")
    kommune(nav_2.user.id, "14627010")  # Coswig, Landkreis Meißen
    assert (
        tc.post("/projekte/neu", nav_2.token, project_form(titel="E-Akte Coswig")).status_code
        == 303
    )
    stranger = f.launch(moodle, "nav-3", context_id="kurs-3")
    kommune(stranger.user.id)
    assert (
        tc.post("/projekte/neu", stranger.token, project_form(titel="Fremder Kurs")).status_code
        == 303
    )

    page = tc.get("/lotse/programm", second.token)
    assert page.status_code == 200
    text = f.text_of(page.data)
    assert "Praxisprojekte in allen Ihren Kursen" in text
    assert "Ihre Kurse: 2" in text
    assert "Hundesteuer online" in text and "E-Akte Coswig" in text
    assert "Fremder Kurs" not in text
    assert "Landkreis Meißen" in text and "Landkreis Sächsische Schweiz-Osterzgebirge" in text
    assert '<svg class="lotse-chart' in page.text and '<th scope="row">alle</th>' in page.text
    # Only a project of the launch's own course is linked (the project page checks the course).
    assert page.text.count('href="/lotse/projekte/') == 1

    csv = tc.get("/lotse/programm.csv", second.token)
    assert csv.status_code == 200
    assert csv.headers["Content-Disposition"].startswith('attachment; filename="praxisprojekte-')
    body = csv.data.decode("utf-8")
    assert body.startswith("\ufeffKurs;Projekt;Status;")
    assert "E-Akte Coswig" in body and "Hundesteuer online" in body and "Fremder Kurs" not in body
    assert "\r\n" in body
