"""``flask lti …``: platform registrations, deployments, tool keys and the values for the LMS
form."""

from __future__ import annotations

import json
from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from .dynamic_registration import registration_link
from .extensions import db
from .keys import ensure_key, public_jwks, rotate_keys
from .launch.storage import purge_expired
from .models import Registration
from .registrations import (
    PRESETS,
    RegistrationError,
    add_deployment,
    add_platform,
    apply_preset,
    describe,
    find_platform,
)

lti = AppGroup("lti", help="LTI 1.3: Plattformen, Deployments, Schlüssel, Konfiguration.")
platform = AppGroup("platform", help="Registrierte LMS-Plattformen.")
deployment = AppGroup("deployment", help="Deployments einer Plattform.")
keys = AppGroup("keys", help="Signaturschlüssel des Werkzeugs.")
lti.add_command(platform)
lti.add_command(deployment)
lti.add_command(keys)
lti.add_command(registration_link)


def _fail(message: str) -> None:
    db.session.rollback()
    raise click.ClickException(message)


@platform.command("add")
@click.option("--name", required=True, help="Bezeichnung, z. B. „Moodle HSF“.")
@click.option("--issuer", help="Platform ID / Issuer, wie das LMS ihn anzeigt.")
@click.option("--client-id", required=True, help="Client-ID, die das LMS vergeben hat.")
@click.option("--auth-login-url", help="Authentication request URL des LMS.")
@click.option("--auth-token-url", help="Access token URL des LMS.")
@click.option("--key-set-url", help="Public keyset URL des LMS.")
@click.option("--audience", help="aud für Client-Assertions, falls nicht die Token-URL.")
@click.option(
    "--deployment", "deployments", multiple=True, required=True, help="Deployment-ID (mehrfach)."
)
@click.option("--preset", help=f"Endpunkte vorbelegen: {', '.join(sorted(PRESETS))}.")
@click.option("--base-url", help="Basisadresse des LMS, mit --preset.")
def platform_add(
    name: str,
    issuer: str | None,
    client_id: str,
    auth_login_url: str | None,
    auth_token_url: str | None,
    key_set_url: str | None,
    audience: str | None,
    deployments: tuple[str, ...],
    preset: str | None,
    base_url: str | None,
) -> None:
    """Eine Plattform (Issuer + Client-ID) mit ihren Deployments registrieren."""
    values: dict[str, object] = {}
    try:
        if preset or base_url:
            if not (preset and base_url):
                _fail("--preset und --base-url gehören zusammen.")
            values.update(apply_preset(preset or "", base_url or ""))
        explicit = {
            "issuer": issuer,
            "auth_login_url": auth_login_url,
            "auth_token_url": auth_token_url,
            "key_set_url": key_set_url,
        }
        values.update({k: v for k, v in explicit.items() if v})
        values.update(
            name=name, client_id=client_id, audience=audience, deployments=list(deployments)
        )
        for key in ("issuer", "auth_login_url", "auth_token_url", "key_set_url"):
            values.setdefault(key, "")
        registration = add_platform(values)
    except RegistrationError as error:
        _fail(str(error))
        return
    db.session.commit()
    click.echo(f"Plattform {registration.name!r} registriert (id {registration.id}).")


@platform.command("list")
@click.option("--json", "as_json", is_flag=True, help="Als JSON ausgeben.")
def platform_list(as_json: bool) -> None:
    """Registrierte Plattformen anzeigen."""
    registrations = db.session.scalars(select(Registration).order_by(Registration.id)).all()
    rows = [describe(r) for r in registrations]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("Keine Plattform registriert.")
        return
    for row in rows:
        click.echo(f"{row['id']:>3}  {row['name']}")
        click.echo(f"     Issuer:       {row['issuer']}")
        click.echo(f"     Client-ID:    {row['client_id']}")
        click.echo(f"     Deployments:  {', '.join(row['deployments'])}")
        click.echo(f"     Login:        {row['auth_login_url']}")
        click.echo(f"     Token:        {row['auth_token_url']}")
        click.echo(f"     Keyset:       {row['key_set_url']}")


