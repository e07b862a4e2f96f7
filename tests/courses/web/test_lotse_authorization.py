"""Every Lotse route (the Lotse pages and the Notenbuch) against everyone who must not use it on
course A: no launch token, a Navigator of course A, the Lotse of another course, the Lotse of
another platform whose course has the same context id. All are refused (401/403/404) and nothing
of course A changes. The matrix is checked against the app's URL map: a new route without an
entry fails.

Routes without an id in the URL (the overview, the roster, …) always work on the launch's own
course: for another course's Lotse they answer with that Lotse's own course, so the test checks
that nothing of course A appears in the answer and nothing of course A changes.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, current_app
from sqlalchemy import select

from courses import BLUEPRINTS
from courses.gradebook.outbox import enqueue_score
from courses.gradebook.score import ScoreState
from courses.models import (
    CourseMembership,
    CourseModule,
    CourseModuleMember,
    GradebookOutbox,
    GradingDecision,
    MunicipalitySource,
    NavigatorMunicipality,
    RosterSync,
    Submission,
    SubmissionFile,
)
from courses.services.municipalities import assign, by_key
from lti_tool.extensions import db
from lti_tool.models import utcnow
from tests import factories as f
from tests.courses.conftest import TokenClient

#: (method, endpoint) -> the form a request sends (what would change course A if allowed).
FORMS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "lotse.dashboard"): {},
    ("GET", "lotse.dashboard_csv"): {},
    ("GET", "lotse.dashboard_json"): {},
    ("GET", "lotse.deep_linking"): {},
    ("POST", "lotse.deep_linking_return"): {"modul": ["b2"]},
    ("GET", "lotse.preview"): {},
    ("GET", "lotse.members"): {},
    ("POST", "lotse.refresh_members"): {},
    ("POST", "lotse.set_municipality"): {"gemeinde": "Pirna"},
    ("GET", "lotse.modules"): {},
    ("GET", "lotse.module_settings"): {},
    ("POST", "lotse.save_module_settings"): {
        "faellig_am": "2030-01-01",
        "beschraenkt": "1",
        "navigator": "{navigator}",
    },
    ("GET", "lotse.grading_queue"): {},
    ("GET", "lotse.grade"): {},
    ("POST", "lotse.save_grade"): {
        "punkte-inhalt": "6",
        "punkte-form": "4",
        "entscheidung": "bewertet",
    },
    ("GET", "lotse.submission_file"): {},
    ("GET", "gradebook.gradebook_page"): {},
    ("POST", "gradebook.retry"): {},
}
#: Routes that name nothing of a course: another course's Lotse gets their own course.
OWN_COURSE_ROUTES = {
    "lotse.dashboard",
    "lotse.dashboard_csv",
    "lotse.dashboard_json",
    "lotse.members",
    "lotse.refresh_members",
    "lotse.modules",
    "lotse.grading_queue",
    "gradebook.gradebook_page",
}
PRINCIPALS = ["anonym", "navigator", "lotse-anderer-kurs", "lotse-andere-plattform"]
MARKERS = ("Nora Navi", "nav-a-1", "Bestandsaufnahme A")


#: The blueprints whose routes this matrix covers (the Navigator's: test_navigator_authorization).
LOTSE_BLUEPRINTS = {"lotse", "gradebook"}


def domain_routes(app: Flask, blueprints: set[str]) -> set[tuple[str, str]]:
    """(method, endpoint) of every route of ``blueprints`` in the app's URL map."""
    assert blueprints <= {blueprint.name for blueprint in BLUEPRINTS}
    return {
        (method, rule.endpoint)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in blueprints and not rule.endpoint.endswith(".static")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


def test_every_route_is_in_the_matrix(sqlite_app: Flask) -> None:
    assert domain_routes(sqlite_app, LOTSE_BLUEPRINTS) == set(FORMS)


@dataclass
class World:
    tokens: dict[str, str | None]
    lotse_a: str
    values: dict[str, Any]
    navigator_pk: int
    context_pk: int


def _world() -> World:
    moodle = f.platform()
    other = f.platform(name="Anderes LMS", issuer="https://anderes.example", client_id="c-2")
    lotse_a = f.launch(moodle, "lotse-a", lotse=True, context_id="kurs-1")
    nav = f.launch(moodle, "nav-a-1", context_id="kurs-1", name="Nora Navi")
    lotse_b = f.launch(moodle, "lotse-b", lotse=True, context_id="kurs-2")
    # Same context id on another platform: another course.
    lotse_c = f.launch(other, "lotse-a", lotse=True, context_id="kurs-1")
    catalog_module = f.module("b1")
    f.module("b2")
    placed = f.place(lotse_a.context, catalog_module)
    f.place(lotse_b.context, catalog_module)
    f.place(lotse_c.context, catalog_module)
    unit = next(u for u in catalog_module.active_units if u.kind == "assignment")
    submission = Submission(
        user_pk=nav.user.id,
        context_pk=lotse_a.context.id,
        unit_pk=unit.id,
        unit_version_pk=unit.versions[0].id,
        text="Bestandsaufnahme A",
        state="submitted",
        submitted_at=utcnow(),
    )
    db.session.add(submission)
    db.session.flush()
    stored_name = secrets.token_urlsafe(16)
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / str(lotse_a.context.id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / stored_name).write_bytes(b"%PDF-1.4\n%%EOF\n")
    stored = SubmissionFile(
        submission_pk=submission.id,
        original_name="a.pdf",
        stored_name=stored_name,
        content_type="application/pdf",
        size=15,
        sha256="0" * 64,
    )
    db.session.add(stored)
    rathen = by_key("14628310")
    assert rathen is not None
    assign(nav.user.id, rathen, MunicipalitySource.NAVIGATOR)
    outbox = enqueue_score(nav.user.id, placed.id, ScoreState("Submitted", "PendingManual"))
    assert outbox is not None
    outbox.state = "failed"
    db.session.commit()
    # Course A's roster as after its Lotse's visit.
    TokenClient(current_app.test_client()).get("/lotse/teilnehmende", lotse_a.token)
    return World(
        tokens={
            "anonym": None,
            "navigator": nav.token,
            "lotse-anderer-kurs": lotse_b.token,
            "lotse-andere-plattform": lotse_c.token,
        },
        lotse_a=lotse_a.token,
        values={
            "course_module_pk": placed.id,
            "user_pk": nav.user.id,
            "submission_pk": submission.id,
            "file_pk": stored.id,
            "slug": "b1",
            "outbox_id": outbox.id,
        },
        navigator_pk=nav.user.id,
        context_pk=lotse_a.context.id,
    )


def _snapshot(world: World) -> Any:
    db.session.rollback()
    ctx = world.context_pk
    modules = db.session.execute(
        select(
            CourseModule.id,
            CourseModule.module_pk,
            CourseModule.due_at,
            CourseModule.limited_to_members,
        )
        .where(CourseModule.context_pk == ctx)
        .order_by(CourseModule.id)
    ).all()
    return (
        modules,
        db.session.execute(
            select(CourseModuleMember.course_module_pk, CourseModuleMember.user_pk)
            .join(CourseModule, CourseModule.id == CourseModuleMember.course_module_pk)
            .where(CourseModule.context_pk == ctx)
        ).all(),
        db.session.execute(
            select(NavigatorMunicipality.municipality_key, NavigatorMunicipality.source).where(
                NavigatorMunicipality.user_pk == world.navigator_pk
            )
        ).all(),
        db.session.execute(select(Submission.id, Submission.state)).all(),
        db.session.execute(select(GradingDecision.id)).all(),
        db.session.execute(
            select(GradebookOutbox.id, GradebookOutbox.state, GradebookOutbox.version)
        ).all(),
        db.session.execute(
            select(
                CourseMembership.user_pk,
                CourseMembership.role,
                CourseMembership.status,
                CourseMembership.last_launch_at,
            )
            .where(CourseMembership.context_pk == ctx)
            .order_by(CourseMembership.user_pk)
        ).all(),
        db.session.execute(
            select(RosterSync.last_launch_id, RosterSync.synced_at).where(
                RosterSync.context_pk == ctx
            )
        ).all(),
    )


def _request(tc: TokenClient, method: str, endpoint: str, token: str | None, world: World) -> Any:
    with current_app.test_request_context():
        from flask import url_for

        rule = next(r for r in current_app.url_map.iter_rules() if r.endpoint == endpoint)
        path = url_for(endpoint, **{k: v for k, v in world.values.items() if k in rule.arguments})
    form = {
        k: (str(world.navigator_pk) if v == "{navigator}" else v)
        for k, v in FORMS[(method, endpoint)].items()
    }
    if method == "GET":
        return tc.get(path, token)
    return tc.post(path, token, form)


@pytest.mark.parametrize(("method", "endpoint"), sorted(FORMS))
def test_refused_and_nothing_changed(
    app: Flask, tc: TokenClient, method: str, endpoint: str
) -> None:
    world = _world()
    before = _snapshot(world)
    for principal in PRINCIPALS:
        response = _request(tc, method, endpoint, world.tokens[principal], world)
        body = response.get_data(as_text=True)
        response.close()
        status = response.status_code
        if principal == "anonym":
            assert status == 401, principal
        elif principal == "navigator":
            assert status == 403, principal
        elif endpoint in OWN_COURSE_ROUTES:
            # Their own course: allowed, but nothing of course A in it.
            assert status in (200, 303), principal
            if status == 303:
                body = tc.client.get(response.headers["Location"]).get_data(as_text=True)
        else:
            assert status == 404, principal
        for marker in MARKERS:
            assert marker not in body, principal
        assert _snapshot(world) == before, principal


@pytest.mark.parametrize(("method", "endpoint"), sorted(FORMS))
def test_the_course_lotse_may(app: Flask, tc: TokenClient, method: str, endpoint: str) -> None:
    """The control: the same requests from course A's Lotse are served (DL routes need a Deep
    Linking launch, so they answer 404 to a resource link launch)."""
    world = _world()
    response = _request(tc, method, endpoint, world.lotse_a, world)
    response.close()
    if endpoint in {"lotse.deep_linking", "lotse.deep_linking_return", "lotse.preview"}:
        assert response.status_code == 404
    else:
        assert response.status_code in (200, 303), (endpoint, response.status_code)
