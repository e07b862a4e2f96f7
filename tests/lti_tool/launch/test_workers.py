"""Several workers share one database: a login served by one worker and the launch served by
another fit together, and every id_token still launches exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from lti_tool.extensions import db
from lti_tool.models import LtiContext, LtiResourceLink, LtiUser
from tests.conftest import make_app
from tests.lti_tool.conftest import CraftedPlatform, count, launches, problem_title


@pytest.fixture
def other_worker(app: Flask, database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """A second application on the same database: another gunicorn worker."""
    worker = make_app(database_url, tmp_path)
    yield worker
    with worker.app_context():
        db.engine.dispose()


def same_browser(source: FlaskClient, target: FlaskClient, state: str) -> None:
    """The browser presents its state cookie to whichever worker answers."""
    name = f"lti1p3-{state}"
    cookie = source.get_cookie(name)
    assert cookie is not None
    target.set_cookie(name, cookie.value)


def test_login_on_one_worker_launch_on_another_and_no_replay(
    db_platform: CraftedPlatform, other_worker: Flask
) -> None:
    worker_a, worker_b = db_platform.client, other_worker.test_client()
    login = db_platform.login(worker_a)
    token = db_platform.sign(db_platform.claims(login.nonce))
    same_browser(worker_a, worker_b, login.state)

    launched = db_platform.post_launch(login.state, token, client=worker_b)

    assert launched.status_code == 303, problem_title(launched)
    # The launch token issued by worker B is honoured by worker A as well.
    assert worker_a.get(launched.headers["Location"]).status_code == 200
    replayed = db_platform.post_launch(login.state, token, client=worker_a)
    assert replayed.status_code == 400
    assert problem_title(replayed) == "Start bereits verwendet"
    assert launches() == 1


def test_same_id_token_on_two_workers_at_once_launches_once(
    db_platform: CraftedPlatform, other_worker: Flask
) -> None:
    worker_a, worker_b = db_platform.app.test_client(), other_worker.test_client()
    login = db_platform.login(worker_a)
    token = db_platform.sign(db_platform.claims(login.nonce))
    same_browser(worker_a, worker_b, login.state)
    start = threading.Barrier(2)
    results: list[TestResponse] = []

    def post(client: FlaskClient) -> None:
        start.wait()
        results.append(client.post("/lti/launch", data={"state": login.state, "id_token": token}))

    threads = [threading.Thread(target=post, args=(c,)) for c in (worker_a, worker_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(r.status_code for r in results) == [303, 400]
    refused = next(r for r in results if r.status_code == 400)
    assert problem_title(refused) == "Start bereits verwendet"
    assert launches() == 1


def launch_together(
    platform: CraftedPlatform, clients: list[FlaskClient], claims: list[dict[str, Any]]
) -> list[TestResponse]:
    """Log each browser in first, then POST all launches at the same moment."""
    prepared = []
    for client, overrides in zip(clients, claims, strict=True):
        login = platform.login(client)
        token = platform.sign(platform.claims(login.nonce, **overrides))
        prepared.append((client, login.state, token))
    start = threading.Barrier(len(prepared))
    results: dict[int, TestResponse] = {}

    def post(i: int, client: FlaskClient, state: str, token: str) -> None:
        start.wait()
        results[i] = client.post("/lti/launch", data={"state": state, "id_token": token})

    threads = [threading.Thread(target=post, args=(i, *p)) for i, p in enumerate(prepared)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return [results[i] for i in range(len(prepared))]


def test_a_class_starting_together_in_a_new_course(
    db_platform: CraftedPlatform, other_worker: Flask
) -> None:
    # Eight Navigatoren click the same new link at 9:00: one course, one link, eight users.
    apps = [db_platform.app, other_worker] * 4
    clients = [a.test_client() for a in apps]
    claims = [{"sub": f"navigator-{i}", "context_id": "neuer-kurs"} for i in range(len(apps))]

    results = launch_together(db_platform, clients, claims)

    assert [r.status_code for r in results] == [303] * len(apps), [
        problem_title(r) for r in results
    ]
    assert (count(LtiContext), count(LtiResourceLink), count(LtiUser)) == (1, 1, len(apps))
    assert launches() == len(apps)


def test_one_user_in_two_tabs_at_once(db_platform: CraftedPlatform, other_worker: Flask) -> None:
    clients = [db_platform.app.test_client(), other_worker.test_client()]
    claims = [{"sub": "erika", "resource_link_id": f"link-{i}"} for i in range(2)]

    results = launch_together(db_platform, clients, claims)

    assert [r.status_code for r in results] == [303, 303], [problem_title(r) for r in results]
    assert (count(LtiUser), count(LtiResourceLink)) == (1, 2)
