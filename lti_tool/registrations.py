"""Platform registrations: add, list, remove, deployments, with the Moodle and ILIAS presets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from .extensions import db
from .models import Deployment, Registration


class RegistrationError(ValueError):
    """A registration request that cannot be carried out; the message is for the admin."""


@dataclass(frozen=True)
class Preset:
    """Where a platform family serves its LTI endpoints, relative to its base URL."""

    product_family: str
    auth_login_path: str
    auth_token_path: str
    key_set_path: str


#: Moodle 4.x/5.x: the issuer is the site's wwwroot without trailing slash (lti-notes §2).
#: ILIAS 8/9: the issuer is the ILIAS base URL, endpoints under Modules/LTIConsumer (lti-notes §3).
PRESETS: dict[str, Preset] = {
    "moodle": Preset("moodle", "/mod/lti/auth.php", "/mod/lti/token.php", "/mod/lti/certs.php"),
    "ilias": Preset(
        "ilias",
        "/Modules/LTIConsumer/ltiauth.php",
        "/Modules/LTIConsumer/ltitoken.php",
        "/Modules/LTIConsumer/lticerts.php",
    ),
}


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.netloc) and not parts.fragment


#: marshmallow's own message is English; the CLI speaks German.
LENGTH = "Muss {min} bis {max} Zeichen lang sein."


class RegistrationSchema(Schema):
    """Validates the values of ``lti platform add``; errors name the option."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=200, error=LENGTH))
    issuer = fields.String(required=True, validate=validate.Length(min=1, max=255, error=LENGTH))
    client_id = fields.String(required=True, validate=validate.Length(min=1, max=255, error=LENGTH))
    auth_login_url = fields.String(required=True)
    auth_token_url = fields.String(required=True)
    key_set_url = fields.String(required=True)
    audience = fields.String(load_default=None, allow_none=True)
    product_family = fields.String(load_default=None, allow_none=True)
    deployments = fields.List(
        fields.String(validate=validate.Length(min=1, max=255, error=LENGTH)),
        required=True,
        validate=validate.Length(min=1, error="Mindestens eine Deployment-ID angeben."),
    )

    @validates_schema
    def _check_urls(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        for key in ("auth_login_url", "auth_token_url", "key_set_url"):
            if not _is_http_url(data.get(key, "")):
                errors[key] = [f"Keine gültige http(s)-Adresse: {data.get(key)!r}"]
        if not _is_http_url(data.get("issuer", "")):
            # The issuer is a case-sensitive https URL (LTI 1.3 core, section 5.1.2).
            errors["issuer"] = [
                f"Der Issuer muss eine http(s)-Adresse sein: {data.get('issuer')!r}"
            ]
        if len(set(data.get("deployments", []))) != len(data.get("deployments", [])):
            errors["deployments"] = ["Deployment-IDs doppelt angegeben."]
        if errors:
            raise ValidationError(errors)


def apply_preset(preset_name: str, base_url: str) -> dict[str, str]:
    """Return issuer and endpoint URLs of a platform family at ``base_url``."""
    preset = PRESETS.get(preset_name)
    if preset is None:
        known = ", ".join(sorted(PRESETS))
        raise RegistrationError(f"Unbekanntes Preset {preset_name!r}. Bekannt: {known}.")
    if not _is_http_url(base_url):
        raise RegistrationError(f"--base-url ist keine gültige http(s)-Adresse: {base_url!r}")
    base = base_url.rstrip("/")
    return {
        "issuer": base,
        "auth_login_url": base + preset.auth_login_path,
        "auth_token_url": base + preset.auth_token_path,
        "key_set_url": base + preset.key_set_path,
        "product_family": preset.product_family,
    }


#: Fields whose CLI option is not simply the field name with dashes.
OPTIONS = {"deployments": "--deployment"}


def format_validation_error(error: ValidationError) -> str:
    """One line per field, for the CLI."""
    messages = error.normalized_messages()
    lines: list[str] = []
    for field, problems in sorted(messages.items()):
        if isinstance(problems, dict):
            problems = [str(p) for values in problems.values() for p in values]
        option = OPTIONS.get(field, "--" + field.replace("_", "-"))
        lines.extend(f"{option}: {problem}" for problem in problems)
    return "\n".join(lines)


def add_platform(values: dict[str, Any]) -> Registration:
    """Validate and store a registration with its deployments; flushes, the caller commits."""
    try:
        data = RegistrationSchema().load(values)
    except ValidationError as error:
        raise RegistrationError(format_validation_error(error)) from error
    duplicate = db.session.scalars(
        select(Registration).where(
            Registration.issuer == data["issuer"], Registration.client_id == data["client_id"]
        )
    ).first()
    if duplicate is not None:
        raise RegistrationError(
            f"Issuer {data['issuer']!r} mit Client-ID {data['client_id']!r} ist bereits als "
            f"{duplicate.name!r} registriert."
        )
    if db.session.scalars(select(Registration).where(Registration.name == data["name"])).first():
        raise RegistrationError(f"Eine Plattform namens {data['name']!r} gibt es bereits.")
    registration = Registration(
        name=data["name"],
        issuer=data["issuer"],
        client_id=data["client_id"],
        auth_login_url=data["auth_login_url"],
        auth_token_url=data["auth_token_url"],
        key_set_url=data["key_set_url"],
        audience=data["audience"],
        product_family=data["product_family"],
    )
    registration.deployments = [Deployment(deployment_id=d) for d in data["deployments"]]
    db.session.add(registration)
    db.session.flush()
    return registration


def find_platform(name_or_id: str) -> Registration:
    """Find a registration by its name or numeric id."""
    registration = db.session.scalars(
        select(Registration).where(Registration.name == name_or_id)
    ).first()
    if registration is None and name_or_id.isdigit():
        registration = db.session.get(Registration, int(name_or_id))
    if registration is None:
        raise RegistrationError(f"Keine Plattform {name_or_id!r} registriert.")
    return registration


def find_deployment(registration: Registration, deployment_id: str) -> Deployment | None:
    """The registration's deployment with that id, if registered."""
    return db.session.scalars(
        select(Deployment).where(
            Deployment.registration_pk == registration.id,
            Deployment.deployment_id == deployment_id,
        )
    ).first()


def loaded_deployment(registration: Registration, deployment_id: str) -> Deployment | None:
    """Like :func:`find_deployment`, from the registration's (already loaded) deployments."""
    return next((d for d in registration.deployments if d.deployment_id == deployment_id), None)


def add_deployment(registration: Registration, deployment_id: str) -> Deployment:
    """Add a deployment id to a registration."""
    deployment_id = deployment_id.strip()
    if not deployment_id:
        raise RegistrationError("Die Deployment-ID darf nicht leer sein.")
    if any(d.deployment_id == deployment_id for d in registration.deployments):
        raise RegistrationError(
            f"Deployment {deployment_id!r} ist für {registration.name!r} schon registriert."
        )
    deployment = Deployment(deployment_id=deployment_id)
    registration.deployments.append(deployment)
    db.session.flush()
    return deployment


def describe(registration: Registration) -> dict[str, Any]:
    """A registration as plain data (for ``platform list --json``)."""
    return {
        "id": registration.id,
        "name": registration.name,
        "issuer": registration.issuer,
        "client_id": registration.client_id,
        "auth_login_url": registration.auth_login_url,
        "auth_token_url": registration.auth_token_url,
        "key_set_url": registration.key_set_url,
        "audience": registration.audience,
        "product_family": registration.product_family,
        "deployments": [d.deployment_id for d in registration.deployments],
    }
