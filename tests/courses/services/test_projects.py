"""Praxisprojekte (:mod:`courses.services.projects`): the whole flow from the B6 Steckbrief to a
published example and its withdrawal, the history, joining within one Kommune, who may see
which project, German validation errors that change nothing, the consent's record, the privacy
export and erasure, and the Praxisprojekt gradebook column."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from courses.models import (
    CatalogModule,
    CourseMembership,
    GradebookOutbox,
    Project,
    ProjectConsent,
    ProjectMember,
    ProjectMilestone,
    ProjectNote,
    ProjectRevision,
    Submission,
)
from courses.services import privacy, projects
from courses.services.projects import (
    ExampleQuery,
    ProjectFilter,
    ProjectForbidden,
    ProjectInvalid,
    ProjectNotFound,
)
from lti_tool.extensions import db
from lti_tool.models import LtiContext, LtiUser, utcnow
from tests import factories as f

OTHER_ISSUER = "https://andere-plattform.example"
EMAIL = "kontakt-anna@amtsberg.example"
ANNA_NAME = "Anna Amtsberg-Beispiel"
STECKBRIEF = (
    "# **Hundesteuer online anmelden**\n\n"
    "Bis Ende 2027 melden Bürgerinnen und Bürger ihren Hund über Amt24 an "
    "(Best-Practice-Modul p1-hundesteuer-online).\n"
)


@dataclass
class World:
    course: LtiContext
    sister_course: LtiContext
    foreign_course: LtiContext
    anna: LtiUser
    ben: LtiUser
    carl: LtiUser
    dora: LtiUser
    eva: LtiUser
    lena: LtiUser
    p1: CatalogModule
    steckbrief: Submission


def _user(registration_pk: int, sub: str, name: str | None = None) -> LtiUser:
    user = LtiUser(registration_pk=registration_pk, sub=sub, name=name)
    db.session.add(user)
    db.session.commit()
    return user


@pytest.fixture
def world(app: Flask) -> World:
    app.config["PROGRAMMES"] = {"andere": [OTHER_ISSUER]}
    home = f.make_platform()
    other = f.platform("Andere Plattform", OTHER_ISSUER, "client-x")
    course = LtiContext(registration_pk=home.id, context_id="kurs-2026", title="Kurs 2026")
    sister = LtiContext(registration_pk=home.id, context_id="kurs-2027", title="Kurs 2027")
    foreign = LtiContext(registration_pk=other.id, context_id="kurs-x", title="Anderer Kurs")
    db.session.add_all([course, sister, foreign])
    db.session.commit()
    anna = _user(home.id, "sub-anna", ANNA_NAME)
    ben = _user(home.id, "sub-ben", "Ben Beispiel")
    carl = _user(home.id, "sub-carl", "Carl Beispiel")
    dora = _user(home.id, "sub-dora", "Dora Beispiel")
    eva = _user(other.id, "sub-eva", "Eva Beispiel")
    lena = _user(home.id, "sub-lena", "Lena Lotsin")
    for user in (anna, ben):
        f.assign_municipality(user, "14521010", "Amtsberg")
    f.assign_municipality(carl, "14521020", "Annaberg-Buchholz, Stadt")
    f.assign_municipality(dora, "14522010", "Altmittweida")
    f.assign_municipality(eva, "14522020", "Augustusburg, Stadt")
    for context in (course, sister):
        db.session.add(
            CourseMembership(
                context_pk=context.id,
                user_pk=lena.id,
                role="lotse",
                source="launch",
                last_launch_at=utcnow(),
            )
        )
    db.session.commit()
    p1 = f.make_module(
        "p1-hundesteuer-online", kind="best-practice", title="Hundesteuer online", position=7
    )
    b6 = f.make_module(
        "b6-digitalisierungsmanagement", units=(("projektsteckbrief", "assignment"),)
    )
    unit = b6.units[0]
    steckbrief = Submission(
        user_pk=anna.id,
        context_pk=course.id,
        unit_pk=unit.id,
        unit_version_pk=unit.versions[0].id,
        text=STECKBRIEF,
        state="submitted",
    )
    db.session.add(steckbrief)
    db.session.commit()
    return World(course, sister, foreign, anna, ben, carl, dora, eva, lena, p1, steckbrief)


def _programme(context: LtiContext) -> str:
    return projects.programme_of(context.registration_pk)


def _in_betrieb(w: World) -> Project:
    project = projects.create_project(
        user_pk=w.anna.id,
        course_pk=w.course.id,
        data={"title": "Hundesteuer online", "goal": "Anmeldung über Amt24", "module_pk": w.p1.id},
    )
    projects.update_project(project, user_pk=w.anna.id, data={"status": "in_betrieb"})
    db.session.commit()
    return project


def _publish(w: World, project: Project) -> ProjectConsent:
    consent = projects.publish(
        project,
        user_pk=w.anna.id,
        show_name=True,
        contact_email=EMAIL,
        consent_version=projects.consent_text().version,
    )
    db.session.commit()
    return consent


def _export_text(user: LtiUser) -> str:
    return privacy.to_json(privacy.personal_data(user))


# --- the whole flow ------------------------------------------------------------------------------


def test_steckbrief_to_published_example_and_back(world: World) -> None:
    w = world
    draft = projects.steckbrief_of(w.anna.id, w.course.id)
    assert draft is not None
    assert draft.title == "Hundesteuer online anmelden"
    assert draft.goal.startswith("Bis Ende 2027 melden")
    assert draft.module_pk == w.p1.id
    assert projects.steckbrief_of(w.ben.id, w.course.id) is None

    project = projects.create_project(
        user_pk=w.anna.id,
        course_pk=w.course.id,
        data={
            "title": draft.title,
            "goal": draft.goal,
            "module_pk": str(draft.module_pk),
            "services": "Hundesteuer über Amt24",
            "size_class": "unter_5000",
        },
        from_submission_pk=draft.submission_pk,
    )
    db.session.commit()
    assert project.municipality_key == "14521010"
    assert project.municipality_name == "Amtsberg"
    assert project.landkreis == "Erzgebirgskreis"
    assert project.status == "idee"
    assert project.source_submission_pk == w.steckbrief.id
    assert [p.id for p in projects.projects_of_navigator(w.anna.id, w.course.id)] == [project.id]

    first = projects.add_milestone(
        project,
        user_pk=w.anna.id,
        data={"title": "Formular freigeschaltet", "due_on": "2027-03-31"},
    )
    second = projects.add_milestone(
        project, user_pk=w.anna.id, data={"title": "Satzung angepasst", "due_on": date(2027, 1, 15)}
    )
    projects.update_milestone(project, first.id, user_pk=w.anna.id, data={"state": "erledigt"})
    db.session.commit()
    assert [m.title for m in project.milestones] == ["Satzung angepasst", "Formular freigeschaltet"]

    # The Lotse coaches it: a note the Navigator sees, a milestone discussed.
    seen = projects.project_for_lotse(project.id, w.course.id)
    note = projects.add_note(
        seen, lotse_pk=w.lena.id, text="Bitte die Personalvertretung früh einbinden."
    )
    projects.mark_discussed(seen, second.id, lotse_pk=w.lena.id)
    db.session.commit()
    assert [n.id for n in projects.notes(project)] == [note.id]
    assert second.discussed_at is not None and second.discussed_by_pk == w.lena.id

    projects.update_project(
        project,
        user_pk=w.anna.id,
        data={"status": "in_betrieb", "result": "120 Anmeldungen online", "lessons": "Früh testen"},
    )
    db.session.commit()
    assert projects.examples(_programme(w.sister_course)) == []  # not published yet

    consent = _publish(w, project)
    assert projects.is_published(project)

    # Visible in another course of the programme, with what the consent allows.
    programme = _programme(w.sister_course)
    assert programme == _programme(w.course) == "default"
    found = projects.examples(programme)
    assert [e.project_id for e in found] == [project.id]
    shown = projects.example(programme, project.id)
    assert shown.contact_name == ANNA_NAME
    assert shown.contact_email == EMAIL
    assert shown.municipality_name == "Amtsberg" and shown.landkreis == "Erzgebirgskreis"
    assert [m.title for m in shown.milestones] == ["Satzung angepasst", "Formular freigeschaltet"]
    assert "Personalvertretung" not in repr(shown)  # coaching notes stay internal
    assert [e.project_id for e in projects.examples_for_module(programme, w.p1.id)] == [project.id]
    assert projects.examples(programme, query=ExampleQuery(text="amt24 hund")) != []
    assert projects.examples(programme, query=ExampleQuery(text="Bewohnerparken")) == []
    assert projects.examples(programme, query=ExampleQuery(landkreis="Erzgebirgskreis")) != []
    assert projects.examples(programme, query=ExampleQuery(size_class="ueber_100000")) == []
    # Not in another programme.
    assert _programme(w.foreign_course) == "andere"
    assert projects.examples("andere") == []
    with pytest.raises(ProjectNotFound):
        projects.example("andere", project.id)

    # Withdrawn: gone everywhere at once.
    withdrawn = projects.withdraw(project, user_pk=w.anna.id)
    db.session.commit()
    assert withdrawn is not None and withdrawn.id == consent.id
    assert consent.withdrawn_at is not None
    assert not projects.is_published(project)
    assert projects.examples(programme) == []
    assert projects.examples_for_module(programme, w.p1.id) == []
    with pytest.raises(ProjectNotFound):
        projects.example(programme, project.id)
    for other in (w.ben, w.dora, w.lena):
        text = _export_text(other)
        assert EMAIL not in text and ANNA_NAME not in text
    assert projects.withdraw(project, user_pk=w.anna.id) is None

    actions = [r.action for r in projects.history(project)]
    assert actions == [
        "created",
        "milestone_added",
        "milestone_added",
        "milestone_updated",
        "milestone_discussed",
        "updated",
        "published",
        "withdrawn",
    ]
    update = projects.history(project)[5]
    assert update.changes["status"] == {"old": "idee", "new": "in_betrieb"}
    assert update.changes["result"] == {"old": "", "new": "120 Anmeldungen online"}
    assert EMAIL not in json.dumps([r.changes for r in projects.history(project)])
    # The consent is kept as a record: who, which text, when given and withdrawn.
    assert [
        (c.consent_version, c.withdrawn_at is not None) for c in projects.consents(project)
    ] == [(projects.CONSENT_VERSION, True)]


def test_a_new_consent_replaces_the_one_in_force_and_leaving_betrieb_hides_it(world: World) -> None:
    w = world
    project = _in_betrieb(w)
    _publish(w, project)
    projects.join_project(project.id, user_pk=w.ben.id, course_pk=w.course.id)
    projects.publish(
        project,
        user_pk=w.ben.id,
        show_name=False,
        contact_email=None,
        consent_version=projects.CONSENT_VERSION,
    )
    db.session.commit()
    rows = projects.consents(project)
    assert [(r.user_pk, r.withdrawn_at is None) for r in rows] == [
        (w.anna.id, False),
        (w.ben.id, True),
    ]
    shown = projects.example("default", project.id)
    assert shown.contact_name is None and shown.contact_email is None

    projects.update_project(project, user_pk=w.ben.id, data={"status": "pausiert"})
    db.session.commit()
    assert projects.examples("default") == []
    projects.update_project(project, user_pk=w.ben.id, data={"status": "in_betrieb"})
    db.session.commit()
    assert [e.project_id for e in projects.examples("default")] == [project.id]


# --- who may do what -----------------------------------------------------------------------------


def test_only_navigators_of_the_same_kommune_and_course_join(world: World) -> None:
    w = world
    project = _in_betrieb(w)
    assert [p.id for p in projects.joinable_projects(w.ben.id, w.course.id)] == [project.id]
    assert projects.joinable_projects(w.carl.id, w.course.id) == []
    projects.join_project(project.id, user_pk=w.ben.id, course_pk=w.course.id)
    db.session.commit()
    assert {m.user_pk for m in project.members} == {w.anna.id, w.ben.id}
    assert projects.joinable_projects(w.ben.id, w.course.id) == []
    assert projects.project_for_navigator(project.id, w.ben.id, w.course.id) is project

    with pytest.raises(ProjectForbidden):
        projects.join_project(project.id, user_pk=w.carl.id, course_pk=w.course.id)
    with pytest.raises(ProjectNotFound):
        projects.join_project(project.id, user_pk=w.ben.id, course_pk=w.sister_course.id)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ProjectMember)) == 2
    assert projects.history(project)[-1].action == "joined"


def test_nobody_gets_another_kommunes_or_another_courses_project(world: World) -> None:
    w = world
    project = _in_betrieb(w)
    with pytest.raises(ProjectNotFound):
        projects.project_for_navigator(project.id, w.carl.id, w.course.id)
    with pytest.raises(ProjectNotFound):
        projects.project_for_navigator(project.id, w.anna.id, w.sister_course.id)
    with pytest.raises(ProjectNotFound):
        projects.project_for_navigator(10_000, w.anna.id, w.course.id)
    with pytest.raises(ProjectNotFound):
        projects.project_for_lotse(project.id, w.sister_course.id)
    with pytest.raises(ProjectForbidden):
        projects.update_project(project, user_pk=w.carl.id, data={"title": "Übernommen"})
    with pytest.raises(ProjectForbidden):
        projects.withdraw(project, user_pk=w.carl.id)
    # A Steckbrief of someone else cannot be the source.
    with pytest.raises(ProjectNotFound):
        projects.create_project(
            user_pk=w.ben.id,
            course_pk=w.course.id,
            data={"title": "Fremd"},
            from_submission_pk=w.steckbrief.id,
        )
    db.session.rollback()
    assert project.title == "Hundesteuer online"


def test_the_lotse_sees_the_courses_projects_alphabetically_and_filtered(world: World) -> None:
    w = world
    zebra = f.make_project(
        w.course,
        w.carl,
        title="Zebrastreifen-Meldung",
        key="14521020",
        name="Annaberg-Buchholz, Stadt",
        status="geplant",
    )
    alpha = f.make_project(w.course, w.anna, title="amtsblatt digital", module_pk=w.p1.id)
    f.make_project(w.sister_course, w.dora, title="Anderswo")
    rows = projects.projects_of_course(w.course.id, filters=ProjectFilter())
    assert [r.id for r in rows] == [alpha.id, zebra.id]
    assert rows[0].module_title == "Hundesteuer online" and rows[0].members == 1
    assert [
        r.id
        for r in projects.projects_of_course(w.course.id, filters=ProjectFilter(status="geplant"))
    ] == [zebra.id]
    assert [
        r.id
        for r in projects.projects_of_course(w.course.id, filters=ProjectFilter(module_pk=w.p1.id))
    ] == [alpha.id]
    assert [
        r.id
        for r in projects.projects_of_course(
            w.course.id, filters=ProjectFilter(municipality_key="14521020")
        )
    ] == [zebra.id]
    assert (
        projects.projects_of_course(w.course.id, filters=ProjectFilter(landkreis="Vogtlandkreis"))
        == []
    )
    options = projects.filter_options(w.course.id)
    assert options.modules == [(w.p1.id, "Hundesteuer online")]
    assert [name for _key, name in options.municipalities] == [
        "Amtsberg",
        "Annaberg-Buchholz, Stadt",
    ]
    assert sorted(projects.lotse_courses(w.lena.id)) == sorted([w.course.id, w.sister_course.id])
    assert projects.lotse_courses(w.anna.id) == []


# --- validation ----------------------------------------------------------------------------------


def _counts() -> dict[str, int]:
    return f.count_rows(
        Project, ProjectMember, ProjectMilestone, ProjectRevision, ProjectNote, ProjectConsent
    )


def test_bad_input_is_a_german_field_error_and_changes_nothing(world: World) -> None:
    w = world
    project = _in_betrieb(w)
    before = _counts()
    with pytest.raises(ProjectInvalid) as caught:
        projects.create_project(
            user_pk=w.anna.id,
            course_pk=w.course.id,
            data={"title": "  ", "status": "fertig", "module_pk": "999", "size_class": "riesig"},
        )
    assert set(caught.value.field_errors) == {"title", "status", "module_pk", "size_class"}
    assert "Titel" in caught.value.field_errors["title"]
    assert caught.value.errors == caught.value.field_errors
    with pytest.raises(ProjectInvalid) as caught:
        projects.create_project(
            user_pk=w.lena.id, course_pk=w.course.id, data={"title": "Ohne Kommune"}
        )
    assert "Kommune" in caught.value.field_errors["municipality"]
    with pytest.raises(ProjectInvalid) as caught:
        projects.update_project(
            project, user_pk=w.anna.id, data={"title": "x" * 201, "goal": "neu"}
        )
    assert set(caught.value.field_errors) == {"title"}
    with pytest.raises(ProjectInvalid) as caught:
        projects.add_milestone(
            project, user_pk=w.anna.id, data={"title": "", "due_on": "31.03.2027"}
        )
    assert set(caught.value.field_errors) == {"title", "due_on"}
    with pytest.raises(ProjectInvalid):
        projects.add_note(project, lotse_pk=w.lena.id, text="   ")
    with pytest.raises(ProjectInvalid) as caught:
        projects.publish(
            project,
            user_pk=w.anna.id,
            show_name=False,
            contact_email="keine-adresse",
            consent_version="1999-01",
        )
    assert set(caught.value.field_errors) == {"contact_email", "consent_version"}
    projects.update_project(project, user_pk=w.anna.id, data={"status": "geplant"})
    with pytest.raises(ProjectInvalid) as caught:
        projects.publish(
            project,
            user_pk=w.anna.id,
            show_name=False,
            contact_email=None,
            consent_version=projects.CONSENT_VERSION,
        )
    assert "in Betrieb" in caught.value.field_errors["status"]
    db.session.rollback()
    assert _counts() == before
    assert project.goal == "Anmeldung über Amt24"
    assert (
        projects.update_project(project, user_pk=w.anna.id, data={"goal": "Anmeldung über Amt24"})
        is None
    )


# --- privacy -------------------------------------------------------------------------------------


def test_export_holds_projects_notes_and_own_consents_only(world: World) -> None:
    w = world
    project = _in_betrieb(w)
    projects.add_milestone(
        project, user_pk=w.anna.id, data={"title": "Start", "due_on": "2027-01-01"}
    )
    projects.add_note(project, lotse_pk=w.lena.id, text="Hinweis-der-Lotsin-17")
    projects.join_project(project.id, user_pk=w.ben.id, course_pk=w.course.id)
    db.session.commit()
    _publish(w, project)

    anna = privacy.personal_data(w.anna)
    assert [p["title"] for p in anna["projects"]] == ["Hundesteuer online"]
    assert anna["projects"][0]["notes"][0]["text"] == "Hinweis-der-Lotsin-17"
    assert anna["projects"][0]["milestones"][0]["due_on"] == date(2027, 1, 1)
    assert [c["contact_email"] for c in anna["project_consents"]] == [EMAIL]
    assert anna["counts"]["project_member"] == 1 and anna["counts"]["project_consent"] == 1
    privacy.to_json(anna)  # dates serialise

    ben = _export_text(w.ben)
    assert "Hundesteuer online" in ben  # his project too
    assert EMAIL not in ben and ANNA_NAME not in ben  # but not Anna's consent

    lena = privacy.personal_data(w.lena)
    assert [n["text"] for n in lena["project_notes_written"]] == ["Hinweis-der-Lotsin-17"]
    assert lena["projects"] == []


def test_erasure_leaves_projects_consents_and_notes_without_the_person(world: World) -> None:
    w = world
    project = _in_betrieb(w)
    milestone = projects.add_milestone(project, user_pk=w.anna.id, data={"title": "Start"})
    projects.join_project(project.id, user_pk=w.ben.id, course_pk=w.course.id)
    note = projects.add_note(project, lotse_pk=w.lena.id, text="Weiter so")
    projects.mark_discussed(project, milestone.id, lotse_pk=w.lena.id)
    db.session.commit()
    _publish(w, project)
    project_id, milestone_id, note_id = project.id, milestone.id, note.id

    # Anna's erasure: she leaves the project, her consent goes, so does the example.
    privacy.erase(w.anna, actor=privacy.PrivacyActor.CLI, actor_ref="test")
    db.session.commit()
    assert projects.examples("default") == []
    assert db.session.scalar(select(func.count()).select_from(ProjectConsent)) == 0
    kept = db.session.get(Project, project_id)
    assert kept is not None and [m.user_pk for m in kept.members] == [w.ben.id]
    assert all(r.user_pk != w.anna.id for r in projects.history(kept))

    # The Lotse's erasure: notes and marks stay, unlinked.
    privacy.erase(w.lena, actor=privacy.PrivacyActor.CLI, actor_ref="test")
    db.session.commit()
    assert db.session.get(ProjectNote, note_id).lotse_pk is None
    ms = db.session.get(ProjectMilestone, milestone_id)
    assert ms.discussed_by_pk is None and ms.discussed_at is not None

    # The last member's erasure: the project goes with everything it had.
    erasure = privacy.erase(w.ben, actor=privacy.PrivacyActor.CLI, actor_ref="test")
    db.session.commit()
    assert erasure.counts["project"] == 1
    assert _counts() == dict.fromkeys(_counts(), 0)


def _end_every_course(days_ago: int) -> None:
    """Every course's last sign of life ``days_ago`` days back (no launches in this world)."""
    old = utcnow() - timedelta(days=days_ago)
    db.session.execute(update(LtiContext).values(created_at=old))
    db.session.execute(update(CourseMembership).values(created_at=old, last_launch_at=old))
    db.session.execute(update(Submission).values(updated_at=old))
    db.session.execute(update(LtiUser).values(created_at=old, last_launch_at=old))
    db.session.commit()


