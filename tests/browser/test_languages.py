"""The English UI in real Chromium: a Navigator whose LMS sends ``launch_presentation.locale``
``en-GB`` sees English pages (``<html lang="en">``, the German module content marked
``lang="de"``) with no axe-core violation, on their own and inside the LMS's iframe; so do the
legal pages opened from such a page (``?lang=en``)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from lti_tool.extensions import db
from lti_tool.launch.token import issue_token, launch_from_token
from lti_tool.models import Launch, new_launch_id

from .conftest import MODULE, NAVIGATOR, QUIZ, READING, Site, embed, open_page, run_axe

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def english(site: Site) -> str:
    """A launch token of the Navigator's launch as if their LMS spoke English (the demo LMS
    always sends de-DE): the same launch row, copied with ``locale`` en-GB."""
    with site.app.test_request_context():
        german = db.session.get(Launch, launch_from_token(site.tokens[NAVIGATOR]).id)
        assert german is not None and german.locale == "de-DE"
        columns = {c.key: getattr(german, c.key) for c in Launch.__table__.columns}
        copy = Launch(**{**columns, "id": new_launch_id(), "locale": "en-GB"})
        db.session.add(copy)
        db.session.commit()
        token = issue_token(copy)
        db.session.remove()
    return token


PAGES = {
    "module": (f"/module/{MODULE}", "Learning objectives"),
    "reading": (f"/module/{MODULE}/einheit/{READING}", "To the module overview"),
    "quiz": (f"/module/{MODULE}/einheit/{QUIZ}", "Submit answers"),
    "403": ("/lotse/uebersicht", "No access"),
}


@pytest.mark.parametrize("where", ["eigenständig", "im iframe"])
@pytest.mark.parametrize("name", list(PAGES))
def test_english_pages_have_no_axe_violations(
    site: Site, page: Page, english: str, name: str, where: str
) -> None:
    path, english_text = PAGES[name]
    url = f"{site.base}{path}?lt={english}"
    frame = open_page(page, url) if where == "eigenständig" else embed(page, url)
    assert frame.locator("html").get_attribute("lang") == "en"
    assert frame.get_by_text(english_text, exact=True).count() >= 1
    if name != "403":
        note = "The content of the modules is available in German only."
        assert frame.get_by_text(note).count() == 1
        assert frame.locator('[lang="de"]').count() >= 1
    result = run_axe(frame)
    assert not result.violations, result.summary()


def test_the_legal_pages_from_an_english_page_are_english(
    site: Site, page: Page, english: str
) -> None:
    open_page(page, f"{site.base}/module/{MODULE}?lt={english}")
    page.get_by_role("link", name="Accessibility", exact=True).click()
    page.wait_for_load_state("load")
    assert page.url.endswith("/barrierefreiheit?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Accessibility statement"
    result = run_axe(page)
    assert not result.violations, result.summary()
