"""Every route of the Praxisprojekte against everyone who must not use it on Navigator A's
project P (course A, Kommune Rathen, in Betrieb, published): no launch token, the wrong role, a
Navigator of course A from another Kommune, a Navigator of A's Kommune who is not a member, a
Navigator and a Lotse of another course, and the launches of another platform that belongs to
another programme. Each is refused (401/403/404) — never a 200 with anything of P, never a 500 —
or, where a route names nothing of P, served from their own course; nothing of P changes. The
matrix is checked against the app's URL map: a new route without an entry fails.

The Praxisbeispiele are the one place where P is meant to be seen: by every launch of the same
programme, in any course; never by another programme's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask, current_app, url_for
from sqlalchemy import select

from courses.models import (
    Project,
    ProjectConsent,
    ProjectCourseSetting,
    ProjectMember,
    ProjectMilestone,
    ProjectNote,
    ProjectRevision,
)
from courses.services.projects import consent_text
from lti_tool.extensions import db
from tests import factories as f
from tests.courses.conftest import TokenClient
from tests.courses.web.test_lotse_authorization import domain_routes
from tests.courses.web.test_projects_flow import BEST_PRACTICE, kommune, project_form

PROJECT_BLUEPRINTS = {"projects"}
PIRNA = "14628270"

#: (method, endpoint) -> the form a request sends (what would change P if allowed).
FORMS: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "projects.my_projects"): {},
    ("GET", "projects.new_project"): {},
    ("POST", "projects.create_project"): project_form(titel="Fremdes Projekt"),
    ("GET", "projects.project"): {},
    ("POST", "projects.save_project"): project_form(titel="Übernommen", status="idee"),
    ("POST", "projects.add_milestone"): {"titel": "Fremder Meilenstein", "zustand": "offen"},
    ("POST", "projects.save_milestone"): {"titel": "Geändert", "zustand": "erledigt"},
    ("GET", "projects.history"): {},
    ("POST", "projects.join"): {},
    ("GET", "projects.publish_form"): {},
    ("POST", "projects.publish"): {"einwilligung": "ja", "version": "1", "mit_name": "ja"},
    ("POST", "projects.withdraw"): {},
    ("GET", "projects.examples"): {},
    ("GET", "projects.example"): {},
    ("GET", "projects.course_projects"): {},
    ("GET", "projects.course_project"): {},
    ("POST", "projects.add_note"): {"notiz": "Fremde Notiz"},
    ("POST", "projects.mark_discussed"): {},
    ("GET", "projects.settings"): {},
    ("POST", "projects.save_settings"): {"notenbuch": "ja"},
    ("GET", "projects.programme"): {},
    ("GET", "projects.programme_csv"): {},
}
NAVIGATOR_ROUTES = {
    "projects.my_projects",
    "projects.new_project",
    "projects.create_project",
    "projects.project",
    "projects.save_project",
    "projects.add_milestone",
    "projects.save_milestone",
    "projects.history",
    "projects.join",
    "projects.publish_form",
    "projects.publish",
    "projects.withdraw",
}
LOTSE_ROUTES = {
    "projects.course_projects",
    "projects.course_project",
    "projects.add_note",
    "projects.mark_discussed",
    "projects.settings",
    "projects.save_settings",
    "projects.programme",
    "projects.programme_csv",
}
EXAMPLE_ROUTES = {"projects.examples", "projects.example"}
#: Routes that name nothing of P: another person gets their own course's page.
OWN_COURSE_ROUTES = {
    "projects.my_projects",
    "projects.new_project",
    "projects.create_project",
    "projects.course_projects",
    "projects.settings",
    "projects.save_settings",
    "projects.programme",
    "projects.programme_csv",
    "projects.examples",
}
#: What only P and its course show: its text beyond the published example, its note.
SECRET = ("Geheime Notiz der Lotsin", "Meilenstein A")
TITLE = "Hundesteuer Rathen"

NAVIGATORS = [
    "navigator-andere-kommune",
    "navigator-gleiche-kommune",
    "navigator-anderer-kurs",
    "navigator-anderes-programm",
]
LOTSEN = ["lotse-anderer-kurs", "lotse-anderes-programm"]


def test_every_route_is_in_the_matrix(sqlite_app: Flask) -> None:
    assert domain_routes(sqlite_app, PROJECT_BLUEPRINTS) == set(FORMS)
    assert {e for _m, e in FORMS} == NAVIGATOR_ROUTES | LOTSE_ROUTES | EXAMPLE_ROUTES


@dataclass
class World:
    tokens: dict[str, str | None]
    owner: str
    lotse: str
    values: dict[str, Any]
    project_pk: int
    context_pk: int


def _world(app: Flask, tc: TokenClient) -> World:
    moodle = f.platform()
    other = f.platform(name="Anderes LMS", issuer="https://anderes.example", client_id="c-2")
    # The other platform is another programme; the default programme holds everything else.
    app.config["PROGRAMMES"] = {"anderes-programm": ["https://anderes.example"]}
    p1 = f.make_module(BEST_PRACTICE, title="Hundesteuer online (Modul)", kind="best-practice")
    nav_a = f.launch(moodle, "nav-a", context_id="kurs-1", name="Nora Navi")
    lotse_a = f.launch(moodle, "lotse-a", lotse=True, context_id="kurs-1")
    same_kommune = f.launch(moodle, "nav-a2", context_id="kurs-1")
    other_kommune = f.launch(moodle, "nav-x", context_id="kurs-1")
    nav_b = f.launch(moodle, "nav-b", context_id="kurs-2")
    lotse_b = f.launch(moodle, "lotse-b", lotse=True, context_id="kurs-2")
    nav_c = f.launch(other, "nav-a", context_id="kurs-1")
    lotse_c = f.launch(other, "lotse-a", lotse=True, context_id="kurs-1")
    for started in (nav_a, nav_b, nav_c):
        f.place(started.context, p1)
    for started in (nav_a, same_kommune, nav_b, nav_c):
        kommune(started.user.id)
    kommune(other_kommune.user.id, PIRNA)

    created = tc.post("/projekte/neu", nav_a.token, project_form(titel=TITLE, modul=str(p1.id)))
    assert created.status_code == 303, created.text
    project = db.session.scalars(select(Project)).one()
    pid = project.id
    assert (
        tc.post(
            f"/projekte/{pid}/meilensteine",
            nav_a.token,
            {"titel": "Meilenstein A", "zustand": "offen"},
        ).status_code
        == 303
    )
    assert (
        tc.post(
            f"/projekte/{pid}",
            nav_a.token,
            project_form(titel=TITLE, modul=str(p1.id), status="in_betrieb"),
        ).status_code
        == 303
    )
    assert (
        tc.post(
            f"/lotse/projekte/{pid}/notizen", lotse_a.token, {"notiz": "Geheime Notiz der Lotsin"}
        ).status_code
        == 303
    )
    published = tc.post(
        f"/projekte/{pid}/veroeffentlichen",
        nav_a.token,
        {"einwilligung": "ja", "version": consent_text().version},
    )
    assert published.status_code == 303, published.text
    milestone = db.session.scalars(select(ProjectMilestone)).one()
    return World(
        tokens={
            "anonym": None,
            "navigator-eigene": nav_a.token,
            "lotse-eigener-kurs": lotse_a.token,
            "navigator-andere-kommune": other_kommune.token,
            "navigator-gleiche-kommune": same_kommune.token,
            "navigator-anderer-kurs": nav_b.token,
            "navigator-anderes-programm": nav_c.token,
            "lotse-anderer-kurs": lotse_b.token,
            "lotse-anderes-programm": lotse_c.token,
        },
        owner=nav_a.token,
        lotse=lotse_a.token,
        values={"project_id": pid, "milestone_id": milestone.id},
        project_pk=pid,
        context_pk=nav_a.context.id,
    )


def _snapshot(world: World) -> Any:
    db.session.rollback()
    pid = world.project_pk
    return (
        db.session.execute(
            select(Project.title, Project.status, Project.goal, Project.updated_at).where(
                Project.id == pid
            )
        ).all(),
        db.session.execute(
            select(ProjectMember.user_pk).where(ProjectMember.project_pk == pid)
        ).all(),
        db.session.execute(
            select(
                ProjectMilestone.id,
                ProjectMilestone.title,
                ProjectMilestone.state,
                ProjectMilestone.discussed_at,
            ).where(ProjectMilestone.project_pk == pid)
        ).all(),
        db.session.execute(select(ProjectNote.id).where(ProjectNote.project_pk == pid)).all(),
        db.session.execute(
            select(ProjectRevision.id).where(ProjectRevision.project_pk == pid)
        ).all(),
        db.session.execute(
            select(ProjectConsent.id, ProjectConsent.withdrawn_at).where(
                ProjectConsent.project_pk == pid
            )
        ).all(),
        db.session.execute(
            select(ProjectCourseSetting.gradebook_column).where(
                ProjectCourseSetting.context_pk == world.context_pk
            )
        ).all(),
    )


def _request(tc: TokenClient, method: str, endpoint: str, token: str | None, world: World) -> Any:
    rule = next(r for r in current_app.url_map.iter_rules() if r.endpoint == endpoint)
    with current_app.test_request_context():
        path = url_for(endpoint, **{k: v for k, v in world.values.items() if k in rule.arguments})
    if method == "GET":
        return tc.get(path, token)
    return tc.post(path, token, FORMS[(method, endpoint)])


def _principals(endpoint: str) -> list[str]:
    if endpoint in NAVIGATOR_ROUTES:
        return ["anonym", "lotse-eigener-kurs", "lotse-anderer-kurs", *NAVIGATORS]
    if endpoint in LOTSE_ROUTES:
        return ["anonym", "navigator-eigene", "navigator-anderer-kurs", *LOTSEN]
    return ["anonym", "navigator-anderes-programm", "lotse-anderes-programm"]


def _expected(endpoint: str, principal: str) -> set[int]:
    if principal == "anonym":
        return {401}
    wrong_role = (endpoint in NAVIGATOR_ROUTES and principal.startswith("lotse")) or (
        endpoint in LOTSE_ROUTES and principal.startswith("navigator")
    )
    if wrong_role:
        return {403}
    if endpoint == "projects.join" and principal == "navigator-gleiche-kommune":
        return {303}  # the one who may join: checked in test_the_right_people_may
    if endpoint in OWN_COURSE_ROUTES:
        return {200, 303, 409, 422}
    if endpoint == "projects.join":
        return {403, 404}
    return {404}


@pytest.mark.parametrize(("method", "endpoint"), sorted(FORMS))
def test_refused_and_nothing_changed(
    app: Flask, tc: TokenClient, method: str, endpoint: str
) -> None:
    world = _world(app, tc)
    before = _snapshot(world)
    for principal in _principals(endpoint):
        if endpoint == "projects.join" and principal == "navigator-gleiche-kommune":
            continue
        response = _request(tc, method, endpoint, world.tokens[principal], world)
        status = response.status_code
        body = response.get_data(as_text=True)
        if status == 303:
            body += tc.client.get(response.headers["Location"]).get_data(as_text=True)
        response.close()
        assert status in _expected(endpoint, principal), (principal, status)
        # A Navigator of P's Kommune sees P's title where they may join it.
        shown = (*SECRET, TITLE) if principal != "navigator-gleiche-kommune" else SECRET
        for marker in shown:
            assert marker not in body, (principal, marker)
        assert _snapshot(world) == before, principal


@pytest.mark.parametrize(("method", "endpoint"), sorted(FORMS))
def test_the_right_people_may(app: Flask, tc: TokenClient, method: str, endpoint: str) -> None:
    """The control: the owner for the Navigator's routes, the course's Lotse for the Lotse's,
    a Navigator of another course of the programme for the Praxisbeispiele."""
    world = _world(app, tc)
    if endpoint in NAVIGATOR_ROUTES:
        token = world.owner
        if endpoint == "projects.join":
            token = world.tokens["navigator-gleiche-kommune"]
    elif endpoint in LOTSE_ROUTES:
        token = world.lotse
    else:
        token = world.tokens["navigator-anderer-kurs"]
    if endpoint == "projects.publish":
        # Published already: withdrawn first, then published again.
        assert (
            tc.post(f"/projekte/{world.project_pk}/zurueckziehen", world.owner).status_code == 303
        )
        FORMS[(method, endpoint)]["version"] = consent_text().version
    response = _request(tc, method, endpoint, token, world)
    status = response.status_code
    body = response.get_data(as_text=True)
    response.close()
    assert status in (200, 303), (endpoint, status, body[:300])
    if endpoint in EXAMPLE_ROUTES:
        assert TITLE in body
        assert "Geheime Notiz der Lotsin" not in body


def test_an_unpublished_project_is_no_example(app: Flask, tc: TokenClient) -> None:
    world = _world(app, tc)
    pid = world.project_pk
    assert tc.post(f"/projekte/{pid}/zurueckziehen", world.owner).status_code == 303
    for principal in ("navigator-eigene", "navigator-anderer-kurs", "lotse-eigener-kurs"):
        token = world.tokens[principal]
        assert tc.get(f"/praxisbeispiele/{pid}", token).status_code == 404, principal
        assert TITLE not in tc.get("/praxisbeispiele", token).text, principal
