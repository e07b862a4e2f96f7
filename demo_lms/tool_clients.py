"""The tool as the demo platform knows it: one client per registration. The fixed client of
``demo-lms setup`` (manual registration) and every client LTI Dynamic Registration added."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from lti_tool.extensions import db
from lti_tool.models import Registration

from . import store
from .course import CLIENT_ID, DEPLOYMENT_ID, ToolEndpoints, issuer, tool_endpoints


@dataclass(frozen=True)
class ToolClient:
    """A registration of the tool in the demo: whom id_tokens are for, and where they go."""

    client_id: str
    deployment_id: str
    endpoints: ToolEndpoints
    redirect_uris: tuple[str, ...]
    """Compared exactly, as Moodle and ILIAS do."""
    dynamic: bool


def manual_client() -> ToolClient:
    """The client ``demo-lms setup`` registers in the tool: the tool at this installation."""
    endpoints = tool_endpoints()
    return ToolClient(CLIENT_ID, DEPLOYMENT_ID, endpoints, endpoints.redirect_uris, dynamic=False)


def _from_row(row: Any) -> ToolClient:
    return ToolClient(
        client_id=row.client_id,
        deployment_id=row.deployment_id,
        endpoints=ToolEndpoints(row.login_url, row.target_link_uri, row.jwks_url),
        redirect_uris=tuple(row.redirect_uris),
        dynamic=True,
    )


def dynamic_clients(conn: Connection) -> list[ToolClient]:
    """Clients added by Dynamic Registration, newest first."""
    rows = conn.execute(select(store.tool_client).order_by(store.tool_client.c.created_at.desc()))
    return [_from_row(row) for row in rows]


def find_client(conn: Connection, client_id: str | None) -> ToolClient | None:
    """The client with this id, or None."""
    if not client_id:
        return None
    if client_id == CLIENT_ID:
        return manual_client()
    row = conn.execute(
        select(store.tool_client).where(store.tool_client.c.client_id == client_id)
    ).first()
    return _from_row(row) if row is not None else None


def registered_in_tool(client: ToolClient) -> bool:
    """Whether the tool knows this issuer and client id; if not, every launch is refused. (The
    demo shares the tool's installation, so it can look; a real LMS cannot.)"""
    found = db.session.scalars(
        select(Registration.id).where(
            Registration.issuer == issuer(), Registration.client_id == client.client_id
        )
    ).first()
    return found is not None


def launch_client(conn: Connection) -> ToolClient:
    """The client the course's launch buttons use: the newest dynamic registration the tool
    knows, else the manual one."""
    for client in dynamic_clients(conn):
        if registered_in_tool(client):
            return client
    return manual_client()
