"""Workers as real processes (``flask --app wsgi gradebook worker``): one killed with SIGKILL in
the middle of a batch, and two draining one outbox at the same time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask import Flask

from config.settings import PROJECT_ROOT
from courses.gradebook.outbox import enqueue_score
from courses.gradebook.score import ScoreState
from courses.models import GradebookOutbox
from lti_tool.extensions import db
from tests.courses.gradebook.conftest import assert_gradebook_matches, outbox_rows, seed_course
from tests.support.platform import Platform

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

FLASK = str(Path(sys.executable).with_name("flask"))


def start_worker(database_url: str, log: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LOTSEN_ENV": "testing",  # the fixed test SECRET_KEY
        "DATABASE_URL": database_url,
    }
    env.pop("DEMO_LMS", None)
    with log.open("wb") as out:
        return subprocess.Popen(
            [FLASK, "--app", "wsgi", "gradebook", "worker", "--poll", "0.05", *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_worker_killed_mid_batch_loses_nothing(
    gb_app: Flask, platform: Platform, database_url: str, tmp_path: Path
) -> None:
    platform.score_delay = 0.1  # a slow platform: the kill lands inside a score POST
    course = seed_course(platform, modules=2, users=8)
    course.enqueue_all()

    worker = start_worker(database_url, tmp_path / "w1.log", "--batch", "6", "--lease", "1")
    try:
        wait_for(
            lambda: len(platform.accepted()) >= 5 and sum(platform.in_flight.values()) > 0,
            30,
            "the first worker to be busy",
        )
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        with platform.lock:
            in_flight = [key for key, count in platform.in_flight.items() if count]
    finally:
        if worker.poll() is None:
            worker.kill()
    time.sleep(platform.score_delay + 0.1)  # the request it left behind completes on the platform
    rows = outbox_rows()
    assert any(r.state == "pending" and r.claimed_by for r in rows), "killed with rows in hand"
    assert any(r.state == "pending" and not r.claimed_by for r in rows), "killed mid-outbox"

    # While no worker runs, Navigatoren move on: delivered and waiting rows get newer states.
    delivered = [r for r in rows if r.state == "delivered"][:2]
    waiting = [r for r in rows if r.state == "pending" and not r.claimed_by][:1]
    for row in delivered + waiting:
        enqueue_score(
            row.user_pk, row.course_module_pk, ScoreState("Completed", "FullyGraded", 55, 100)
        )
    db.session.commit()

    restart = start_worker(
        database_url, tmp_path / "w2.log", "--drain", "--max-seconds", "40", "--lease", "1"
    )
    assert restart.wait(60) == 0, (tmp_path / "w2.log").read_text()
    rows = outbox_rows()
    assert all(r.state == "delivered" and r.claimed_by is None for r in rows)
    assert platform.overlaps == []
    assert_gradebook_matches(course)
    # A score in flight at the kill was stored by the platform; its re-send was "already there".
    for item, user in in_flight:
        statuses = [
            p.status for p in platform.score_posts if (p.line_item, p.user_id) == (item, user)
        ]
        assert statuses == [200, 409]
    changed = {(r.course_module_pk, r.user_pk) for r in delivered + waiting}
    assert all(r.version == (2 if (r.course_module_pk, r.user_pk) in changed else 1) for r in rows)


def test_two_worker_processes_drain_one_outbox(
    gb_app: Flask, platform: Platform, database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several production workers run on PostgreSQL")
    platform.score_delay = 0.03
    course = seed_course(platform, modules=3, users=10)
    course.enqueue_all()
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    workers = [
        start_worker(database_url, log, "--drain", "--batch", "3", "--max-seconds", "40")
        for log in logs
    ]
    for worker, log in zip(workers, logs, strict=True):
        assert worker.wait(60) == 0, log.read_text()
    outputs = [log.read_text() for log in logs]
    assert all("delivered=" in out for out in outputs), outputs  # both took a share

    assert platform.overlaps == []  # never the same (line item, user) twice at once
    assert len(platform.accepted()) == 30 and set(platform.accepted().values()) == {1}
    assert len(platform.score_posts) == 30  # no duplicates at all, not even a 409
    assert len(platform.line_items) == 3  # one column per module despite two workers
    assert all(r.state == "delivered" for r in outbox_rows())
    assert db.session.query(GradebookOutbox).count() == 30
    assert_gradebook_matches(course)
