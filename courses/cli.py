"""The domain's command line: ``flask courses check/import`` (the catalogue), ``flask courses
lotse …`` (who is a Lotse beyond the platform's roles, the Gemeinde list) and ``flask gradebook
…`` (the outbox worker, its status, retries and resyncs).

``flask courses privacy …`` answers the DSGVO rights of one person and applies the retention
rule (courses/services/privacy.py); every export and deletion is recorded in the privacy audit::

    flask --app wsgi courses privacy export --platform NAME --sub SUB [--out FILE]
    flask --app wsgi courses privacy erase --platform NAME --sub SUB [--yes]
    flask --app wsgi courses privacy purge [--dry-run]     # daily (config/systemd cleanup)
    flask --app wsgi courses privacy audit [--platform NAME --sub SUB]

ILIAS can launch every user as a learner ("always learner", lti-notes §3). Two ways make a Lotse
there anyway, both decided by the tool's admin, never by a course:

- ``courses lotse grant --platform NAME --sub SUB``: this person (the platform's ``sub``, shown on
  the "Willkommen" page and in the Lotse's roster) is a Lotse in every course of that platform;
- ``courses lotse custom-role enable --platform NAME --deployment ID``: on this deployment,
  launches whose custom parameters say ``lotsen_rolle=lotse`` are Lotse launches. Custom
  parameters apply to everyone who opens the link, so enable it only for a deployment whose links
  only Lotsen can reach (e.g. a separate ILIAS provider "Lotsen-LTI (Lotsen)" used in a
  Lotsen-only area).

In production the gradebook worker runs as its own process (several may run at once)::

    flask --app wsgi gradebook worker                  # until SIGTERM
    flask --app wsgi gradebook worker --once           # what is due now, then exit (cron)
    flask --app wsgi gradebook status
    flask --app wsgi gradebook retry --failed
    flask --app wsgi gradebook resync --course 12      # 12 = LtiContext.id
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from courses.authoring.catalog_files import DEFAULT_CATALOG_PATH, load_catalog
from courses.authoring.importer import CatalogInvalid, import_catalog
from courses.gradebook import outbox
from courses.gradebook.worker import new_worker_id, run_worker
from courses.models import CatalogModule, MunicipalitySource, PrivacyAction, PrivacyActor, Project
from courses.reports.personal_data import ROW_LABELS, archive, render_document
from courses.services import municipalities, privacy, projects, roles, roster
from courses.services.dates import format_day, format_moment
from courses.services.municipalities import MunicipalityListError, official_list
from courses.services.progress import resync_course
from lti_tool.extensions import db
from lti_tool.models import Deployment, LtiContext, LtiUser, Registration
from lti_tool.registrations import RegistrationError, find_deployment, find_platform

# --- flask courses: the catalogue ----------------------------------------------------------------

courses = AppGroup("courses", help="Modulkatalog: prüfen und importieren.")

_catalog_option = click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(file_okay=False, path_type=Path),
    help="Katalogordner (Standard: CATALOG_PATH der Konfiguration, sonst courses/catalog).",
)


def resolve_catalog_path(option: Path | None = None) -> Path:
    """The catalogue folder: the option, else ``CATALOG_PATH``, else the packaged catalogue."""
    if option is not None:
        return option
    return Path(current_app.config.get("CATALOG_PATH") or DEFAULT_CATALOG_PATH)


@courses.command("check")
@_catalog_option
def check(catalog_path: Path | None) -> None:
    """Den Katalog prüfen: jedes Problem mit Datei und Zeile; Exit-Status 1 bei Problemen."""
    catalog = load_catalog(resolve_catalog_path(catalog_path))
    for problem in catalog.problems:
        click.echo(str(problem))
    click.echo(catalog.summary())
    if not catalog.ok:
        raise SystemExit(1)


@courses.command("import")
@_catalog_option
def import_(catalog_path: Path | None) -> None:
    """Den Katalog versioniert in die Datenbank laden (idempotent, eine Transaktion)."""
    try:
        report = import_catalog(resolve_catalog_path(catalog_path))
    except CatalogInvalid as error:
        db.session.rollback()
        for problem in error.problems:
            click.echo(str(problem))
        count = len(error.problems)
        noun = "Problem" if count == 1 else "Probleme"
        click.echo(f"Import abgebrochen, nichts geändert: {count} {noun}.")
        raise SystemExit(1) from error
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    for line in report.lines():
        click.echo(line)


# --- flask courses demo-projects: Praxisprojekte for the demo LMS ------------------------------

#: The demo cohort that holds the finished example projects (same registration as the demo
#: course, so its examples are in the demo course's programme).
DEMO_COHORT = (
    "demo-kurs-beispiele",
    "DN-2025-2",
    "Digital-Navigatoren Kurs 2025/2 (Demo-Beispiele)",
)


@dataclass(frozen=True)
class _DemoProject:
    title: str
    module: str
    services: str
    goal: str
    status: str
    size_class: str
    milestones: tuple[tuple[str, str, str], ...]
    result: str = ""
    lessons: str = ""


DEMO_EXAMPLES = (
    (
        ("demo-vorbild-karla", "Karla Demo-Vorbild", "Großenhain, Stadt"),
        "karla.demo-vorbild@grossenhain.demo.invalid",
        _DemoProject(
            title="Demo: Hundesteuer online über Amt24",
            module="p1-hundesteuer-online",
            services="An-, Ab- und Ummeldung der Hundesteuer über Amt24",
            goal="Bürgerinnen und Bürger melden ihren Hund vollständig online an, ab und um; "
            "das Steueramt übernimmt die Daten ohne Abtippen.",
            status="in_betrieb",
            size_class="5000_20000",
            milestones=(
                ("Satzung und Formular abgestimmt", "2025-09-30", "erledigt"),
                ("Online-Dienst in Amt24 freigeschaltet", "2025-11-15", "erledigt"),
                ("Erste 50 Online-Anmeldungen", "2026-02-28", "erledigt"),
            ),
            result="Im ersten Quartal kamen 60 % der Anmeldungen online; es gab deutlich "
            "weniger Rückfragen.",
            lessons="Das Fachamt früh einbinden und das Formular mit echten Fällen testen.",
        ),
    ),
    (
        ("demo-vorbild-uwe", "Uwe Demo-Vorreiter", "Oederan, Stadt"),
        None,
        _DemoProject(
            title="Demo: Digitaler Rechnungseingang mit XRechnung",
            module="p5-e-rechnung",
            services="Rechnungseingang der Kämmerei (XRechnung, ZRE)",
            goal="Rechnungen kommen elektronisch an, werden digital geprüft und freigegeben.",
            status="in_betrieb",
            size_class="5000_20000",
            milestones=(
                (
                    "Eingangskanal über die Zentrale Rechnungseingangsplattform",
                    "2025-10-01",
                    "erledigt",
                ),
                ("Freigabeworkflow im Finanzverfahren", "2026-01-31", "erledigt"),
            ),
            result="Drei Viertel der Rechnungen kommen als XRechnung; die Durchlaufzeit "
            "hat sich halbiert.",
            lessons="Die großen Lieferanten zuerst ansprechen; Papier bleibt eine Weile parallel.",
        ),
    ),
)
DEMO_IN_PROGRESS = _DemoProject(
    title="Demo: Bewohnerparkausweis online beantragen",
    module="p2-bewohnerparken",
    services="Bewohnerparkausweis mit Online-Bezahlung",
    goal="Der Bewohnerparkausweis wird Ende-zu-Ende digital beantragt, bezahlt und erteilt.",
    status="in_umsetzung",
    size_class="20000_100000",
    milestones=(
        ("Prozess mit dem Ordnungsamt modelliert", "2026-10-31", "erledigt"),
        ("Online-Antrag mit ePayBL im Test", "2027-01-31", "offen"),
    ),
)


def _demo_project(
    context: LtiContext, user: LtiUser, place: str, spec: _DemoProject
) -> Project | None:
    """Create ``spec`` for ``user`` in ``context`` unless it is there; None if it was."""
    existing = db.session.scalars(
        select(Project).where(
            Project.context_pk == context.id,
            Project.title == spec.title,
            Project.is_demo.is_(True),
        )
    ).first()
    if existing is not None:
        return None
    found = municipalities.match(place)
    if found is None:
        raise click.ClickException(f"Gemeinde {place!r} fehlt in der Gemeindeliste.")
    municipalities.assign(user.id, found, MunicipalitySource.LMS)
    module = db.session.scalars(
        select(CatalogModule).where(CatalogModule.slug == spec.module)
    ).first()
    project = projects.create_project(
        user_pk=user.id,
        course_pk=context.id,
        data={
            "title": spec.title,
            "goal": spec.goal,
            "services": spec.services,
            "module_pk": module.id if module is not None else None,
            "size_class": spec.size_class,
        },
    )
    project.is_demo = True
    for title, due_on, state in spec.milestones:
        projects.add_milestone(
            project, user_pk=user.id, data={"title": title, "due_on": due_on, "state": state}
        )
    projects.update_project(
        project,
        user_pk=user.id,
        data={"status": spec.status, "result": spec.result, "lessons": spec.lessons},
    )
    return project


def _context(
    registration: Registration, deployment_id: str, context_id: str, label: str, title: str
) -> LtiContext:
    """The course row as the first launch would write it (the launch later keeps it)."""
    context = db.session.scalars(
        select(LtiContext).where(
            LtiContext.registration_pk == registration.id, LtiContext.context_id == context_id
        )
    ).first()
    if context is None:
        deployment = find_deployment(registration, deployment_id)
        context = LtiContext(
            registration_pk=registration.id,
            deployment_pk=deployment.id if deployment is not None else None,
            context_id=context_id,
            title=title,
            label=label,
        )
        db.session.add(context)
        db.session.flush()
    return context


def _person_row(registration: Registration, sub: str, name: str | None = None) -> LtiUser:
    """The person row as the first launch would write it (the launch later updates it)."""
    user = db.session.scalars(
        select(LtiUser).where(LtiUser.registration_pk == registration.id, LtiUser.sub == sub)
    ).first()
    if user is None:
        user = LtiUser(registration_pk=registration.id, sub=sub, name=name)
        db.session.add(user)
        db.session.flush()
    return user


@courses.command("demo-projects", short_help="Praxisprojekte für das Demo-LMS anlegen.")
def demo_projects_command() -> None:
    """Zwei erfundene, veröffentlichte Praxisbeispiele (in einem eigenen Demo-Kurs) und ein
    Projekt in Umsetzung für die Demo-Navigatorin Anna im Demo-Kurs anlegen. Mehrfach
    aufrufbar: Vorhandenes bleibt, wie es ist. Läuft nach ``flask demo-lms setup``."""
    # The demo LMS hands its facts over as a setting (demo_lms.init_app); without it there is no
    # demo to seed.
    facts = current_app.config.get("DEMO_LMS_FACTS")
    if not facts:
        raise click.ClickException("Nur mit dem Demo-LMS (DEMO_LMS=1, Entwicklung).")
    registration = db.session.scalars(
        select(Registration).where(
            Registration.name == facts["platform_name"],
            Registration.client_id == facts["client_id"],
        )
    ).first()
    if registration is None:
        raise click.ClickException(
            "Das Demo-LMS ist nicht registriert: zuerst „flask demo-lms setup“ ausführen."
        )
    created = 0
    try:
        deployment_id = facts["deployment_id"]
        cohort = _context(registration, deployment_id, *DEMO_COHORT)
        for (key, name, place), email, spec in DEMO_EXAMPLES:
            # Invented example people of an earlier cohort, not members of the demo course.
            author = _person_row(registration, key, name)
            project = _demo_project(cohort, author, place, spec)
            if project is not None:
                projects.publish(
                    project,
                    user_pk=author.id,
                    show_name=email is not None,
                    contact_email=email,
                    consent_version=projects.CONSENT_VERSION,
                )
                created += 1
        demo_course = facts["course"]
        course = _context(
            registration,
            deployment_id,
            demo_course["id"],
            demo_course["label"],
            demo_course["title"],
        )
        anna = facts["navigator"]
        navigator = _person_row(registration, anna["sub"])
        if _demo_project(course, navigator, anna["municipality"], DEMO_IN_PROGRESS) is not None:
            created += 1
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    click.echo(
        f"Demo-Praxisprojekte: {created} neu angelegt"
        f" ({len(DEMO_EXAMPLES) + 1 - created} waren schon da)."
    )


# --- flask courses lotse: roles and the Gemeinde list --------------------------------------------

lotse = AppGroup(
    "lotse", help="Digital-Lotsen: Rolle freischalten (z. B. für ILIAS), Gemeindeliste."
)
custom_role = AppGroup(
    "custom-role", help="Custom-Parameter lotsen_rolle=lotse für ein Deployment erlauben."
)
lotse.add_command(custom_role)
courses.add_command(lotse)


def _platform(name: str) -> Registration:
    try:
        return find_platform(name)
    except RegistrationError as error:
        raise click.ClickException(str(error)) from error


def _deployment(registration: Registration, deployment_id: str) -> Deployment:
    found = find_deployment(registration, deployment_id)
    if found is None:
        raise click.ClickException(
            f"Plattform {registration.name!r} hat kein Deployment {deployment_id!r}."
        )
    return found


@lotse.command("grant")
@click.option("--platform", "platform_name", required=True, help="Name oder ID der Plattform.")
@click.option("--sub", required=True, help="Kennung (sub) der Person, wie das LMS sie sendet.")
@click.option("--note", help="Notiz, z. B. wofür die Freischaltung gilt.")
def grant_command(platform_name: str, sub: str, note: str | None) -> None:
    """Eine Person auf einer Plattform zur Lotsin / zum Lotsen machen."""
    registration = _platform(platform_name)
    sub = sub.strip()
    if not sub:
        raise click.ClickException("--sub darf nicht leer sein.")
    _row, created = roles.grant(registration, sub, note)
    db.session.commit()
    click.echo(
        f"{'Freigeschaltet' if created else 'Schon freigeschaltet'}: {sub} auf {registration.name}."
    )


@lotse.command("revoke")
@click.option("--platform", "platform_name", required=True, help="Name oder ID der Plattform.")
@click.option("--sub", required=True, help="Kennung (sub) der Person.")
def revoke_command(platform_name: str, sub: str) -> None:
    """Die Freischaltung einer Person zurücknehmen."""
    registration = _platform(platform_name)
    if not roles.revoke(registration, sub.strip()):
        raise click.ClickException(f"{sub} ist auf {registration.name} nicht freigeschaltet.")
    db.session.commit()
    click.echo(f"Zurückgenommen: {sub} auf {registration.name}.")


@lotse.command("list")
@click.option("--platform", "platform_name", help="Nur diese Plattform.")
def list_command(platform_name: str | None) -> None:
    """Freigeschaltete Personen und Deployments mit erlaubtem Custom-Parameter auflisten."""
    people, trusted = roles.grants(_platform(platform_name) if platform_name else None)
    if not people and not trusted:
        click.echo("Keine Freischaltungen.")
        return
    for row, registration in people:
        note = f"  ({row.note})" if row.note else ""
        click.echo(f"{registration.name}\t{row.sub}\tseit {row.created_at:%d.%m.%Y}{note}")
    for deployment, registration in trusted:
        click.echo(
            f"{registration.name}\tDeployment {deployment.deployment_id}\t"
            "lotsen_rolle=lotse erlaubt"
        )


def _deployment_options(command: Callable[..., None]) -> Callable[..., None]:
    """``--platform`` and ``--deployment`` of the custom-role commands."""
    command = click.option("--deployment", "deployment_id", required=True, help="Deployment-ID.")(
        command
    )
    return click.option(
        "--platform", "platform_name", required=True, help="Name oder ID der Plattform."
    )(command)


@custom_role.command("enable")
@_deployment_options
def custom_role_enable(platform_name: str, deployment_id: str) -> None:
    """lotsen_rolle=lotse auf diesem Deployment als Lotsen-Start anerkennen."""
    roles.trust_deployment(_deployment(_platform(platform_name), deployment_id))
    db.session.commit()
    click.echo(
        f"Deployment {deployment_id}: Starts mit lotsen_rolle=lotse gelten als Lotsen-Starts. "
        "Der Parameter gilt für jede Person, die den Link öffnet: nur für Links verwenden, die "
        "ausschließlich Lotsinnen und Lotsen erreichen."
    )


@custom_role.command("disable")
@_deployment_options
def custom_role_disable(platform_name: str, deployment_id: str) -> None:
    """lotsen_rolle=lotse auf diesem Deployment wieder ignorieren."""
    roles.distrust_deployment(_deployment(_platform(platform_name), deployment_id))
    db.session.commit()
    click.echo(f"Deployment {deployment_id}: lotsen_rolle wird ignoriert.")


@lotse.command("gemeinden")
def municipalities_command() -> None:
    """Die geladene Gemeindeliste prüfen (MUNICIPALITY_LIST_PATH)."""
    path = current_app.config.get("MUNICIPALITY_LIST_PATH")
    try:
        found = official_list()
    except (OSError, MunicipalityListError) as error:
        raise click.ClickException(f"{path}: {error}") from error
    kreise = {m.kreis for m in found}
    click.echo(f"{path}: {len(found)} Gemeinden in {len(kreise)} Kreisen.")


# --- flask courses privacy: DSGVO rights and retention -------------------------------------------

privacy_group = AppGroup(
    "privacy", help="Datenschutz: Auskunft, Löschung und Aufbewahrungsfrist (DSGVO)."
)
courses.add_command(privacy_group)

_platform_option = click.option(
    "--platform", "platform_name", required=True, help="Name oder ID der Plattform."
)
_sub_option = click.option(
    "--sub", required=True, help="Kennung (sub) der Person, wie das LMS sie sendet."
)


def _person(platform_name: str, sub: str) -> LtiUser:
    """The person (platform, sub), or a German error (exit status 1) and nothing done."""
    registration = _platform(platform_name)
    sub = sub.strip()
    if not sub:
        raise click.ClickException("--sub darf nicht leer sein.")
    user = privacy.find_person(registration, sub)
    if user is None:
        raise click.ClickException(
            f"Auf der Plattform {registration.name!r} ist keine Person mit der Kennung {sub!r} "
            "gespeichert. Nichts geändert."
        )
    return user


def _count_lines(counts: dict[str, Any]) -> list[str]:
    return [
        f"  {ROW_LABELS.get(key, key)}: {value}"
        for key, value in counts.items()
        if isinstance(value, int) and value
    ]


def _export_content(document: dict[str, Any], out: Path | None) -> tuple[bytes, str]:
    """The bytes to write and the audit's format, chosen by the file's suffix."""
    suffix = out.suffix.lower() if out is not None else ".json"
    if suffix == ".zip":
        with current_app.test_request_context():
            return archive(document), "zip"
    if suffix in (".html", ".htm"):
        with current_app.test_request_context():
            return render_document(document).encode(), "html"
    return privacy.to_json(document).encode(), "json"


def _write_new(path: Path, content: bytes) -> None:
    """Write a new file readable by its owner only; never overwrite one."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)


