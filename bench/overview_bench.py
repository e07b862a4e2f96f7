"""Overview benchmark: the Lotse's progress overview of a large course, page, CSV and JSON.

Usage::

    .venv/bin/python bench/overview_bench.py [--quick] [--databases sqlite,postgresql]
                                             [--navigators 1000] [--modules 12] [--requests N]

What it does, all in this one process:

1. per database (a SQLite file in a temporary directory; PostgreSQL in a throwaway cluster on
   127.0.0.1, ``tests/support/pgcluster.py``): migrates it and seeds one course with a Lotse,
   ``--modules`` placed modules of three units each (two with a past due date, one limited to
   half of the people) and ``--navigators`` Navigatoren with municipalities and progress in
   every state (``tests.factories.bulk_navigators``: about 27,000 unit rows for 1,000 × 12);
2. warms the app (the first visit of a launch asks for a roster refresh; templates compile, the
   catalogue of municipalities loads) with a few requests of each kind;
3. times ``--requests`` requests of each of ``/lotse/uebersicht`` (the rendered page),
   ``/lotse/uebersicht.csv`` and ``/api/lotse/uebersicht`` with the Flask test client, body read
   to the end, and counts the SQL statements of one request of each;
4. prints median, p95 and fastest wall time in ms, the median CPU time of this process (less
   affected by other load on the machine; PostgreSQL's server time is not in it), the statement
   count, and each median against the target (150 ms on SQLite, 200 ms on PostgreSQL for
   1,000 × 12).

There is no baseline in the run: the code before the change is not in this tree. The README
("Betrieb und Dimensionierung") gives the figures this script printed on the commit before, on
the same machine. Results vary with the machine and its load (printed).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import Engine, event, insert, select, text  # noqa: E402

import courses  # noqa: E402
import demo_lms  # noqa: E402
from courses.models import CourseMembership, CourseModule, CourseModuleMember  # noqa: E402
from lti_tool import create_app  # noqa: E402
from lti_tool.extensions import db  # noqa: E402
from lti_tool.launch.token import TOKEN_FIELD  # noqa: E402
from lti_tool.models import utcnow  # noqa: E402
from tests import factories as f  # noqa: E402

PATHS = ("/lotse/uebersicht", "/lotse/uebersicht.csv", "/api/lotse/uebersicht")
TARGET_MS = {"sqlite": 150.0, "postgresql": 200.0}
NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
#: Municipalities of the official list (AGS, name), as Navigatoren chose them.
MUNICIPALITIES = [
    ("14628310", "Rathen, Kurort"),
    ("14628270", "Pirna, Stadt"),
    ("14521460", "Olbernhau, Stadt"),
    ("14522350", "Lunzenau, Stadt"),
    ("14625100", "Demitz-Thumitz"),
    ("14730030", "Beilrode"),
]


@contextmanager
def database(kind: str, tmp: Path) -> Iterator[str]:
    """The URL of a fresh, empty database of ``kind``."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'overview-bench.sqlite'}"
        return
    import psycopg

    from tests.support.pgcluster import Cluster

    cluster = Cluster().start()
    try:
        with psycopg.connect(cluster.url.replace("+psycopg", ""), autocommit=True) as connection:
            connection.execute("CREATE DATABASE overview_bench")
        yield cluster.database_url("overview_bench")
    finally:
        cluster.stop()


def seed(navigators: int, modules: int) -> str:
    """One course of ``navigators`` × ``modules``; returns the Lotse's launch token."""
    registration = f.platform()
    lotse = f.launch(registration, "bench-lotse", lotse=True, context_id="bench-kurs")
    catalog = [
        f.module(
            f"bench-{i:02d}",
            title=f"Modul {i:02d}",
            kind="basiswissen" if i < modules * 2 // 3 else "best-practice",
            position=i,
        )
        for i in range(modules)
    ]
    placed = [f.place(lotse.context, m) for m in catalog]
    f.bulk_navigators(lotse.context, navigators, modules=catalog, municipalities=MUNICIPALITIES)
    now = utcnow()
    for course_module in placed[:2]:
        course_module.due_at = now - timedelta(days=7)
    placed[2].due_at = now + timedelta(days=30)
    limited = placed[-1]
    limited.limited_to_members = True
    members = db.session.scalars(
        select(CourseMembership.user_pk)
        .where(
            CourseMembership.context_pk == lotse.context.id,
            CourseMembership.role == "navigator",
        )
        .order_by(CourseMembership.user_pk)
    ).all()
    db.session.execute(
        insert(CourseModuleMember),
        [{"course_module_pk": limited.id, "user_pk": pk} for pk in members[::2]],
    )
    db.session.commit()
    assert db.session.scalar(select(db.func.count()).select_from(CourseModule)) == modules
    # The planner's statistics, as autovacuum gathers them after a bulk insert in production
    # (without them PostgreSQL joins 27,000 rows in a nested loop, ten times slower).
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    return lotse.token


