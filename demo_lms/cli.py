"""``flask demo-lms …``: set the demo platform up in the tool, as an admin would with Moodle."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.keys import ensure_key as ensure_tool_key
from lti_tool.models import Registration
from lti_tool.registrations import RegistrationError, add_deployment, add_platform

from . import store
from .course import CLIENT_ID, DEPLOYMENT_ID, PLATFORM_NAME, PRODUCT_FAMILY, issuer
from .signing import signing_key

demo_lms = AppGroup("demo-lms", help="Das eingebaute Demo-LMS (nur Entwicklung und Vorführung).")


def default_base_url() -> str:
    """``PUBLIC_BASE_URL`` or the address ``make run`` serves on."""
    configured = current_app.config.get("PUBLIC_BASE_URL")
    return (configured or f"http://127.0.0.1:{os.environ.get('PORT', '5000')}").rstrip("/")


def platform_values(base: str, name: str = PLATFORM_NAME) -> dict[str, Any]:
    """The registration of the demo in the tool, as ``lti platform add`` takes it."""
    platform_issuer = issuer(base)
    return {
        "name": name,
        "issuer": platform_issuer,
        "client_id": CLIENT_ID,
        "auth_login_url": f"{platform_issuer}/auth",
        "auth_token_url": f"{platform_issuer}/token",
        "key_set_url": f"{platform_issuer}/jwks.json",
        "deployments": [DEPLOYMENT_ID],
        "product_family": PRODUCT_FAMILY,
    }


def register_in_tool(base: str) -> tuple[Registration, bool]:
    """Register the demo platform in the tool, or update the URLs of an existing registration
    with the same issuer and client id. Returns it and whether it is new. Flushes."""
    values = platform_values(base)
    existing = db.session.scalars(
        select(Registration).where(
            Registration.issuer == values["issuer"], Registration.client_id == CLIENT_ID
        )
    ).first()
    if existing is None:
        name_taken = db.session.scalars(
            select(Registration.id).where(Registration.name == PLATFORM_NAME)
        ).first()
        if name_taken is not None:
            # Another base URL was set up before (other port or host): keep both apart.
            values = platform_values(base, name=f"{PLATFORM_NAME} ({urlsplit(base).netloc})")
        return add_platform(values), True
    existing.auth_login_url = values["auth_login_url"]
    existing.auth_token_url = values["auth_token_url"]
    existing.key_set_url = values["key_set_url"]
    existing.product_family = PRODUCT_FAMILY
    # The demo database may have been deleted and its key made anew: fetch the key set again.
    existing.key_set = None
    existing.key_set_fetched_at = None
    if not any(d.deployment_id == DEPLOYMENT_ID for d in existing.deployments):
        add_deployment(existing, DEPLOYMENT_ID)
    db.session.flush()
    return existing, False


@demo_lms.command("setup")
@click.option(
    "--base-url",
    help="Adresse, unter der die App läuft (sonst PUBLIC_BASE_URL oder http://127.0.0.1:$PORT).",
)
def setup(base_url: str | None) -> None:
    """Schlüssel anlegen und das Demo-LMS im Werkzeug registrieren (wiederholbar)."""
    base = (base_url or default_base_url()).rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path not in {"", "/"}:
        raise click.BadParameter(f"keine Basisadresse: {base!r}", param_hint="--base-url")
    tool_key, tool_key_created = ensure_tool_key()
    with store.transaction() as conn:
        demo_key = signing_key(conn)
    try:
        registration, created = register_in_tool(base)
    except RegistrationError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    label = "Neuer Werkzeug-Schlüssel: " if tool_key_created else "Werkzeug-Schlüssel: "
    click.echo(label + tool_key.kid)
    click.echo(f"Demo-LMS-Schlüssel: {demo_key.kid}")
    verb = "registriert" if created else "aktualisiert"
    click.echo(
        f"Plattform {registration.name!r} {verb}: Issuer {registration.issuer}, "
        f"Client-ID {CLIENT_ID}, Deployment {DEPLOYMENT_ID}"
    )
    click.echo(f"Demo-LMS: {base}/demo-lms/")
