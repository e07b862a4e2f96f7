"""Every valid launch of the certification list (lti-notes §4), from a platform that behaves like
Moodle and like ILIAS, as learner and as instructor, lands on a working German page of the
domain: with a course on the Navigator's or the Lotse's pages, without one on a page that says
what one can do there (issue 10). Never a 4xx or 5xx for a valid launch."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from flask import Flask

from courses.services.roles import ToolRole, tool_role_for
from tests.conftest import LiveServer
from tests.support.platform import ILIAS, MOODLE, Platform
from tests.support.platform.variants import ROLES, VARIANTS, LaunchVariant


@pytest.fixture
def tool(app: Flask) -> Iterator[LiveServer]:
    from lti_tool.extensions import db
    from tests.support.protocol_app import install_tool_key

    install_tool_key()
    db.session.commit()
    with LiveServer(app) as server:
        yield server


def heading(page: requests.Response) -> str:
    found = re.search(r"<h1[^>]*>(.*?)</h1>", page.text, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip() if found else ""


@pytest.mark.parametrize("flavour", [MOODLE, ILIAS])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_valid_launch_lands_on_a_german_page_of_the_domain(
    tool: LiveServer, flavour: str, role: str, variant: LaunchVariant
) -> None:
    platform = Platform(tool_url=tool.url, flavour=flavour)
    try:
        platform.register_with_tool()
        person = platform.person("Erika", "Mustermann")
        page = platform.launch(requests.Session(), person, **variant.launch_kwargs(role))
    finally:
        platform.close()

    lotse = tool_role_for(variant.launch_kwargs(role)["roles"]) is ToolRole.LOTSE
    assert page.status_code == 200, (page.status_code, heading(page), page.text[:400])
    assert '<html lang="de">' in page.text
    title = heading(page)
    if not variant.with_course:
        assert title == "Lotsen-LTI außerhalb eines Kurses"
        assert "Der Modulkatalog zum Kennenlernen" in page.text
        if lotse:
            assert "Deep Linking" in page.text
        else:
            assert "aus dem Kurs heraus" in page.text
    elif lotse:
        assert "/lotse/" in page.url
    else:
        assert title == "Meine Module"
