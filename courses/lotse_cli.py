"""``flask courses lotse …``: who is a Lotse beyond the platform's roles, and the Gemeinde list.

ILIAS can launch every user as a learner ("always learner", lti-notes §3). Two ways make a Lotse
there anyway, both decided by the tool's admin, never by a course:

- ``grant --platform NAME --sub SUB``: this person (the platform's ``sub``, shown on the
  "Willkommen" page and in the Lotse's roster) is a Lotse in every course of that platform;
- ``custom-role enable --platform NAME --deployment ID``: on this deployment, launches whose custom
  parameters say ``lotsen_rolle=lotse`` are Lotse launches. Custom parameters apply to everyone
  who opens the link, so enable it only for a deployment whose links only Lotsen can reach (e.g.
  a separate ILIAS provider "Lotsen-LTI (Lotsen)" used in a Lotsen-only area).
"""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import Deployment, Registration
from lti_tool.registrations import RegistrationError, find_deployment, find_platform

from .municipalities import MunicipalityListError, official_list
from .roster import LotseGrant, LotseRoleDeployment, grant, revoke

lotse = AppGroup(
    "lotse", help="Digital-Lotsen: Rolle freischalten (z. B. für ILIAS), Gemeindeliste."
)
custom_role = AppGroup(
    "custom-role", help="Custom-Parameter lotsen_rolle=lotse für ein Deployment erlauben."
)
lotse.add_command(custom_role)


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
    _row, created = grant(registration, sub, note)
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
    if not revoke(registration, sub.strip()):
        raise click.ClickException(f"{sub} ist auf {registration.name} nicht freigeschaltet.")
    db.session.commit()
    click.echo(f"Zurückgenommen: {sub} auf {registration.name}.")


@lotse.command("list")
@click.option("--platform", "platform_name", help="Nur diese Plattform.")
def list_command(platform_name: str | None) -> None:
    """Freigeschaltete Personen und Deployments mit erlaubtem Custom-Parameter auflisten."""
    query = select(LotseGrant, Registration).join(
        Registration, Registration.id == LotseGrant.registration_id
    )
    deployments = (
        select(LotseRoleDeployment, Deployment, Registration)
        .join(Deployment, Deployment.id == LotseRoleDeployment.deployment_pk)
        .join(Registration, Registration.id == Deployment.registration_id)
    )
    if platform_name:
        registration = _platform(platform_name)
        query = query.where(Registration.id == registration.id)
        deployments = deployments.where(Registration.id == registration.id)
    grants = db.session.execute(query.order_by(Registration.name, LotseGrant.sub)).all()
    trusted = db.session.execute(deployments.order_by(Registration.name)).all()
    if not grants and not trusted:
        click.echo("Keine Freischaltungen.")
        return
    for row, registration in grants:
        note = f"  ({row.note})" if row.note else ""
        click.echo(f"{registration.name}\t{row.sub}\tseit {row.created_at:%d.%m.%Y}{note}")
    for _row, deployment, registration in trusted:
        click.echo(
            f"{registration.name}\tDeployment {deployment.deployment_id}\t"
            "lotsen_rolle=lotse erlaubt"
        )


@custom_role.command("enable")
@click.option("--platform", "platform_name", required=True, help="Name oder ID der Plattform.")
@click.option("--deployment", "deployment_id", required=True, help="Deployment-ID.")
def custom_role_enable(platform_name: str, deployment_id: str) -> None:
    """lotsen_rolle=lotse auf diesem Deployment als Lotsen-Start anerkennen."""
    deployment = _deployment(_platform(platform_name), deployment_id)
    if db.session.get(LotseRoleDeployment, deployment.id) is None:
        db.session.add(LotseRoleDeployment(deployment_pk=deployment.id))
        db.session.commit()
    click.echo(
        f"Deployment {deployment_id}: Starts mit lotsen_rolle=lotse gelten als Lotsen-Starts. "
        "Der Parameter gilt für jede Person, die den Link öffnet: nur für Links verwenden, die "
        "ausschließlich Lotsinnen und Lotsen erreichen."
    )


@custom_role.command("disable")
@click.option("--platform", "platform_name", required=True, help="Name oder ID der Plattform.")
@click.option("--deployment", "deployment_id", required=True, help="Deployment-ID.")
def custom_role_disable(platform_name: str, deployment_id: str) -> None:
    """lotsen_rolle=lotse auf diesem Deployment wieder ignorieren."""
    deployment = _deployment(_platform(platform_name), deployment_id)
    row = db.session.get(LotseRoleDeployment, deployment.id)
    if row is not None:
        db.session.delete(row)
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


def init_app(app: Flask) -> None:
    """Attach ``lotse`` to ``flask courses``."""
    from .cli import courses

    if "lotse" not in courses.commands:
        courses.add_command(lotse)
    if "courses" not in app.cli.commands:
        app.cli.add_command(courses)
