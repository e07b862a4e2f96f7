"""The valid launches the 1EdTech certification sends a tool (lti-notes §4), for learners and
instructors alike: importable, so every app (the protocol alone, the full product) can be tested
against the same list.

``for variant in VARIANTS: platform.launch(session, person, **variant.launch_kwargs(role))``
with ``role`` in ``ROLES``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .model import DEFAULT
from .vocab import (
    INSTITUTION_FACULTY,
    INSTITUTION_STUDENT,
    INSTRUCTOR,
    LEARNER,
    SYSTEM_ADMIN,
)

LEARNER_ROLE = "learner"
INSTRUCTOR_ROLE = "instructor"
ROLES = (LEARNER_ROLE, INSTRUCTOR_ROLE)

#: A role no vocabulary knows (the certification's "unknown role").
UNKNOWN_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Zeitreisender"


@dataclass(frozen=True)
class LaunchVariant:
    """One valid launch of the certification list. ``roles`` maps learner/instructor to the
    roles claim; None for ``names``/``email``/``ags``/``nrps`` is what the platform sends by
    itself, False leaves the claim out, True sends the real value."""

    id: str
    description: str
    roles: dict[str, list[str]] = field(
        default_factory=lambda: {LEARNER_ROLE: [LEARNER], INSTRUCTOR_ROLE: [INSTRUCTOR]}
    )
    names: bool | None = None
    email: bool | None = None
    with_course: bool = True
    title: Any = DEFAULT
    ags: bool | None = None
    nrps: bool | None = None

    def launch_kwargs(self, role: str) -> dict[str, Any]:
        """Keyword arguments of :meth:`Platform.launch` for this variant as ``role``."""
        return {
            "roles": list(self.roles[role]),
            "names": self.names,
            "email": self.email,
            "with_course": self.with_course,
            "resource_link_title": self.title,
            "ags": self.ags,
            "nrps": self.nrps,
        }


VARIANTS: tuple[LaunchVariant, ...] = (
    LaunchVariant("plain", "Einfacher Start"),
    LaunchVariant(
        "several-roles",
        "Mehrere Rollen",
        roles={
            LEARNER_ROLE: [LEARNER, INSTITUTION_STUDENT],
            INSTRUCTOR_ROLE: [INSTRUCTOR, INSTITUTION_FACULTY, SYSTEM_ADMIN],
        },
    ),
    LaunchVariant(
        "short-role-names",
        "Kurze Rollennamen",
        roles={LEARNER_ROLE: ["Learner"], INSTRUCTOR_ROLE: ["Instructor"]},
    ),
    LaunchVariant(
        "unknown-role",
        "Unbekannte Rolle",
        roles={LEARNER_ROLE: [UNKNOWN_ROLE], INSTRUCTOR_ROLE: [INSTRUCTOR, UNKNOWN_ROLE]},
    ),
    LaunchVariant("no-role", "Keine Rolle", roles={LEARNER_ROLE: [], INSTRUCTOR_ROLE: []}),
    LaunchVariant("email-only", "Nur E-Mail", names=False, email=True),
    LaunchVariant("names-only", "Nur Namen", names=True, email=False),
    LaunchVariant("no-personal-data", "Keine persönlichen Daten", names=False, email=False),
    LaunchVariant(
        "email-without-context",
        "E-Mail ohne Kontext",
        names=False,
        email=True,
        with_course=False,
    ),
    LaunchVariant("no-resource-link-title", "Ohne Titel des Links", title=None),
    LaunchVariant("no-ags", "Ohne AGS", ags=False),
    LaunchVariant("no-nrps", "Ohne NRPS", nrps=False),
)
