"""Every Navigator route (pages, JSON API, the municipality choice) against everyone who must not
use it on Navigator A's work: no launch token, the Lotse of A's course, a Navigator of another
course, a Navigator of another platform whose course has the same context id. All are refused
(401/403/404) or, where the route names nothing of A, served from their own course; nothing of A
changes and nothing of A shows. "Meine Daten" (the privacy blueprint) serves every launch the
data of its own person, the Lotse's too, and A's files to A alone. The matrix is checked against
the app's URL map: a new route without an entry fails."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask, current_app, url_for
from flask.testing import FlaskClient
from sqlalchemy import select

from courses import BLUEPRINTS
from courses.models import (
    GradebookOutbox,
    NavigatorMunicipality,
    QuizAttempt,
    Submission,
    SubmissionFile,
    UnitProgress,
)
from lti_tool.extensions import db
from tests import factories as f
from tests.courses.web.test_lotse_authorization import LOTSE_BLUEPRINTS, domain_routes
from tests.courses.web.test_projects_authorization import PROJECT_BLUEPRINTS

#: (method, endpoint) -> (the unit the route is about, what a request sends). Page forms carry
#: the token as a form field, the API gets JSON and the token in its header.
ROUTES: dict[tuple[str, str], tuple[str | None, dict[str, Any]]] = {
    ("GET", "navigator.my_modules"): (None, {}),
    ("GET", "navigator.module"): (None, {}),
    ("GET", "navigator.unit"): ("lesen", {}),
    ("POST", "navigator.mark_unit_read"): ("lesen", {}),
    ("POST", "navigator.submit_quiz"): (
        "wissenstest",
        {f"antwort-{q}": v for q, v in f.WRONG.items()},
    ),
    ("GET", "navigator.attempt"): ("wissenstest", {}),
    ("POST", "navigator.save_assignment"): ("aufgabe", {"text": "Fremd", "aktion": "einreichen"}),
    ("POST", "navigator.remove_assignment_file"): ("aufgabe", {}),
    ("GET", "navigator.download"): (None, {}),
    ("GET", "navigator_api.modules"): (None, {}),
    ("GET", "navigator_api.module"): (None, {}),
    ("GET", "navigator_api.unit"): ("lesen", {}),
    ("POST", "navigator_api.mark_read"): ("lesen", {}),
    ("POST", "navigator_api.submit_quiz"): ("wissenstest", {"answers": f.WRONG}),
    ("POST", "navigator_api.save_assignment"): ("aufgabe", {"text": "Fremd", "state": "draft"}),
    ("GET", "municipality.choose"): (None, {}),
    ("POST", "municipality.choose"): (None, {"gemeinde": "Pirna"}),
    # "Meine Daten": every launch gets its own person's data, never A's.
    ("GET", "privacy.my_data"): (None, {}),
    ("GET", "privacy.my_data_json"): (None, {}),
    ("GET", "privacy.my_data_html"): (None, {}),
    ("GET", "privacy.own_file"): (None, {}),
}
#: Routes that name one of A's rows by id: a stranger gets 404.
BY_ID = {
    "navigator.attempt",
    "navigator.remove_assignment_file",
    "navigator.download",
    "privacy.own_file",
}
#: Routes every launch may use (the landing pages): no Navigator guard of their own.
PUBLIC = {("GET", "courses.index"), ("GET", "courses.home")}
#: What a Lotse gets: 403 from the Navigator guard; the download is for owners and for Lotsen
#: once a file is handed in, so A's draft file is 404 to them.
LOTSE_STATUS = {
    "navigator.download": 404,
    # A Lotse, too, sees and downloads their own data; A's files are not theirs.
    "privacy.my_data": 200,
    "privacy.my_data_json": 200,
    "privacy.my_data_html": 200,
    "privacy.own_file": 404,
}
MARKERS = ("Nora Navi", "Bestandsaufnahme A", "geheim-a.pdf")
PRINCIPALS = ["anonym", "lotse", "navigator-anderer-kurs", "navigator-andere-plattform"]


#: The blueprints whose routes this matrix covers (the Lotse's: test_lotse_authorization).
NAVIGATOR_BLUEPRINTS = {"navigator", "navigator_api", "municipality", "privacy"}


def test_every_route_is_in_the_matrix(sqlite_app: Flask) -> None:
    assert domain_routes(sqlite_app, NAVIGATOR_BLUEPRINTS) == set(ROUTES)
    assert domain_routes(sqlite_app, {"courses"}) == PUBLIC


def test_every_blueprint_is_in_a_matrix() -> None:
    """A new blueprint of the domain belongs to this matrix, the Lotse's or the Praxisprojekte's."""
    covered = NAVIGATOR_BLUEPRINTS | LOTSE_BLUEPRINTS | PROJECT_BLUEPRINTS | {"courses"}
    assert {blueprint.name for blueprint in BLUEPRINTS} == covered


@dataclass
class World:
    tokens: dict[str, str | None]
    owner: str
    values: dict[str, Any]
    navigator_pk: int
    context_pk: int


def _world(client: FlaskClient) -> World:
    moodle = f.platform()
    other = f.platform(name="Anderes LMS", issuer="https://anderes.example", client_id="c-2")
    nav_a = f.launch(moodle, "nav-a", context_id="kurs-1", name="Nora Navi")
    lotse_a = f.launch(moodle, "lotse-a", lotse=True, context_id="kurs-1")
    nav_b = f.launch(moodle, "nav-b", context_id="kurs-2")
    nav_c = f.launch(other, "nav-a", context_id="kurs-1")
    catalog_module = f.make_module("b1")
    for started in (nav_a, nav_b, nav_c):
        f.place(started.context, catalog_module)
    # A's work: a quiz attempt and a draft with a file, made through the pages.
    quiz = client.post(
        "/module/b1/einheit/wissenstest/quiz",
        data={"lt": nav_a.token, **{f"antwort-{q}": v for q, v in f.RIGHT.items()}},
    )
    assert quiz.status_code == 303
    draft = client.post(
        "/module/b1/einheit/aufgabe/abgabe",
        data={
            "lt": nav_a.token,
            "text": "Bestandsaufnahme A",
            "aktion": "entwurf",
            "dateien": [(io.BytesIO(b"%PDF-1.7\n%%EOF\n"), "geheim-a.pdf")],
        },
        content_type="multipart/form-data",
    )
    assert draft.status_code == 303
    attempt = db.session.scalars(select(QuizAttempt)).one()
    stored = db.session.scalars(select(SubmissionFile)).one()
    return World(
        tokens={
            "anonym": None,
            "lotse": lotse_a.token,
            "navigator-anderer-kurs": nav_b.token,
            "navigator-andere-plattform": nav_c.token,
        },
        owner=nav_a.token,
        values={"slug": "b1", "attempt_id": attempt.id, "file_id": stored.id},
        navigator_pk=nav_a.user.id,
        context_pk=nav_a.context.id,
    )


def _snapshot(world: World) -> Any:
    db.session.rollback()
    user, context = world.navigator_pk, world.context_pk
    return (
        db.session.execute(
            select(UnitProgress.unit_pk, UnitProgress.state, UnitProgress.updated_at)
            .where(UnitProgress.user_pk == user, UnitProgress.context_pk == context)
            .order_by(UnitProgress.unit_pk)
        ).all(),
        db.session.execute(
            select(QuizAttempt.id).where(QuizAttempt.user_pk == user).order_by(QuizAttempt.id)
        ).all(),
        db.session.execute(
            select(Submission.id, Submission.text, Submission.state).where(
                Submission.user_pk == user
            )
        ).all(),
        db.session.execute(select(SubmissionFile.id).order_by(SubmissionFile.id)).all(),
        db.session.execute(
            select(NavigatorMunicipality.municipality_key).where(
                NavigatorMunicipality.user_pk == user
            )
        ).all(),
        db.session.execute(
            select(GradebookOutbox.version).where(GradebookOutbox.user_pk == user)
        ).all(),
    )


def _request(client: FlaskClient, method: str, endpoint: str, token: str | None, world: World):  # type: ignore[no-untyped-def]
    unit, body = ROUTES[(method, endpoint)]
    rule = next(r for r in current_app.url_map.iter_rules() if r.endpoint == endpoint)
    values = {k: v for k, v in {**world.values, "unit": unit}.items() if k in rule.arguments}
    with current_app.test_request_context():
        path = url_for(endpoint, **values)
    if endpoint.startswith("navigator_api."):
        headers = {"X-Launch-Token": token} if token else {}
        if method == "GET":
            return client.get(path, headers=headers)
        return client.post(path, json=body, headers=headers)
    if method == "GET":
        return client.get(path, query_string={"lt": token} if token else {})
    return client.post(path, data={**body, **({"lt": token} if token else {})})


@pytest.mark.parametrize(("method", "endpoint"), sorted(ROUTES))
def test_refused_and_nothing_changed(
    app: Flask, client: FlaskClient, method: str, endpoint: str
) -> None:
    world = _world(client)
    before = _snapshot(world)
    for principal in PRINCIPALS:
        response = _request(client, method, endpoint, world.tokens[principal], world)
        body = response.get_data(as_text=True)
        response.close()
        status = response.status_code
        if principal == "anonym":
            assert status == 401, principal
        elif principal == "lotse":
            assert status == LOTSE_STATUS.get(endpoint, 403), principal
        elif endpoint in BY_ID:
            assert status == 404, principal
        else:
            # Their own course: served (a refused quiz or form is 422), nothing of A in it.
            assert status in (200, 201, 303, 422), (principal, status)
        for marker in MARKERS:
            assert marker not in body, principal
        assert _snapshot(world) == before, principal


@pytest.mark.parametrize(("method", "endpoint"), sorted(ROUTES))
def test_the_navigator_may(app: Flask, client: FlaskClient, method: str, endpoint: str) -> None:
    """The control: the same requests from Navigator A are served."""
    world = _world(client)
    response = _request(client, method, endpoint, world.owner, world)
    response.close()
    assert response.status_code in (200, 201, 303), (endpoint, response.status_code)


def test_the_landing_pages(app: Flask, client: FlaskClient) -> None:
    assert client.get("/").status_code == 200
    assert client.get("/start").status_code == 401
    world = _world(client)
    for token in (world.owner, world.tokens["lotse"]):
        assert client.get("/start", query_string={"lt": token}).status_code in (200, 303)