@privacy_group.command("export", short_help="Alle Daten einer Person ausgeben (Auskunft).")
@_platform_option
@_sub_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Zieldatei: .json (Standard), .html (lesbare Zusammenfassung) oder .zip (beides und "
    "die hochgeladenen Dateien). Ohne --out: JSON auf die Standardausgabe.",
)
def privacy_export(platform_name: str, sub: str, out: Path | None) -> None:
    """Alle Daten einer Person ausgeben (Auskunft, Art. 15 und 20 DSGVO)."""
    user = _person(platform_name, sub)
    if out is not None and (out.exists() or out.is_symlink()):
        raise click.ClickException(f"{out} existiert schon. Nichts geschrieben.")
    if out is not None and not out.parent.is_dir():
        raise click.ClickException(f"Den Ordner {out.parent} gibt es nicht. Nichts geschrieben.")
    document = privacy.personal_data(user)
    content, format_name = _export_content(document, out)
    privacy.record(
        PrivacyAction.EXPORT,
        actor=PrivacyActor.CLI,
        actor_ref=privacy.cli_actor(),
        counts=document["counts"],
        registration_pk=user.registration_pk,
        subject=privacy.subject_ref(user.registration_pk, user.sub),
        format=format_name,
    )
    if out is None:
        db.session.commit()
        click.echo(content.decode(), nl=False)
        return
    try:
        _write_new(out, content)
    except OSError as error:
        db.session.rollback()
        raise click.ClickException(f"{out}: {error.strerror}. Nichts geschrieben.") from error
    db.session.commit()
    click.echo(f"Auskunft geschrieben: {out} ({format_name.upper()}, {len(content)} Bytes).")
    for line in _count_lines(document["counts"]):
        click.echo(line)


