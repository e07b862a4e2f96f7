"""Launch benchmark: complete LTI 1.3 launches against Lotsen-LTI under its production server and,
in the same run with the same driver, against a minimal pylti1p3 tool (the baseline).

Usage::

    .venv/bin/python bench/launch_bench.py [--quick] [--databases sqlite,postgresql]
                                           [--launches N] [--sweep 2,3,5,2x4]

What it does, all on 127.0.0.1:

1. starts the loopback platform (``bench/loopback_platform.py``, RS256 id_tokens, JWKS) in a
   process of its own, and the baseline (``bench/baseline_tool.py``) under gunicorn with
   ``config/gunicorn.conf.py``, one single-worker instance per configured worker (its launch data
   lives in one process, so each launch is pinned to one instance, as a sticky balancer would);
2. per database (SQLite file; PostgreSQL in a throwaway cluster): sets the tool up with its own
   CLI (``db upgrade``, ``lti keys ensure``, ``lti platform add``, ``courses import``), starts it
   as in production (``LOTSEN_ENV=production``, gunicorn with ``config/gunicorn.conf.py``), places
   four modules by Lotse launches and lets each of 24 Navigatoren launch once;
3. measures, alternating tool and baseline in rounds so that a change in the machine's load hits
   both: sequential launches (median and p95 of the tool-side time), then 8 concurrent clients
   (launches/s, p95, errors);
4. the split run: four single-worker instances of each; login, launch POST and first page of every
   launch on three different workers; counts errors;
5. counts SQL statements (and commits) per request kind, running the same flow in this process
   against ``create_app()`` of the tool;
6. prints the figures, their ratios to the baseline and to the RS256-verify floor (one PyJWT
   decode of such an id_token in this process).

``--sweep`` instead measures only the tool, concurrent, for each gunicorn setting given
(``W`` = W sync workers, ``WxT`` = W workers with T threads), to choose the production default.

The measured launches are those of Navigatoren who launched before, from a link without a module,
so the first page is "Meine Module" with four modules. Results vary with the machine and with
what else runs on it (the load average is printed); the ratios from one run are what counts.
"""

from __future__ import annotations

import argparse
import os
import platform as platform_module
import runpy
import secrets
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

import jwt  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

from bench import driver  # noqa: E402
from bench.loopback_platform import (  # noqa: E402
    INSTRUCTOR,
    LEARNER,
    LaunchRequest,
    PlatformConfig,
    PlatformKey,
    ToolRegistration,
    id_token_claims,
    sign,
)
from bench.servers import Processes, cpu_seconds, free_port, gunicorn_settings, run_cli  # noqa: E402

CLIENTS = 8
SPLIT_WORKERS = 4
NAVIGATORS = 24
#: Placed by Lotse launches before measuring (the demo's default course).
MODULES = (
    "b1-rechtsrahmen",
    "b3-prozessmanagement",
    "b4-informationssicherheit",
    "p1-hundesteuer-online",
)
MUNICIPALITY = "Amtsberg"
BASELINE_CLIENT = "baseline-pylti1p3"


@dataclass
class Sizes:
    sequential: int
    concurrent: int
    split: int
    rounds: int


