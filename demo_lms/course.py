"""The demo course and its people: fixed data, as an LMS would hold it, plus the demo's URLs.

Every person is invented (family names start with "Demo-", e-mails end in the reserved TLD
``.invalid``); the municipalities are real Saxon ones so that the tool's ``gemeinde`` handling
sees realistic values.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from flask import current_app, request

#: The demo's client id for the tool and the tool's one deployment on it.
CLIENT_ID = "lotsen-demo"
DEPLOYMENT_ID = "1"
PLATFORM_NAME = "Demo-LMS"
PRODUCT_FAMILY = "lotsen-demo"
#: The resource link that exists from the start; it points at the tool without a module.
DEFAULT_LINK_ID = "demo-link-1"
DEFAULT_LINK_TITLE = "Lotsen-LTI"


class LisRole(StrEnum):
    """LIS v2 context roles, always sent as full URIs (LTI 1.3 core, appendix A.2.2)."""

    INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
    LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"


@dataclass(frozen=True)
class Course:
    """The LMS course (LTI context)."""

    id: str
    label: str
    title: str
    type: str = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"


@dataclass(frozen=True)
class Person:
    """A course member. ``shares_personal_data`` False: name and e-mail never leave the LMS."""

    key: str
    given_name: str
    family_name: str
    email: str
    municipality: str
    role: LisRole
    shares_personal_data: bool = True

    @property
    def sub(self) -> str:
        """Stable, opaque user id (the same across restarts and databases)."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://lotsen-demo.invalid/user/{self.key}"))

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def is_instructor(self) -> bool:
        return self.role is LisRole.INSTRUCTOR


COURSE = Course(id="demo-kurs-1", label="DN-2026-1", title="Digital-Navigatoren Kurs 2026/1")

PEOPLE: tuple[Person, ...] = (
    Person(
        "frank",
        "Frank",
        "Demo-Lotse",
        "frank.demo-lotse@hsf.demo.invalid",
        "Meißen",
        LisRole.INSTRUCTOR,
    ),
    Person(
        "anna",
        "Anna",
        "Demo-Beispiel",
        "anna.demo-beispiel@riesa.demo.invalid",
        "Riesa",
        LisRole.LEARNER,
    ),
    Person(
        "jonas",
        "Jonas",
        "Demo-Muster",
        "jonas.demo-muster@lommatzsch.demo.invalid",
        "Lommatzsch",
        LisRole.LEARNER,
    ),
    Person(
        "petra",
        "Petra",
        "Demo-Probe",
        "petra.demo-probe@freital.demo.invalid",
        "Freital",
        LisRole.LEARNER,
    ),
    Person(
        "lena",
        "Lena",
        "Demo-Erzgebirge",
        "lena.demo-erzgebirge@sehmatal.demo.invalid",
        "Sehmatal",
        LisRole.LEARNER,
    ),
    Person(
        "tom",
        "Tom",
        "Demo-Fallbeispiel",
        "tom.demo-fallbeispiel@brandis.demo.invalid",
        "Brandis",
        LisRole.LEARNER,
    ),
    # Shows how the tool copes when the LMS withholds name and e-mail (Moodle privacy settings,
    # ILIAS pseudonyms): only sub, roles and the custom parameter reach the tool.
    Person(
        "sam",
        "Sam",
        "Demo-Privat",
        "sam.demo-privat@radebeul.demo.invalid",
        "Radebeul",
        LisRole.LEARNER,
        shares_personal_data=False,
    ),
)


def find_person(sub: str) -> Person | None:
    """The course member with this ``sub``, or None."""
    return next((person for person in PEOPLE if person.sub == sub), None)


def learners() -> list[Person]:
    """Members that can be graded (Moodle refuses scores for everyone else)."""
    return [person for person in PEOPLE if person.role is LisRole.LEARNER]


# -- addresses ----------------------------------------------------------------------------------


def base_url() -> str:
    """Public address of the installation (``PUBLIC_BASE_URL`` or the request's host)."""
    configured = current_app.config.get("PUBLIC_BASE_URL")
    return (configured or request.host_url).rstrip("/")


def issuer(base: str | None = None) -> str:
    """The demo platform's issuer: ``{base}/demo-lms`` (case-sensitive, no trailing slash)."""
    return f"{(base or base_url()).rstrip('/')}/demo-lms"


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` (for the Content-Security-Policy)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class ToolEndpoints:
    """What an LMS admin would type into the tool registration form of the LMS."""

    login_url: str
    launch_url: str
    jwks_url: str

    @classmethod
    def at(cls, base: str) -> ToolEndpoints:
        base = base.rstrip("/")
        return cls(f"{base}/lti/login", f"{base}/lti/launch", f"{base}/lti/jwks.json")

    @property
    def redirect_uris(self) -> tuple[str, ...]:
        """Compared exactly, as Moodle and ILIAS do."""
        return (self.launch_url,)


def tool_endpoints() -> ToolEndpoints:
    """The tool's endpoints, served by this very installation."""
    return ToolEndpoints.at(base_url())
