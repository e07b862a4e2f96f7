"""End-to-end fixtures: the tool on a real port (both backends) and an independent LTI 1.3
platform on another, talking over HTTP on 127.0.0.1 like an LMS and a browser would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from flask import Flask

from tests.conftest import LiveServer
from tests.support.platform import Platform


@pytest.fixture
def lms(app: Flask, live_tool: LiveServer) -> Iterator[Platform]:
    """A platform (the generic flavour) with the tool registered on it, and registered in the
    tool."""
    with Platform(tool_url=live_tool.url) as platform:
        platform.register_with(app)
        yield platform


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    """A browser: keeps cookies, follows redirects, talks to loopback only."""
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment between us and 127.0.0.1
        yield session
