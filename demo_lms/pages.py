"""The pages a person sees in the demo LMS: the course with its launch buttons, the gradebook,
and the platform's public key set."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response, jsonify, render_template, request
from flask_babel import gettext, ngettext

from lti_tool.vocab import progress_label

from . import content, gradebook, store
from .blueprint import bp
from .content import ResourceLink
from .course import COURSE, PEOPLE, Person, base_url, issuer, learners
from .gradebook import LineItem
from .messages import MessageHint, login_initiation_url
from .oauth import counters
from .signing import public_jwks
from .tool_clients import ToolClient, launch_client, registered_in_tool


@dataclass(frozen=True)
class LinkView:
    """A resource link on the course page, with one launch address per person."""

    link: ResourceLink
    line_item: LineItem | None
    launches: list[tuple[Person, str]]


def _launch_url(client: ToolClient, person: Person, link_id: str | None) -> str:
    return login_initiation_url(client, issuer(), MessageHint(person.sub, link_id))


def _confirmation() -> str | None:
    added = request.args.get("neu", type=int)
    if added is None:
        return None
    if added == 0:
        return gettext("Es wurden keine Inhalte ausgewählt.")
    message = ngettext(
        "%(num)d Inhalt aus Lotsen-LTI wurde dem Kurs hinzugefügt.",
        "%(num)d Inhalte aus Lotsen-LTI wurden dem Kurs hinzugefügt.",
        added,
    )
    skipped = request.args.get("ignoriert", type=int)
    if skipped:
        message += " " + ngettext(
            "%(num)d Inhalt eines anderen Typs wurde übergangen.",
            "%(num)d Inhalte eines anderen Typs wurden übergangen.",
            skipped,
        )
    return message


@bp.get("/")
def course() -> str:
    """The course page: people, resource links and a launch button per person and link."""
    with store.transaction() as conn:
        client = launch_client(conn)
        links = [
            LinkView(
                link=link,
                line_item=gradebook.own_line_item(conn, link.pk),
                launches=[(person, _launch_url(client, person, link.id)) for person in PEOPLE],
            )
            for link in content.list_links(conn)
        ]
    instructors = [person for person in PEOPLE if person.is_instructor]
    return render_template(
        "demo_lms/course.html",
        course=COURSE,
        people=PEOPLE,
        links=links,
        deep_linking=[(person, _launch_url(client, person, None)) for person in instructors],
        registered=registered_in_tool(client),
        client=client,
        base=base_url(),
        confirmation=_confirmation(),
    )


@bp.get("/gradebook")
def gradebook_page() -> str:
    """Line items × learners with the newest score, and how often the tool asked for tokens."""
    with store.transaction() as conn:
        line_items = gradebook.list_line_items(conn)
        grades = gradebook.latest_scores(conn)
        links = {link.pk: link for link in content.list_links(conn)}
        numbers = counters(conn)
    return render_template(
        "demo_lms/gradebook.html",
        course=COURSE,
        learners=learners(),
        line_items=line_items,
        links=links,
        grades=grades,
        counters=numbers,
        column_points=gradebook.column_points,
        progress_label=progress_label,
    )


@bp.get("/stats.json")
def stats() -> Response:
    """Counters for benchmarks: token requests, tokens issued, score requests, scores."""
    with store.transaction() as conn:
        numbers = counters(conn)
        scores = gradebook.count_scores(conn)
    return jsonify(
        {
            "token_requests": numbers.get("token_requests", 0),
            "tokens_issued": numbers.get("tokens_issued", 0),
            "score_requests": numbers.get("score_requests", 0),
            "scores": scores,
        }
    )


@bp.get("/jwks.json")
def jwks() -> Response:
    """The demo platform's public keys; the tool verifies id_tokens with them."""
    with store.transaction() as conn:
        response = jsonify(public_jwks(conn))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
