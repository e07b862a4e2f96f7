"""A launch's role inside this tool.

The LTI roles of the launch decide (see :func:`lti_tool.vocab.tool_role_for`), unless the domain
registered a resolver that may raise a launch to Lotse: ILIAS can send instructors as learners
("always learner", lti-notes §3), so an admin grants the Lotse role per platform user."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Flask, current_app

from .vocab import ToolRole

if TYPE_CHECKING:
    from .models import Launch

RoleResolver = Callable[["Launch"], ToolRole]
_EXTENSION = "lti_role_resolver"


def set_role_resolver(app: Flask, resolver: RoleResolver) -> None:
    """Let ``resolver`` decide every launch's role in ``app``."""
    app.extensions[_EXTENSION] = resolver


def effective_role(launch: Launch) -> ToolRole:
    """The role this launch has in the tool now (a grant applies from the next request on)."""
    resolver: RoleResolver | None = current_app.extensions.get(_EXTENSION)
    if resolver is not None:
        return resolver(launch)
    return ToolRole(launch.role)
