"""LTI Dynamic Registration 1.0, the tool's side: one-time registration links, the registration
URL a platform opens, and ``flask lti registration-link``.

The flow (LTI-DR 1.0 §3): an admin makes a link with the CLI and pastes it into the LMS. The
LMS opens it with ``openid_configuration`` and ``registration_token`` added to the query. The
tool checks the link, fetches and validates the platform's OpenID configuration, POSTs its
client registration to the platform's ``registration_endpoint``, stores the registration and
deployment it gets back and answers a page whose script sends the ``org.imsglobal.lti.close``
message. Nothing on the way waits for a click: ILIAS loads the URL in a hidden 0×0 iframe and
gives up after 10 seconds (ILIAS Modules/LTIConsumer/templates/default/
tpl.lti_dyn_reg_request.html).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo

import click
import requests
from flask import Blueprint, Flask, Response, current_app, render_template, request, url_for
from flask.cli import with_appcontext
from flask_babel import lazy_gettext
from sqlalchemy import ForeignKey, String, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from .errors import Problem, Refusal
from .extensions import db
from .models import Registration, UTCDateTime, utcnow
from .registrations import RegistrationError, add_platform
from .urls import launch_url, tool_base_url
from .vocab import MessageType, Scope
from .web import forget_registered_origins

log = logging.getLogger(__name__)

TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
#: The registration page's ``postMessage`` subject (LTI-DR 1.0 §3.6).
CLOSE_SUBJECT = "org.imsglobal.lti.close"

DEFAULT_EXPIRY_HOURS = 24
MAX_EXPIRY_HOURS = 7 * 24
#: Seconds for each of the two requests to the platform. ILIAS waits 10 s in all for the close
#: message (tpl.lti_dyn_reg_request.html), so both together must stay well below that.
PLATFORM_TIMEOUT_SECONDS = 4.0
#: A platform's configuration or registration answer is a few kilobytes.
MAX_ANSWER_BYTES = 256 * 1024
#: A claim older than this belongs to a request that died half-way; the link may be used again.
CLAIM_TIMEOUT = timedelta(seconds=60)
#: Everything the tool uses: AGS with column management and NRPS. Platforms grant a subset
#: (Moodle maps them onto its service settings, registration_helper.php; ILIAS ignores them).
REQUESTED_SCOPES = (
    Scope.AGS_LINEITEM,
    Scope.AGS_LINEITEM_READONLY,
    Scope.AGS_RESULT_READONLY,
    Scope.AGS_SCORE,
    Scope.NRPS_MEMBERSHIP,
)
#: OpenID claims the tool would like; the tool works on ``sub`` alone (lti-notes §2).
REQUESTED_CLAIMS = ("iss", "sub", "name", "given_name", "family_name", "email")
#: ``product_family_code`` of the platform → :attr:`Registration.product_family`, so that a
#: dynamic registration gets the same family names as the presets of ``lti platform add``.
PRODUCT_FAMILIES = {"moodle": "moodle", "ilias.de": "ilias", "ilias": "ilias"}
FAMILY_LABELS = {"moodle": "Moodle", "ilias": "ILIAS"}


class RegistrationLink(db.Model):  # type: ignore[name-defined]
    """A one-time link an admin pastes into an LMS to register the tool there. Only the token's
    SHA-256 is stored: the database never holds a usable link."""

    __tablename__ = "registration_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    """The name the new registration gets (``--name``); None: derived from the platform."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Set while one request registers with this link; a parallel request is refused."""
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When a registration was stored with this link; from then on it is refused."""
    registration_pk: Mapped[int | None] = mapped_column(
        ForeignKey("registration.id", ondelete="SET NULL")
    )
    """The registration made with this link (None once that registration was removed)."""


# -- refusals ----------------------------------------------------------------------------------

REFUSALS: dict[str, Problem] = {
    "unknown": Problem(
        lazy_gettext("Registrierungslink unbekannt"),
        lazy_gettext("Diesen Registrierungslink gibt es nicht. Es wurde nichts registriert."),
        lazy_gettext(
            "Erzeugen Sie einen neuen Link mit „flask --app wsgi lti registration-link“ und "
            "fügen Sie ihn vollständig ins LMS ein."
        ),
        status=404,
    ),
    "used": Problem(
        lazy_gettext("Registrierungslink bereits verwendet"),
        lazy_gettext(
            "Mit diesem Link wurde schon eine Plattform registriert. Jeder Link gilt nur einmal."
        ),
        lazy_gettext(
            "Für eine weitere Registrierung erzeugen Sie einen neuen Link mit "
            "„flask --app wsgi lti registration-link“."
        ),
        status=410,
    ),
    "expired": Problem(
        lazy_gettext("Registrierungslink abgelaufen"),
        lazy_gettext("Dieser Registrierungslink ist abgelaufen. Es wurde nichts registriert."),
        lazy_gettext(
            "Erzeugen Sie einen neuen Link mit „flask --app wsgi lti registration-link“ "
            "(Gültigkeit mit --expires-hours)."
        ),
        status=410,
    ),
    "in_progress": Problem(
        lazy_gettext("Registrierung läuft bereits"),
        lazy_gettext(
            "Mit diesem Link wird gerade eine Registrierung ausgeführt. Ein Link registriert nur "
            "einmal."
        ),
        lazy_gettext(
            "Warten Sie einen Moment und prüfen Sie mit „flask --app wsgi lti platform list“, ob "
            "die Plattform registriert wurde."
        ),
        status=409,
    ),
    "not_from_platform": Problem(
        lazy_gettext("Adresse für das LMS"),
        lazy_gettext(
            "Diese Adresse ist ein Registrierungslink. Sie wird nicht im Browser geöffnet, sondern "
            "in die Registrierung des LMS eingefügt. Der Link bleibt gültig."
        ),
        lazy_gettext(
            "Moodle: Website-Administration › Plugins › Aktivitäten › Externes Tool › Tools "
            "verwalten, Feld „Tool-URL“, dann „LTI Advantage hinzufügen“. ILIAS: Administration › "
            "Erweiterungen › LTI › Anbieter, dynamische Registrierung."
        ),
        status=400,
    ),
    "configuration_unreachable": Problem(
        lazy_gettext("Plattform-Konfiguration nicht abrufbar"),
        lazy_gettext(
            "Die OpenID-Konfiguration der Plattform konnte nicht geladen werden. Es wurde nichts "
            "registriert; der Link bleibt gültig."
        ),
        lazy_gettext("Prüfen Sie, ob das LMS vom Server dieses Werkzeugs aus erreichbar ist."),
        status=502,
    ),
    "configuration_invalid": Problem(
        lazy_gettext("Plattform-Konfiguration ungültig"),
        lazy_gettext(
            "Die OpenID-Konfiguration der Plattform erfüllt LTI Dynamic Registration 1.0 nicht. "
            "Es wurde nichts registriert; der Link bleibt gültig."
        ),
        lazy_gettext(
            "Die Einzelheit steht unten. Registrieren Sie die Plattform sonst von Hand "
            "(„flask --app wsgi lti platform add“)."
        ),
        status=400,
    ),
    "registration_refused": Problem(
        lazy_gettext("Plattform hat die Registrierung abgelehnt"),
        lazy_gettext(
            "Das LMS hat die Registrierung des Werkzeugs nicht angenommen. Es wurde nichts "
            "registriert; der Link bleibt gültig."
        ),
        lazy_gettext(
            "Die Antwort des LMS steht unten. Starten Sie die Registrierung im LMS neu; ein "
            "Registrierungs-Token des LMS gilt nur einmal."
        ),
        status=502,
    ),
    "answer_invalid": Problem(
        lazy_gettext("Antwort der Plattform unbrauchbar"),
        lazy_gettext(
            "Das LMS hat die Registrierung beantwortet, aber ohne verwendbare Client-ID oder "
            "Deployment-ID. Im Werkzeug wurde nichts gespeichert; der Link bleibt gültig."
        ),
        lazy_gettext(
            "Löschen Sie den Eintrag, den das LMS eventuell angelegt hat, und registrieren Sie "
            "die Plattform von Hand („flask --app wsgi lti platform add“)."
        ),
        status=502,
    ),
    "exists": Problem(
        lazy_gettext("Plattform bereits registriert"),
        lazy_gettext(
            "Diese Plattform ist mit derselben Client-ID schon registriert. Die bestehende "
            "Registrierung wurde nicht verändert."
        ),
        lazy_gettext(
            "Entfernen Sie die alte Registrierung bewusst („flask --app wsgi lti platform "
            "remove“), wenn die neue sie ersetzen soll, und löschen Sie den doppelten Eintrag im "
            "LMS."
        ),
        status=409,
    ),
}


class DynamicRegistrationError(Refusal):
    """A refused registration."""

    @property
    def problem(self) -> Problem:
        return REFUSALS[self.code]


# -- links -------------------------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_link(name: str | None, expires_in: timedelta) -> tuple[RegistrationLink, str]:
    """A new one-time link and its token (shown once, stored only as a hash). Flushes."""
    token = secrets.token_urlsafe(32)
    link = RegistrationLink(token_hash=_hash(token), name=name, expires_at=utcnow() + expires_in)
    db.session.add(link)
    db.session.flush()
    return link, token


def link_url(base_url: str, token: str) -> str:
    """The address to paste into the LMS. It carries a query already, because ILIAS appends
    ``&openid_configuration=…`` whether or not there is one (ltiregstart.php); Moodle adds its
    parameters to the query properly (startltiadvregistration.php)."""
    return f"{base_url.rstrip('/')}/lti/register?{urlencode({'link': token})}"


def find_link(token: str) -> RegistrationLink | None:
    """The link with this token, or None."""
    return db.session.scalars(
        select(RegistrationLink).where(RegistrationLink.token_hash == _hash(token))
    ).first()


def check_link(token: str | None) -> RegistrationLink:
    """The link if it may register now; raises for an unknown, used, expired or busy one."""
    link = find_link(token) if token else None
    if link is None:
        raise DynamicRegistrationError("unknown")
    now = utcnow()
    if link.used_at is not None:
        raise DynamicRegistrationError("used")
    if link.expires_at <= now:
        raise DynamicRegistrationError("expired")
    if link.claimed_at is not None and link.claimed_at > now - CLAIM_TIMEOUT:
        raise DynamicRegistrationError("in_progress")
    return link


def claim_link(link: RegistrationLink) -> datetime:
    """Take the link for this request and commit, before any request to the platform. One
    conditional UPDATE: of two parallel requests exactly one changes the row. Returns the claim's
    time, which :func:`release_link` needs."""
    now = utcnow()
    claimed = db.session.execute(
        update(RegistrationLink)
        .where(
            RegistrationLink.id == link.id,
            RegistrationLink.used_at.is_(None),
            RegistrationLink.expires_at > now,
            or_(
                RegistrationLink.claimed_at.is_(None),
                RegistrationLink.claimed_at <= now - CLAIM_TIMEOUT,
            ),
        )
        .values(claimed_at=now)
        .returning(RegistrationLink.id)
    ).first()
    db.session.commit()
    if claimed is None:
        db.session.refresh(link)
        # Whatever got in between decides the message: used, or still in progress.
        check_link_state(link)
        raise DynamicRegistrationError("in_progress")
    return now


def check_link_state(link: RegistrationLink) -> None:
    """Raise the refusal that fits the link's stored state, if any."""
    if link.used_at is not None:
        raise DynamicRegistrationError("used")
    if link.expires_at <= utcnow():
        raise DynamicRegistrationError("expired")


