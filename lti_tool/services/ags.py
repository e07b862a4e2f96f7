"""Assignment and Grade Services 2.0 client: line items (GET paginated, POST, GET one, PUT,
DELETE), scores (POST) and results (GET paginated), over :func:`lti_tool.services.service_request`.

It covers what pylti1p3 2.0.0 gets wrong or lacks (lti-notes §1, §2, §6): the ``Link`` header is
read without lower-casing the next-page URL and ``rel=next`` counts with or without quotes; line
items can be changed and deleted; results are paginated; ``/scores`` and ``/results`` are inserted
into the line item's *path* (Moodle's line item URLs carry ``?type_id=``); the score content type
is sent exactly, without a charset; a 409 to a score is "already there"; only scopes the platform
granted are requested.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from ..models import Registration
from ..urls import origin
from ..vocab import (
    LINEITEM_CONTAINER_CONTENT_TYPE,
    LINEITEM_CONTENT_TYPE,
    RESULT_CONTAINER_CONTENT_TYPE,
    SCORE_CONTENT_TYPE,
    Scope,
)
from .http import ServiceError, next_page_url, service_request

#: Scopes of AGS; the token of a course asks for exactly those of them the platform granted.
AGS_SCOPES = frozenset(
    {Scope.AGS_LINEITEM, Scope.AGS_LINEITEM_READONLY, Scope.AGS_RESULT_READONLY, Scope.AGS_SCORE}
)
#: A platform that answers an endless chain of next links is not followed past this many pages.
MAX_PAGES = 200

log = logging.getLogger(__name__)


def service_url(lineitem_url: str, service: str) -> str:
    """``…/lineitem?type_id=1`` → ``…/lineitem/scores?type_id=1``: the sub-resource goes into
    the path, before the query (AGS 2.0 §3.4; Moodle's URLs carry a query, lti-notes §2)."""
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + service))