def test_retention_takes_a_courses_projects_but_keeps_a_published_example(world: World) -> None:
    w = world
    example = _in_betrieb(w)
    projects.add_note(example, lotse_pk=w.lena.id, text="Gut gemacht")
    _publish(w, example)
    draft = projects.create_project(
        user_pk=w.carl.id, course_pk=w.course.id, data={"title": "Ratsinformationssystem"}
    )
    projects.add_milestone(draft, user_pk=w.carl.id, data={"title": "Start"})
    projects.add_note(draft, lotse_pk=w.lena.id, text="Bitte Zeitplan ergänzen")
    db.session.commit()
    example_id, anna_id, ben_id = example.id, w.anna.id, w.ben.id
    _end_every_course(400)

    result = privacy.purge_expired(days=365)
    db.session.commit()

    assert w.course.id in result.courses
    assert result.counts["project"] == 1
    # The published example stays, visible in the programme, without the course's coaching
    # notes and history; the draft went with everything it had.
    assert db.session.scalars(select(Project.id)).all() == [example_id]
    assert db.session.scalar(select(func.count()).select_from(ProjectNote)) == 0
    assert db.session.scalar(select(func.count()).select_from(ProjectRevision)) == 0
    assert db.session.scalar(select(func.count()).select_from(ProjectMilestone)) == 0
    assert [e.title for e in projects.examples(_programme(w.sister_course))] == [
        "Hundesteuer online"
    ]
    # Her consent keeps Anna's person row; Ben, with nothing left anywhere, is gone.
    assert db.session.get(LtiUser, anna_id) is not None
    assert db.session.get(LtiUser, ben_id) is None

    # Withdrawn, it goes at the next run.
    projects.withdraw(db.session.get(Project, example_id), user_pk=anna_id)
    db.session.commit()
    privacy.purge_expired(days=365)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Project)) == 0
    assert projects.examples(_programme(w.sister_course)) == []


