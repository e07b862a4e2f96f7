"""The launch driver: a browser's part of a complete LTI 1.3 launch, timed per request.

One launch is what a browser does after a click on the tool's link in Moodle:

1. POST the login initiation form to the tool's login URL (Moodle auto-posts it);
2. the tool answers with pylti1p3's cookie check page; its script reloads the login URL with
   ``lti1p3_new_window=1`` and the login parameters (computed here as the script does);
3. the tool redirects to the platform's authentication endpoint (not timed: platform time);
4. POST the platform's auto-posted form (``id_token``, ``state``) to the tool's redirect URI;
5. GET the page the tool redirects to.

"Tool-side time" is the sum of the four requests to the tool (1, 2, 4, 5), measured from
opening the connection to the last byte of the answer. Requests go over ``http.client`` with a
small cookie jar, so the client adds as little as possible to what is measured; a transport can
also hand requests for one address to a WSGI app in this process (the SQL statement count).
"""

from __future__ import annotations

import html
import http.client
import json
import re
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit

from bench.loopback_platform import LaunchRequest

TIMEOUT_SECONDS = 30


@dataclass
class Reply:
    """One HTTP answer and how long it took."""

    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    seconds: float

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def all_headers(self, name: str) -> list[str]:
        lowered = name.lower()
        return [v for k, v in self.headers if k.lower() == lowered]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class HttpTransport:
    """Plain HTTP/1.1 over a new connection per request (gunicorn's sync workers close it)."""

    def send(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> Reply:
        parts = urlsplit(url)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        started = time.perf_counter()
        connection = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port or 80, timeout=TIMEOUT_SECONDS
        )
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        seconds = time.perf_counter() - started
        return Reply(url, response.status, response.getheaders(), data, seconds)