def release_link(link_id: int, claimed_at: datetime) -> None:
    """Give a claimed link back after a failed registration (the admin may try again); commits.
    Only our own claim: a request that took over a stale claim keeps its own."""
    db.session.rollback()
    db.session.execute(
        update(RegistrationLink)
        .where(
            RegistrationLink.id == link_id,
            RegistrationLink.used_at.is_(None),
            RegistrationLink.claimed_at == claimed_at,
        )
        .values(claimed_at=None)
    )
    db.session.commit()


# -- the platform's configuration (LTI-DR 1.0 §3.4, §3.5) ----------------------------------------


@dataclass(frozen=True)
class PlatformConfiguration:
    """What the tool takes from a platform's OpenID configuration."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str
    authorization_server: str | None
    """The ``aud`` for client assertions, when it is not the token endpoint."""
    product_family_code: str | None
    messages_supported: frozenset[str] | None
    """Message types the platform names; None when it names none."""

    @property
    def product_family(self) -> str | None:
        code = (self.product_family_code or "").strip().lower()
        if not code:
            return None
        return PRODUCT_FAMILIES.get(code, code[:100])

    @property
    def supports_deep_linking(self) -> bool:
        return self.messages_supported is None or (
            MessageType.DEEP_LINKING.value in self.messages_supported
        )


def _is_http_url(value: object, require_https: bool = False) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    schemes = {"https"} if require_https else {"http", "https"}
    return parts.scheme in schemes and bool(parts.hostname) and not parts.fragment


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _message_types(value: object) -> frozenset[str] | None:
    """``messages_supported`` as a set of types. The spec lists objects with ``type``; Moodle
    core lists plain strings (mod/lti/openid-configuration.php): both are accepted."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise DynamicRegistrationError(
            "configuration_invalid", "messages_supported ist keine Liste"
        )
    types = set()
    for entry in value:
        if isinstance(entry, str):
            types.add(entry)
        elif isinstance(entry, dict) and isinstance(entry.get("type"), str):
            types.add(entry["type"])
        else:
            raise DynamicRegistrationError(
                "configuration_invalid", "messages_supported enthält einen unlesbaren Eintrag"
            )
    return frozenset(types)