@privacy_group.command("erase", short_help="Eine Person mit allen Daten löschen.")
@_platform_option
@_sub_option
@click.option("--yes", is_flag=True, help="Ohne Rückfrage löschen (sonst „löschen“ eintippen).")
def privacy_erase(platform_name: str, sub: str, yes: bool) -> None:
    """Eine Person mit allen ihren Daten und Dateien löschen (Art. 17 DSGVO)."""
    user = _person(platform_name, sub)
    counts = privacy.personal_data(user)["counts"]
    pending = privacy.pending_scores(user)
    click.echo(f"Gelöscht wird die Person {user.sub!r} auf {user.registration.name!r} mit:")
    for line in _count_lines(counts) or ["  (keine weiteren Daten)"]:
        click.echo(line)
    if counts["decisions_made"]:
        click.echo(
            "Ihre Bewertungen der Abgaben anderer bleiben für diese erhalten, ohne Bezug zu ihr."
        )
    if pending:
        click.echo(
            f"Achtung: {pending} Bewertung(en) sind noch nicht ans LMS übertragen und werden "
            "verworfen; das LMS behält den zuletzt übertragenen Stand."
        )
    if not yes:
        try:
            answer = click.prompt(
                "Unwiderruflich löschen? Zum Bestätigen „löschen“ eingeben",
                default="",
                show_default=False,
            )
        except click.Abort:
            answer = ""
        if answer.strip().casefold() != "löschen":
            db.session.rollback()
            click.echo("Abgebrochen. Nichts gelöscht.", err=True)
            raise SystemExit(1)
    erasure = privacy.erase(user, actor=PrivacyActor.CLI, actor_ref=privacy.cli_actor())
    db.session.commit()
    removed = privacy.remove_files(erasure.paths)
    click.echo(
        f"Gelöscht: {sum(v for k, v in erasure.counts.items() if k != 'file')} Zeilen, "
        f"{removed} Datei(en). Der Vorgang ist im Datenschutzprotokoll vermerkt (ohne Inhalte)."
    )
    click.echo(
        "Im LMS bleibt die Person bestehen: Starten sie oder die Teilnehmerliste sie erneut, "
        "beginnt sie in Lotsen-LTI neu."
    )


