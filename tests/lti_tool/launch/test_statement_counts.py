"""How many SQL statements each request of a launch costs, pinned (issue 13): the protocol's
share is one registration lookup per request, plain inserts for the nonce and the launch, one
upsert each for user, course and link, no reload after a commit; the domain's landing adds what
its pages need. A change that adds a statement fails here and must say why."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import event

from courses.models import CatalogModule
from courses.services.learning import ensure_course_module
from lti_tool.extensions import db
from lti_tool.models import LtiContext
from lti_tool.vocab import Claim
from tests.lti_tool.conftest import CraftedPlatform

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"


@contextmanager
def counted() -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def launch_counts(
    platform: CraftedPlatform, sub: str, module_id: str | None = "b1-rechtsrahmen"
) -> tuple[int, int, int, int]:
    """(cookie-check page, login redirect, launch POST, landing) statements of one launch."""
    client = platform.client
    query = {
        "iss": platform.issuer,
        "login_hint": "hint-1",
        "target_link_uri": "http://localhost/lti/launch",
        "client_id": platform.client_id,
    }
    with counted() as first:
        assert client.get("/lti/login", query_string=query).status_code == 200
    with counted() as second:
        redirect = client.get("/lti/login", query_string={**query, "lti1p3_new_window": "1"})
        assert redirect.status_code == 302
    nonce = redirect.headers["Location"].split("nonce=")[1].split("&")[0]
    state = redirect.headers["Location"].split("state=")[1].split("&")[0]
    claims = platform.claims(nonce, roles=[LEARNER], sub=sub)
    claims[Claim.CUSTOM] = {"gemeinde": "Pirna"} | ({"module_id": module_id} if module_id else {})
    with counted() as launch:
        posted = platform.post_launch(state, platform.sign(claims))
        assert posted.status_code == 303
    with counted() as landing:
        page = client.get(posted.headers["Location"])
        while page.status_code in (302, 303):
            page = client.get(page.headers["Location"])
        assert page.status_code == 200
    return len(first), len(second), len(launch), len(landing)


def test_statements_per_request_of_a_returning_navigators_launch(
    sqlite_app: Flask, platform: CraftedPlatform
) -> None:
    sqlite_app.config["PUBLIC_BASE_URL"] = "http://localhost"
    assert sqlite_app.test_cli_runner().invoke(args=["courses", "import"]).exit_code == 0
    launch_counts(platform, "nav-1")  # the first launch places the module and the Gemeinde

    cookie_page, login, launch, landing = launch_counts(platform, "nav-1")

    # Protocol: pylti1p3's cookie check page asks nothing; the redirect to the platform looks
    # up the registration and inserts the state; the launch: the registration, the nonce's
    # delete, one upsert each for user, course, link, the launch row.
    assert (cookie_page, login, launch) == (0, 2, 6)
    # Domain: /start (launch, placement, role, …) and the module page it sends the Navigator to.
    assert landing == 4, landing


def test_statements_of_a_launch_that_lands_on_my_modules(
    sqlite_app: Flask, platform: CraftedPlatform
) -> None:
    """The launch the benchmark measures: a link without a module, so /start shows "Meine
    Module" itself. Its page costs the same whatever the number of modules: the launch, the
    role, the Gemeinde, the placed modules with their catalogue rows, and the units with the
    Navigator's states in one query."""
    sqlite_app.config["PUBLIC_BASE_URL"] = "http://localhost"
    assert sqlite_app.test_cli_runner().invoke(args=["courses", "import"]).exit_code == 0
    launch_counts(platform, "nav-1", module_id=None)  # the course and the Navigator
    counts = []
    for slugs in (("b1-rechtsrahmen",), ("b3-prozessmanagement", "p1-hundesteuer-online")):
        with sqlite_app.app_context():
            context_pk = db.session.scalars(db.select(LtiContext.id)).one()
            for slug in slugs:
                module = db.session.scalars(
                    db.select(CatalogModule).where(CatalogModule.slug == slug)
                ).one()
                ensure_course_module(context_pk, module)
            db.session.commit()
        counts.append(launch_counts(platform, "nav-1", module_id=None))

    assert counts[0] == counts[1] == (0, 2, 6, 4), counts
    assert sum(counts[0]) == 12