def parse_platform_configuration(
    data: object, configuration_url: str, *, require_https: bool = False
) -> PlatformConfiguration:
    """Validate an OpenID configuration fetched from ``configuration_url``. With
    ``require_https`` (production) every address must be https: the registration token and,
    later, every id_token travel over them."""
    if not isinstance(data, dict):
        raise DynamicRegistrationError("configuration_invalid", "kein JSON-Objekt")
    issuer = data.get("issuer")
    if not _is_http_url(issuer, require_https) or urlsplit(str(issuer)).query:
        raise DynamicRegistrationError(
            "configuration_invalid", "issuer fehlt oder ist keine erlaubte Adresse"
        )
    assert isinstance(issuer, str)
    # The issuer must belong to the site that served the configuration (LTI-DR 1.0 §3.5.1):
    # otherwise any site could register in another platform's name.
    if _origin(issuer) != _origin(configuration_url):
        raise DynamicRegistrationError(
            "configuration_invalid",
            f"issuer {issuer} gehört nicht zur Adresse der Konfiguration {configuration_url}",
        )
    missing = [
        key
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint")
        if not _is_http_url(data.get(key), require_https)
    ]
    if missing:
        raise DynamicRegistrationError(
            "configuration_invalid", "Endpunkte fehlen oder sind keine URL: " + ", ".join(missing)
        )
    algorithms = data.get("id_token_signing_alg_values_supported")
    if not isinstance(algorithms, list) or "RS256" not in algorithms:
        raise DynamicRegistrationError(
            "configuration_invalid", "id_token_signing_alg_values_supported nennt RS256 nicht"
        )
    auth_methods = data.get("token_endpoint_auth_methods_supported")
    if isinstance(auth_methods, list) and "private_key_jwt" not in auth_methods:
        raise DynamicRegistrationError(
            "configuration_invalid", "token_endpoint_auth_methods_supported ohne private_key_jwt"
        )
    # scopes_supported is not checked: ILIAS lists only "openid" (Modules/LTIConsumer
    # classes/class.ilObjLTIConsumer.php, getOpenidConfig) and still accepts scores.
    platform = data.get(PLATFORM_CONFIGURATION)
    platform = platform if isinstance(platform, dict) else {}
    server = data.get("authorization_server")
    family = platform.get("product_family_code")
    return PlatformConfiguration(
        issuer=issuer,
        authorization_endpoint=str(data["authorization_endpoint"]),
        token_endpoint=str(data["token_endpoint"]),
        jwks_uri=str(data["jwks_uri"]),
        registration_endpoint=str(data["registration_endpoint"]),
        authorization_server=server if isinstance(server, str) and server else None,
        product_family_code=family if isinstance(family, str) else None,
        messages_supported=_message_types(platform.get("messages_supported")),
    )