@privacy_group.command("purge", short_help="Daten abgelaufener Kurse löschen (Frist).")
@click.option("--dry-run", is_flag=True, help="Nur zählen, was gelöscht würde; nichts löschen.")
def privacy_purge(dry_run: bool) -> None:
    """Daten abgelaufener Kurse löschen (RETENTION_DAYS_AFTER_COURSE_END Tage nach Kursende)."""
    days = current_app.config.get("RETENTION_DAYS_AFTER_COURSE_END")
    if not isinstance(days, int) or isinstance(days, bool) or days < 1:
        raise click.ClickException(
            "RETENTION_DAYS_AFTER_COURSE_END ist nicht gesetzt: Legen Sie die Aufbewahrungsfrist "
            "(Tage nach Kursende) in der Umgebung fest, z. B. RETENTION_DAYS_AFTER_COURSE_END=365. "
            "Nichts gelöscht."
        )
    try:
        result = privacy.purge_expired(days=days, dry_run=dry_run, actor_ref=privacy.cli_actor())
    except BaseException:
        db.session.rollback()
        raise
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
        privacy.remove_files(result.paths)
    before = format_day(result.cutoff)
    verb = "Probelauf, nichts gelöscht. Gelöscht würden" if dry_run else "Gelöscht"
    click.echo(
        f"Aufbewahrungsfrist: {days} Tag(e) nach Kursende. {len(result.courses)} Kurs(e) "
        f"endeten vor dem {before}."
    )
    lines = _count_lines(result.counts)
    click.echo(f"{verb}:" if lines else f"{verb}: nichts.")
    for line in lines:
        click.echo(line)