# --- the gradebook column ------------------------------------------------------------------------


def _project_rows() -> list[GradebookOutbox]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(GradebookOutbox)
            .where(GradebookOutbox.project_column_pk.is_not(None))
            .order_by(GradebookOutbox.user_pk)
        )
    )


def test_the_gradebook_column_queues_each_members_state(world: World) -> None:
    w = world
    project = projects.create_project(
        user_pk=w.anna.id, course_pk=w.course.id, data={"title": "ISMS"}
    )
    db.session.commit()
    assert _project_rows() == []  # off by default
    assert not projects.gradebook_column_enabled(w.course.id)

    projects.set_gradebook_column(w.course.id, True)
    db.session.commit()
    assert projects.gradebook_column_enabled(w.course.id)
    (row,) = _project_rows()
    assert row.user_pk == w.anna.id and row.course_module_pk is None
    assert {k: v for k, v in row.payload.items() if k != "timestamp"} == {
        "userId": "sub-anna",
        "activityProgress": "InProgress",
        "gradingProgress": "Pending",
    }

    projects.join_project(project.id, user_pk=w.ben.id, course_pk=w.course.id)
    projects.update_project(project, user_pk=w.anna.id, data={"status": "in_betrieb"})
    db.session.commit()
    rows = _project_rows()
    assert [r.user_pk for r in rows] == [w.anna.id, w.ben.id]
    for r in rows:
        assert r.payload["activityProgress"] == "Completed"
        assert r.payload["gradingProgress"] == "FullyGraded"
        assert r.payload["scoreGiven"] == 100.0 and r.payload["scoreMaximum"] == 100.0
        assert r.state == "pending"

    # Off: no more scores are queued.
    projects.set_gradebook_column(w.course.id, False)
    projects.update_project(project, user_pk=w.anna.id, data={"status": "pausiert"})
    db.session.commit()
    assert all(r.payload["activityProgress"] == "Completed" for r in _project_rows())
    # Another course's setting is its own.
    assert not projects.gradebook_column_enabled(w.sister_course.id)