def _read_body(response: requests.Response, limit: int = MAX_ANSWER_BYTES) -> bytes:
    """At most ``limit`` bytes of a streamed body; a longer body raises ValueError."""
    body = b""
    for chunk in response.iter_content(chunk_size=16384):
        body += chunk
        if len(body) > limit:
            raise ValueError("answer too large")
    return body


def _read_json(response: requests.Response) -> Any:
    """The JSON body of ``response`` (ValueError if it is none or too large)."""
    return json.loads(_read_body(response) or b"null")


def fetch_platform_configuration(
    configuration_url: str, *, require_https: bool = False
) -> PlatformConfiguration:
    """GET the platform's OpenID configuration (no redirects) and validate it."""
    if not _is_http_url(configuration_url, require_https):
        wanted = "https" if require_https else "http(s)"
        raise DynamicRegistrationError(
            "configuration_invalid", f"openid_configuration ist keine {wanted}-Adresse"
        )
    try:
        with requests.get(
            configuration_url,
            headers={"Accept": "application/json"},
            timeout=PLATFORM_TIMEOUT_SECONDS,
            allow_redirects=False,
            stream=True,
        ) as response:
            if response.status_code != 200:
                raise DynamicRegistrationError(
                    "configuration_unreachable",
                    f"HTTP {response.status_code} von {configuration_url}",
                )
            data = _read_json(response)
    except requests.RequestException as error:
        raise DynamicRegistrationError(
            "configuration_unreachable", f"{type(error).__name__} bei {configuration_url}"
        ) from error
    except ValueError as error:
        raise DynamicRegistrationError(
            "configuration_invalid", "keine lesbare JSON-Antwort"
        ) from error
    return parse_platform_configuration(data, configuration_url, require_https=require_https)


