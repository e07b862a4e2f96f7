"""A person's role in this tool (Lotse or Navigator): from the LTI roles of the launch, raised to
Lotse by an admin's grant or, on a trusted deployment, by the custom parameter ``lotsen_rolle``.

ILIAS's "always learner" sends instructors as learners (lti-notes §3), so the Lotse role can be
granted per person (``flask courses lotse grant --platform NAME --sub SUB``) or for a deployment
the tool admin trusts (``flask courses lotse custom-role enable``). :func:`effective_role`
applies both; every Lotse guard and the roster use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from flask import has_request_context, request
from sqlalchemy import exists, literal, select

from courses.models import LotseGrant, LotseRoleDeployment, NavigatorMunicipality
from lti_tool.context import LaunchContext
from lti_tool.extensions import db
from lti_tool.models import Deployment, Registration
from lti_tool.vocab import role_local_name


class ToolRole(StrEnum):
    """The two roles inside this tool."""

    LOTSE = "lotse"
    NAVIGATOR = "navigator"


#: Local names of LIS roles (after the last '#' or '/') that make a user a Lotse. Everything else,
#: an unknown role or no role at all makes a Navigator.
LOTSE_ROLE_NAMES = frozenset(
    {"Instructor", "Administrator", "ContentDeveloper", "TeachingAssistant"}
)

#: Custom parameter that makes a launch a Lotse launch on a trusted deployment.
LOTSE_CUSTOM_PARAM = "lotsen_rolle"
LOTSE_CUSTOM_VALUE = "lotse"


def tool_role_for(lti_roles: Iterable[str]) -> ToolRole:
    """Map the LTI roles of a launch (or an NRPS member) to this tool's role."""
    if any(role_local_name(role) in LOTSE_ROLE_NAMES for role in lti_roles):
        return ToolRole.LOTSE
    return ToolRole.NAVIGATOR


@dataclass(frozen=True)
class RoleRules:
    """The Lotse grants of one registration: granted subs and trusted deployments."""

    granted_subs: frozenset[str]
    trusted_deployments: frozenset[int]


def rules_for(registration_pk: int) -> RoleRules:
    """The grants of a registration (two small queries; not cached, so a grant or revocation
    applies to the very next request)."""
    subs = db.session.scalars(
        select(LotseGrant.sub).where(LotseGrant.registration_pk == registration_pk)
    )
    deployments = db.session.scalars(
        select(LotseRoleDeployment.deployment_pk)
        .join(Deployment, Deployment.id == LotseRoleDeployment.deployment_pk)
        .where(Deployment.registration_pk == registration_pk)
    )
    return RoleRules(frozenset(subs), frozenset(deployments))


def role_of(
    lti_roles: Iterable[str],
    sub: str,
    custom: Mapping[str, Any] | None,
    deployment_pk: int | None,
    rules: RoleRules,
) -> ToolRole:
    """The role of one launch's facts under ``rules`` (see the module docstring)."""
    if tool_role_for(lti_roles) is ToolRole.LOTSE or sub in rules.granted_subs:
        return ToolRole.LOTSE
    value = (custom or {}).get(LOTSE_CUSTOM_PARAM)
    if (
        deployment_pk in rules.trusted_deployments
        and isinstance(value, str)
        and value.strip().lower() == LOTSE_CUSTOM_VALUE
    ):
        return ToolRole.LOTSE
    return ToolRole.NAVIGATOR


