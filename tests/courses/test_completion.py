"""One definition of "abgeschlossen" (``courses.services.progress``): the Navigator's pages and
API, the Lotse's overview with its CSV and JSON, the Notenbuch and the score sent to the LMS say
the same for the same person. Before, a graded assignment with an unconfirmed reading read
"33 % – in Bearbeitung" in the overview and "Completed / FullyGraded" in the Notenbuch and LMS."""

from __future__ import annotations

import csv
import io
import itertools

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from courses.models import (
    CourseModule,
    Decision,
    GradebookOutbox,
    Submission,
    UnitProgress,
    UnitState,
)
from courses.reports.overview import build_overview
from courses.services.grading import GradingInput, decide
from courses.services.progress import ModuleStatus, module_progress, score_state
from lti_tool.extensions import db
from lti_tool.models import LtiUser, utcnow
from tests import factories as f
from tests.courses.conftest import TokenClient

US = UnitState
READING_STATES = (US.NOT_STARTED, US.IN_PROGRESS, US.DONE)
QUIZ_STATES = (US.NOT_STARTED, US.IN_PROGRESS, US.DONE)
ASSIGNMENT_STATES = (US.NOT_STARTED, US.IN_PROGRESS, US.SUBMITTED, US.GRADED, US.RETURNED)

#: What the LMS gets for each status (README, "Wann ein Modul abgeschlossen ist").
AGS = {
    ModuleStatus.NOT_STARTED: ("Initialized", "NotReady"),
    ModuleStatus.IN_PROGRESS: ("Started", "NotReady"),
    ModuleStatus.RETURNED: ("InProgress", "Pending"),
    ModuleStatus.PENDING_REVIEW: ("Submitted", "PendingManual"),
    ModuleStatus.COMPLETED: ("Completed", "FullyGraded"),
}


def expected_status(states: tuple[UnitState, ...], has_assignment: bool) -> ModuleStatus:
    """The definition, written out once more: with an assignment, the assignment decides; without
    one, every unit must be complete."""
    if has_assignment:
        assignment = states[-1]
        if assignment == US.RETURNED:
            return ModuleStatus.RETURNED
        if assignment == US.GRADED:
            return ModuleStatus.COMPLETED
        if assignment == US.SUBMITTED:
            return ModuleStatus.PENDING_REVIEW
    elif all(s == US.DONE for s in states):
        return ModuleStatus.COMPLETED
    if any(s != US.NOT_STARTED for s in states):
        return ModuleStatus.IN_PROGRESS
    return ModuleStatus.NOT_STARTED


def expected_percent(states: tuple[UnitState, ...], status: ModuleStatus) -> int:
    if status == ModuleStatus.COMPLETED:
        return 100
    done = sum(1 for s in states if s in (US.DONE, US.SUBMITTED, US.GRADED))
    return done * 100 // len(states)


def test_status_percent_and_score_agree_for_every_combination_of_unit_states(app: Flask) -> None:
    context = f.make_context()
    with_assignment = f.place(context, f.make_module("k1-test"))  # reading, quiz, assignment
    without = f.place(
        context,
        f.make_module("k2-test", position=2, units=(("lesen", "reading"), ("quiz", "quiz"))),
    )
    cases: list[tuple[CourseModule, tuple[UnitState, ...]]] = [
        (with_assignment, combo)
        for combo in itertools.product(READING_STATES, QUIZ_STATES, ASSIGNMENT_STATES)
    ] + [(without, combo) for combo in itertools.product(READING_STATES, QUIZ_STATES)]
    f.bulk_navigators(context, len(cases), modules=[], municipalities=[("14628310", "Rathen")])
    users = list(db.session.scalars(select(LtiUser).where(LtiUser.name.is_not(None))))
    users.sort(key=lambda u: u.name or "")
    assert len(users) == len(cases)
    now = utcnow()
    rows = []
    for user, (placed, combo) in zip(users, cases, strict=True):
        for unit, state in zip(placed.module.active_units, combo, strict=True):
            if state != US.NOT_STARTED:
                rows.append(
                    {
                        "user_pk": user.id,
                        "context_pk": context.id,
                        "unit_pk": unit.id,
                        "unit_version_pk": unit.versions[0].id,
                        "state": state.value,
                        "started_at": now,
                        "updated_at": now,
                    }
                )
    db.session.execute(insert(UnitProgress), rows)
    db.session.commit()

    overview = build_overview(context)
    cells = {
        (row.user_pk, cell.course_module_pk): cell for row in overview.rows for cell in row.cells
    }
    for user, (placed, combo) in zip(users, cases, strict=True):
        status = expected_status(combo, has_assignment=placed is with_assignment)
        percent = expected_percent(combo, status)
        where = (placed.module.slug, [s.value for s in combo])
        progress = module_progress(user.id, placed)
        assert (progress.status, progress.percent) == (status, percent), where
        cell = cells[(user.id, placed.id)]
        assert (cell.status, cell.percent) == (status, percent), where
        sent = score_state(user, placed)
        assert (sent.activity_progress, sent.grading_progress) == AGS[status], where
        assert (sent.score_given is not None) == (
            status == ModuleStatus.COMPLETED and placed is without
        ), where