# -- the client registration (LTI-DR 1.0 §3.5, §3.6) ---------------------------------------------


@dataclass(frozen=True)
class ToolUrls:
    """The tool's addresses, as the registration request names them."""

    base: str
    login: str
    launch: str
    jwks: str

    @classmethod
    def current(cls) -> ToolUrls:
        """This installation's addresses (``PUBLIC_BASE_URL`` or the request's host)."""
        base = tool_base_url()
        return cls(
            base=base,
            login=base + url_for("lti.login"),
            launch=launch_url(),
            jwks=base + url_for("lti.jwks"),
        )


def registration_request(tool: ToolUrls, platform: PlatformConfiguration) -> dict[str, Any]:
    """The client registration the tool POSTs to the platform."""
    messages: list[dict[str, Any]] = []
    if platform.supports_deep_linking:
        # ILIAS needs target_link_uri on every deep-linking message, or answers 500
        # (ilObjLTIConsumer::registerClient); Moodle takes it as Content Selection URL.
        messages.append(
            {
                "type": MessageType.DEEP_LINKING.value,
                "target_link_uri": tool.launch,
                "label": "Lotsen-LTI: Module auswählen",
            }
        )
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": tool.login,
        # One fixed redirect URI: Moodle and ILIAS compare it exactly (lti-notes §2).
        "redirect_uris": [tool.launch],
        # Moodle refuses a registration without client_name (registration_helper.php).
        "client_name": "Lotsen-LTI",
        "jwks_uri": tool.jwks,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(scope.value for scope in REQUESTED_SCOPES),
        TOOL_CONFIGURATION: {
            "domain": urlsplit(tool.base).netloc,
            "target_link_uri": tool.launch,
            "description": "Lernwerkzeug für die Ausbildung der Digital-Navigatorinnen und "
            "Digital-Navigatoren in Sachsen",
            "claims": list(REQUESTED_CLAIMS),
            "messages": messages,
        },
    }


