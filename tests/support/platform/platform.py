"""The test platform: one Flask app on a loopback port that behaves like Moodle's or ILIAS' own
code (``flavour``), quirks included, with knobs for the faults real platforms produce and
recorders for what the tool sent.

Served by ``werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)``: the token
request makes the platform fetch the tool's JWKS while the tool's own request is still open
(lti-notes §5). Which platform source each behaviour follows is said where it is implemented:
``oidc.py`` (login, launch claims), ``tokens.py`` (token endpoint, bearer tokens),
``moodle_services.py`` (Moodle's gradebookservices and memberships), ``ilias_services.py``
(ILIAS' grade service), ``nrps.py``, ``deep_linking.py``.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
from flask import Flask, Response, jsonify
from flask import request as flask_request
from werkzeug.serving import BaseWSGIServer, make_server

from . import (
    browser,
    deep_linking,
    ilias_services,
    moodle_services,
    nrps,
    oidc,
    registration,
    tokens,
)
from .keys import KeyRing
from .model import (
    DEFAULT,
    Course,
    Grade,
    LineItemMeta,
    Link,
    Member,
    PendingLaunch,
    Person,
    ScorePost,
    Token,
)
from .vocab import AGS_SCOPES, GRADE_SYNC_ONLY, LEARNER, SCOPE_NRPS

MOODLE = "moodle"
ILIAS = "ilias"
GENERIC = "generic"
FLAVOURS = (MOODLE, ILIAS, GENERIC)

#: Moodle's ltiservice_gradesynchronization: 0 "not used", 1 "grade sync only",
#: 2 "grade sync and column management" (gradebookservices.php get_permitted_scopes).
GRADE_SYNC_OFF = "off"
GRADE_SYNC = "grade_sync_only"
COLUMN_MANAGEMENT = "column_management"

#: Where each flavour serves its endpoints (Moodle: mod/lti/*.php; ILIAS up to 9:
#: Modules/LTIConsumer/*.php, lti-notes §2, §3).
ENDPOINTS: dict[str, dict[str, str]] = {
    MOODLE: {
        "auth": "/mod/lti/auth.php",
        "token": "/mod/lti/token.php",
        "jwks": "/mod/lti/certs.php",
        "services": "/mod/lti/services.php",
        "dl_return": "/mod/lti/contentitem_return.php",
        "openid_configuration": "/mod/lti/openid-configuration.php",
        "registration": "/mod/lti/openid-registration.php",
        "registration_start": "/mod/lti/startltiadvregistration.php",
    },
    ILIAS: {
        "auth": "/Modules/LTIConsumer/ltiauth.php",
        "token": "/Modules/LTIConsumer/ltitoken.php",
        "jwks": "/Modules/LTIConsumer/lticerts.php",
        # ilObjLTIConsumer::getIliasHttpPath() strips "Modules/LTIConsumer" from the script's
        # URL; the services script sits beside the other LTI scripts up to ILIAS 9.
        "services": "/Modules/LTIConsumer/ltiservices.php",
        "dl_return": "/Modules/LTIConsumer/ltidlreturn.php",
        "openid_configuration": "/Modules/LTIConsumer/lticonfig.php",
        "registration": "/Modules/LTIConsumer/ltiregistration.php",
        "registration_start": "/Modules/LTIConsumer/ltiregstart.php",
    },
    GENERIC: {
        "auth": "/auth",
        "token": "/token",
        "jwks": "/jwks",
        "services": "/mod/lti/services.php",
        "dl_return": "/dl/return",
        "openid_configuration": "/.well-known/openid-configuration",
        "registration": "/register",
        "registration_start": "/register/start",
    },
}


@dataclass
class Platform:
    """A running LTI 1.3 platform with one registration of the tool at ``tool_url``.

    Start with ``Platform(tool_url=live.url, flavour="moodle")`` (the server runs at once; use it
    as a context manager or call :meth:`close`). ``tool_jwks_url`` alone is enough for service
    tests that never launch (the gradebook tests)."""

    __test__ = False  # not a test class

    tool_url: str | None = None
    flavour: str = GENERIC
    tool_jwks_url: str | None = None
    name: str | None = None
    client_id: str | None = None
    deployment_id: str | None = None

    # --- services the administrator switched on --------------------------------------------
    grade_sync: str = COLUMN_MANAGEMENT
    """Moodle: off / grade_sync_only / column_management. ILIAS: anything but off switches the
    object's grade synchronisation on (ILIAS grants every AGS scope whatever is asked)."""
    nrps: bool = True
    """Names and Role Provisioning (Moodle's "IMS LTI Names and Role Provisioning"); ILIAS has
    none, whatever this says."""
    allowed_scopes: tuple[str, ...] | None = None
    """Overrides the scopes the token endpoint grants (instead of :attr:`grade_sync`)."""
    share_name: bool | None = None
    """Whether launches carry names (Moodle "sendname"; ILIAS "privacy name": off sends "-").
    None: the flavour's default (Moodle/generic yes, ILIAS "-")."""
    share_email: bool | None = None
    """Whether launches carry the e-mail (ILIAS: off sends its pseudonym ``…@<uuid>.ilias``)."""
    always_learner: bool = False
    """ILIAS' "always learner": instructors arrive as learners."""

    # --- service behaviour ---------------------------------------------------------------------
    score_status: int = 200
    """Moodle 4.5 answers a score with 200, older ones with 204 (lti-notes §2)."""
    page_size: int = 2
    """Moodle flavour, ``pagination="quirky"``: line items and results per page. NRPS too."""
    pagination: str = "quirky"
    """Line items and results: "quirky" pages every answer with a mixed-case next link
    (``/LineItems?…&Page=2``) and ``rel`` quoted and bare in turn — harsher than Moodle, to
    catch clients that lower-case Link headers (pylti1p3, lti-notes §1); "moodle" pages only
    when asked with ``limit`` and writes ``rel=“next”`` with typographic quotes, exactly as
    lineitems.php and results.php do."""
    gradable: str = "any"
    """Moodle: which userIds may be graded ("any" but :attr:`non_gradable`, or "enrolled": course
    members with a learner role, as is_user_gradable_in_course)."""
    non_gradable: set[str] = field(default_factory=set)
    """userIds that get Moodle's ``400 Incorrect score received``."""
    ilias_container_post: bool = False
    """ILIAS: False answers a line item POST with 405 as ILIAS 8/9 do; True accepts it as the
    later variant does, keeping the item apart from the LTI object (its scores get 404)."""
    mastery_score: float = 0.5
    """ILIAS: the object's mastery score (ilObjLTIConsumer default 0.5)."""
    strict_assertion: bool = True
    """Also check the client assertion's ``aud``, ``iss``, ``iat`` and single-use ``jti`` (the
    IMS security framework). Moodle's token.php and ILIAS' ltitoken.php themselves check only
    the signature, ``exp`` and the client id."""
    tool_jwks_cache: bool = False
    """Moodle keeps the tool's key set cached and refetches only when a signature fails
    (locallib.php lti_verify_with_keyset); False fetches it at every token request (ILIAS)."""
    members: list[dict[str, Any]] | None = None
    """NRPS: raw members to serve instead of the course's enrolments."""
    nrps_status: int = 200

    # --- faults --------------------------------------------------------------------------------
    score_delay: float = 0.0
    timeout_sleep: float = 1.5
    retry_after: int = 1

    # --- Dynamic Registration (registration.py) ------------------------------------------------
    configuration_overrides: dict[str, Any] = field(default_factory=dict)
    """Keys to change in the OpenID configuration; a value of None removes the key."""
    registration_status: int | None = None
    """Answer every registration POST with this status (a platform failing)."""
    next_client_id: str | None = None
    """The client id the next registration gets (to meet an existing registration)."""
    hold_registration: threading.Event | None = None
    """If set, a registration POST waits for it (two parallel registrations)."""
    next_deployment_id: int | None = None
    """The deployment id the next registration gets: Moodle the next lti_types id (default 7),
    ILIAS the next provider id (default 12)."""

    def __post_init__(self) -> None:
        if self.flavour not in FLAVOURS:
            raise ValueError(f"unknown flavour {self.flavour!r}")
        if self.tool_url:
            self.tool_url = self.tool_url.rstrip("/")
        if self.tool_jwks_url is None and self.tool_url:
            self.tool_jwks_url = self.tool_url + "/lti/jwks.json"
        defaults = {
            MOODLE: ("Moodle Sachsen", "1", True, True),
            ILIAS: ("ILIAS Sachsen", "4", False, False),
            GENERIC: ("Test-LMS Sachsen", "1", True, True),
        }[self.flavour]
        self.name = self.name or defaults[0]
        self.deployment_id = self.deployment_id or defaults[1]
        if self.share_name is None:
            self.share_name = defaults[2]
        if self.share_email is None:
            self.share_email = defaults[3]
        # Moodle and ILIAS make a 15-character random client id (lti-notes §2, §3).
        self.client_id = self.client_id or uuid.uuid4().hex[:15]
        self.type_id = self.deployment_id  # Moodle: the deployment id is the tool type id
        self.install_id = uuid.uuid4().hex  # ILIAS: the installation's pseudonym domain
        self.keys = KeyRing(f"{self.flavour}-platform")
        self.lock = threading.RLock()

        # What the platform knows.
        self.courses: dict[str, Course] = {}
        self.line_items: dict[int, dict[str, Any]] = {}
        """Moodle: line items by grade item id, as their JSON shows them."""
        self.line_item_meta: dict[int, LineItemMeta] = {}
        self.grades: dict[tuple[int, str], Grade] = {}
        self.results: dict[tuple[int, str], float] = {}
        """ILIAS: lti_consumer_results, the result (0…1) per (obj_id, userId)."""
        self.learning_progress: dict[tuple[int, str], tuple[str, int]] = {}
        """ILIAS: the learning progress status and percentage per (obj_id, userId)."""
        self.stored_line_items: dict[int, dict[str, Any]] = {}
        """ILIAS (later variant): line items POSTed by a tool, kept apart from LTI objects."""
        self.launched: set[tuple[str, str]] = set()
        """(link id, sub) of every launch: ILIAS knows a user of an object only after one."""
        self.tokens: dict[str, Token] = {}
        self.pending: dict[str, PendingLaunch] = {}
        self.received: list[dict[str, Any]] = []
        """Verified Deep Linking responses (their claims)."""
        self.dl_errors: list[str] = []
        self.used_jtis: set[str] = set()
        self.dl_nonces: set[str] = set()
        self.tool_key_set: dict[str, Any] | None = None

        # Recorders.
        self.token_requests = 0
        self.jwks_fetches = 0
        self.jwks_served = 0
        """How often the tool fetched the platform's key set."""
        self.requests: list[tuple[str, str]] = []
        """Service requests (AGS, NRPS): (method, full path)."""
        self.paths: list[str] = []
        """Every path the platform was asked for, in order."""
        self.nrps_requests: list[str] = []
        self.score_posts: list[ScorePost] = []
        self.faults: deque[str] = deque()
        self.faults_served: Counter[str] = Counter()
        self.in_flight: Counter[tuple[int, str]] = Counter()
        self.overlaps: list[tuple[int, str]] = []
        self.last_launch_form: tuple[str, dict[str, str]] | None = None
        """Action and fields of the last auto-posted launch form (to replay it)."""
        self.last_claims: dict[str, Any] | None = None
        """The claims of the last id_token the platform signed."""

        # Dynamic Registration.
        self.registration_requests: list[dict[str, Any]] = []
        """Body and Authorization header of every registration POST, in order."""
        self.configuration_requests = 0
        self.registration_received = threading.Event()
        self.registered: dict[str, Any] | None = None
        """The tool's registration as the platform stored it (its launches use it)."""
        self.registered_clients: set[str] = set()
        """Moodle: client ids of the tool types registered so far (a token is used once)."""
        self.active = True
        """False while a dynamically registered Moodle tool is pending (:meth:`activate`)."""
        if self.next_deployment_id is None:
            self.next_deployment_id = 12 if self.flavour == ILIAS else 7

        self._ids = itertools.count(1)
        self._link_ids = itertools.count(12 if self.flavour == MOODLE else 80)
        self._obj_ids = itertools.count(300)
        self._user_ids = itertools.count(3)  # Moodle: 1 guest, 2 admin
        self.course = self.add_course()

        self.app = self._build_app()
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    # --- addresses -----------------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        """Moodle: wwwroot without trailing slash; ILIAS: its HTTP path (lti-notes §2, §3)."""
        return self.url

    def endpoint(self, name: str) -> str:
        return self.url + ENDPOINTS[self.flavour][name]

    @property
    def auth_login_url(self) -> str:
        return self.endpoint("auth")

    @property
    def auth_token_url(self) -> str:
        return self.endpoint("token")

    token_url = auth_token_url

    @property
    def key_set_url(self) -> str:
        return self.endpoint("jwks")

    @property
    def dl_return_url(self) -> str:
        return self.endpoint("dl_return")

    @property
    def tool_login_url(self) -> str:
        if self.registered:
            return str(self.registered["initiate_login_uri"])
        return self._tool("/lti/login")

    @property
    def tool_launch_url(self) -> str:
        if self.registered:
            return str(self.registered["redirect_uris"][0])
        return self._tool("/lti/launch")

    def _tool(self, path: str) -> str:
        if not self.tool_url:
            raise RuntimeError("Platform without tool_url cannot launch")
        return self.tool_url + path

    def lineitems_url_of(self, course_id: str) -> str:
        """The course's line items container, as the launch's ``endpoint.lineitems`` names it."""
        services = self.endpoint("services")
        if self.flavour == ILIAS:
            return f"{services}/gradeservice/{course_id}/lineitems"
        return f"{services}/{course_id}/lineitems?type_id={self.type_id}"

    @property
    def lineitems_url(self) -> str:
        return self.lineitems_url_of(self.course.id)

    def lineitem_url(self, item_id: int, course_id: str | None = None) -> str:
        """Moodle: ``…/services.php/<course>/lineitems/<id>/lineitem?type_id=1``; ILIAS:
        ``…/ltiservices.php/gradeservice/<ref_id>/lineitems/<obj_id>/lineitem``."""
        course_id = course_id or self._course_of_item(item_id)
        services = self.endpoint("services")
        if self.flavour == ILIAS:
            return f"{services}/gradeservice/{course_id}/lineitems/{item_id}/lineitem"
        return f"{services}/{course_id}/lineitems/{item_id}/lineitem?type_id={self.type_id}"

    def _course_of_item(self, item_id: int) -> str:
        meta = self.line_item_meta.get(item_id)
        if meta is not None:
            return meta.course_id
        for course in self.courses.values():
            if any(link.obj_id == item_id for link in course.links.values()):
                return course.id
        return self.course.id

    def nrps_url_of(self, course_id: str) -> str:
        if self.flavour == MOODLE:
            # memberships resource: /{context_type}/{context_id}/bindings/{tool_code}/memberships
            return (
                f"{self.endpoint('services')}/CourseSection/{course_id}/bindings/"
                f"{self.type_id}/memberships"
            )
        return f"{self.url}/nrps/{quote(course_id)}"

    @property
    def nrps_url(self) -> str:
        return self.nrps_url_of(self.course.id)

    # --- what the platform grants --------------------------------------------------------------

    @property
    def has_nrps(self) -> bool:
        return self.nrps and self.flavour != ILIAS

    @property
    def has_ags(self) -> bool:
        return self.grade_sync != GRADE_SYNC_OFF

    def permitted_scopes(self) -> tuple[str, ...]:
        """The scopes a token may carry: Moodle's get_permitted_scopes of each service; ILIAS'
        ilLTIConsumerGradeService::getPermittedScopes (all four AGS scopes, no NRPS)."""
        if self.allowed_scopes is not None:
            return self.allowed_scopes
        if self.flavour == ILIAS:
            return AGS_SCOPES if self.has_ags else ()
        scopes: tuple[str, ...] = ()
        if self.grade_sync == GRADE_SYNC:
            scopes = GRADE_SYNC_ONLY
        elif self.grade_sync == COLUMN_MANAGEMENT:
            scopes = AGS_SCOPES
        if self.has_nrps:
            scopes += (SCOPE_NRPS,)
        return scopes

    def ags_claim_scopes(self) -> list[str]:
        """The AGS scopes a launch names: sorted, as lti_sign_jwt sorts array claims."""
        return sorted(s for s in self.permitted_scopes() if s in AGS_SCOPES)

    # --- people, courses, links ----------------------------------------------------------------

    def person(
        self,
        given_name: str = "Ada",
        family_name: str = "Lovelace",
        *,
        email: str | None = None,
        sub: str | None = None,
    ) -> Person:
        """A new user with the kind of ``sub`` this flavour sends: Moodle the numeric user id,
        ILIAS a bare hash (lti-notes §3), generic a UUID."""
        number = next(self._user_ids)
        if sub is None:
            if self.flavour == MOODLE:
                sub = str(number)
            elif self.flavour == ILIAS:
                sub = hashlib.sha256(f"{self.install_id}:{number}".encode()).hexdigest()
            else:
                sub = str(uuid.uuid4())
        username = f"{given_name}.{family_name}".lower()
        return Person(
            sub=sub,
            name=f"{given_name} {family_name}",
            given_name=given_name,
            family_name=family_name,
            email=email or f"{username}@example.org",
            username=username,
        )

    def ilias_pseudonym(self, person: Person) -> str:
        """The e-mail claim ILIAS sends for a user whose e-mail it does not share: the cmi5
        user ident, ``<hash>@<installation uuid>.ilias`` (lti-notes §3)."""
        digest = hashlib.sha256(f"{self.install_id}|{person.sub}".encode()).hexdigest()[:24]
        return f"{digest}@{self.install_id}.ilias"

    def add_course(
        self, course_id: str | None = None, *, label: str = "DN-2026", title: str | None = None
    ) -> Course:
        """A course: Moodle's numeric course id, ILIAS' ref_id of the course."""
        if course_id is None:
            course_id = {MOODLE: "7", ILIAS: "71", GENERIC: "kurs-dn-2026"}[self.flavour]
            while course_id in self.courses:
                course_id = str(int(course_id) + 1) if course_id.isdigit() else course_id + "-2"
        course = Course(
            id=course_id, label=label, title=title or "Digital-Navigatoren Sachsen 2026"
        )
        with self.lock:
            self.courses[course_id] = course
        return course

    def enrol(
        self, person: Person | dict[str, Any], roles: Iterable[str] = (LEARNER,), course: Any = None
    ) -> Member:
        """Make ``person`` a member of the course (default: the platform's first course)."""
        who = Person.of(person)
        member = Member(who, list(roles))
        with self.lock:
            self._course(course).members[who.sub] = member
        return member

    def add_link(
        self,
        title: str | None = "Lotsen-LTI",
        *,
        course: Any = None,
        link_id: str | None = None,
        graded: bool = False,
        custom: dict[str, str] | None = None,
        score_maximum: float = 100,
        resource_id: str = "",
        tag: str = "",
    ) -> Link:
        """Place the tool in a course, as a teacher does.

        Moodle: an activity; with ``graded`` it gets its own grade item, which its launches
        name as ``endpoint.lineitem`` (gradebookservices.php get_launch_parameters). ILIAS: an
        LTI object with its ref_id and obj_id; with grade synchronisation its obj_id is its line
        item, always (ilLTIConsumerGradeServiceLineItem)."""
        target = self._course(course)
        link = Link(
            id=link_id or str(next(self._link_ids)),
            course_id=target.id,
            title=title,
            custom=dict(custom or {}),
        )
        with self.lock:
            if self.flavour == ILIAS:
                link.obj_id = next(self._obj_ids)
                link.line_item_id = link.obj_id
                link.score_maximum = 1.0
            elif graded:
                link.line_item_id = self._create_line_item(
                    target.id,
                    {"label": title or "Lotsen-LTI", "scoreMaximum": score_maximum},
                    link_id=link.id,
                    coupled=True,
                    # instance_added → update_coupled_gradebookservices gives every graded
                    # activity a gradebookservices row (resourceid and tag may be empty).
                    gbs=True,
                    resource_id=resource_id,
                    tag=tag,
                )
            target.links[link.id] = link
        return link

    def link(self, link_id: str, course: Any = None) -> Link:
        """The link with that id, placed (ungraded) on first use (e.g. ``rl-1``)."""
        target = self._course(course)
        with self.lock:
            found = target.links.get(link_id)
        return found or self.add_link(course=target, link_id=link_id)

    def find_link(self, link_id: str) -> Link | None:
        for course in self.courses.values():
            if link_id in course.links:
                return course.links[link_id]
        return None

    def _course(self, course: Any) -> Course:
        if course is None:
            return self.course
        if isinstance(course, Course):
            return course
        return self.courses[str(course)]

    # --- Moodle line items ---------------------------------------------------------------------

    def _create_line_item(
        self,
        course_id: str,
        data: dict[str, Any],
        *,
        link_id: str | None = None,
        coupled: bool = False,
        gbs: bool = True,
        resource_id: str = "",
        tag: str = "",
    ) -> int:
        item_id = next(self._ids)
        self.line_item_meta[item_id] = LineItemMeta(
            course_id=course_id,
            link_id=link_id,
            coupled=coupled,
            gbs=gbs,
            resource_id=resource_id,
            tag=tag,
        )
        self.line_items[item_id] = {
            "id": self.lineitem_url(item_id, course_id),
            "label": data.get("label", f"Item {item_id}"),
            "scoreMaximum": float(data.get("scoreMaximum", 100)),
        }
        self.refresh_item_json(item_id)
        return item_id

    def refresh_item_json(self, item_id: int) -> None:
        """The item's JSON as gradebookservices::item_for_json renders it: resourceId and tag
        ('' when empty) for items with a gradebookservices row, tag '' for coupled ones, and
        resourceLinkId/ltiLinkId as strings when it belongs to an activity."""
        meta, item = self.line_item_meta[item_id], self.line_items[item_id]
        for key in ("resourceId", "tag", "resourceLinkId", "ltiLinkId"):
            item.pop(key, None)
        if meta.gbs:
            item["resourceId"] = meta.resource_id or ""
            item["tag"] = meta.tag or ""
        else:
            item["tag"] = ""
        if meta.link_id is not None:
            item["resourceLinkId"] = item["ltiLinkId"] = str(meta.link_id)

    def add_line_item(self, course: Any = None, **data: Any) -> str:
        """A line item made on the platform's side (Deep Linking, a teacher): returns its URL
        (fields as in AGS JSON: label, scoreMaximum, resourceId, tag,
        resourceLinkId)."""
        if self.flavour == ILIAS:
            raise RuntimeError("ILIAS has one line item per LTI object: use add_link()")
        target = self._course(course)
        with self.lock:
            item_id = self._create_line_item(
                target.id,
                data,
                link_id=data.get("resourceLinkId"),
                gbs=True,
                resource_id=str(data.get("resourceId") or ""),
                tag=str(data.get("tag") or ""),
            )
            return str(self.line_items[item_id]["id"])

    @staticmethod
    def item_id(url: str) -> int:
        return int(url.split("/lineitems/")[1].split("/")[0])

    def grade(self, lineitem_url: str, user_id: str) -> dict[str, Any] | None:
        """The newest score the platform recorded for (line item, user), as it was sent."""
        found = self.grades.get((self.item_id(lineitem_url), user_id))
        return found.body if found else None

    def final_grade(self, lineitem_url: str, user_id: str) -> float | None:
        """What the gradebook shows (Moodle: scoreGiven rescaled to the item's maximum)."""
        found = self.grades.get((self.item_id(lineitem_url), user_id))
        return found.final_grade if found else None

    def result(self, link_or_url: Link | str, user_id: str) -> float | None:
        """ILIAS: the stored result (0…1) of a user in an LTI object, or None."""
        return self.results.get((self._obj_id(link_or_url), user_id))

    def progress(self, link_or_url: Link | str, user_id: str) -> tuple[str, int] | None:
        """ILIAS: (learning progress status, percentage) of a user in an LTI object."""
        return self.learning_progress.get((self._obj_id(link_or_url), user_id))

    def _obj_id(self, link_or_url: Link | str) -> int:
        if isinstance(link_or_url, Link):
            assert link_or_url.obj_id is not None
            return link_or_url.obj_id
        return self.item_id(link_or_url)

    def accepted(self) -> Counter[tuple[int, str]]:
        """How many score POSTs per (line item, user) were taken (not refused)."""
        return Counter((p.line_item, p.user_id) for p in self.score_posts if p.status < 300)

    # --- keys ----------------------------------------------------------------------------------

    def rotate_key(self, *, keep_previous: bool = False) -> str:
        """Sign with a new key from now on; the JWKS keeps the old one only with
        ``keep_previous``. Returns the new kid."""
        with self.lock:
            return self.keys.rotate(keep_previous=keep_previous).kid

    # --- faults --------------------------------------------------------------------------------

    def fail_next(self, count: int, kind: str) -> None:
        """The next ``count`` service requests fail with ``kind``: timeout, 500, 429 or 401."""
        if kind not in ("timeout", "500", "429", "401"):
            raise ValueError(kind)
        with self.lock:
            self.faults.extend([kind] * count)

    # --- the tool's registration ---------------------------------------------------------------

    def registration_values(
        self, name: str | None = None, *, product_family: Any = DEFAULT
    ) -> dict[str, Any]:
        """What an admin copies from the platform into ``flask lti platform add`` (with the
        flavour's preset, unless ``product_family`` says otherwise: None is a registration by
        hand without a preset)."""
        if product_family is DEFAULT:
            product_family = self.flavour if self.flavour != GENERIC else None
        return {
            "name": name or self.name,
            "issuer": self.issuer,
            "client_id": self.client_id,
            "auth_login_url": self.auth_login_url,
            "auth_token_url": self.auth_token_url,
            "key_set_url": self.key_set_url,
            "deployments": [self.deployment_id],
            "product_family": product_family,
        }

    def register_with(self, app: Flask, name: str | None = None, **options: Any) -> int:
        """Register this platform in the tool (own app context); returns the registration id."""
        with app.app_context():
            return self.register_with_tool(name, **options)

    def register_with_tool(self, name: str | None = None, *, product_family: Any = DEFAULT) -> int:
        """Register this platform in the tool of the current app context; commits."""
        from lti_tool.extensions import db
        from lti_tool.registrations import add_platform

        registration = add_platform(self.registration_values(name, product_family=product_family))
        db.session.commit()
        return int(registration.id)

    # --- Dynamic Registration ------------------------------------------------------------------

    @property
    def configuration_url(self) -> str:
        """The platform's OpenID configuration (Moodle openid-configuration.php, ILIAS
        lticonfig.php)."""
        return self.endpoint("openid_configuration")

    def start_url(self, tool_url: str) -> str:
        """Where an admin's browser registers the tool at ``tool_url`` (its registration URL)."""
        return registration.start_url(self, tool_url)

    def activate(self) -> None:
        """The admin activates the pending tool (Moodle: Manage tools › Pending › Activate)."""
        with self.lock:
            self.active = True

    def take_deployment_id(self) -> int:
        """The next deployment id a registration gives (Moodle's type id, ILIAS' provider)."""
        with self.lock:
            assert self.next_deployment_id is not None
            number = self.next_deployment_id
            self.next_deployment_id += 1
            return number

    def remember_registration(
        self, body: dict[str, Any], client_id: str, deployment_id: str
    ) -> None:
        """From now on launch with what the tool registered, as the new client."""
        with self.lock:
            self.registered = body
            self.client_id = client_id
            self.deployment_id = deployment_id
            self.type_id = deployment_id
            self.tool_jwks_url = str(body.get("jwks_uri") or self.tool_jwks_url)

    # --- the browser flow ----------------------------------------------------------------------

    def launch(
        self,
        session: requests.Session,
        person: Person | dict[str, Any],
        roles: list[str] | None = None,
        resource_link_id: str | None = None,
        custom: dict[str, Any] | None = None,
        *,
        link: Link | None = None,
        course: Any = None,
        with_course: bool = True,
        resource_link_title: Any = DEFAULT,
        deep_linking: bool = False,
        data: str | None = None,
        names: bool | None = None,
        email: bool | None = None,
        ags: bool | None = None,
        nrps: bool | None = None,
        claims: dict[str, Any] | None = None,
    ) -> requests.Response:
        """A user clicks the tool's link: the platform's login initiation, the tool's cookie
        check, the redirect to our authentication endpoint, the auto-posted id_token form to the
        tool's launch URL, the tool's 303 and its final page (returned).

        ``link``/``resource_link_id`` name the placement (default ``rl-1`` in the course; none
        for ``deep_linking``); ``with_course=False`` leaves out the context; ``names``,
        ``email``, ``ags``, ``nrps`` override what the platform would send (False: the claim is
        left out); ``claims`` adds or replaces claims last (``DROP`` removes one). A refused step
        returns the refusing response."""
        who = Person.of(person)
        target = self._course(course) if with_course else None
        if deep_linking:
            placed = None
        elif link is not None:
            placed = link
        else:
            placed = self.link(resource_link_id or "rl-1", course=target)
        if target is not None and who.sub not in target.members:
            self.enrol(who, roles if roles is not None else [LEARNER], target)
        hint = uuid.uuid4().hex
        with self.lock:
            self.pending[hint] = PendingLaunch(
                person=who,
                roles=list(roles) if roles is not None else [LEARNER],
                course_id=target.id if target is not None else None,
                link=placed,
                deep_linking=deep_linking,
                data=data,
                custom=dict(custom or {}),
                title=resource_link_title,
                names=names,
                email=email,
                ags=ags,
                nrps=nrps,
                claims=dict(claims or {}),
            )
        page = session.get(f"{self.url}/launch/{hint}", timeout=browser.TIMEOUT)
        if page.ok and page.url.startswith(self.url) and "<form" in page.text:
            page = browser.submit_form(session, page)  # Moodle/ILIAS POST the initiation
        if not browser.is_cookie_check(page):
            return page  # the tool refused the login initiation
        form_page = browser.follow_cookie_check(session, page)
        if form_page.status_code != 200 or not form_page.url.startswith(self.auth_login_url):
            return form_page
        self.last_launch_form = browser.read_form(form_page)
        return browser.submit_form(session, form_page)

    # --- the HTTP side -------------------------------------------------------------------------

    def is_service_path(self, path: str) -> bool:
        return path.startswith(ENDPOINTS[self.flavour]["services"]) or path.startswith("/nrps/")

    def _build_app(self) -> Flask:
        app = Flask(f"test_platform_{self.flavour}_{id(self)}")
        platform = self

        @app.before_request
        def _record_and_fault() -> Response | None:
            with platform.lock:
                platform.paths.append(flask_request.path)
            if not platform.is_service_path(flask_request.path):
                return None
            return platform.service_fault()

        @app.get(ENDPOINTS[self.flavour]["jwks"])
        def jwks() -> Response:
            with platform.lock:
                platform.jwks_served += 1
                return jsonify(platform.keys.jwks())

        oidc.install(app, self)
        tokens.install(app, self)
        if self.flavour == ILIAS:
            ilias_services.install(app, self)
        else:
            moodle_services.install(app, self)
        nrps.install(app, self)
        deep_linking.install(app, self)
        registration.install(app, self)
        return app

    def service_fault(self) -> Response | None:
        """Record a service request and serve the next injected fault, if any (before any
        other check, as a failing proxy or PHP process would)."""
        with self.lock:
            self.requests.append((flask_request.method, flask_request.full_path))
            fault = self.faults.popleft() if self.faults else None
            if fault:
                self.faults_served[fault] += 1
            if fault == "401":
                for known in self.tokens.values():
                    known.expires = 0  # every token issued so far has expired
        if fault == "timeout":
            time.sleep(self.timeout_sleep)
            return problem(504, "too late")
        if fault == "500":
            return problem(500, "Internal error")
        if fault == "429":
            response = problem(429, "Too many requests")
            response.headers["Retry-After"] = str(self.retry_after)
            return response
        return None

    def record_score(self, item_id: int, user_id: str, status: int, body: dict[str, Any]) -> None:
        with self.lock:
            self.score_posts.append(ScorePost(item_id, user_id, status, dict(body)))

    def fetch_tool_keys(self, *, refresh: bool) -> list[dict[str, Any]]:
        """The tool's public keys from its JWKS URL (cached only with ``tool_jwks_cache``)."""
        if not refresh and self.tool_jwks_cache and self.tool_key_set is not None:
            return list(self.tool_key_set.get("keys", []))
        if not self.tool_jwks_url:
            raise RuntimeError("no tool_jwks_url")
        key_set = requests.get(self.tool_jwks_url, timeout=5).json()
        with self.lock:
            self.jwks_fetches += 1
            self.tool_key_set = key_set
        return list(key_set.get("keys", []))

    def bearer_scopes(self) -> list[str]:
        """The scopes of the valid access token the current request presents (inside a request
        context of :attr:`app`); empty without one."""
        found = tokens.bearer_token(self)
        return sorted(found.scopes) if found is not None else []

    # --- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Platform:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def problem(status: int, reason: str) -> Response:
    """Moodle's error body (mod/lti/classes/local/ltiservice/response.php send()):
    ``{"status": …, "reason": …, "request": {"method": …, "url": …}}``."""
    body: dict[str, Any] = {
        "status": status,
        "reason": reason,
        "request": {"method": flask_request.method, "url": flask_request.full_path},
    }
    if flask_request.headers.get("Accept"):
        body["request"]["accept"] = flask_request.headers["Accept"]
    if flask_request.content_type:
        body["request"]["contentType"] = flask_request.content_type.split(";", 1)[0]
    response = jsonify(body)
    response.status_code = status
    return response
