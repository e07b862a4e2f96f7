"""``flask gradebook …``: the outbox worker for production, its status, retries and resyncs.

In production the worker runs as its own process (several may run at once)::

    flask --app wsgi gradebook worker                  # until SIGTERM
    flask --app wsgi gradebook worker --once           # what is due now, then exit (cron)
    flask --app wsgi gradebook status
    flask --app wsgi gradebook retry --failed
    flask --app wsgi gradebook resync --course 12      # 12 = LtiContext.id
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from lti_tool.extensions import db
from lti_tool.models import LtiContext

from . import gradebook

cli = AppGroup("gradebook", help="Notenübertragung an das LMS (AGS): Worker, Status, Wiederholen.")


@cli.command("worker")
@click.option("--once", is_flag=True, help="Nur was jetzt fällig ist, dann beenden.")
@click.option(
    "--drain", is_flag=True, help="Beenden, wenn nichts mehr aussteht (wartet Wiederholungen ab)."
)
@click.option("--batch", type=click.IntRange(1, 1000), help="Zeilen pro Durchgang (Standard 50).")
@click.option("--max-seconds", type=click.FloatRange(0, min_open=True), help="Höchstens so lange.")
@click.option("--poll", type=click.FloatRange(0.01), help="Sekunden zwischen leeren Durchgängen.")
@click.option(
    "--lease",
    type=click.FloatRange(1),
    help="Sekunden, die eine beanspruchte Zeile reserviert bleibt (Standard 120).",
)
@click.option(
    "--http-timeout",
    type=click.FloatRange(0.1),
    help="Zeitlimit je Anfrage an die Plattform (Standard: HTTP_TIMEOUT_SECONDS).",
)
def worker(
    once: bool,
    drain: bool,
    batch: int | None,
    max_seconds: float | None,
    poll: float | None,
    lease: float | None,
    http_timeout: float | None,
) -> None:
    """Liefert ausstehende Bewertungen aus; SIGTERM beendet nach der laufenden Zeile."""
    if lease is not None:
        current_app.config["GRADEBOOK_LEASE_SECONDS"] = lease
    if http_timeout is not None:
        current_app.config["HTTP_TIMEOUT_SECONDS"] = http_timeout
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    worker_id = gradebook.new_worker_id()
    stats = gradebook.run_worker(
        worker=worker_id,
        once=once,
        drain=drain,
        batch=batch,
        max_seconds=max_seconds,
        poll_seconds=poll,
        stop=stop,
    )
    outcomes = ", ".join(f"{k}={v}" for k, v in sorted(stats.outcomes.items())) or "nichts zu tun"
    click.echo(f"Worker {worker_id}: {outcomes}")


@cli.command("status")
def status() -> None:
    """Anzahl je Zustand und Alter des ältesten ausstehenden Stands."""
    info = gradebook.status()
    counts = info["counts"]
    click.echo(f"ausstehend:      {counts['pending']}")
    click.echo(f"übertragen:      {counts['delivered']}")
    click.echo(f"fehlgeschlagen:  {counts['failed']}")
    age = info["oldest_pending_seconds"]
    click.echo("ältester ausstehender Stand: " + ("–" if age is None else f"{age:.0f} s alt"))


@cli.command("retry")
@click.option("--failed", is_flag=True, help="Auch fehlgeschlagene Zeilen erneut einreihen.")
def retry(failed: bool) -> None:
    """Wartende Zeilen sofort fällig machen; mit --failed auch fehlgeschlagene."""
    count = gradebook.requeue_all(failed=failed)
    db.session.commit()
    click.echo(f"{count} Zeile(n) erneut eingereiht.")


@cli.command("resync")
@click.option("--course", "course", type=int, required=True, help="LtiContext.id des LMS-Kurses.")
def resync(course: int) -> None:
    """Den aktuellen Stand aller Navigatoren × Module eines Kurses erneut senden."""
    if db.session.get(LtiContext, course) is None:
        raise click.ClickException(f"Kein Kurs mit der ID {course}.")
    try:
        count = gradebook.resync_course(course)
    except ModuleNotFoundError as error:
        db.session.rollback()
        raise click.ClickException(f"Fortschrittsberechnung fehlt: {error}") from error
    db.session.commit()
    click.echo(f"{count} Bewertung(en) für Kurs {course} eingereiht.")


def init_app(app: Flask) -> None:
    app.cli.add_command(cli)
