"""Settings read from the environment.

``LOTSEN_ENV`` chooses the class: ``development`` (the default, used by ``make run`` with the
demo LMS), ``testing`` or ``production``. Production refuses to start without a secret key, a
database URL and a public base URL, and can never serve the demo LMS.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigurationError(RuntimeError):
    """The environment does not describe a runnable installation."""


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def _programmes(value: str | None, default: dict[str, list[str]]) -> dict[str, list[str]]:
    """``PROGRAMMES`` as JSON: ``{"name": ["issuer URL", ...], ...}``."""
    if value is None or not value.strip():
        return default
    try:
        parsed = json.loads(value)
    except ValueError as error:
        raise ConfigurationError(f"PROGRAMMES ist kein gültiges JSON: {error}") from error
    if not isinstance(parsed, dict) or not all(
        isinstance(issuers, list) and all(isinstance(i, str) for i in issuers)
        for issuers in parsed.values()
    ):
        raise ConfigurationError(
            'PROGRAMMES muss so aussehen: {"Programm": ["https://issuer.example", ...]}.'
        )
    return {str(name): list(issuers) for name, issuers in parsed.items()}


#: The operator's details the legal pages show (see BaseSettings).
LEGAL_SETTINGS = (
    "OPERATOR_NAME",
    "OPERATOR_ADDRESS",
    "OPERATOR_REPRESENTATIVE",
    "OPERATOR_EMAIL",
    "OPERATOR_PHONE",
    "DPO_CONTACT",
    "ACCESSIBILITY_CONTACT",
    "ACCESSIBILITY_ENFORCEMENT",
    "ACCESSIBILITY_STATEMENT_DATE",
    "PRIVACY_RETENTION",
)
#: What the legal pages show for a detail that is not configured yet.
LEGAL_PLACEHOLDER = "[bitte ausfüllen]"


class BaseSettings:
    """Values shared by every environment; each can be overridden by an environment variable."""

    ENV_NAME = "base"
    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None
    #: ``hide_parameters``: a failing statement's values (names, submission text) never reach a
    #: log through the exception message. No ``pool_pre_ping``: it costs a round trip on every
    #: request; lti_tool.app pings only a connection that was idle (PING_AFTER_IDLE_SECONDS).
    SQLALCHEMY_ENGINE_OPTIONS: ClassVar[dict[str, Any]] = {
        "hide_parameters": True,
    }
    #: Public address of this installation (scheme and host, no trailing slash), e.g.
    #: ``https://lotsen.hsf.sachsen.de``. Without it the request's own host is used.
    PUBLIC_BASE_URL: str | None = None
    #: Serve the built-in demo LMS under /demo-lms. Never in production.
    DEMO_LMS = False
    #: The demo LMS's own SQLite file; without it ``instance/demo_lms.sqlite``.
    DEMO_LMS_DATABASE: str | None = None
    #: Trust one reverse proxy's X-Forwarded-* headers (scheme, host).
    PROXY_FIX = False
    #: Sliding lifetime of the signed launch token that later requests of a launch present (each
    #: page renews it; LAUNCH_MAX_AGE after the launch is the hard limit).
    LAUNCH_TOKEN_MAX_AGE = 30 * 60
    #: A launch can be continued (token renewed) for at most this long after the LMS launch.
    LAUNCH_MAX_AGE = 12 * 3600
    #: How long a retired tool key stays in the JWKS after ``lti keys rotate``.
    KEY_ROTATION_OVERLAP_DAYS = 7
    #: Minimum seconds between two refetches of a platform key set for an unknown ``kid``.
    JWKS_REFETCH_INTERVAL = 60
    #: Allowed clock skew between platform and tool for ``iat``/``exp``.
    JWT_LEEWAY_SECONDS = 60
    #: Timeout of every HTTP request the tool makes to a platform.
    HTTP_TIMEOUT_SECONDS = 10
    #: Where uploaded files are stored, outside the web root.
    UPLOAD_FOLDER: str | None = None
    MAX_UPLOAD_BYTES = 20 * 1024 * 1024
    MAX_UPLOAD_FILES = 5
    BABEL_DEFAULT_LOCALE = "de"
    BABEL_DEFAULT_TIMEZONE = "Europe/Berlin"
    #: Custom parameter that carries a Navigator's municipality (issue 4).
    MUNICIPALITY_CUSTOM_PARAM = "gemeinde"
    #: Deliver gradebook scores from a background thread of the web process (``make run`` only;
    #: production runs ``flask --app wsgi gradebook worker`` as its own process).
    GRADEBOOK_BACKGROUND_WORKER = False
    #: Custom parameter of a resource link that names the catalogue module it opens.
    MODULE_CUSTOM_PARAM = "module_id"
    #: Modules placed into a course that has none yet when it is first launched (demo only).
    DEFAULT_COURSE_MODULES: tuple[str, ...] = ()
    #: Days after a course's end after which ``flask courses privacy purge`` deletes what the
    #: course holds on people (launches, progress, quiz attempts, submissions with their files,
    #: memberships, delivered or failed gradebook rows; courses/services/privacy.py). None: the
    #: operator has not decided yet, and the purge refuses to run.
    RETENTION_DAYS_AFTER_COURSE_END: int | None = None
    #: Programmes (Praxisbeispiele are shared within one): name → issuer URLs of its platform
    #: registrations, as JSON in the environment. A registration not listed is in "default",
    #: so by default every registration of this installation is one programme.
    PROGRAMMES: ClassVar[dict[str, list[str]]] = {}
    #: Custom parameter that carries a course's end date, e.g. in Moodle
    #: ``kursende=$CourseSection.timeFrame.end``. Without it a course ends with its last launch.
    COURSE_END_CUSTOM_PARAM = "kursende"

    # The operator's details for Impressum, Datenschutzerklärung and Erklärung zur
    # Barrierefreiheit (courses/web/legal.py). Each is read from the environment variable of the
    # same name; unset, the pages show what must be filled in (LEGAL_PLACEHOLDER).
    #: Who runs this installation (the controller, Art. 4 Nr. 7 DSGVO), e.g. the HSF Meißen.
    OPERATOR_NAME: str | None = None
    #: Postal address, lines separated by "\n" or ";".
    OPERATOR_ADDRESS: str | None = None
    #: Who represents the operator (Impressum: "vertreten durch").
    OPERATOR_REPRESENTATIVE: str | None = None
    OPERATOR_EMAIL: str | None = None
    OPERATOR_PHONE: str | None = None
    #: The data protection officer (Art. 37 DSGVO): name or office, e-mail, address.
    DPO_CONTACT: str | None = None
    #: E-mail address of the feedback mechanism on barriers (BITV 2.0 § 12b Abs. 2 Nr. 2 analog).
    ACCESSIBILITY_CONTACT: str | None = None
    #: The enforcement procedure (Durchsetzungsverfahren) of the operator's Land: the office and
    #: how to reach it.
    ACCESSIBILITY_ENFORCEMENT: str | None = None
    #: Date the accessibility statement was made or last reviewed (TT.MM.JJJJ).
    ACCESSIBILITY_STATEMENT_DATE: str | None = None
    #: How long the tool keeps launches, progress and submissions, in words.
    PRIVACY_RETENTION: str | None = None

    @classmethod
    def from_environment(cls) -> dict[str, Any]:
        """Return this class's values with the environment's overrides applied."""
        values = {key: getattr(cls, key) for key in dir(cls) if key.isupper()}
        env = os.environ
        if env.get("SECRET_KEY"):
            values["SECRET_KEY"] = env["SECRET_KEY"]
        if env.get("DATABASE_URL"):
            values["SQLALCHEMY_DATABASE_URI"] = _normalise_database_url(env["DATABASE_URL"])
        if env.get("PUBLIC_BASE_URL"):
            values["PUBLIC_BASE_URL"] = env["PUBLIC_BASE_URL"].rstrip("/")
        if env.get("UPLOAD_FOLDER"):
            values["UPLOAD_FOLDER"] = env["UPLOAD_FOLDER"]
        if env.get("DEMO_LMS_DATABASE"):
            values["DEMO_LMS_DATABASE"] = env["DEMO_LMS_DATABASE"]
        values["PROXY_FIX"] = _flag("PROXY_FIX", values["PROXY_FIX"])
        values["DEMO_LMS"] = _flag("DEMO_LMS", values["DEMO_LMS"])
        for key in LEGAL_SETTINGS:
            if env.get(key, "").strip():
                values[key] = env[key].strip()
        values["RETENTION_DAYS_AFTER_COURSE_END"] = _retention_days(
            env.get("RETENTION_DAYS_AFTER_COURSE_END"), values["RETENTION_DAYS_AFTER_COURSE_END"]
        )
        values["PROGRAMMES"] = _programmes(env.get("PROGRAMMES"), values["PROGRAMMES"])
        if env.get("COURSE_END_CUSTOM_PARAM", "").strip():
            values["COURSE_END_CUSTOM_PARAM"] = env["COURSE_END_CUSTOM_PARAM"].strip()
        for key in (
            "LAUNCH_TOKEN_MAX_AGE",
            "LAUNCH_MAX_AGE",
            "KEY_ROTATION_OVERLAP_DAYS",
            "JWKS_REFETCH_INTERVAL",
            "MAX_UPLOAD_BYTES",
            "MAX_UPLOAD_FILES",
        ):
            values[key] = _int(key, values[key])
        return values


class DevelopmentSettings(BaseSettings):
    """``make run``: SQLite in ``instance/``, the demo LMS on, a generated local secret."""

    ENV_NAME = "development"
    DEMO_LMS = True
    GRADEBOOK_BACKGROUND_WORKER = True
    DEFAULT_COURSE_MODULES = (
        "b1-rechtsrahmen",
        "b3-prozessmanagement",
        "b4-informationssicherheit",
        "p1-hundesteuer-online",
    )


class TestingSettings(BaseSettings):
    """The test suite; tests pass their own database URL."""

    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
    JWKS_REFETCH_INTERVAL = 0


class ProductionSettings(BaseSettings):
    """Several gunicorn workers on PostgreSQL behind a TLS-terminating proxy."""

    ENV_NAME = "production"
    PROXY_FIX = True
    SESSION_COOKIE_SECURE = True

    @classmethod
    def from_environment(cls) -> dict[str, Any]:
        if _flag("DEMO_LMS"):
            raise ConfigurationError("DEMO_LMS kann in der Produktion nicht eingeschaltet werden.")
        values = super().from_environment()
        values["DEMO_LMS"] = False
        missing = [
            name
            for name, key in (
                ("SECRET_KEY", "SECRET_KEY"),
                ("DATABASE_URL", "SQLALCHEMY_DATABASE_URI"),
                ("PUBLIC_BASE_URL", "PUBLIC_BASE_URL"),
            )
            if not values.get(key)
        ]
        if missing:
            raise ConfigurationError(
                "Produktion startet nicht ohne diese Umgebungsvariablen: " + ", ".join(missing)
            )
        if len(values["SECRET_KEY"]) < 32:
            raise ConfigurationError("SECRET_KEY muss mindestens 32 Zeichen lang sein.")
        return values


SETTINGS_BY_ENV: dict[str, type[BaseSettings]] = {
    "development": DevelopmentSettings,
    "testing": TestingSettings,
    "production": ProductionSettings,
}


def load_settings(env_name: str | None = None) -> dict[str, Any]:
    """Return the settings of ``env_name`` (default: ``$LOTSEN_ENV`` or development)."""
    name = env_name or os.environ.get("LOTSEN_ENV", "development")
    try:
        settings_class = SETTINGS_BY_ENV[name]
    except KeyError:
        known = ", ".join(sorted(SETTINGS_BY_ENV))
        raise ConfigurationError(f"Unbekannte LOTSEN_ENV {name!r}; bekannt: {known}") from None
    return settings_class.from_environment()


def _retention_days(value: str | None, default: int | None) -> int | None:
    """``RETENTION_DAYS_AFTER_COURSE_END``: whole days, at least 1; unset or empty: ``default``."""
    if value is None or not value.strip():
        return default
    text = value.strip()
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise ConfigurationError(
            "RETENTION_DAYS_AFTER_COURSE_END muss eine ganze Zahl von Tagen ab 1 sein "
            f"(gesetzt: {value!r})."
        )
    return int(text)


def _normalise_database_url(url: str) -> str:
    # Heroku-style "postgres://" and a bare "postgresql://" both mean psycopg 3 here.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url