def _graded_without_reading(client: FlaskClient) -> tuple[f.Launched, f.Launched]:
    """A Navigator hands in the assignment of b8-test without confirming the reading or taking
    the quiz; the Lotse grades it with 7 of 10 points."""
    f.make_module("b8-test", title="Prozesse modellieren")
    navigator = f.http_launch(client, sub="navigatorin", module_id="b8-test")
    client.get(navigator.location)
    handed_in = client.post(
        "/module/b8-test/einheit/aufgabe/abgabe",
        data={"lt": navigator.token, "text": "Mein Soll-Prozess", "aktion": "einreichen"},
    )
    assert handed_in.status_code == 303
    lotse = f.http_launch(client, sub="lotsin", lotse=True, name="Lotsin Demo")
    submission = db.session.scalars(select(Submission)).one()
    decide(
        submission,
        lotse.user.id,
        GradingInput(Decision.GRADED, points={"inhalt": 4, "form": 3}, feedback="Gut."),
    )
    db.session.commit()
    return navigator, lotse


def test_a_graded_assignment_reads_abgeschlossen_on_every_page_and_in_the_lms(
    app: Flask, client: FlaskClient
) -> None:
    navigator, lotse = _graded_without_reading(client)
    tc = TokenClient(client)

    # The Navigator's pages and API.
    mine = f.text_of(tc.get("/module", navigator.token).data)
    assert "Status: abgeschlossen" in mine and "in Bearbeitung" not in mine
    page = f.text_of(tc.get("/module/b8-test", navigator.token).data)
    assert "100 %" in page and "Status: abgeschlossen" in page
    assert "Abgeschlossen ist das Modul, sobald Ihre Digital-Lotsin" in page  # the rules it shows
    api = client.get("/api/module/b8-test", headers=navigator.headers).get_json()
    assert (api["status"], api["percent"], api["status_label"]) == (
        "completed",
        100,
        "abgeschlossen",
    )

    # The Lotse's overview, its CSV and its JSON.
    overview = f.text_of(tc.get("/lotse/uebersicht", lotse.token).data)
    assert "100 % abgeschlossen" in overview
    assert "33 %" not in overview
    table = tc.get("/lotse/uebersicht.csv", lotse.token).data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(table), delimiter=";"))
    assert [(r["Status"], r["Fortschritt in %"]) for r in rows] == [("abgeschlossen", "100")]
    data = tc.get("/api/lotse/uebersicht", lotse.token).get_json()
    (cell,) = data["navigators"][0]["modules"]
    assert (cell["status"], cell["percent"], cell["status_label"]) == (
        "completed",
        100,
        "abgeschlossen",
    )
    assert data["counts"]["completed"] == 1 and data["counts"]["in_progress"] == 0

    # What the LMS gets, and the Notenbuch that shows it.
    payload = db.session.scalars(select(GradebookOutbox.payload)).one()
    assert (payload["activityProgress"], payload["gradingProgress"]) == ("Completed", "FullyGraded")
    assert (payload["scoreGiven"], payload["scoreMaximum"]) == (7.0, 10.0)
    book = f.text_of(tc.get("/lotse/notenbuch", lotse.token).data)
    assert "Prozesse modellieren abgeschlossen – 7 von 10 Punkten" in book
