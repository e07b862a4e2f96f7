"""The Lotse's programme view (:mod:`courses.reports.projects`): every course the Lotse launched
in, counts by Landkreis and status that match the rows, a chart that tells each bar's status in
words, a CSV for German Excel without anybody's name or contact, and a constant number of
queries for 10 or 200 projects."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, insert, select

from courses.models import CourseMembership, Project, ProjectMember, ProjectMilestone
from courses.reports.projects import programme_csv, programme_svg, programme_view
from courses.services import projects
from courses.services.projects import ProjectFilter
from lti_tool.extensions import db
from lti_tool.models import LtiContext, LtiUser, utcnow
from tests import factories as f

KOMMUNEN = [
    ("14521010", "Amtsberg", "Erzgebirgskreis"),
    ("14522010", "Altmittweida", "Landkreis Mittelsachsen"),
    ("14523020", "Bad Elster, Stadt", "Vogtlandkreis"),
]
STATUSES = ["idee", "geplant", "in_umsetzung", "in_betrieb", "pausiert"]


@contextmanager
def counted_queries() -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def _lotse_in(*contexts: LtiContext) -> LtiUser:
    lotse = LtiUser(registration_pk=contexts[0].registration_pk, sub="sub-lotse", name="Lena")
    db.session.add(lotse)
    db.session.flush()
    for context in contexts:
        db.session.add(
            CourseMembership(
                context_pk=context.id,
                user_pk=lotse.id,
                role="lotse",
                source="launch",
                last_launch_at=utcnow(),
            )
        )
    db.session.commit()
    return lotse


def _bulk_projects(context: LtiContext, count: int, prefix: str) -> None:
    """``count`` projects with a member and two milestones each, in a handful of statements."""
    now = utcnow()
    db.session.execute(
        insert(LtiUser),
        [
            {"registration_pk": context.registration_pk, "sub": f"{prefix}-{i}", "created_at": now}
            for i in range(count)
        ],
    )
    users = list(
        db.session.scalars(
            select(LtiUser.id).where(LtiUser.sub.like(f"{prefix}-%")).order_by(LtiUser.id)
        )
    )
    db.session.execute(
        insert(Project),
        [
            {
                "context_pk": context.id,
                "title": f"{prefix} Projekt {i:04d}",
                "goal": "",
                "services": "",
                "result": "",
                "lessons": "",
                "status": STATUSES[i % len(STATUSES)],
                "municipality_key": KOMMUNEN[i % 3][0],
                "municipality_name": KOMMUNEN[i % 3][1],
                "landkreis": KOMMUNEN[i % 3][2],
                "is_demo": False,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(count)
        ],
    )
    ids = list(
        db.session.scalars(
            select(Project.id).where(Project.title.like(f"{prefix} %")).order_by(Project.title)
        )
    )
    db.session.execute(
        insert(ProjectMember),
        [
            {"project_pk": p, "user_pk": u, "joined_at": now}
            for p, u in zip(ids, users, strict=True)
        ],
    )
    db.session.execute(
        insert(ProjectMilestone),
        [
            {
                "project_pk": p,
                "title": f"M{k}",
                "state": "erledigt" if k else "offen",
                "created_at": now,
            }
            for p in ids
            for k in range(2)
        ],
    )
    db.session.commit()


@pytest.fixture
def courses(app: Flask) -> tuple[LtiContext, LtiContext, LtiContext]:
    one, two, elsewhere = (f.make_context(c) for c in ("kohorte-1", "kohorte-2", "fremd"))
    return one, two, elsewhere


def test_the_view_counts_every_course_of_the_lotse_by_landkreis_and_status(courses) -> None:
    one, two, elsewhere = courses
    lotse = _lotse_in(one, two)
    _bulk_projects(one, 10, "a")
    _bulk_projects(two, 5, "b")
    _bulk_projects(elsewhere, 4, "c")  # a course the Lotse never launched in

    view = programme_view(lotse.id)
    assert {c.id for c in view.courses} == {one.id, two.id}
    assert view.total == 15 == len(view.rows)
    assert [r.title for r in view.rows] == sorted(r.title for r in view.rows)
    assert sum(k.total for k in view.landkreise) == 15
    assert [k.landkreis for k in view.landkreise] == [
        "Erzgebirgskreis",
        "Landkreis Mittelsachsen",
        "Vogtlandkreis",
    ]
    for kreis in view.landkreise:
        for (status, _label), count in zip(view.statuses, kreis.counts, strict=True):
            assert count == sum(
                1 for r in view.rows if r.landkreis == kreis.landkreis and r.status == status
            )
    assert sum(view.totals) == 15
    filtered = programme_view(lotse.id, filters=ProjectFilter(status="in_betrieb"))
    assert {r.status for r in filtered.rows} == {"in_betrieb"} and filtered.total == 3

    svg = str(programme_svg(view, title="Projekte", description="Nach Landkreis und Status"))
    assert svg.count("<rect") == len(view.landkreise) * len(view.statuses)
    assert "in Betrieb" in svg and "Vogtlandkreis" in svg and "<script" not in svg


def test_csv_is_german_excel_and_names_nobody(courses) -> None:
    one, two, _elsewhere = courses
    lotse = _lotse_in(one, two)
    anna = f.make_navigator("sub-anna-csv")
    anna.name = "Anna Geheim"
    db.session.commit()
    project = f.make_project(one, anna, title="=Formel Hundesteuer", status="in_betrieb")
    projects.publish(
        project,
        user_pk=anna.id,
        show_name=True,
        contact_email="anna.geheim@amtsberg.example",
        consent_version=projects.CONSENT_VERSION,
    )
    db.session.commit()

    def read() -> tuple[str, list[list[str]]]:
        text = "".join(programme_csv(programme_view(lotse.id)))
        assert text.startswith("\ufeff") and "\r\n" in text
        return text, list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))

    text, rows = read()
    assert rows[0][:3] == ["Kurs", "Projekt", "Status"]
    assert rows[1][1] == "'=Formel Hundesteuer"
    assert rows[1][2] == "in Betrieb" and rows[1][12] == "ja"
    assert "Anna" not in text and "amtsberg.example" not in text
    projects.withdraw(project, user_pk=anna.id)
    db.session.commit()
    text, rows = read()
    assert rows[1][12] == "nein"
    assert "Anna" not in text and "amtsberg.example" not in text


def test_constant_number_of_queries_for_10_or_200_projects(courses) -> None:
    one, two, _elsewhere = courses
    lotse = _lotse_in(one, two)

    def measure() -> int:
        db.session.expire_all()
        with counted_queries() as statements:
            view = programme_view(lotse.id)
            "".join(programme_csv(view))
            programme_svg(view, title="t", description="d")
        return len(statements)

    _bulk_projects(one, 5, "s")
    _bulk_projects(two, 5, "t")
    small = measure()
    _bulk_projects(one, 95, "u")
    _bulk_projects(two, 95, "v")
    large = measure()
    assert programme_view(lotse.id).total == 200
    assert small == large, (small, large)


def test_the_lotse_courses_are_those_launched_in_as_lotse(app: Flask) -> None:
    registration = f.make_platform()
    first = f.launch(registration, "sub-frank", lotse=True, context_id="kohorte-a")
    second = f.launch(registration, "sub-frank", lotse=True, context_id="kohorte-b")
    # The same person as a Navigator elsewhere: not one of their Lotse courses.
    f.launch(registration, "sub-frank", context_id="weiterbildung")
    f.launch(registration, "sub-nora", context_id="kohorte-a")
    frank = first.launch.user_pk
    assert projects.lotse_courses(frank) == sorted(
        [first.launch.context_pk, second.launch.context_pk]
    )
    assert projects.lotse_courses(f.launch(registration, "sub-nora").launch.user_pk) == []
    view = programme_view(frank)
    assert {c.id for c in view.courses} == {first.launch.context_pk, second.launch.context_pk}