def effective_role(launch: LaunchContext) -> ToolRole:
    """The launch's role in this tool: its LTI roles, raised to Lotse by a grant for this
    (registration, sub) or by ``lotsen_rolle=lotse`` on a trusted deployment. Asks the database
    only when the LTI roles do not already make a Lotse, once per request (a grant or
    revocation applies to the very next request)."""
    if tool_role_for(launch.roles) is ToolRole.LOTSE:
        return ToolRole.LOTSE
    # Per request (the WSGI environ, not ``g``: tests run many requests in one app context).
    memo: dict[str, ToolRole] = (
        request.environ.setdefault("lotsen.tool_roles", {}) if has_request_context() else {}
    )
    if launch.id not in memo:
        granted = select(LotseGrant.sub).where(
            LotseGrant.registration_pk == launch.registration_pk,
            LotseGrant.sub == launch.user.sub,
        )
        trusted = select(LotseRoleDeployment.deployment_pk).where(
            LotseRoleDeployment.deployment_pk == launch.deployment_pk
        )
        # The same statement loads the Navigator's municipality into the session: the
        # Navigator pages ask for it next (municipalities.assignment_of finds it there).
        one = select(literal(1).label("one")).subquery()
        row = db.session.execute(
            select(exists(granted), exists(trusted), NavigatorMunicipality)
            .select_from(one)
            .outerjoin(NavigatorMunicipality, NavigatorMunicipality.user_pk == launch.user_pk)
        ).one()
        # The session holds loaded rows weakly: keep this one for the request.
        request_rows: list[object] = (
            request.environ.setdefault("lotsen.loaded_rows", []) if has_request_context() else []
        )
        request_rows.append(row[2])
        rules = RoleRules(
            frozenset({launch.user.sub}) if row[0] else frozenset(),
            frozenset({launch.deployment_pk}) if row[1] else frozenset(),
        )
        memo[launch.id] = role_of(
            launch.roles, launch.user.sub, launch.custom, launch.deployment_pk, rules
        )
    return memo[launch.id]


def is_lotse(launch: LaunchContext) -> bool:
    """Whether the launch acts as Lotse now."""
    return effective_role(launch) is ToolRole.LOTSE


# --- grants (CLI) --------------------------------------------------------------------------


def _grant_row(registration: Registration, sub: str) -> LotseGrant | None:
    return db.session.scalars(
        select(LotseGrant).where(
            LotseGrant.registration_pk == registration.id, LotseGrant.sub == sub
        )
    ).first()


def grant(registration: Registration, sub: str, note: str | None = None) -> tuple[LotseGrant, bool]:
    """Grant the Lotse role to (registration, sub); returns the row and whether it is new."""
    row = _grant_row(registration, sub)
    if row is not None:
        if note:
            row.note = note
        return row, False
    row = LotseGrant(registration_pk=registration.id, sub=sub, note=note)
    db.session.add(row)
    db.session.flush()
    return row, True


def revoke(registration: Registration, sub: str) -> bool:
    """Take a grant back; False if there was none."""
    row = _grant_row(registration, sub)
    if row is None:
        return False
    db.session.delete(row)
    db.session.flush()
    return True


def trust_deployment(deployment: Deployment) -> None:
    """Let ``lotsen_rolle=lotse`` make a Lotse on ``deployment``. Flushes."""
    if db.session.get(LotseRoleDeployment, deployment.id) is None:
        db.session.add(LotseRoleDeployment(deployment_pk=deployment.id))
        db.session.flush()


def distrust_deployment(deployment: Deployment) -> None:
    """Ignore ``lotsen_rolle`` on ``deployment`` again. Flushes."""
    row = db.session.get(LotseRoleDeployment, deployment.id)
    if row is not None:
        db.session.delete(row)
        db.session.flush()


def grants(
    registration: Registration | None = None,
) -> tuple[list[tuple[LotseGrant, Registration]], list[tuple[Deployment, Registration]]]:
    """Every grant and every trusted deployment (of one registration, if given), by platform."""
    query = select(LotseGrant, Registration).join(
        Registration, Registration.id == LotseGrant.registration_pk
    )
    deployments = (
        select(Deployment, Registration)
        .join(LotseRoleDeployment, LotseRoleDeployment.deployment_pk == Deployment.id)
        .join(Registration, Registration.id == Deployment.registration_pk)
    )
    if registration is not None:
        query = query.where(Registration.id == registration.id)
        deployments = deployments.where(Registration.id == registration.id)
    people = db.session.execute(query.order_by(Registration.name, LotseGrant.sub)).all()
    trusted = db.session.execute(deployments.order_by(Registration.name)).all()
    return [(g, r) for g, r in people], [(d, r) for d, r in trusted]