class WsgiTransport(HttpTransport):
    """Requests for ``netloc`` go to ``app`` in this process; all others over HTTP."""

    def __init__(self, netloc: str, app: Any) -> None:
        from werkzeug.test import Client

        self.netloc = netloc
        self.client = Client(app, use_cookies=False)
        self.before_request: Callable[[str, str], None] | None = None

    def send(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> Reply:
        parts = urlsplit(url)
        if parts.netloc != self.netloc:
            return super().send(method, url, body, headers)
        if self.before_request is not None:
            self.before_request(method, url)
        started = time.perf_counter()
        response = self.client.open(
            parts.path,
            base_url=f"{parts.scheme}://{parts.netloc}",
            query_string=parts.query,
            method=method,
            data=body,
            headers=headers,
        )
        data = response.get_data()
        seconds = time.perf_counter() - started
        return Reply(url, response.status_code, list(response.headers.items()), data, seconds)


class Browser:
    """A cookie jar for one host and a way to send requests. Every address here is 127.0.0.1,
    and cookies are not separated by port (RFC 6265 §8.5), as in a real browser."""

    def __init__(self, transport: HttpTransport | None = None) -> None:
        self.transport = transport or HttpTransport()
        self.cookies: dict[str, str] = {}

    def request(self, method: str, url: str, form: dict[str, str] | None = None) -> Reply:
        headers = {"User-Agent": "lotsen-launch-bench", "Accept": "text/html"}
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        reply = self.transport.send(method, url, body, headers)
        for line in reply.all_headers("Set-Cookie"):
            self._store(line)
        return reply

    def _store(self, line: str) -> None:
        name, _, rest = line.partition("=")
        value, *attributes = rest.split(";")
        expired = any(
            a.strip().lower() in ("max-age=0", "max-age=-1")
            or a.strip().lower().startswith("expires=thu, 01 jan 1970")
            for a in attributes
        )
        if expired:
            self.cookies.pop(name.strip(), None)
        else:
            self.cookies[name.strip()] = value.strip().strip('"')


_URL_PARAMS = re.compile(r"var urlParams = (\{.*?\});", re.S)


def cookie_check_reload_url(page: Reply) -> str:
    """The URL pylti1p3's cookie check page sends the browser to (``getUpdatedUrl`` in
    ``pylti1p3/cookies_allowed_check.py``): the page's own URL plus every login parameter it does
    not carry yet, values HTML-unescaped and then ``encodeURIComponent``-encoded."""
    found = _URL_PARAMS.search(page.text)
    if found is None:
        raise LaunchFailed("login: keine Cookie-Prüfseite")
    params: dict[str, str] = json.loads(found.group(1))
    parts = urlsplit(page.url)
    search = "?" + parts.query if parts.query else ""
    added = [
        key + "=" + quote(html.unescape(value), safe="-_.!~*'()")
        for key, value in params.items()
        if (key + "=") not in search
    ]
    joined = "&".join(added)
    search = search + "&" + joined if search else "?" + joined
    return f"{parts.scheme}://{parts.netloc}{parts.path}{search}"


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = values.get("action", "")
        elif tag == "input" and values.get("name"):
            self.fields[values["name"]] = values.get("value", "")


def read_form(page: Reply) -> tuple[str, dict[str, str]]:
    """Action and fields of the page's first form, as the browser would auto-post it."""
    reader = _FormReader()
    reader.feed(page.text)
    if not reader.action:
        raise LaunchFailed(f"Plattform: kein Formular ({page.status})")
    return urljoin(page.url, reader.action), reader.fields


class LaunchFailed(Exception):
    """A launch step did not answer as a working tool must."""


@dataclass(frozen=True)
class Target:
    """A tool as the driver reaches it. ``public`` is the address the platform knows (login URL,
    redirect URI); ``instances`` are the servers behind it, chosen per request by the route."""

    name: str
    client_id: str
    public: str
    instances: tuple[str, ...]
    login_path: str
    page_marker: str
    """Text the first page must show; empty: any answer below 400 will do (set-up launches)."""

    def on(self, url: str, instance: str) -> str:
        """``url`` on the public address or one of the instances, moved to ``instance``."""
        for base in (self.public, *self.instances):
            if url == base or url.startswith(base + "/"):
                return instance + url[len(base) :]
        return url


Route = Callable[[Target, int], tuple[str, str, str]]
"""Which instance serves login, launch POST and first page of launch number ``n``."""


def single(target: Target, n: int) -> tuple[str, str, str]:
    """Everything to the first instance (one gunicorn; the kernel picks the worker)."""
    return target.instances[0], target.instances[0], target.instances[0]


def sticky(target: Target, n: int) -> tuple[str, str, str]:
    """The whole launch on one instance, launches spread round-robin (a sticky balancer)."""
    instance = target.instances[n % len(target.instances)]
    return instance, instance, instance


def split(target: Target, n: int) -> tuple[str, str, str]:
    """Login, launch POST and first page each on another instance."""
    count = len(target.instances)
    return tuple(target.instances[(n + step) % count] for step in range(3))  # type: ignore[return-value]


@dataclass
class LaunchTiming:
    """Seconds of each request to the tool during one launch."""

    login_post: float = 0.0
    login_get: float = 0.0
    launch_post: float = 0.0
    first_page: float = 0.0
    platform: float = 0.0

    @property
    def tool(self) -> float:
        return self.login_post + self.login_get + self.launch_post + self.first_page

    @property
    def without_page(self) -> float:
        return self.login_post + self.login_get + self.launch_post


def launch(
    browser: Browser,
    target: Target,
    login_fields: dict[str, str],
    n: int = 0,
    route: Route = single,
) -> LaunchTiming:
    """One complete launch; raises :class:`LaunchFailed` at the first wrong answer."""
    login_at, launch_at, page_at = route(target, n)
    timing = LaunchTiming()
    page = browser.request("POST", login_at + target.login_path, form=login_fields)
    timing.login_post = page.seconds
    if page.status != 200:
        raise LaunchFailed(f"login POST {page.status}")
    answer = browser.request("GET", cookie_check_reload_url(page))
    timing.login_get = answer.seconds
    location = answer.header("Location")
    if answer.status not in (302, 303) or not location:
        raise LaunchFailed(f"login GET {answer.status}")
    form_page = browser.request("GET", location)
    timing.platform = form_page.seconds
    if form_page.status != 200:
        raise LaunchFailed(f"Plattform {form_page.status}: {form_page.text[:80]}")
    action, fields = read_form(form_page)
    action = target.on(action, launch_at)
    answer = browser.request("POST", action, form=fields)
    timing.launch_post = answer.seconds
    location = answer.header("Location")
    if answer.status not in (302, 303) or not location:
        raise LaunchFailed(f"launch POST {answer.status}")
    page = browser.request("GET", target.on(urljoin(action, location), page_at))
    timing.first_page = page.seconds
    if target.page_marker:
        if page.status != 200 or target.page_marker not in page.text:
            raise LaunchFailed(f"erste Seite {page.status}")
    elif page.status >= 400:
        raise LaunchFailed(f"erste Seite {page.status}")
    return timing


@dataclass
class RunResult:
    """Timings of the launches that worked, the errors of those that did not, the wall time."""

    timings: list[LaunchTiming] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    """CPU time the servers of the target used meanwhile (see :func:`bench.servers.cpu_seconds`)."""

    @property
    def attempted(self) -> int:
        return len(self.timings) + len(self.errors)

    @property
    def per_second(self) -> float:
        return len(self.timings) / self.seconds if self.seconds else 0.0

    def extend(self, other: RunResult) -> None:
        self.timings += other.timings
        self.errors += other.errors
        self.seconds += other.seconds
        self.cpu_seconds += other.cpu_seconds

    @property
    def cpu_ms_per_launch(self) -> float:
        return self.cpu_seconds * 1000 / len(self.timings) if self.timings else float("nan")


LoginFields = Callable[[int], dict[str, str]]
"""The login initiation form of launch number ``n`` (who launches which link)."""


def run(
    target: Target,
    login_fields: LoginFields,
    launches: int,
    clients: int = 1,
    route: Route = single,
    first: int = 0,
    max_seconds: float = 300.0,
    transport: Callable[[], HttpTransport] = HttpTransport,
    cpu: Callable[[], float] | None = None,
) -> RunResult:
    """``launches`` launches by ``clients`` browsers at once (each one launch after the other),
    numbered from ``first``; stops early after ``max_seconds``. ``cpu`` reads the CPU seconds
    used so far by the target's servers."""
    result = RunResult()
    cpu_before = cpu() if cpu else 0.0
    lock = threading.Lock()
    numbers: Iterator[int] = iter(range(first, first + launches))
    deadline = time.monotonic() + max_seconds

    def client() -> None:
        while time.monotonic() < deadline:
            with lock:
                n = next(numbers, None)
            if n is None:
                return
            browser = Browser(transport())  # every launch a fresh browser: a new person
            try:
                timing = launch(browser, target, login_fields(n), n, route)
            except (LaunchFailed, OSError, http.client.HTTPException) as error:
                with lock:
                    result.errors.append(f"{type(error).__name__}: {error}")
            else:
                with lock:
                    result.timings.append(timing)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    if cpu:
        result.cpu_seconds = cpu() - cpu_before
    return result


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000 if values else float("nan")


def p95_ms(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] * 1000 if values else float("nan")
    return statistics.quantiles(values, n=20, method="inclusive")[-1] * 1000


def launch_fields_for(
    config: Any, client_id: str, request_for: Callable[[int], LaunchRequest]
) -> LoginFields:
    """Login initiation fields for the tool ``client_id`` on the platform ``config``."""
    from bench.loopback_platform import login_initiation

    tool = config.tools[client_id]
    return lambda n: login_initiation(config, tool, request_for(n))