def post_registration(
    platform: PlatformConfiguration, body: dict[str, Any], registration_token: str | None
) -> dict[str, Any]:
    """POST the registration; the answer as a JSON object. No redirects: the registration token
    goes to the registration endpoint and nowhere else."""
    headers = {"Accept": "application/json"}
    if registration_token:
        headers["Authorization"] = f"Bearer {registration_token}"
    url = platform.registration_endpoint
    try:
        with requests.post(
            url,
            json=body,
            headers=headers,
            timeout=PLATFORM_TIMEOUT_SECONDS,
            allow_redirects=False,
            stream=True,
        ) as response:
            if response.status_code not in (200, 201):
                try:
                    text = _read_body(response, 4096).decode("utf-8", "replace")
                except ValueError:
                    text = ""
                raise DynamicRegistrationError(
                    "registration_refused", f"HTTP {response.status_code}: {text.strip()[:200]}"
                )
            answer = _read_json(response)
    except requests.RequestException as error:
        raise DynamicRegistrationError(
            "registration_refused", f"{type(error).__name__} bei {url}"
        ) from error
    except ValueError as error:
        raise DynamicRegistrationError("answer_invalid", "keine lesbare JSON-Antwort") from error
    if not isinstance(answer, dict):
        raise DynamicRegistrationError("answer_invalid", "die Antwort ist kein JSON-Objekt")
    return answer


def _identifier(value: object) -> str | None:
    # ILIAS answers deployment_id as a number (its provider id), Moodle as a string.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip() and len(value.strip()) <= 255:
        return value.strip()
    return None


def parse_registration_answer(answer: dict[str, Any]) -> tuple[str, str]:
    """The client id and deployment id the platform gave the tool."""
    client_id = _identifier(answer.get("client_id"))
    if client_id is None:
        raise DynamicRegistrationError("answer_invalid", "client_id fehlt")
    configuration = answer.get(TOOL_CONFIGURATION)
    deployment_id = (
        _identifier(configuration.get("deployment_id")) if isinstance(configuration, dict) else None
    )
    if deployment_id is None:
        raise DynamicRegistrationError(
            "answer_invalid", f"deployment_id fehlt (Client-ID {client_id})"
        )
    return client_id, deployment_id


# -- storing -------------------------------------------------------------------------------------


def _free_name(wanted: str) -> str:
    name = wanted[:190]
    taken = set(
        db.session.scalars(select(Registration.name).where(Registration.name.like(f"{name}%")))
    )
    if name not in taken:
        return name
    number = 2
    while f"{name} ({number})" in taken:
        number += 1
    return f"{name} ({number})"


def _default_name(platform: PlatformConfiguration) -> str:
    host = urlsplit(platform.issuer).netloc
    family = platform.product_family
    label = FAMILY_LABELS.get(family or "", family)
    return f"{label} {host}" if label else host