def sizes_from(args: argparse.Namespace) -> Sizes:
    launches = args.launches or (30 if args.quick else 200)
    rounds = 2 if args.quick else 4
    return Sizes(
        sequential=launches,
        concurrent=max(2 * launches, CLIENTS * rounds),
        split=max(12, launches // 5),
        rounds=rounds,
    )


def navigator(n: int) -> LaunchRequest:
    """The measured launches: returning Navigatoren open the course's tool link."""
    return LaunchRequest(
        sub=f"bench-navigator-{n % NAVIGATORS:03d}",
        roles=[LEARNER],
        resource_link_id="rl-meine-module",
        resource_link_title="Lotsen-LTI",
        custom={"gemeinde": MUNICIPALITY},
    )


def lotse(n: int) -> LaunchRequest:
    """Set-up: the Lotse opens one link per module, which places the module in the course."""
    slug = MODULES[n % len(MODULES)]
    return LaunchRequest(
        sub="bench-lotse",
        roles=[INSTRUCTOR],
        resource_link_id=f"rl-{slug}",
        resource_link_title=slug,
        custom={"module_id": slug},
    )


# --- the measured figures ---


@dataclass
class Figures:
    """What one target achieved in one database's run."""

    sequential: driver.RunResult = field(default_factory=driver.RunResult)
    concurrent: driver.RunResult = field(default_factory=driver.RunResult)
    split: driver.RunResult | None = None


@dataclass
class DatabaseRun:
    name: str
    tool: Figures
    baseline: Figures
    statements: Counts
    baseline_split_causes: Counter[str]
    load_before: float
    load_after: float


def rs256_floor(config: PlatformConfig) -> tuple[float, float]:
    """Milliseconds of one PyJWT RS256 decode of a launch id_token: with the key loaded once, and
    with the PEM parsed per decode (as pylti1p3 and the tool hand it over)."""
    tool = next(iter(config.tools.values()))
    token = sign(config, id_token_claims(config, tool, navigator(0), "n" * 32))
    key = serialization.load_pem_public_key(config.key.public_pem.encode())
    options = {"audience": tool.client_id, "issuer": config.issuer, "algorithms": ["RS256"]}

    def timed(key_value: object) -> float:
        samples = []
        for _ in range(300):
            started = time.perf_counter()
            jwt.decode(token, key_value, **options)  # type: ignore[arg-type]
            samples.append(time.perf_counter() - started)
        return statistics.median(samples) * 1000

    return timed(key), timed(config.key.public_pem)


# --- the tool as production runs it ---


@dataclass
class ToolInstallation:
    """One database with the tool set up through its CLI, reachable at ``public``."""

    database: str
    env: dict[str, str]
    public: str
    ports: list[int]
    client_id: str


def tool_environment(database_url: str, public: str, tmp: Path) -> dict[str, str]:
    return {
        "LOTSEN_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": public,
        "UPLOAD_FOLDER": str(tmp / "uploads"),
    }


def set_up_tool(installation: ToolInstallation, config: PlatformConfig) -> None:
    """What an administrator does: migrate, make a key, register the platform, import the
    catalogue."""
    env = installation.env
    run_cli(env, "db", "upgrade")
    run_cli(env, "lti", "keys", "ensure")
    run_cli(
        env,
        "lti",
        "platform",
        "add",
        "--name",
        "Bench-LMS",
        "--issuer",
        config.issuer,
        "--client-id",
        installation.client_id,
        "--auth-login-url",
        config.issuer + "/auth",
        "--auth-token-url",
        config.issuer + "/token",
        "--key-set-url",
        config.issuer + "/jwks",
        "--deployment",
        "1",
    )
    run_cli(env, "courses", "import")


def tool_target(installation: ToolInstallation, instances: list[str], marker: str) -> driver.Target:
    return driver.Target(
        name="Lotsen-LTI",
        client_id=installation.client_id,
        public=installation.public,
        instances=tuple(instances),
        login_path="/lti/login",
        page_marker=marker,
    )


@dataclass
class Database:
    url: str
    server_pids: list[int]
    """The database server's processes (PostgreSQL's postmaster), for the CPU account."""


@contextmanager
def database(kind: str, tmp: Path) -> Iterator[Database]:
    """A fresh database of ``kind``: a SQLite file, or a PostgreSQL database in a throwaway
    cluster on 127.0.0.1 (``tests/support/pgcluster.py``)."""
    if kind == "sqlite":
        yield Database(f"sqlite:///{tmp / 'lotsen-bench.sqlite'}", [])
        return
    import psycopg

    from tests.support.pgcluster import Cluster

    cluster = Cluster().start()
    try:
        with psycopg.connect(cluster.url.replace("+psycopg", ""), autocommit=True) as connection:
            connection.execute("CREATE DATABASE lotsen_bench")
        postmaster = int((cluster.datadir / "postmaster.pid").read_text().split()[0])
        yield Database(cluster.database_url("lotsen_bench").replace("+psycopg", ""), [postmaster])
    finally:
        cluster.stop()


# --- SQL statements per request kind, in this process ---


REQUEST_KINDS = ("login POST", "login GET", "launch POST", "first page")

Counts = dict[str, dict[str, dict[str, int]]]
"""Launch label -> request kind -> ``{"statements": n, "commits": n}``."""


def count_statements(
    installation: ToolInstallation, fields: Callable[[int], dict[str, str]], target: driver.Target
) -> Counts:
    """Run launches in this process against the tool's app (``wsgi.py``, i.e. ``create_app()``
    with the production settings) and count the SQL statements and commits of each request to
    the tool: a warm-up, then a returning Navigator and a new one."""
    from sqlalchemy import event

    saved = dict(os.environ)
    os.environ.update(installation.env)
    try:
        # The app exactly as gunicorn loads it: wsgi.py, run afresh for each database.
        app = runpy.run_path(str(PROJECT_ROOT / "wsgi.py"))["app"]
        from lti_tool.extensions import db

        with app.app_context():
            engine = db.engine
    finally:
        os.environ.clear()
        os.environ.update(saved)

    counter = Counter[str]()

    def on_statement(*_: object) -> None:
        counter["statements"] += 1

    def on_commit(*_: object) -> None:
        counter["commits"] += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_commit)
    try:
        netloc = target.public.split("//", 1)[1]
        transport = CountingTransport(netloc, app, counter)
        results: Counts = {}
        for label, n in (("warm-up", 0), ("returning Navigator", 1), ("new Navigator", None)):
            transport.log.clear()
            login_fields = fields(n) if n is not None else new_navigator_fields(fields)
            driver.launch(driver.Browser(transport), target, login_fields)
            if label != "warm-up":
                results[label] = dict(zip(REQUEST_KINDS, transport.log, strict=True))
        return results
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "commit", on_commit)
        with app.app_context():
            db.engine.dispose()