@privacy_group.command("audit", short_help="Das Datenschutzprotokoll anzeigen.")
@click.option("--platform", "platform_name", help="Nur die Einträge einer Person: Plattform …")
@click.option("--sub", help="… und Kennung (sub).")
def privacy_audit(platform_name: str | None, sub: str | None) -> None:
    """Das Datenschutzprotokoll: Auskünfte, Löschungen, Fristlöschungen (ohne Inhalte)."""
    if bool(platform_name) != bool(sub):
        raise click.ClickException("--platform und --sub gehören zusammen.")
    registration = _platform(platform_name) if platform_name else None
    entries = privacy.audit_entries(registration, sub.strip() if sub else None)
    if not entries:
        click.echo("Keine Einträge.")
        return
    for entry in entries:
        counts = ", ".join(
            f"{key}={value}"
            for key, value in entry.counts.items()
            if isinstance(value, int) and value
        )
        kind = entry.action + (f" ({entry.format})" if entry.format else "")
        click.echo(
            f"{format_moment(entry.created_at)}\t{kind}\t{entry.actor}:{entry.actor_ref or '-'}"
            f"\t{counts or '-'}"
        )


# --- flask gradebook: the outbox -----------------------------------------------------------------

gradebook = AppGroup(
    "gradebook", help="Notenübertragung an das LMS (AGS): Worker, Status, Wiederholen."
)


