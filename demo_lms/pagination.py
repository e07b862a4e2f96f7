"""``limit``/``page`` paging with a ``Link: <…>; rel="next"`` header (AGS §3.2.5, NRPS §2.4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlencode

from flask import Response, request

from .course import base_url

T = TypeVar("T")


class PagingError(ValueError):
    """``limit`` or ``page`` is not a positive integer."""


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_url: str | None


def _positive(name: str) -> int | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if not value.isdigit() or int(value) < 1:
        raise PagingError(f"{name} muss eine positive ganze Zahl sein")
    return int(value)


def paginate(items: Sequence[T]) -> Page[T]:
    """The requested page of ``items``; without ``limit`` everything on one page."""
    limit = _positive("limit")
    if limit is None:
        return Page(list(items), None)
    page = _positive("page") or 1
    start = (page - 1) * limit
    chunk = list(items[start : start + limit])
    if start + limit >= len(items):
        return Page(chunk, None)
    # Keep every other parameter (type_id, filters); lower-case names and values only, because
    # pylti1p3 lower-cases the whole Link header before it reads the URL (lti-notes §1).
    args = [(key, value) for key, value in request.args.items(multi=True) if key != "page"]
    args.append(("page", str(page + 1)))
    return Page(chunk, f"{base_url()}{request.path}?{urlencode(args)}")


def add_link_header(response: Response, page: Page[T]) -> Response:
    if page.next_url:
        response.headers["Link"] = f'<{page.next_url}>; rel="next"'
    return response