def ensure_not_registered(issuer: str, client_id: str) -> None:
    """Refuse to touch an existing registration with this issuer and client id."""
    existing = db.session.scalars(
        select(Registration).where(
            Registration.issuer == issuer, Registration.client_id == client_id
        )
    ).first()
    if existing is not None:
        raise DynamicRegistrationError(
            "exists",
            f"Issuer {issuer}, Client-ID {client_id}: bereits als „{existing.name}“ "
            f"(id {existing.id}) registriert",
        )


def store_registration(
    link: RegistrationLink, platform: PlatformConfiguration, client_id: str, deployment_id: str
) -> Registration:
    """Store the registration with its deployment and mark the link used. Flushes."""
    ensure_not_registered(platform.issuer, client_id)
    try:
        registration = add_platform(
            {
                "name": _free_name(link.name or _default_name(platform)),
                "issuer": platform.issuer,
                "client_id": client_id,
                "auth_login_url": platform.authorization_endpoint,
                "auth_token_url": platform.token_endpoint,
                "key_set_url": platform.jwks_uri,
                "audience": platform.authorization_server,
                "product_family": platform.product_family,
                "deployments": [deployment_id],
            }
        )
    except RegistrationError as error:
        raise DynamicRegistrationError("answer_invalid", str(error)) from error
    # Conditional, like the claim: should a stale claim have been taken over meanwhile, only one
    # of the two requests marks the link used; the other one rolls back.
    marked = db.session.execute(
        update(RegistrationLink)
        .where(RegistrationLink.id == link.id, RegistrationLink.used_at.is_(None))
        .values(used_at=utcnow(), registration_pk=registration.id)
        .returning(RegistrationLink.id)
    ).first()
    if marked is None:
        raise DynamicRegistrationError("used")
    return registration


@dataclass(frozen=True)
class RegistrationParams:
    """What the platform's call of the registration URL carries."""

    link: str | None
    openid_configuration: str | None
    registration_token: str | None


def register(params: RegistrationParams, tool: ToolUrls) -> Registration:
    """The whole registration for one call of the registration URL; commits. On a refusal the
    link is given back and nothing is stored."""
    link = check_link(params.link)
    if not params.openid_configuration:
        # Opened in a browser, not by an LMS: say where the link belongs, keep it valid.
        raise DynamicRegistrationError("not_from_platform")
    # No request leaves the tool before the link checked out: the URL is no open proxy.
    claimed_at = claim_link(link)
    link_id = link.id
    try:
        platform = fetch_platform_configuration(
            params.openid_configuration,
            require_https=current_app.config["ENV_NAME"] == "production",
        )
        answer = post_registration(
            platform, registration_request(tool, platform), params.registration_token
        )
        client_id, deployment_id = parse_registration_answer(answer)
        registration = store_registration(link, platform, client_id, deployment_id)
        db.session.commit()
        # The new platform may embed the tool at once (the CSP of this process).
        forget_registered_origins()
    except IntegrityError as error:
        # A parallel registration of the same client id got in first.
        release_link(link_id, claimed_at)
        raise DynamicRegistrationError("exists", "gleichzeitig registriert") from error
    except Exception:
        release_link(link_id, claimed_at)
        raise
    return registration


# -- the page the platform opens ---------------------------------------------------------------

bp = Blueprint("lti_registration", __name__, url_prefix="/lti")


def _path_parameters(raw_uri: str) -> dict[str, str]:
    """``/lti/register/<link>&a=b&c=d``: the link token and the parameters ILIAS appended to a
    URL without a query (ltiregstart.php). Read from the undecoded request URI, so an
    ``openid_configuration`` with an encoded query stays whole."""
    path = raw_uri.split("?", 1)[0]
    tail = path.split("/register/", 1)[1] if "/register/" in path else ""
    token, _, rest = tail.partition("&")
    values = dict(parse_qsl(rest, keep_blank_values=True))
    if token:
        values["link"] = unquote(token)
    return values