@gradebook.command("worker")
@click.option("--once", is_flag=True, help="Nur was jetzt fällig ist, dann beenden.")
@click.option(
    "--drain", is_flag=True, help="Beenden, wenn nichts mehr aussteht (wartet Wiederholungen ab)."
)
@click.option("--batch", type=click.IntRange(1, 1000), help="Zeilen pro Durchgang (Standard 50).")
@click.option("--max-seconds", type=click.FloatRange(0, min_open=True), help="Höchstens so lange.")
@click.option(
    "--poll",
    "poll_seconds",
    type=click.FloatRange(0.01),
    help="Sekunden zwischen leeren Durchgängen.",
)
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
def worker_command(lease: float | None, http_timeout: float | None, **options: Any) -> None:
    """Liefert ausstehende Bewertungen aus; SIGTERM beendet nach der laufenden Zeile."""
    if lease is not None:
        current_app.config["GRADEBOOK_LEASE_SECONDS"] = lease
    if http_timeout is not None:
        current_app.config["HTTP_TIMEOUT_SECONDS"] = http_timeout
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    worker_id = new_worker_id()
    # once, drain, batch, max_seconds, poll_seconds: run_worker's own options.
    stats = run_worker(worker=worker_id, stop=stop, idle=roster.refresh_requested, **options)
    outcomes = ", ".join(f"{k}={v}" for k, v in sorted(stats.outcomes.items())) or "nichts zu tun"
    click.echo(f"Worker {worker_id}: {outcomes}")


