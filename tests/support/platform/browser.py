"""What a browser does between platform and tool, over real HTTP with a ``requests.Session``:
submit auto-posting forms, run pylti1p3's cookie check script, read the launch token."""

from __future__ import annotations

import json
import re
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests

TIMEOUT = 10


class _FormReader(HTMLParser):
    """The first form (of a method, if given): its action, method and the fields a browser
    sends (unchecked checkboxes and radios left out)."""

    def __init__(self, method: str | None) -> None:
        super().__init__()
        self.wanted = method
        self.action: str | None = None
        self.method = "get"
        self.fields: dict[str, list[str]] = {}
        self._inside = False
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if self._done:
            return
        if tag == "form" and not self._inside:
            method = values.get("method", "get").lower()
            if self.wanted and method != self.wanted:
                return
            self._inside = True
            self.action = values.get("action", "")
            self.method = method
        elif tag in ("input", "button") and self._inside and values.get("name"):
            if values.get("type") in ("checkbox", "radio") and "checked" not in values:
                return
            if tag == "button" or values.get("type") == "submit":
                return
            self.fields.setdefault(values["name"], []).append(values.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._inside:
            self._inside = False
            self._done = True


def form_of(html: str, method: str | None = "post") -> tuple[str, dict[str, list[str]]]:
    """The first form (of ``method``) of a page: its action and the fields a browser sends."""
    reader = _FormReader(method)
    reader.feed(html)
    if reader.action is None:
        raise AssertionError("keine Formularseite")
    return reader.action, reader.fields


def read_form(page: requests.Response) -> tuple[str, dict[str, str]]:
    """The action and fields (one value each) of the first form on ``page``."""
    reader = _FormReader(None)
    reader.feed(page.text)
    if not reader.action:
        raise AssertionError(f"keine Formularseite: {page.status_code} {page.url}")
    return reader.action, {k: v[-1] for k, v in reader.fields.items()}


def submit(session: requests.Session, page: requests.Response) -> requests.Response:
    """Post a page's first POST form as a browser would (resolving a relative action)."""
    action, fields = form_of(page.text)
    return session.post(urljoin(page.url, action), data=fields, timeout=TIMEOUT)


def submit_form(session: requests.Session, page: requests.Response) -> requests.Response:
    """Submit a page's first form with its own method (an auto-posting form)."""
    reader = _FormReader(None)
    reader.feed(page.text)
    if not reader.action:
        raise AssertionError(f"keine Formularseite: {page.status_code} {page.url}")
    url = urljoin(page.url, reader.action)
    if reader.method == "post":
        return session.post(url, data=reader.fields, timeout=TIMEOUT)
    return session.get(url, params=reader.fields, timeout=TIMEOUT)


_URL_PARAMS = re.compile(r"var urlParams = (\{.*?\});", re.S)


def is_cookie_check(page: requests.Response) -> bool:
    """Whether ``page`` is pylti1p3's cookie check page (the tool's answer to a login)."""
    return page.status_code == 200 and "lti1p3_new_window" in page.text


def follow_cookie_check(session: requests.Session, page: requests.Response) -> requests.Response:
    """Do what pylti1p3's cookie check script does when the browser keeps cookies: load the
    page's own URL again with the login parameters it embeds and ``lti1p3_new_window=1`` (for a
    POSTed login the parameters are not in the URL, so the script adds them)."""
    found = _URL_PARAMS.search(page.text)
    if found is None:
        raise AssertionError("keine Cookie-Prüfseite")
    params = {k: unescape(v) for k, v in json.loads(found.group(1)).items()}
    parts = urlsplit(page.url)
    query = parse_qs(parts.query, keep_blank_values=True)
    missing = {k: v for k, v in params.items() if k not in query}
    separator = "&" if parts.query else "?"
    url = page.url + (separator + urlencode(missing) if missing else "")
    return session.get(url, timeout=TIMEOUT)


def token_of(url: str) -> str:
    """The launch token (``lt``) in a tool URL."""
    return parse_qs(urlsplit(url).query)["lt"][0]
