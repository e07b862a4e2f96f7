"""`make run` from a fresh clone serves the demo LMS, and a launch from it succeeds.

The clone is fresh (committed files only, empty instance/), but it reuses this checkout's
virtual environment: installing into a fresh .venv is what `make test` itself does on CI's new
machine, so repeating it here would only cost a minute."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from config.settings import PROJECT_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"make run ended early with {process.returncode}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def _first(pattern: str, text: str) -> str:
    match = re.search(pattern, text, re.S)
    assert match, f"{pattern!r} not found"
    return unescape(match.group(1))


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append({k: v or "" for k, v in attrs})


def _launch_href(course_page: str) -> str:
    """The first launch button of the demo course's default resource link."""
    parser = _Anchors()
    parser.feed(course_page)
    hrefs = [a["href"] for a in parser.anchors if a.get("data-launch") == "demo-link-1"]
    assert hrefs, "no launch button on the demo course page"
    return hrefs[0]


def test_make_run_serves_the_demo_lms_and_a_launch_succeeds(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(PROJECT_ROOT), str(clone)], check=True)
    venv = PROJECT_ROOT / ".venv"
    port = _free_port()
    ours = {"LOTSEN_ENV", "DATABASE_URL", "PUBLIC_BASE_URL"}
    env = {k: v for k, v in os.environ.items() if k not in ours}
    log = (tmp_path / "make-run.log").open("wb")
    process = subprocess.Popen(
        ["make", "run", f"PORT={port}", f"VENV={venv}", "-o", f"{venv}/bin/.installed"],
        cwd=clone,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/demo-lms/", process)
        output = (tmp_path / "make-run.log").read_text()
        assert f"{base}/demo-lms/" in output, output
        assert "Demo-Praxisprojekte: 3 neu angelegt" in output, output

        browser = requests.Session()
        course = browser.get(f"{base}/demo-lms/").text
        start = urljoin(f"{base}/demo-lms/", _launch_href(course))
        check = browser.get(start, allow_redirects=False)
        assert check.status_code == 200 and "lti1p3_new_window" in check.text
        login = browser.get(start + "&lti1p3_new_window=1", allow_redirects=False)
        assert login.status_code == 302
        auth = browser.get(login.headers["Location"])
        action = _first(r'<form[^>]*action="([^"]+)"', auth.text)
        fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', auth.text))
        landing = browser.post(action, data={k: unescape(v) for k, v in fields.items()})
        assert landing.status_code == 200, landing.text
        assert "Demo-LMS" in landing.text
        assert "Digital-" in landing.text
        # The catalogue was imported on start.
        assert (clone / "instance" / "lotsen.sqlite").exists()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()