def registration_params() -> RegistrationParams:
    """The parameters of the current call, from the query or from a path ILIAS extended."""
    values: dict[str, str] = {}
    if request.view_args and request.view_args.get("tail") is not None:
        raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
        values.update(_path_parameters(raw or request.path))
    values.update(request.args.to_dict())
    return RegistrationParams(
        link=values.get("link") or None,
        openid_configuration=values.get("openid_configuration") or None,
        registration_token=values.get("registration_token") or None,
    )


@bp.get("/register")
@bp.get("/register/<path:tail>", merge_slashes=False)
def register_page(tail: str | None = None) -> Response:
    """The registration URL (LTI-DR 1.0 §3.3). Registers at once: no confirm step, because
    ILIAS shows the page to nobody (tpl.lti_dyn_reg_request.html)."""
    params = registration_params()
    try:
        registration = register(params, ToolUrls.current())
    except DynamicRegistrationError as error:
        log.info("dynamic registration refused: code=%s detail=%s", error.code, error.detail)
        page = render_template("problem.html", problem=error.problem, detail=error.detail)
        response = Response(page, status=error.problem.status, mimetype="text/html")
    else:
        log.info(
            "dynamic registration stored: registration=%s family=%s",
            registration.id,
            registration.product_family,
        )
        page = render_template(
            "lti/registration_done.html",
            registration=registration,
            deployment_id=registration.deployments[0].deployment_id,
            moodle=registration.product_family == "moodle",
        )
        response = Response(page, mimetype="text/html")
    # The link and the LMS's registration token are in the URL.
    response.headers["Cache-Control"] = "no-store"
    return response


# -- ``flask lti registration-link`` ----------------------------------------------------------


@click.command("registration-link")
@with_appcontext
@click.option("--name", help="Name der neuen Registrierung (sonst aus LMS-Typ und Adresse).")
@click.option(
    "--expires-hours",
    type=click.IntRange(min=1, max=MAX_EXPIRY_HOURS),
    default=DEFAULT_EXPIRY_HOURS,
    show_default=True,
    help="Gültigkeit des Links in Stunden.",
)
@click.option("--base-url", help="Öffentliche Adresse des Werkzeugs (sonst PUBLIC_BASE_URL).")
def registration_link(name: str | None, expires_hours: int, base_url: str | None) -> None:
    """Einmal-Link für die dynamische Registrierung (Moodle, ILIAS) erzeugen."""
    base = (base_url or current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    if not base:
        raise click.UsageError("--base-url angeben oder PUBLIC_BASE_URL setzen.")
    if not _is_http_url(base) or urlsplit(base).query:
        raise click.BadParameter(f"keine http(s)-Adresse: {base!r}", param_hint="--base-url")
    if name is not None:
        name = name.strip()
        if not name or len(name) > 190:
            raise click.BadParameter("1 bis 190 Zeichen.", param_hint="--name")
        if db.session.scalars(select(Registration.id).where(Registration.name == name)).first():
            raise click.BadParameter(
                f"eine Plattform namens {name!r} gibt es bereits.", param_hint="--name"
            )
    link, token = create_link(name, timedelta(hours=expires_hours))
    db.session.commit()
    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Europe/Berlin")
    expires = link.expires_at.astimezone(zone).strftime("%d.%m.%Y %H:%M")
    click.echo(f"Registrierungslink (einmal verwendbar, gültig bis {expires} Uhr):")
    click.echo("")
    click.echo("  " + link_url(base, token))
    click.echo("")
    click.echo("Moodle: Website-Administration › Plugins › Aktivitäten › Externes Tool ›")
    click.echo("        Tools verwalten: Link ins Feld „Tool-URL“, „LTI Advantage hinzufügen“,")
    click.echo("        danach das Tool unter „Ausstehend“ aktivieren.")
    click.echo("ILIAS:  Administration › Erweiterungen › LTI › Anbieter › dynamische")
    click.echo("        Registrierung, Link als Tool-URL einfügen.")


def init_app(app: Flask) -> None:
    """Mount the registration URL."""
    app.register_blueprint(bp)
