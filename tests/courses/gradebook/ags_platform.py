"""An independent LMS for the gradebook tests: a token endpoint and AGS 2.0 as Moodle serves them,
as a small Flask app on a loopback port, with knobs for the faults real platforms produce.

What it checks like Moodle does (lti-notes §2, §6):
- token requests: a client assertion signed with a key of the tool's JWKS (fetched from the tool
  at every token request), ``iss`` = ``sub`` = client id, ``aud`` = the token URL, not expired,
  ``jti`` not reused; granted scopes = requested ∩ allowed ("grade sync only" leaves out
  ``…/scope/lineitem``);
- line item URLs ``/mod/lti/services.php/<course>/lineitems/<id>/lineitem?type_id=1``; every AGS
  URL must carry ``type_id=1`` (a client that appends ``/scores`` after the query fails);
- the container is paginated with a mixed-case next link (``/LineItems?…&Page=2``) and ``rel``
  alternately quoted and bare; results are paginated the same way;
- a line item POST without the lineitem scope gets 401 (Moodle's "grade sync only");
- score POSTs need the content type exactly ``application/vnd.ims.lis.v1.score+json``, a userId,
  a timezone-aware timestamp, valid progress values, scoreGiven only with scoreMaximum; a score
  whose timestamp (in whole seconds, as Moodle's strtotime) is not newer than the stored one gets
  409; success is ``score_status`` (200 as Moodle 4.5, or 204).

Fault knobs (applied to the next AGS requests, never to the token endpoint):
``fail_next(n, "timeout" | "500" | "429" | "401")``, ``retry_after``, ``non_gradable`` (userIds
that get Moodle's ``400 Incorrect score received``), ``score_delay`` (a slow platform).

What it records: ``token_requests``, ``jwks_fetches``, every score POST in ``score_posts``, the
gradebook in ``grades``, and ``overlaps``: score POSTs for one (line item, user) that arrived
while another for the same pair was still being handled.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jwt
import requests
from flask import Flask, Response, jsonify, request
from werkzeug.serving import BaseWSGIServer, make_server

SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_RO = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_RESULT = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
ALL_SCOPES = (SCOPE_LINEITEM, SCOPE_LINEITEM_RO, SCOPE_RESULT, SCOPE_SCORE)
GRADE_SYNC_ONLY = (SCOPE_LINEITEM_RO, SCOPE_RESULT, SCOPE_SCORE)
ACTIVITY = {"Initialized", "Started", "InProgress", "Submitted", "Completed"}
GRADING = {"FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"}


@dataclass
class ScorePost:
    line_item: int
    user_id: str
    status: int
    body: dict[str, Any]


@dataclass
class Grade:
    """The newest accepted score of a user in a line item."""

    body: dict[str, Any]
    timemodified: int


@dataclass
class Token:
    scopes: frozenset[str]
    expires: float


@dataclass
class AgsPlatform:
    """Start with ``with AgsPlatform(tool_jwks_url=…) as platform:``."""

    tool_jwks_url: str
    client_id: str = "moodle-client-1"
    course_id: str = "7"
    type_id: str = "1"
    page_size: int = 2
    score_status: int = 200
    allowed_scopes: tuple[str, ...] = ALL_SCOPES
    score_delay: float = 0.0
    timeout_sleep: float = 1.5
    retry_after: int = 1
    non_gradable: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.line_items: dict[int, dict[str, Any]] = {}
        self.grades: dict[tuple[int, str], Grade] = {}
        self.score_posts: list[ScorePost] = []
        self.tokens: dict[str, Token] = {}
        self.token_requests = 0
        self.jwks_fetches = 0
        self.requests: list[tuple[str, str]] = []
        self.faults: deque[str] = deque()
        self.faults_served: Counter[str] = Counter()
        self.in_flight: Counter[tuple[int, str]] = Counter()
        self.overlaps: list[tuple[int, str]] = []
        self._jtis: set[str] = set()
        self._next_id = 1
        self.app = self._build_app()
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> AgsPlatform:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- addresses ---------------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        return self.url

    @property
    def token_url(self) -> str:
        return self.url + "/mod/lti/token.php"

    @property
    def lineitems_url(self) -> str:
        return f"{self.url}/mod/lti/services.php/{self.course_id}/lineitems?type_id={self.type_id}"

    def lineitem_url(self, item_id: int) -> str:
        return (
            f"{self.url}/mod/lti/services.php/{self.course_id}/lineitems/{item_id}/lineitem"
            f"?type_id={self.type_id}"
        )

    # --- knobs and views for tests -----------------------------------------------------------

    def fail_next(self, count: int, kind: str) -> None:
        """The next ``count`` AGS requests fail with ``kind``: timeout, 500, 429 or 401."""
        with self.lock:
            self.faults.extend([kind] * count)

    def add_line_item(self, **data: Any) -> str:
        """A line item made on the platform's side (Deep Linking, a teacher): returns its URL."""
        with self.lock:
            return self._create(data)["id"]

    def item_id(self, url: str) -> int:
        return int(url.split("/lineitems/")[1].split("/")[0])

    def grade(self, lineitem_url: str, user_id: str) -> dict[str, Any] | None:
        found = self.grades.get((self.item_id(lineitem_url), user_id))
        return found.body if found else None

    def accepted(self) -> Counter[tuple[int, str]]:
        """How many score POSTs per (line item, user) were stored (not refused)."""
        return Counter((p.line_item, p.user_id) for p in self.score_posts if p.status < 300)

    # --- the app -----------------------------------------------------------------------------

    def _create(self, data: dict[str, Any]) -> dict[str, Any]:
        item_id = self._next_id
        self._next_id += 1
        item = {
            "id": self.lineitem_url(item_id),
            "label": data.get("label", f"Item {item_id}"),
            "scoreMaximum": data.get("scoreMaximum", 100),
        }
        for key in ("resourceId", "tag", "resourceLinkId"):
            if data.get(key):
                item[key] = data[key]
        self.line_items[item_id] = item
        return item

    def _build_app(self) -> Flask:
        app = Flask("ags_platform")
        platform = self
        base = "/mod/lti/services.php/<course>"

        def problem(status: int, reason: str) -> Response:
            # Moodle's error body: {"status": …, "reason": …, "request": {…}}.
            response = jsonify(
                {"status": status, "reason": reason, "request": {"method": request.method}}
            )
            response.status_code = status
            return response

        @app.post("/mod/lti/token.php")
        def token() -> Response:
            with platform.lock:
                platform.token_requests += 1
            form = request.form
            if form.get("grant_type") != "client_credentials":
                return problem(400, "unsupported_grant_type")
            assertion = form.get("client_assertion", "")
            try:
                claims = platform._verify_assertion(assertion)
            except Exception as error:
                # ILIAS answers 500 here (lti-notes §7); Moodle 400. Either way: no token.
                return problem(400, f"invalid_client: {type(error).__name__}")
            if claims["sub"] != platform.client_id:
                return problem(400, "invalid_client")
            requested = set(form.get("scope", "").split())
            granted = frozenset(requested & set(platform.allowed_scopes))
            if not granted:
                return problem(400, "invalid_scope")
            value = uuid.uuid4().hex
            with platform.lock:
                platform.tokens[value] = Token(granted, time.time() + 3600)
            return jsonify(
                {
                    "access_token": value,
                    "token_type": "Bearer",
                    "expires_in": 3600,
                    "scope": " ".join(sorted(granted)),
                }
            )

        @app.before_request
        def checks() -> Response | None:
            if request.path.endswith("/token.php"):
                return None
            with platform.lock:
                platform.requests.append((request.method, request.full_path))
                fault = platform.faults.popleft() if platform.faults else None
                if fault:
                    platform.faults_served[fault] += 1
                if fault == "401":
                    for known in platform.tokens.values():
                        known.expires = 0  # every token issued so far has expired
            if fault == "timeout":
                time.sleep(platform.timeout_sleep)
                return problem(504, "too late")
            if fault == "500":
                return problem(500, "Internal error")
            if fault == "429":
                response = problem(429, "Too many requests")
                response.headers["Retry-After"] = str(platform.retry_after)
                return response
            if request.args.get("type_id") != platform.type_id:
                return problem(400, "No type_id")
            bearer = request.headers.get("Authorization", "")
            found = platform.tokens.get(bearer.removeprefix("Bearer "))
            if found is None or found.expires < time.time():
                return problem(401, "Invalid or expired token")
            request.environ["granted"] = found.scopes
            return None

        def scoped(*scopes: str) -> bool:
            granted: frozenset[str] = request.environ["granted"]
            return bool(granted & set(scopes))

        def container(page_arg: str) -> Response:
            if not scoped(SCOPE_LINEITEM, SCOPE_LINEITEM_RO):
                return problem(401, "scope")
            with platform.lock:
                items = list(platform.line_items.values())
            for arg, key in (
                ("resource_id", "resourceId"),
                ("tag", "tag"),
                ("resource_link_id", "resourceLinkId"),
            ):
                if request.args.get(arg):
                    items = [i for i in items if i.get(key) == request.args[arg]]
            return paginate(items, page_arg, "LineItems")

        def paginate(items: list[Any], page_arg: str, next_path: str) -> Response:
            if page_arg == "page" and "page" in request.args:
                return problem(400, "lower-cased pagination link")
            page = int(request.args.get(page_arg, "1"))
            size = platform.page_size
            chunk = items[(page - 1) * size : page * size]
            response = jsonify(chunk)
            if page * size < len(items):
                query = "&".join(
                    f"{k}={v}" for k, v in request.args.items() if k not in ("Page", "page")
                )
                path = request.path.rsplit("/", 1)[0] + "/" + next_path
                next_url = f"{platform.url}{path}?{query}&Page={page + 1}"
                rel = 'rel="next"' if page % 2 else "rel=next"
                first = f"{platform.url}{path}?{query}&Page=1"
                response.headers["Link"] = f'<{first}>; rel="first", <{next_url}>; {rel}'
            return response

        @app.get(base + "/lineitems")
        def lineitems(course: str) -> Response:
            return container("page")

        @app.get(base + "/LineItems")
        def lineitems_page(course: str) -> Response:
            return container("Page")

        @app.post(base + "/lineitems")
        def create(course: str) -> Response:
            if not scoped(SCOPE_LINEITEM):
                # Moodle's "grade sync only": 401 even with a fresh token (lti-notes §2).
                return problem(401, "Not allowed to create line items")
            if request.headers.get("Content-Type") != LINEITEM_TYPE:
                return problem(400, "content type")
            data = request.get_json(force=True)
            if not data.get("label") or data.get("scoreMaximum") is None:
                return problem(400, "label and scoreMaximum required")
            with platform.lock:
                item = platform._create(data)
            response = jsonify(item)
            response.status_code = 201
            return response

        def item_or_404(item_id: int) -> dict[str, Any] | None:
            with platform.lock:
                return platform.line_items.get(item_id)

        @app.get(base + "/lineitems/<int:item_id>/lineitem")
        def get_item(course: str, item_id: int) -> Response:
            item = item_or_404(item_id)
            return jsonify(item) if item else problem(404, "No line item")

        @app.put(base + "/lineitems/<int:item_id>/lineitem")
        def put_item(course: str, item_id: int) -> Response:
            if not scoped(SCOPE_LINEITEM):
                return problem(401, "scope")
            if item_or_404(item_id) is None:
                return problem(404, "No line item")
            data = request.get_json(force=True)
            with platform.lock:
                item = platform.line_items[item_id]
                for key in ("label", "scoreMaximum", "resourceId", "tag"):
                    if key in data:
                        item[key] = data[key]
            return jsonify(item)

        @app.delete(base + "/lineitems/<int:item_id>/lineitem")
        def delete_item(course: str, item_id: int) -> Response:
            if not scoped(SCOPE_LINEITEM):
                return problem(401, "scope")
            with platform.lock:
                if platform.line_items.pop(item_id, None) is None:
                    return problem(404, "No line item")
            return Response(status=204)

        @app.post(base + "/lineitems/<int:item_id>/lineitem/scores")
        def scores(course: str, item_id: int) -> Response:
            if not scoped(SCOPE_SCORE):
                return problem(401, "scope")
            if item_or_404(item_id) is None:
                return problem(404, "No line item")
            # Moodle compares the whole header: "; charset=utf-8" is refused (lti-notes §6).
            if request.headers.get("Content-Type") != SCORE_TYPE:
                return problem(400, "Incorrect content type")
            body = request.get_json(force=True)
            user_id = str(body.get("userId", ""))
            key = (item_id, user_id)
            with platform.lock:
                if platform.in_flight[key]:
                    platform.overlaps.append(key)
                platform.in_flight[key] += 1
            try:
                if platform.score_delay:
                    time.sleep(platform.score_delay)
                status, reason = platform._store_score(item_id, user_id, body)
            finally:
                with platform.lock:
                    platform.in_flight[key] -= 1
            with platform.lock:
                platform.score_posts.append(ScorePost(item_id, user_id, status, body))
            if status >= 400:
                return problem(status, reason)
            return Response(status=status)

        @app.get(base + "/lineitems/<int:item_id>/lineitem/results")
        def results(course: str, item_id: int) -> Response:
            if not scoped(SCOPE_RESULT):
                return problem(401, "scope")
            item = item_or_404(item_id)
            if item is None:
                return problem(404, "No line item")
            with platform.lock:
                grades = sorted(
                    (user, grade)
                    for (iid, user), grade in platform.grades.items()
                    if iid == item_id
                )
            data = [
                {
                    "id": f"{item['id']}&user={user}",
                    "scoreOf": item["id"],
                    "userId": user,
                    "resultScore": grade.body.get("scoreGiven"),
                    "resultMaximum": grade.body.get("scoreMaximum"),
                }
                for user, grade in grades
                if request.args.get("user_id") in (None, user)
            ]
            return paginate(data, "Page" if "Page" in request.args else "page", "results")

        return app

    def _verify_assertion(self, assertion: str) -> dict[str, Any]:
        header = jwt.get_unverified_header(assertion)
        keys = requests.get(self.tool_jwks_url, timeout=5).json()["keys"]
        with self.lock:
            self.jwks_fetches += 1
        jwk = next(k for k in keys if k.get("kid") == header.get("kid"))
        key = jwt.PyJWK(jwk).key
        claims: dict[str, Any] = jwt.decode(
            assertion,
            key,
            algorithms=["RS256"],
            audience=self.token_url,
            issuer=self.client_id,
            options={"require": ["exp", "iat", "jti", "sub", "iss", "aud"]},
        )
        with self.lock:
            if claims["jti"] in self._jtis:
                raise ValueError("jti reused")
            self._jtis.add(claims["jti"])
        return claims

    def _store_score(self, item_id: int, user_id: str, body: dict[str, Any]) -> tuple[int, str]:
        if not user_id:
            return 400, "userId missing"
        if user_id in self.non_gradable:
            return 400, "Incorrect score received"
        if (
            body.get("activityProgress") not in ACTIVITY
            or body.get("gradingProgress") not in GRADING
        ):
            return 400, "Incorrect score received"
        if "scoreGiven" in body and "scoreMaximum" not in body:
            return 400, "Incorrect score received"
        try:
            stamp = datetime.fromisoformat(str(body["timestamp"]))
        except (KeyError, ValueError):
            return 400, "Incorrect score received"
        if stamp.tzinfo is None:
            # Moodle would read it as server-local time (lti-notes §6): refuse it here.
            return 400, "timestamp without time zone"
        seconds = int(stamp.timestamp())  # Moodle: strtotime, whole seconds
        with self.lock:
            current = self.grades.get((item_id, user_id))
            if current is not None and current.timemodified >= seconds:
                return 409, "Refusing score with an earlier timestamp for item and user"
            self.grades[(item_id, user_id)] = Grade(dict(body), seconds)
        return self.score_status, "OK"