def new_navigator_fields(fields: Callable[[int], dict[str, str]]) -> dict[str, str]:
    """The login form of ``fields(0)`` for a Navigator the tool has never seen."""
    login = fields(0)
    request = LaunchRequest.from_hint(login["lti_message_hint"])
    fresh = LaunchRequest(**{**request.__dict__, "sub": "bench-new-" + secrets.token_hex(4)})
    return {**login, "login_hint": fresh.sub, "lti_message_hint": fresh.hint()}


class CountingTransport(driver.WsgiTransport):
    """Records the statements and commits of each in-process request to the tool."""

    def __init__(self, netloc: str, app: object, counter: Counter[str]) -> None:
        super().__init__(netloc, app)
        self.counter = counter
        self.log: list[dict[str, int]] = []

    def send(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> driver.Reply:
        before = dict(self.counter)
        reply = super().send(method, url, body, headers)
        if urlsplit(url).netloc == self.netloc:
            self.log.append(
                {k: self.counter[k] - before.get(k, 0) for k in ("statements", "commits")}
            )
        return reply


# --- one database ---


@dataclass
class Measured:
    """A target with how the driver reaches it and how its servers' CPU time is read."""

    target: driver.Target
    route: driver.Route
    fields: driver.LoginFields
    cpu: Callable[[], float]


def interleaved(
    targets: list[Measured], total: int, rounds: int, clients: int, start: dict[str, int]
) -> list[driver.RunResult]:
    """``total`` launches per target in ``rounds`` rounds, alternating the targets."""
    results = [driver.RunResult() for _ in targets]
    per_round = max(1, total // rounds)
    for _ in range(rounds):
        for index, measured in enumerate(targets):
            key = measured.target.client_id
            results[index].extend(
                driver.run(
                    measured.target,
                    measured.fields,
                    per_round,
                    clients,
                    measured.route,
                    first=start.get(key, 0),
                    cpu=measured.cpu,
                )
            )
            start[key] = start.get(key, 0) + per_round
    return results


def bench_database(
    installation: ToolInstallation,
    tmp: Path,
    processes: Processes,
    config: PlatformConfig,
    baseline: driver.Target,
    baseline_split: driver.Target,
    workers: int,
    sizes: Sizes,
    counters: dict[str, int],
) -> DatabaseRun:
    load_before = os.getloadavg()[0]
    kind = installation.database
    with database(kind, tmp) as db:
        installation.env = tool_environment(db.url, installation.public, tmp / kind)
        (tmp / kind).mkdir(exist_ok=True)
        set_up_tool(installation, config)
        tool_fields = driver.launch_fields_for(config, installation.client_id, navigator)
        lotse_fields = driver.launch_fields_for(config, installation.client_id, lotse)
        baseline_fields = driver.launch_fields_for(config, BASELINE_CLIENT, navigator)
        main_port = installation.ports[0]
        processes.gunicorn(f"tool-{kind}", "wsgi:app", main_port, installation.env)
        single = tool_target(installation, [installation.public], "Meine Module")
        setup = tool_target(installation, [installation.public], "")
        check(driver.run(setup, lotse_fields, len(MODULES)), "Module platzieren")
        check(driver.run(single, tool_fields, NAVIGATORS, clients=1), "erste Starts")
        # Warm every worker of both before measuring.
        driver.run(single, tool_fields, 4 * workers, clients=CLIENTS, first=NAVIGATORS)
        driver.run(baseline, baseline_fields, 4 * workers, CLIENTS, driver.sticky)
        start = {installation.client_id: NAVIGATORS, BASELINE_CLIENT: counters["baseline"]}
        pairs = [
            Measured(
                single,
                driver.single,
                tool_fields,
                lambda: cpu_seconds([processes.pid(f"tool-{kind}"), *db.server_pids]),
            ),
            Measured(
                baseline,
                driver.sticky,
                baseline_fields,
                lambda: cpu_seconds(
                    [processes.pid(f"baseline-{i}") for i in range(len(baseline.instances))]
                ),
            ),
        ]
        sequential = interleaved(pairs, sizes.sequential, sizes.rounds, 1, start)
        concurrent = interleaved(pairs, sizes.concurrent, sizes.rounds, CLIENTS, start)
        processes.stop(f"tool-{kind}")

        instances = [
            processes.gunicorn(f"tool-{kind}-{i}", "wsgi:app", port, installation.env, workers=1)
            for i, port in enumerate(installation.ports[:SPLIT_WORKERS])
        ]
        split_target = tool_target(installation, instances, "Meine Module")
        tool_split = driver.run(split_target, tool_fields, sizes.split, 1, driver.split, first=1)
        logs_before = processes.log_sizes()
        baseline_split_run = driver.run(
            baseline_split, baseline_fields, sizes.split, 1, driver.split, first=1
        )
        # What pylti1p3 raised (the baseline has no error pages of its own).
        causes = Counter(
            line.split("Exception: ", 1)[1].strip()
            for line in processes.new_log_lines(logs_before, "baseline-")
            if line.startswith("pylti1p3.") and "Exception: " in line
        )
        for i in range(SPLIT_WORKERS):
            processes.stop(f"tool-{kind}-{i}")

        statements = count_statements(installation, tool_fields, single)
    counters["baseline"] = start[BASELINE_CLIENT]
    return DatabaseRun(
        name={"sqlite": "SQLite", "postgresql": "PostgreSQL"}[kind],
        tool=Figures(sequential[0], concurrent[0], tool_split),
        baseline=Figures(sequential[1], concurrent[1], baseline_split_run),
        statements=statements,
        baseline_split_causes=causes,
        load_before=load_before,
        load_after=os.getloadavg()[0],
    )


def check(result: driver.RunResult, what: str) -> None:
    if result.errors:
        raise SystemExit(f"{what}: {len(result.errors)} Fehler, z. B. {result.errors[0]}")


# --- printing ---


def ratio(value: float, reference: float) -> str:
    return f"{value / reference:5.2f}x" if reference else "  n/a"


def errors_of(result: driver.RunResult) -> str:
    if not result.errors:
        return "0"
    common = Counter(result.errors).most_common(1)[0][0]
    return f"{len(result.errors)} (z. B. {common})"


def report(run: DatabaseRun, floor_ms: float, workers: int) -> None:
    tool, base = run.tool, run.baseline
    t_seq = [t.tool for t in tool.sequential.timings]
    b_seq = [t.tool for t in base.sequential.timings]
    b_nopage = [t.without_page for t in base.sequential.timings]
    t_med, b_med, b_np = (driver.median_ms(v) for v in (t_seq, b_seq, b_nopage))
    print(f"\n== {run.name} (load average {run.load_before:.2f} -> {run.load_after:.2f})")
    print(
        f"sequential, tool-side ms per launch ({len(t_seq)} launches each; "
        "login POST + cookie-check GET + launch POST + first page):"
    )
    print("                                  median     p95   CPU ms/launch   errors")
    rows = [
        ("Lotsen-LTI complete launch", t_seq, tool.sequential, True),
        ("baseline complete launch", b_seq, base.sequential, True),
        ("baseline login + launch only", b_nopage, base.sequential, False),
    ]
    for label, values, result, with_cpu in rows:
        cpu = f"{result.cpu_ms_per_launch:15.1f}" if with_cpu else " " * 15
        print(
            f"  {label:30s} {driver.median_ms(values):7.1f} {driver.p95_ms(values):7.1f}"
            f"{cpu}   {errors_of(result)}"
        )
    print(
        f"  ratio Lotsen-LTI / baseline complete: {ratio(t_med, b_med)} "
        f"(p95 {ratio(driver.p95_ms(t_seq), driver.p95_ms(b_seq))}); "
        f"/ baseline login+launch: {ratio(t_med, b_np)}; "
        f"/ RS256 floor: {t_med / floor_ms:.0f}x ({floor_ms:.2f} ms); CPU: "
        f"{ratio(tool.sequential.cpu_ms_per_launch, base.sequential.cpu_ms_per_launch)}"
    )
    print("  per request, median ms      Lotsen-LTI   baseline")
    for attribute, label in zip(
        ("login_post", "login_get", "launch_post", "first_page"), REQUEST_KINDS, strict=True
    ):
        t = driver.median_ms([getattr(x, attribute) for x in tool.sequential.timings])
        b = driver.median_ms([getattr(x, attribute) for x in base.sequential.timings])
        print(f"    {label:24s} {t:10.1f} {b:10.1f}   {ratio(t, b)}")
    t_con, b_con = tool.concurrent, base.concurrent
    print(f"concurrent, {CLIENTS} clients, {workers} workers ({t_con.attempted} launches each):")
    print("                                  launches/s   p95 ms   CPU ms/launch   errors")
    for label, result in (("Lotsen-LTI", t_con), ("baseline", b_con)):
        values = [t.tool for t in result.timings]
        print(
            f"  {label:30s} {result.per_second:10.1f} {driver.p95_ms(values):8.1f}"
            f"{result.cpu_ms_per_launch:15.1f}   {errors_of(result)}"
        )
    t_p95 = driver.p95_ms([t.tool for t in t_con.timings])
    b_p95 = driver.p95_ms([t.tool for t in b_con.timings])
    print(
        f"  ratio Lotsen-LTI / baseline: {ratio(t_con.per_second, b_con.per_second)} "
        f"launches/s, {ratio(t_p95, b_p95)} p95"
    )
    assert tool.split is not None and base.split is not None
    print(
        f"split, {SPLIT_WORKERS} single-worker instances, login / launch / first page on "
        "different workers:"
    )
    for label, result in (("Lotsen-LTI", tool.split), ("baseline", base.split)):
        print(
            f"  {label:30s} errors {len(result.errors)} of {result.attempted}"
            + (f"  ({Counter(result.errors).most_common(1)[0][0]})" if result.errors else "")
        )
    if run.baseline_split_causes:
        causes = ", ".join(f"{n}x {text!r}" for text, n in run.baseline_split_causes.most_common())
        print(f"  baseline's pylti1p3 exceptions: {causes}")
    print("SQL statements (commits) per request, in-process (the app of wsgi.py):")
    print("  " + " " * 22 + "".join(f"{k:>13s}" for k in (*REQUEST_KINDS, "launch total")))
    for label, counts in run.statements.items():
        cells = [f"{c['statements']:>8d} ({c['commits']})" for c in counts.values()]
        total_s = sum(c["statements"] for c in counts.values())
        total_c = sum(c["commits"] for c in counts.values())
        print(f"  {label:22s}" + "".join(f"{c:>13s}" for c in cells) + f"{total_s:>8d} ({total_c})")


# --- the worker sweep ---


def sweep(
    installation: ToolInstallation,
    settings: list[str],
    tmp: Path,
    processes: Processes,
    config: PlatformConfig,
    sizes: Sizes,
) -> None:
    """Tool only, on the first database of ``--databases``, 8 clients: one row per gunicorn
    setting. All settings run at once on ports of their own (an idle server costs nothing) and
    are measured in alternating rounds, so a change in the machine's load hits each alike."""
    kind = installation.database
    with database(kind, tmp) as db:
        installation.env = tool_environment(db.url, installation.public, tmp / kind)
        (tmp / kind).mkdir(exist_ok=True)
        set_up_tool(installation, config)
        fields = driver.launch_fields_for(config, installation.client_id, navigator)
        lotse_fields = driver.launch_fields_for(config, installation.client_id, lotse)
        targets: list[tuple[str, driver.Target]] = []
        for number, setting in enumerate(settings):
            workers, _, threads = setting.partition("x")
            env = {
                **installation.env,
                "GUNICORN_WORKERS": workers,
                "GUNICORN_THREADS": threads or "1",
            }
            # The first setting listens on the public address; the others elsewhere, reached
            # by moving every request of a launch to them.
            port = installation.ports[0] if number == 0 else free_port()
            instance = processes.gunicorn(f"tool-sweep-{number}", "wsgi:app", port, env)
            label = f"{workers} sync" if not threads else f"{workers} x {threads} threads"
            targets.append((label, tool_target(installation, [instance], "Meine Module")))
        setup = tool_target(installation, [installation.public], "")
        check(driver.run(setup, lotse_fields, len(MODULES)), "Module platzieren")
        check(driver.run(targets[0][1], fields, NAVIGATORS), "erste Starts")
        for _, target in targets:
            driver.run(target, fields, 4 * CLIENTS, CLIENTS, first=NAVIGATORS)
        results = {label: driver.RunResult() for label, _ in targets}
        per_round = max(CLIENTS, sizes.concurrent // sizes.rounds)
        load_before = os.getloadavg()[0]
        for _ in range(sizes.rounds):
            for number, (label, target) in enumerate(targets):

                def cpu(number: int = number) -> float:
                    return cpu_seconds([processes.pid(f"tool-sweep-{number}"), *db.server_pids])

                results[label].extend(driver.run(target, fields, per_round, CLIENTS, cpu=cpu))
        print(
            f"worker sweep, {kind}, {CLIENTS} clients, {per_round * sizes.rounds} launches per "
            f"setting in {sizes.rounds} rounds (load average {load_before:.2f} -> "
            f"{os.getloadavg()[0]:.2f}):"
        )
        print("  setting          launches/s   median ms   p95 ms   CPU ms/launch   errors")
        for label, result in results.items():
            values = [t.tool for t in result.timings]
            print(
                f"  {label:16s} {result.per_second:10.1f} {driver.median_ms(values):11.1f}"
                f" {driver.p95_ms(values):8.1f} {result.cpu_ms_per_launch:15.1f}"
                f"   {errors_of(result)}"
            )
        for number in range(len(targets)):
            processes.stop(f"tool-sweep-{number}")


def profile(
    installation: ToolInstallation, launches: int, tmp: Path, config: PlatformConfig
) -> None:
    """Tool only, on the first database of ``--databases``, in this process (the app of
    ``wsgi.py`` behind the in-process transport): the SQL of each request of one returning
    Navigator's launch, then ``launches`` launches under cProfile and the functions they spend
    the most time in. For finding what to make faster; the figures of record are the others."""
    import cProfile
    import pstats

    from sqlalchemy import event

    kind = installation.database
    with database(kind, tmp) as db:
        installation.env = tool_environment(db.url, installation.public, tmp / kind)
        (tmp / kind).mkdir(exist_ok=True)
        set_up_tool(installation, config)
        saved = dict(os.environ)
        os.environ.update(installation.env)
        try:
            app = runpy.run_path(str(PROJECT_ROOT / "wsgi.py"))["app"]
        finally:
            os.environ.clear()
            os.environ.update(saved)
        from lti_tool.extensions import db as database_extension

        with app.app_context():
            engine = database_extension.engine
        transport = driver.WsgiTransport(installation.public.split("//", 1)[1], app)
        target = tool_target(installation, [installation.public], "Meine Module")
        setup = tool_target(installation, [installation.public], "")
        fields = driver.launch_fields_for(config, installation.client_id, navigator)
        lotse_fields = driver.launch_fields_for(config, installation.client_id, lotse)
        for n in range(len(MODULES)):
            driver.launch(driver.Browser(transport), setup, lotse_fields(n))
        for n in range(NAVIGATORS):
            driver.launch(driver.Browser(transport), target, fields(n))

        statements: list[str] = []

        def on_statement(_c: object, _cur: object, statement: str, *_: object) -> None:
            statements.append(" ".join(statement.split())[:160])

        event.listen(engine, "before_cursor_execute", on_statement)
        driver.launch(driver.Browser(transport), target, fields(1))
        event.remove(engine, "before_cursor_execute", on_statement)
        print(f"SQL of one returning Navigator's launch ({len(statements)} statements):")
        for statement in statements:
            print("  ", statement)

        timed = TimingTransport(transport)
        for n in range(launches):
            driver.launch(driver.Browser(timed), target, fields(n % NAVIGATORS))
        print(f"\nin this process, without the profiler, median ms of {launches} launches:")
        for kind, values in zip(REQUEST_KINDS, timed.per_kind(), strict=True):
            print(f"  {kind:12s} {statistics.median(values):6.2f}")

        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for n in range(launches):
            driver.launch(driver.Browser(transport), target, fields(n % NAVIGATORS))
        profiler.disable()
        elapsed = time.perf_counter() - started
        print(f"\n{launches} launches in this process: {1000 * elapsed / launches:.1f} ms each")
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(60)
        with app.app_context():
            database_extension.engine.dispose()


class TimingTransport(driver.HttpTransport):
    """Times each request to the tool (the in-process app), in launch order."""

    def __init__(self, inner: driver.WsgiTransport) -> None:
        self.inner = inner
        self.times: list[float] = []

    def send(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> driver.Reply:
        started = time.perf_counter()
        reply = self.inner.send(method, url, body, headers)
        if urlsplit(url).netloc == self.inner.netloc:
            self.times.append(1000 * (time.perf_counter() - started))
        return reply

    def per_kind(self) -> list[list[float]]:
        kinds = len(REQUEST_KINDS)
        return [self.times[i::kinds] for i in range(kinds)]


# --- main ---


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run")
    parser.add_argument("--databases", default="sqlite,postgresql", help="sqlite,postgresql")
    parser.add_argument("--launches", type=int, help="sequential launches per target (200)")
    parser.add_argument("--sweep", help="only the tool, per gunicorn setting: e.g. 2,3,5,2x4")
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="only the tool, in this process: N launches under cProfile, the hottest functions "
        "and each request's SQL",
    )
    args = parser.parse_args()
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    if not set(kinds) <= {"sqlite", "postgresql"}:
        parser.error("--databases: sqlite und/oder postgresql")
    sizes = sizes_from(args)
    workers = int(gunicorn_settings()["workers"])  # type: ignore[call-overload]
    # SIGTERM (e.g. from `timeout`) must stop the servers too: turn it into SystemExit, which
    # unwinds through Processes and the database cluster like an error does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    with (
        tempfile.TemporaryDirectory(prefix="launch-bench-") as tmp_name,
        Processes(Path(tmp_name)) as processes,
    ):
        tmp = Path(tmp_name)
        platform_port = free_port()
        issuer = f"http://127.0.0.1:{platform_port}"
        config = PlatformConfig(issuer=issuer, key=PlatformKey.generate())
        installations: list[ToolInstallation] = []
        for kind in kinds:
            ports = [free_port() for _ in range(SPLIT_WORKERS)]
            public = f"http://127.0.0.1:{ports[0]}"
            installation = ToolInstallation(kind, {}, public, ports, f"lotsen-{kind}")
            installations.append(installation)
            config.tools[installation.client_id] = ToolRegistration(
                client_id=installation.client_id,
                deployment_id="1",
                login_url=public + "/lti/login",
                redirect_uri=public + "/lti/launch",
                target_link_uri=public + "/lti/launch",
            )
        baseline_ports = [free_port() for _ in range(max(workers, SPLIT_WORKERS))]
        baseline_public = f"http://127.0.0.1:{baseline_ports[0]}"
        config.tools[BASELINE_CLIENT] = ToolRegistration(
            client_id=BASELINE_CLIENT,
            deployment_id="1",
            login_url=baseline_public + "/login",
            redirect_uri=baseline_public + "/launch",
            target_link_uri=baseline_public + "/launch",
        )
        config_file = tmp / "platform.json"
        config_file.write_text(config.to_json())
        processes.start(
            "platform",
            [
                sys.executable,
                str(PROJECT_ROOT / "bench" / "loopback_platform.py"),
                str(config_file),
                str(platform_port),
            ],
            platform_port,
        )

        if args.sweep:
            sweep(installations[0], args.sweep.split(","), tmp, processes, config, sizes)
            return
        if args.profile:
            profile(installations[0], args.profile, tmp, config)
            return

        baseline_instances = start_baseline(tmp, processes, config, baseline_ports)
        baseline = baseline_target(baseline_public, baseline_instances[:workers])
        baseline_split = baseline_target(baseline_public, baseline_instances[:SPLIT_WORKERS])
        floor_ms, floor_pem_ms = rs256_floor(config)
        settings = gunicorn_settings()
        print(
            f"Launch benchmark {date.today().isoformat()}: {platform_module.system()} "
            f"{platform_module.machine()}, {os.cpu_count()} cores, Python "
            f"{platform_module.python_version()}; gunicorn with config/gunicorn.conf.py: "
            f"{settings['workers']} workers, {settings['threads']} thread(s) each; "
            f"{sizes.rounds} alternating rounds"
        )
        print(
            f"RS256-verify floor (one PyJWT decode of a launch id_token): {floor_ms:.2f} ms "
            f"({floor_pem_ms:.2f} ms with the PEM parsed per decode)"
        )
        print(
            f"baseline: bench/baseline_tool.py (pylti1p3 Flask API, per-process cache), "
            f"{workers} single-worker instances, each launch pinned to one"
        )
        counters = {"baseline": 0}
        for installation in installations:
            run = bench_database(
                installation,
                tmp,
                processes,
                config,
                baseline,
                baseline_split,
                workers,
                sizes,
                counters,
            )
            report(run, floor_ms, workers)
            sys.stdout.flush()


def start_baseline(
    tmp: Path, processes: Processes, config: PlatformConfig, ports: list[int]
) -> list[str]:
    """The baseline tool under gunicorn, one single-worker instance per port."""
    import json

    private = PlatformKey.generate()  # the baseline tool's own key pair
    (tmp / "baseline-private.pem").write_text(private.private_pem)
    (tmp / "baseline-public.pem").write_text(private.public_pem)
    public = f"http://127.0.0.1:{ports[0]}"
    settings = {
        "issuer": config.issuer,
        "client_id": BASELINE_CLIENT,
        "deployment_id": "1",
        "auth_login_url": config.issuer + "/auth",
        "auth_token_url": config.issuer + "/token",
        "key_set_url": config.issuer + "/jwks",
        "launch_url": public + "/launch",
        "private_key_file": str(tmp / "baseline-private.pem"),
        "public_key_file": str(tmp / "baseline-public.pem"),
    }
    conf = tmp / "baseline.json"
    conf.write_text(json.dumps(settings))
    env = {"BENCH_BASELINE_CONFIG": str(conf)}
    return [
        processes.gunicorn(f"baseline-{i}", "bench.baseline_tool:app", port, env, workers=1)
        for i, port in enumerate(ports)
    ]


def baseline_target(public: str, instances: list[str]) -> driver.Target:
    return driver.Target(
        name="baseline",
        client_id=BASELINE_CLIENT,
        public=public,
        instances=tuple(instances),
        login_path="/login",
        page_marker="Angemeldet als",
    )


if __name__ == "__main__":
    main()
