"""Gradebook delivery benchmark: the outbox worker against the naive pylti1p3 way.

Usage::

    .venv/bin/python bench/ags_bench.py [--scores 1000] [--batch 100]

What it does, all on 127.0.0.1 inside this one process:

1. creates a temporary SQLite database, migrates it, and serves the tool (its JWKS) on a port;
2. starts the test platform ``tests/support/platform`` as Moodle (token endpoint that checks
   the client assertion against the tool's JWKS, AGS as Moodle's gradebookservices);
3. **outbox**: enqueues one score for each of ``--scores`` Navigatoren, then lets
   :func:`courses.gradebook.run_worker` deliver them (one worker, tokens cached in the database);
4. **naive**: sends the same number of scores the way the pylti1p3 Flask example does — a new
   ``ServiceConnector`` and ``AssignmentsGradesService.put_grade`` per score, so a new token each
   time;
5. prints scores per second and token requests of both, and the ratio.

No network beyond loopback, nothing left behind. Results vary with the machine; the ratio is
what matters.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from flask import Flask  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from pylti1p3.assignments_grades import AssignmentsGradesService  # noqa: E402
from pylti1p3.grade import Grade  # noqa: E402
from pylti1p3.registration import Registration as PyltiRegistration  # noqa: E402
from pylti1p3.service_connector import ServiceConnector  # noqa: E402
from sqlalchemy import select  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

import courses  # noqa: E402
import demo_lms  # noqa: E402
from courses.gradebook import GradebookOutbox, ScoreState, enqueue_score, run_worker  # noqa: E402
from courses.models import CourseModule  # noqa: E402
from lti_tool import create_app  # noqa: E402
from lti_tool.extensions import db  # noqa: E402
from lti_tool.keys import active_key  # noqa: E402
from lti_tool.models import AccessToken  # noqa: E402
from tests.courses.gradebook.conftest import seed_course  # noqa: E402
from tests.support.platform import MOODLE, Platform  # noqa: E402
from tests.support.platform.vocab import ALL_SCOPES  # noqa: E402


def _serve(app: Flask) -> tuple[str, threading.Thread, object]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    return f"http://127.0.0.1:{server.server_port}", thread, server


def bench_outbox(app: Flask, platform: Platform, scores: int, batch: int) -> dict[str, float]:
    course = seed_course(platform, modules=1, users=scores, scopes=ALL_SCOPES)
    cm = course.course_module_ids[0]
    state = ScoreState("Completed", "FullyGraded", 87.5, 100)
    started = time.perf_counter()
    for user in course.user_ids:
        enqueue_score(user, cm, state)
    db.session.commit()
    enqueued = time.perf_counter()
    tokens_before = platform.token_requests
    run_worker(drain=True, batch=batch, max_seconds=600)
    delivered_at = time.perf_counter()
    delivered = db.session.scalar(
        select(db.func.count())
        .select_from(GradebookOutbox)
        .where(GradebookOutbox.state == "delivered")
    )
    assert delivered == scores, f"only {delivered} of {scores} delivered"
    lineitem = db.session.get(CourseModule, cm).lineitem_url
    assert lineitem is not None
    assert all(platform.grade(lineitem, sub) for sub in course.subs.values())
    seconds = delivered_at - enqueued
    return {
        "enqueue_seconds": enqueued - started,
        "seconds": seconds,
        "per_second": scores / seconds,
        "token_requests": platform.token_requests - tokens_before,
        "db_token_requests": float(
            db.session.scalar(select(db.func.sum(AccessToken.requested_count))) or 0
        ),
    }


def bench_naive(platform: Platform, scores: int) -> dict[str, float]:
    key = active_key()
    public_pem = (
        serialization.load_pem_private_key(key.private_key_pem.encode(), password=None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    lineitem = platform.add_line_item(label="naiv", scoreMaximum=100, resourceId="naive")
    service_data = {
        "scope": list(ALL_SCOPES),
        "lineitems": platform.lineitems_url,
        "lineitem": lineitem,
    }
    tokens_before = platform.token_requests
    started = time.perf_counter()
    for number in range(scores):
        # As the pylti1p3 Flask example: a new connector (and so a new token) for every score.
        registration = (
            PyltiRegistration()
            .set_issuer(platform.issuer)
            .set_client_id(str(platform.client_id))
            .set_auth_token_url(platform.token_url)
            .set_tool_private_key(key.private_key_pem)
            .set_tool_public_key(public_pem)
        )
        connector = ServiceConnector(registration)
        grade = (
            Grade()
            .set_score_given(87.5)
            .set_score_maximum(100)
            .set_timestamp(datetime.now(UTC).isoformat())
            .set_activity_progress("Completed")
            .set_grading_progress("FullyGraded")
            .set_user_id(f"naive-{number:05d}")
        )
        AssignmentsGradesService(connector, service_data).put_grade(grade)
    seconds = time.perf_counter() - started
    stored = sum(1 for (item, _user) in platform.grades if item == platform.item_id(lineitem))
    assert stored == scores, f"only {stored} of {scores} stored"
    return {
        "seconds": seconds,
        "per_second": scores / seconds,
        "token_requests": platform.token_requests - tokens_before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scores", type=int, default=1000, help="Navigatoren / scores (1000)")
    parser.add_argument("--batch", type=int, default=100, help="worker batch size (100)")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="ags-bench-") as tmp:
        app = create_app(
            {
                "LOTSEN_ENV": "testing",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite",
                "UPLOAD_FOLDER": f"{tmp}/uploads",
                "DEMO_LMS": False,
                "HTTP_TIMEOUT_SECONDS": 10,
            },
            components=(courses, demo_lms),
        )
        with app.app_context():
            upgrade(directory=str(PROJECT_ROOT / "migrations"))
            active_key()
            db.session.commit()
            tool_url, _thread, tool_server = _serve(app)
            with Platform(tool_jwks_url=tool_url + "/lti/jwks.json", flavour=MOODLE) as platform:
                outbox = bench_outbox(app, platform, args.scores, args.batch)
                naive = bench_naive(platform, args.scores)
            tool_server.shutdown()  # type: ignore[attr-defined]
            db.session.remove()
            db.engine.dispose()

    print(f"scores: {args.scores} (SQLite, one worker, batch {args.batch}, loopback platform)")
    print(
        f"outbox worker : {outbox['per_second']:8.1f} scores/s  ({outbox['seconds']:.2f} s), "
        f"token requests: {outbox['token_requests']:.0f} "
        f"(enqueue in the change's transaction: {outbox['enqueue_seconds']:.2f} s for all)"
    )
    print(
        f"pylti1p3 naive: {naive['per_second']:8.1f} scores/s  ({naive['seconds']:.2f} s), "
        f"token requests: {naive['token_requests']:.0f}"
    )
    print(
        f"ratio         : {outbox['per_second'] / naive['per_second']:.1f}x the throughput, "
        f"{naive['token_requests'] / max(1, outbox['token_requests']):.0f}x fewer token requests"
    )


if __name__ == "__main__":
    main()
