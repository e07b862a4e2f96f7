"""This installation's own addresses: its public base URL, the launch URL, and whether an address
belongs to it."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request, url_for


def tool_base_url() -> str:
    """This installation's public address without trailing slash."""
    configured = current_app.config.get("PUBLIC_BASE_URL")
    return (configured or request.host_url).rstrip("/")


def launch_url() -> str:
    """The one redirect URI for resource links and deep linking."""
    return tool_base_url() + url_for("lti.launch")


def points_at_this_tool(uri: str | None) -> bool:
    """True when ``uri`` is an address of this installation."""
    if not uri:
        return False
    ours, theirs = urlsplit(tool_base_url()), urlsplit(uri)
    # Under our path as a whole segment: with the tool at /tool, /toolbox is someone else.
    base_path = ours.path.rstrip("/") + "/"
    return (
        theirs.scheme == ours.scheme
        and theirs.netloc.lower() == ours.netloc.lower()
        and ((theirs.path or "/").rstrip("/") + "/").startswith(base_path)
    )


def origin(url: str | None) -> str | None:
    """``https://lms.example:8443/path`` → ``https://lms.example:8443``; None if not http(s)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc.lower()}"