def count_statements(engine: Engine, client: Any, path: str, token: str) -> int:
    statements = 0

    def on_statement(*_: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    try:
        response = client.get(path, query_string={TOKEN_FIELD: token})
        assert response.status_code == 200, response.status_code
        response.get_data()
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
    return statements


def timed(client: Any, path: str, token: str, requests: int) -> list[tuple[float, float]]:
    """(wall ms, CPU ms of this process) of each of ``requests`` requests of ``path``."""
    samples = []
    for _ in range(requests):
        started, cpu = time.perf_counter(), time.process_time()
        response = client.get(path, query_string={TOKEN_FIELD: token})
        body = response.get_data()
        samples.append(((time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000))
        assert response.status_code == 200 and body, (path, response.status_code)
    return samples


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


@dataclass
class Figures:
    median: float
    p95: float
    fastest: float
    cpu: float
    """Median CPU time of this process (PostgreSQL's own work is not in it)."""
    statements: int


def bench_database(kind: str, args: argparse.Namespace) -> dict[str, Figures]:
    """``path -> figures`` on a fresh database of ``kind``."""
    with (
        tempfile.TemporaryDirectory(prefix="overview-bench-") as tmp,
        database(kind, Path(tmp)) as url,
    ):
        app = create_app(
            {
                "LOTSEN_ENV": "testing",
                "SQLALCHEMY_DATABASE_URI": url,
                "UPLOAD_FOLDER": f"{tmp}/uploads",
                "DEMO_LMS": False,
            },
            components=(courses, demo_lms),
        )
        with app.app_context():
            logging.disable(logging.INFO)  # alembic's line per migration
            upgrade(directory=str(PROJECT_ROOT / "migrations"))
            logging.disable(logging.NOTSET)
            token = seed(args.navigators, args.modules)
            db.session.remove()
            engine = db.engine
        # The requests outside that app context: each has its own, and its own session, as
        # under gunicorn (no object of one request is still known to the next).
        client = app.test_client()
        for path in PATHS:
            timed(client, path, token, args.warmup)
        results = {}
        for path in PATHS:
            samples = timed(client, path, token, args.requests)
            wall = [w for w, _cpu in samples]
            results[path] = Figures(
                median=statistics.median(wall),
                p95=p95(wall),
                fastest=min(wall),
                cpu=statistics.median(c for _w, c in samples),
                statements=count_statements(engine, client, path, token),
            )
        engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few requests (a short run)")
    parser.add_argument("--databases", default="sqlite,postgresql", help="sqlite,postgresql")
    parser.add_argument("--navigators", type=int, default=1000, help="Navigatoren (1000)")
    parser.add_argument("--modules", type=int, default=12, help="placed modules (12)")
    parser.add_argument("--requests", type=int, help="timed requests per kind (30, quick: 8)")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    if not set(kinds) <= set(TARGET_MS):
        parser.error("--databases: sqlite und/oder postgresql")
    if args.modules < 4:
        parser.error("--modules: mindestens 4")
    args.requests = args.requests or (8 if args.quick else 30)
    args.warmup = 2 if args.quick else 5

    load = os.getloadavg()[0]
    print(
        f"overview: {args.navigators} Navigatoren × {args.modules} modules, "
        f"{args.requests} timed requests per kind after {args.warmup} warm-up, "
        f"in-process (Flask test client, body read), load average {load:.2f}"
    )
    for kind in kinds:
        results = bench_database(kind, args)
        target = TARGET_MS[kind]
        print(f"\n{NAMES[kind]} (target {target:.0f} ms per request)")
        print(
            f"  {'request':<24} {'median':>9} {'p95':>9} {'fastest':>9} {'CPU':>9} {'SQL':>4}"
            "  median against the target"
        )
        for path, r in results.items():
            verdict = "ok" if r.median <= target else f"MISSED by {r.median - target:.0f} ms"
            print(
                f"  {path:<24} {r.median:6.1f} ms {r.p95:6.1f} ms {r.fastest:6.1f} ms "
                f"{r.cpu:6.1f} ms {r.statements:4d}  {r.median / target:4.0%}, {verdict}"
            )
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
