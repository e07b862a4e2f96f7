"""Fixtures of the gradebook tests: the tool on a real port (its JWKS), the test platform as
Moodle (tests/support/platform, flavour "moodle"), and a course with placed modules and
Navigatoren. Timeouts and backoff are short so faults heal fast."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from courses.gradebook.outbox import enqueue_score
from courses.gradebook.score import ScoreState
from courses.gradebook.worker import run_worker
from courses.models import CatalogModule, CatalogUnit, CourseModule, GradebookOutbox
from lti_tool.extensions import db
from lti_tool.keys import ensure_key
from lti_tool.models import Deployment, LtiContext, LtiResourceLink, LtiUser, Registration
from tests.conftest import LiveServer, app_context, make_app
from tests.support.platform import MOODLE, Platform
from tests.support.platform.vocab import ALL_SCOPES

#: Settings for fast tests: a platform that does not answer in 1 s has timed out (long enough
#: for a loaded CI machine, so only the injected timeouts time out).
FAST = {
    "HTTP_TIMEOUT_SECONDS": 1.0,
    "GRADEBOOK_RETRY_BASE_SECONDS": 0.05,
    "GRADEBOOK_RETRY_MAX_SECONDS": 0.4,
    "GRADEBOOK_LEASE_SECONDS": 10,
    "GRADEBOOK_MAX_ATTEMPTS": 8,
    "GRADEBOOK_POLL_SECONDS": 0.05,
}

COMPLETED = ScoreState("Completed", "FullyGraded", 80, 100)
STARTED = ScoreState("Started", "NotReady")


def gradebook_app(database_url: str, tmp_path: Path, **overrides: Any) -> Flask:
    return make_app(database_url, tmp_path, **{**FAST, **overrides})


@pytest.fixture
def gb_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The tool on each backend, with fast timeouts."""
    with app_context(gradebook_app(database_url, tmp_path)) as application:
        yield application


@pytest.fixture
def sqlite_gb_app(sqlite_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The same on SQLite only (tests whose subject is not the database)."""
    with app_context(gradebook_app(sqlite_url, tmp_path)) as application:
        yield application


@dataclass
class Course:
    """A registered platform, an LMS course with placed modules and Navigatoren."""

    platform: Platform
    registration_id: int
    context_id: int
    course_module_ids: list[int]
    user_ids: list[int]
    subs: dict[int, str] = field(default_factory=dict)
    slugs: dict[int, str] = field(default_factory=dict)

    def enqueue_all(self, state: ScoreState = COMPLETED) -> None:
        for cm in self.course_module_ids:
            for user in self.user_ids:
                enqueue_score(user, cm, state)
        db.session.commit()


def seed_course(
    platform: Platform,
    *,
    modules: int = 2,
    users: int = 3,
    scopes: tuple[str, ...] = ALL_SCOPES,
    link_lineitems: bool = False,
) -> Course:
    """Store the platform's registration, a course and its placements; commit.

    Each placement is an activity in the platform's course too (Moodle refuses a line item
    whose ``resourceLinkId`` is no activity of the course, gradebookservices
    check_lti_1x_id), with Moodle's numeric instance id as resource link id; with
    ``link_lineitems`` the activity was created with a grade, so it has its own line item."""
    ensure_key()  # the tool's key exists before the platform fetches the JWKS
    registration = Registration(
        name="Moodle Test",
        issuer=platform.issuer,
        client_id=platform.client_id,
        auth_login_url=platform.auth_login_url,
        auth_token_url=platform.token_url,
        key_set_url=platform.key_set_url,
        product_family="moodle",
    )
    deployment = Deployment(registration=registration, deployment_id=platform.deployment_id)
    context = LtiContext(
        registration=registration,
        context_id="course-7",
        title="Digital-Navigatoren 2026",
        ags_lineitems_url=platform.lineitems_url,
        ags_scopes=list(scopes),
    )
    db.session.add_all([registration, deployment, context])
    db.session.flush()
    context.deployment_pk = deployment.id
    course = Course(platform, registration.id, 0, [], [])
    for number in range(1, modules + 1):
        slug = f"m{number}-modul"
        module = CatalogModule(
            slug=slug,
            kind="basiswissen",
            position=number,
            title=f"Modul {number}",
            content_hash=hashlib.sha256(slug.encode()).hexdigest(),
        )
        unit = CatalogUnit(module=module, slug="quiz", kind="quiz", title="Quiz")
        activity = platform.add_link(f"Link {number}", graded=link_lineitems, score_maximum=100)
        link = LtiResourceLink(
            registration_pk=registration.id,
            context=context,
            resource_link_id=activity.id,
            title=f"Modul {number}",
        )
        if activity.line_item_id is not None:
            link.lineitem_url = platform.lineitem_url(activity.line_item_id)
        db.session.add_all([module, unit, link])
        db.session.flush()
        placed = CourseModule(context_pk=context.id, module_pk=module.id, resource_link_pk=link.id)
        db.session.add(placed)
        db.session.flush()
        course.course_module_ids.append(placed.id)
        course.slugs[placed.id] = slug
    for number in range(1, users + 1):
        user = LtiUser(registration_pk=registration.id, sub=f"sub-{number:04d}-{'x' * 8}")
        db.session.add(user)
        db.session.flush()
        course.user_ids.append(user.id)
        course.subs[user.id] = user.sub
    course.context_id = context.id
    db.session.commit()
    return course


class QuickLiveServer(LiveServer):
    """LiveServer that shuts down in milliseconds (serve_forever polls every 20 ms, not 0.5 s)."""

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )


@pytest.fixture
def tool(gb_app: Flask) -> Iterator[LiveServer]:
    with QuickLiveServer(gb_app) as server:
        yield server


@pytest.fixture
def platform(tool: LiveServer) -> Iterator[Platform]:
    with Platform(tool_jwks_url=tool.url + "/lti/jwks.json", flavour=MOODLE) as server:
        yield server


@pytest.fixture
def course(gb_app: Flask, platform: Platform) -> Course:
    return seed_course(platform)


@pytest.fixture
def sqlite_tool(sqlite_gb_app: Flask) -> Iterator[LiveServer]:
    with QuickLiveServer(sqlite_gb_app) as server:
        yield server


@pytest.fixture
def sqlite_platform(sqlite_tool: LiveServer) -> Iterator[Platform]:
    with Platform(tool_jwks_url=sqlite_tool.url + "/lti/jwks.json", flavour=MOODLE) as server:
        yield server


def drain(max_seconds: float = 30) -> None:
    """Run the worker in this thread until nothing is pending (or fail)."""
    run_worker(drain=True, max_seconds=max_seconds, batch=20)
    db.session.rollback()
    pending = db.session.query(GradebookOutbox).filter_by(state="pending").count()
    assert pending == 0, f"{pending} rows still pending after {max_seconds}s"


def outbox_rows() -> list[GradebookOutbox]:
    db.session.rollback()
    return list(db.session.query(GradebookOutbox).order_by(GradebookOutbox.id))


def assert_gradebook_matches(course: Course) -> None:
    """The platform's grade of every (module, Navigator) equals the tool's newest state."""
    for row in outbox_rows():
        cm = db.session.get(CourseModule, row.course_module_pk)
        assert cm is not None and cm.lineitem_url
        assert course.platform.grade(cm.lineitem_url, row.payload["userId"]) == row.payload, row.id


@pytest.fixture
def sqlite_course(sqlite_gb_app: Flask, sqlite_platform: Platform) -> Course:
    return seed_course(sqlite_platform)
