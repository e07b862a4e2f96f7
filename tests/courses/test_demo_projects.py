"""``flask courses demo-projects``: the demo LMS's Praxisprojekte — two finished, published
example projects in a demo cohort of their own and one project in progress for the demo
Navigator Anna in the demo course — created once however often it runs, and found again by
Anna's first launch (the rows it wrote are the ones a launch writes)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from courses.models import Project
from courses.services import projects
from demo_lms import tool_facts
from demo_lms.cli import register_in_tool
from demo_lms.course import COURSE, PEOPLE
from lti_tool.extensions import db
from tests import factories as f


def _run(app: Flask) -> str:
    result = app.test_cli_runner().invoke(args=["courses", "demo-projects"])
    assert result.exit_code == 0, result.output
    return result.output


def test_without_the_demo_lms_nothing_is_seeded(app: Flask) -> None:
    app.config.pop("DEMO_LMS_FACTS", None)
    result = app.test_cli_runner().invoke(args=["courses", "demo-projects"])
    assert result.exit_code == 1
    assert "Nur mit dem Demo-LMS" in result.output
    assert db.session.scalar(select(func.count()).select_from(Project)) == 0


def test_demo_projects_are_seeded_once_and_met_by_the_first_launch(app: Flask) -> None:
    app.config["DEMO_LMS_FACTS"] = tool_facts()
    for slug in ("p1-hundesteuer-online", "p2-bewohnerparken", "p5-e-rechnung"):
        f.make_module(slug, kind="best-practice")
    registration, _created = register_in_tool("http://127.0.0.1:5000")
    db.session.commit()

    assert "3 neu angelegt" in _run(app)
    assert "0 neu angelegt" in _run(app)
    rows = list(db.session.scalars(select(Project).order_by(Project.title)))
    assert len(rows) == 3 and all(p.is_demo and p.title.startswith("Demo: ") for p in rows)

    programme = projects.programme_of(registration.id)
    shown = projects.examples(programme)
    assert [e.title for e in shown] == [
        "Demo: Digitaler Rechnungseingang mit XRechnung",
        "Demo: Hundesteuer online über Amt24",
    ]
    assert all(e.is_demo and e.status == "in_betrieb" for e in shown)
    assert {e.contact_email for e in shown} == {None, "karla.demo-vorbild@grossenhain.demo.invalid"}
    assert all(e.module_pk is not None for e in shown)

    # Anna's first launch from the demo course meets her project.
    anna = next(person for person in PEOPLE if person.key == "anna")
    started = f.launch(registration, anna.sub, context_id=COURSE.id, name=anna.name)
    (mine,) = projects.projects_of_navigator(started.launch.user_pk, started.launch.context_pk)
    assert mine.title == "Demo: Bewohnerparkausweis online beantragen"
    assert mine.status == "in_umsetzung" and mine.municipality_name.startswith("Riesa")
    assert not projects.is_published(mine)
    # The examples are in another course of the same programme.
    assert {p.context_pk for p in rows if p.id != mine.id} != {mine.context_pk}