@gradebook.command("status")
def status_command() -> None:
    """Anzahl je Zustand und Alter des ältesten ausstehenden Stands."""
    info = outbox.status()
    counts = info["counts"]
    click.echo(f"ausstehend:      {counts['pending']}")
    click.echo(f"übertragen:      {counts['delivered']}")
    click.echo(f"fehlgeschlagen:  {counts['failed']}")
    age = info["oldest_pending_seconds"]
    click.echo("ältester ausstehender Stand: " + ("–" if age is None else f"{age:.0f} s alt"))


@gradebook.command("retry")
@click.option("--failed", is_flag=True, help="Auch fehlgeschlagene Zeilen erneut einreihen.")
def retry_command(failed: bool) -> None:
    """Wartende Zeilen sofort fällig machen; mit --failed auch fehlgeschlagene."""
    count = outbox.requeue_all(failed=failed)
    db.session.commit()
    click.echo(f"{count} Zeile(n) erneut eingereiht.")


@gradebook.command("resync")
@click.option("--course", "course", type=int, required=True, help="LtiContext.id des LMS-Kurses.")
def resync_command(course: int) -> None:
    """Den aktuellen Stand aller Navigatoren × Module eines Kurses erneut senden."""
    if db.session.get(LtiContext, course) is None:
        raise click.ClickException(f"Kein Kurs mit der ID {course}.")
    count = resync_course(course)
    db.session.commit()
    click.echo(f"{count} Bewertung(en) für Kurs {course} eingereiht.")
