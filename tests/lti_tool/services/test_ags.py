"""The AGS client (lti_tool.services.ags) against Moodle's own line item and result paging."""

from __future__ import annotations

import requests
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import LtiContext, Registration
from lti_tool.services.ags import AgsClient
from lti_tool.services.http import parse_link_header
from tests.support.platform import MOODLE, Platform
from tests.support.platform.vocab import AGS_SCOPES, LEARNER
from tests.support.protocol_app import PlatformFactory


def client_for(platform: Platform) -> AgsClient:
    link = platform.add_link("Einstieg")
    page = platform.launch(requests.Session(), platform.person(), [LEARNER], link=link)
    assert page.status_code == 200
    db.session.rollback()
    context = db.session.scalars(select(LtiContext)).one()
    registration = db.session.scalars(select(Registration)).one()
    return AgsClient(registration, context.ags_scopes, context.ags_lineitems_url)


def test_line_items_follow_moodles_typographic_next_links(make_platform: PlatformFactory) -> None:
    # lineitems.php writes rel=“next” (U+201C/U+201D) and pages only when asked with limit.
    platform = make_platform(MOODLE, pagination="moodle")
    ags = client_for(platform)
    for number in range(5):
        platform.add_line_item(label=f"Spalte {number}", scoreMaximum=10, resourceId=f"r{number}")

    items = ags.line_items(limit=2)

    assert sorted(i.label for i in items) == [f"Spalte {n}" for n in range(5)]
    pages = [p for m, p in platform.requests if m == "GET" and "/lineitems" in p]
    assert len(pages) == 3
    assert set(AGS_SCOPES) >= set(ags.scopes)


def test_typographic_rel_quotes_name_the_next_page() -> None:
    # As PHP sends them (UTF-8 bytes, read as latin-1 by http.client) and as text.
    header = "<https://m/a?from=0>; rel=“first”, <https://m/a?from=2>; rel=“next”"
    for received in (header.encode().decode("latin-1"), header):
        links = parse_link_header(received)
        assert links == {"first": "https://m/a?from=0", "next": "https://m/a?from=2"}