def with_query(url: str, **params: str | int | None) -> str:
    """``url`` with ``params`` added to the query it already has (None values left out)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.extend((k, str(v)) for k, v in params.items() if v is not None)
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass(frozen=True)
class LineItem:
    """A gradebook column as the platform describes it."""

    id: str
    label: str
    score_maximum: float
    resource_id: str | None = None
    tag: str | None = None
    resource_link_id: str | None = None
    raw: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LineItem:
        return cls(
            id=str(data["id"]),
            label=str(data.get("label") or ""),
            score_maximum=float(data.get("scoreMaximum") or 0),
            resource_id=data.get("resourceId") or None,
            tag=data.get("tag") or None,
            resource_link_id=data.get("resourceLinkId") or None,
            raw=data,
        )


class AgsClient:
    """AGS calls for one course (LMS context) of one registration.

    ``granted_scopes`` are the AGS scopes of the newest launch (``LtiContext.ags_scopes``): the
    token asks for all of them at once — one cached token per course's scope set, not per call —
    and a call that needs a scope the platform did not grant fails without a request."""

    def __init__(
        self,
        registration: Registration,
        granted_scopes: Iterable[str] | None,
        lineitems_url: str | None = None,
    ) -> None:
        self.registration = registration
        self.scopes = sorted({s for s in granted_scopes or () if s in AGS_SCOPES})
        self.lineitems_url = lineitems_url

    # --- scopes -------------------------------------------------------------------------------

    def granted(self, *scopes: str) -> bool:
        """Whether the platform granted any of ``scopes``."""
        return any(scope in self.scopes for scope in scopes)

    @property
    def can_manage_line_items(self) -> bool:
        """Column management ("…/scope/lineitem"), as opposed to Moodle's "grade sync only"."""
        return self.granted(Scope.AGS_LINEITEM)

    def _require(self, *scopes: str) -> None:
        if not self.granted(*scopes):
            raise ServiceError(
                "Die Plattform hat den nötigen AGS-Scope nicht gewährt: " + " oder ".join(scopes),
                retryable=False,
            )

    def _require_container(self) -> str:
        if not self.lineitems_url:
            raise ServiceError("Der Kurs hat keinen AGS-Endpunkt (lineitems).", retryable=False)
        return self.lineitems_url

    def _request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        return service_request(self.registration, self.scopes, method, url, **kwargs)

    def _pages(self, url: str, accept: str) -> Iterator[Any]:
        seen: set[str] = set()
        next_url: str | None = url
        while next_url:
            if next_url in seen or len(seen) >= MAX_PAGES:
                raise ServiceError(f"Seitenverweise kreisen: {next_url}", retryable=False)
            seen.add(next_url)
            response = self._request("GET", next_url, accept=accept)
            body = response.json() if response.content else []
            yield from body if isinstance(body, list) else []
            next_url = next_page_url(response.headers.get("Link"), response.url)
            if next_url is not None and origin(next_url) != origin(url):
                # The bearer token goes to the platform's own origin only.
                log.warning("ags next link to another origin ignored")
                next_url = None

    # --- line items ---------------------------------------------------------------------------

    def line_items(
        self,
        *,
        resource_id: str | None = None,
        tag: str | None = None,
        resource_link_id: str | None = None,
        limit: int | None = None,
    ) -> list[LineItem]:
        """All line items of the course, following every ``rel="next"`` page. Filters are sent
        to the platform and applied here again (not every platform filters)."""
        self._require(Scope.AGS_LINEITEM, Scope.AGS_LINEITEM_READONLY)
        url = with_query(
            self._require_container(),
            resource_id=resource_id,
            tag=tag,
            resource_link_id=resource_link_id,
            limit=limit,
        )
        items = [LineItem.from_json(d) for d in self._pages(url, LINEITEM_CONTAINER_CONTENT_TYPE)]
        return [
            item
            for item in items
            if (resource_id is None or item.resource_id == resource_id)
            and (tag is None or item.tag == tag)
            and (resource_link_id is None or item.resource_link_id == resource_link_id)
        ]

    def create_line_item(
        self,
        *,
        label: str,
        score_maximum: float,
        resource_id: str | None = None,
        tag: str | None = None,
        resource_link_id: str | None = None,
    ) -> LineItem:
        """POST a new line item to the course's container."""
        self._require(Scope.AGS_LINEITEM)
        body: dict[str, Any] = {"label": label, "scoreMaximum": score_maximum}
        if resource_id:
            body["resourceId"] = resource_id
        if tag:
            body["tag"] = tag
        if resource_link_id:
            body["resourceLinkId"] = resource_link_id
        response = self._request(
            "POST",
            self._require_container(),
            json_body=body,
            content_type=LINEITEM_CONTENT_TYPE,
            accept=LINEITEM_CONTENT_TYPE,
        )
        return LineItem.from_json(response.json())

    def line_item(self, url: str) -> LineItem:
        """GET one line item."""
        self._require(Scope.AGS_LINEITEM, Scope.AGS_LINEITEM_READONLY)
        return LineItem.from_json(self._request("GET", url, accept=LINEITEM_CONTENT_TYPE).json())

    def update_line_item(self, url: str, changes: dict[str, Any]) -> LineItem:
        """PUT a line item: reads it, applies ``changes`` (AGS field names), writes it whole."""
        self._require(Scope.AGS_LINEITEM)
        current = self._request("GET", url, accept=LINEITEM_CONTENT_TYPE).json()
        body = {**current, **changes}
        response = self._request(
            "PUT",
            url,
            json_body=body,
            content_type=LINEITEM_CONTENT_TYPE,
            accept=LINEITEM_CONTENT_TYPE,
        )
        return LineItem.from_json(response.json() if response.content else body)

    def delete_line_item(self, url: str) -> None:
        """DELETE a line item (and the platform's grades in it). A 404 counts as deleted."""
        self._require(Scope.AGS_LINEITEM)
        try:
            self._request("DELETE", url)
        except ServiceError as error:
            if error.status != 404:
                raise

    # --- scores and results -------------------------------------------------------------------

    def post_score(self, lineitem_url: str, score: dict[str, Any]) -> bool:
        """POST a score. True when the platform took it (200, 201, 202 or 204), False when it
        already had it: Moodle answers a score whose timestamp is not newer than the stored one
        with 409 (lti-notes §6), which for a re-send of the same state means "already there"."""
        self._require(Scope.AGS_SCORE)
        try:
            # The content type exactly, without "; charset=…": Moodle compares the whole header.
            self._request(
                "POST",
                service_url(lineitem_url, "scores"),
                json_body=score,
                content_type=SCORE_CONTENT_TYPE,
            )
        except ServiceError as error:
            if error.status == 409:
                return False
            raise
        return True

    def results(self, lineitem_url: str, *, user_id: str | None = None) -> list[dict[str, Any]]:
        """The platform's results of a line item, following every next page."""
        self._require(Scope.AGS_RESULT_READONLY)
        url = with_query(service_url(lineitem_url, "results"), user_id=user_id)
        return [r for r in self._pages(url, RESULT_CONTAINER_CONTENT_TYPE) if isinstance(r, dict)]
