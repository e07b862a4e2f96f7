"""What the platform knows: people, courses, resource links, line items, grades, tokens, and the
launches a test has started. Plain data; the HTTP side lives in the other modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Person:
    """A user of the platform. ``sub`` is what the platform sends as ``sub`` (Moodle: the
    numeric user id; ILIAS: a bare hash; see :meth:`Platform.person`). Names and e-mail are the
    user's real data: the platform's privacy settings decide what a launch shares."""

    sub: str
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None
    username: str | None = None

    @classmethod
    def of(cls, value: Person | dict[str, Any]) -> Person:
        """A Person from itself or from a user dict (``{"sub": …, "name": …}``)."""
        if isinstance(value, Person):
            return value
        return cls(
            sub=str(value["sub"]),
            name=value.get("name"),
            given_name=value.get("given_name"),
            family_name=value.get("family_name"),
            email=value.get("email"),
            username=value.get("username"),
        )

    @property
    def full_name(self) -> str | None:
        return self.name or (" ".join(p for p in (self.given_name, self.family_name) if p) or None)


@dataclass
class Member:
    """A course membership: who, in which LTI roles, active or not."""

    person: Person
    roles: list[str]
    status: str = "Active"


@dataclass
class Link:
    """A placement of the tool in a course (Moodle: an ``lti`` activity, ``id`` its instance id;
    ILIAS: an LTI object, ``id`` its ref_id and ``obj_id`` its object id)."""

    id: str
    course_id: str
    title: str | None = "Lotsen-LTI"
    description: str = ""
    custom: dict[str, str] = field(default_factory=dict)
    line_item_id: int | None = None
    """Moodle: the grade item coupled to the activity (only when it was created with a grade);
    ILIAS: the obj_id, which is the line item id of the object."""
    obj_id: int | None = None
    score_maximum: float = 1.0
    """ILIAS: the object's maximum score (its line item's scoreMaximum)."""


@dataclass
class Course:
    """An LMS course: Moodle's course id, ILIAS' ref_id of the course."""

    id: str
    label: str
    title: str
    members: dict[str, Member] = field(default_factory=dict)
    links: dict[str, Link] = field(default_factory=dict)


@dataclass
class LineItemMeta:
    """What Moodle keeps beside a grade item: the course, the activity it is coupled to (or the
    resource link a tool named), and whether ``ltiservice_gradebookservices`` has a row for it
    (items made by the tool or by Deep Linking)."""

    course_id: str
    link_id: str | None = None
    coupled: bool = False
    gbs: bool = True
    resource_id: str = ""
    tag: str = ""


@dataclass
class ScorePost:
    """One score POST as it arrived, with the status the platform answered."""

    line_item: int
    user_id: str
    status: int
    body: dict[str, Any]


@dataclass
class Grade:
    """The newest accepted score of a user in a line item. ``body`` is the score as sent;
    ``final_grade`` what the gradebook shows (Moodle: scoreGiven rescaled to the item's maximum,
    None when not FullyGraded)."""

    body: dict[str, Any]
    timemodified: int
    final_grade: float | None = None


@dataclass
class Token:
    """An access token the platform issued."""

    scopes: frozenset[str]
    expires: float
    client_id: str = ""


@dataclass
class PendingLaunch:
    """What the platform puts into the id_token once the browser comes back from the tool."""

    person: Person
    roles: list[str]
    course_id: str | None
    link: Link | None
    deep_linking: bool = False
    data: str | None = None
    custom: dict[str, Any] = field(default_factory=dict)
    title: Any = None
    """The resource link title to send; :data:`DEFAULT` for the link's own, None for none."""
    names: bool | None = None
    email: bool | None = None
    ags: bool | None = None
    nrps: bool | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    """Claims to add or replace last; a value of :data:`DROP` removes the claim."""


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


DEFAULT: Any = _Marker("DEFAULT")
"""The platform's own choice (e.g. the resource link's title)."""
DROP: Any = _Marker("DROP")
"""A claim value meaning "leave this claim out of the id_token"."""
