"""Resource links of the demo course: the default one and those a Deep Linking response adds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, insert, select

from . import store

LINK_ID_PREFIX = "demo-link-"


@dataclass(frozen=True)
class ResourceLink:
    """A placement of the tool in the course."""

    pk: int
    title: str
    text: str | None = None
    url: str | None = None
    """The tool URL the content item named; launches send it as target_link_uri."""
    custom: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The LTI resource link id (``demo-link-<pk>``)."""
        return f"{LINK_ID_PREFIX}{self.pk}"


def parse_link_id(link_id: str | None) -> int | None:
    """The primary key inside a resource link id, or None if it is not one of ours."""
    if not link_id or not link_id.startswith(LINK_ID_PREFIX):
        return None
    number = link_id[len(LINK_ID_PREFIX) :]
    return int(number) if number.isdigit() else None


def _from_row(row: Any) -> ResourceLink:
    return ResourceLink(
        pk=row.pk, title=row.title, text=row.text, url=row.url, custom=dict(row.custom or {})
    )


def list_links(conn: Connection) -> list[ResourceLink]:
    """All resource links, oldest first (the course page order)."""
    rows = conn.execute(select(store.resource_link).order_by(store.resource_link.c.pk))
    return [_from_row(row) for row in rows]


def get_link(conn: Connection, link_id: str) -> ResourceLink | None:
    """The resource link with this LTI id, or None."""
    pk = parse_link_id(link_id)
    if pk is None:
        return None
    row = conn.execute(select(store.resource_link).where(store.resource_link.c.pk == pk)).first()
    return _from_row(row) if row else None


def create_link(
    conn: Connection,
    *,
    title: str,
    text: str | None = None,
    url: str | None = None,
    custom: dict[str, str] | None = None,
) -> ResourceLink:
    """Add a resource link to the course."""
    result = conn.execute(
        insert(store.resource_link).values(title=title, text=text, url=url, custom=custom or {})
    )
    pk = result.inserted_primary_key
    assert pk is not None
    return ResourceLink(pk=int(pk[0]), title=title, text=text, url=url, custom=dict(custom or {}))