@platform.command("remove")
@click.argument("name_or_id")
@click.option("--yes", is_flag=True, help="Ohne Rückfrage.")
def platform_remove(name_or_id: str, yes: bool) -> None:
    """Eine Plattform mit allen ihren Daten (Nutzer, Kurse, Starts) entfernen."""
    try:
        registration = find_platform(name_or_id)
    except RegistrationError as error:
        _fail(str(error))
        return
    if not yes:
        click.confirm(f"Plattform {registration.name!r} und alle ihre Daten entfernen?", abort=True)
    db.session.delete(registration)
    db.session.commit()
    click.echo(f"Plattform {registration.name!r} entfernt.")


@deployment.command("add")
@click.argument("name_or_id")
@click.argument("deployment_id")
def deployment_add(name_or_id: str, deployment_id: str) -> None:
    """Einer Plattform eine weitere Deployment-ID hinzufügen."""
    try:
        registration = find_platform(name_or_id)
        add_deployment(registration, deployment_id)
    except RegistrationError as error:
        _fail(str(error))
        return
    db.session.commit()
    click.echo(f"Deployment {deployment_id!r} für {registration.name!r} hinzugefügt.")


@keys.command("ensure")
def keys_ensure() -> None:
    """Einen Signaturschlüssel anlegen, falls noch keiner existiert."""
    key, created = ensure_key()
    db.session.commit()
    click.echo(("Neuer Schlüssel " if created else "Schlüssel vorhanden: ") + key.kid)


@keys.command("rotate")
@click.option("--overlap-days", type=click.IntRange(min=0), help="Überlappung in Tagen.")
def keys_rotate(overlap_days: int | None) -> None:
    """Neuen Signaturschlüssel aktivieren; der bisherige bleibt für die Überlappung im JWKS."""
    days = (
        overlap_days
        if overlap_days is not None
        else current_app.config["KEY_ROTATION_OVERLAP_DAYS"]
    )
    key = rotate_keys(timedelta(days=days))
    db.session.commit()
    published = len(public_jwks()["keys"])
    click.echo(
        f"Neuer aktiver Schlüssel {key.kid}; {published} Schlüssel im JWKS "
        f"(Überlappung {days} Tage)."
    )


@lti.command("config")
@click.option("--base-url", help="Öffentliche Adresse (sonst PUBLIC_BASE_URL).")
@click.option("--json", "as_json", is_flag=True, help="Als JSON ausgeben.")
def config(base_url: str | None, as_json: bool) -> None:
    """Werte ausgeben, die ins Moodle- oder ILIAS-Formular gehören."""
    base = (
        base_url or current_app.config.get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000"
    ).rstrip("/")
    values = {
        "tool_url": f"{base}/lti/launch",
        "initiate_login_url": f"{base}/lti/login",
        "redirection_uris": [f"{base}/lti/launch"],
        "public_keyset_url": f"{base}/lti/jwks.json",
        "deep_linking_url": f"{base}/lti/launch",
    }
    if as_json:
        click.echo(json.dumps(values, indent=2))
        return
    click.echo("Moodle (Website-Administration › Plugins › Externes Tool › Tools verwalten):")
    click.echo(f"  Tool-URL:                      {values['tool_url']}")
    click.echo("  LTI-Version:                   LTI 1.3")
    click.echo("  Typ des öffentlichen Schlüssels: Keyset-URL")
    click.echo(f"  Public keyset:                 {values['public_keyset_url']}")
    click.echo(f"  Initiate login URL:            {values['initiate_login_url']}")
    click.echo(f"  Redirection URI(s):            {values['redirection_uris'][0]}")
    click.echo(f"  Content Selection URL:         {values['deep_linking_url']}")
    click.echo("ILIAS (Administration › Erweiterungen › LTI › Anbieter):")
    click.echo(f"  Tool-URL / Target Link URI:    {values['tool_url']}")
    click.echo(f"  Initiate Login URL:            {values['initiate_login_url']}")
    click.echo(f"  Redirection URIs:              {values['redirection_uris'][0]}")
    click.echo(f"  Public Key Set (JWK Set URL):  {values['public_keyset_url']}")
    click.echo(f"  Content Item URL:              {values['deep_linking_url']}")


@lti.command("purge")
def purge() -> None:
    """Abgelaufene OIDC-Nonces und Zustände löschen."""
    removed = purge_expired()
    db.session.commit()
    click.echo(f"{removed} abgelaufene Einträge gelöscht.")


def init_app(app: Flask) -> None:
    app.cli.add_command(lti)
