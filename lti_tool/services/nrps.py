"""Names and Role Provisioning Services 2.0 client: reads a context's membership, every page.

pylti1p3 lower-cases the whole ``Link`` header before looking for the next page (lti-notes §1), so
a mixed-case page URL breaks, and it only follows ``rel="next"`` with quotes while lti1p3platform
sends ``rel=next`` without (§5). This client parses the header itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..models import Registration
from ..urls import origin
from ..vocab import MEMBERSHIP_CONTENT_TYPE, Scope
from .http import ServiceError, next_page_url, service_request

log = logging.getLogger(__name__)

#: A platform that keeps sending "next" (or a loop) is cut off here.
MAX_PAGES = 200


@dataclass(frozen=True)
class Member:
    """One membership as the platform reports it. Names only when shared."""

    user_id: str
    roles: list[str] = field(default_factory=list)
    status: str = "Active"
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None

    @property
    def active(self) -> bool:
        return self.status.lower() == "active"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _member(raw: Any) -> Member | None:
    if not isinstance(raw, dict) or not _text(raw.get("user_id")):
        return None
    roles = raw.get("roles")
    return Member(
        user_id=str(raw["user_id"]),
        roles=[r for r in roles if isinstance(r, str)] if isinstance(roles, list) else [],
        status=_text(raw.get("status")) or "Active",
        name=_text(raw.get("name")),
        given_name=_text(raw.get("given_name")),
        family_name=_text(raw.get("family_name")),
        email=_text(raw.get("email")),
    )


def iter_pages(registration: Registration, url: str) -> Iterator[list[Member]]:
    """Yield the members page by page, following ``rel=next``.

    Raises :class:`ServiceError` for a failed call or an unreadable page. Next links to another
    origin are not followed: the request carries our bearer token."""
    seen: set[str] = set()
    page_url: str | None = url
    pages = 0
    while page_url is not None:
        if page_url in seen or pages >= MAX_PAGES:
            log.warning("nrps pagination stopped: registration=%s pages=%s", registration.id, pages)
            return
        seen.add(page_url)
        response = service_request(
            registration,
            [Scope.NRPS_MEMBERSHIP.value],
            "GET",
            page_url,
            accept=MEMBERSHIP_CONTENT_TYPE,
        )
        try:
            body = response.json()
        except ValueError as error:
            raise ServiceError("NRPS-Antwort ist kein JSON", status=200, retryable=False) from error
        members_raw = body.get("members") if isinstance(body, dict) else None
        if not isinstance(members_raw, list):
            raise ServiceError("NRPS-Antwort ohne members", status=200, retryable=False)
        pages += 1
        yield [m for m in (_member(raw) for raw in members_raw) if m is not None]
        following = next_page_url(response.headers.get("Link"), page_url)
        if following is not None and origin(following) != origin(url):
            log.warning(
                "nrps next link to another origin ignored: registration=%s", registration.id
            )
            following = None
        page_url = following


def fetch_members(registration: Registration, url: str) -> list[Member]:
    """All members of the context whose ``context_memberships_url`` is ``url``."""
    members: dict[str, Member] = {}
    for page in iter_pages(registration, url):
        for member in page:
            members[member.user_id] = member
    return list(members.values())
