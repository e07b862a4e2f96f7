"""pylti1p3's ``ToolConfAbstract`` over the registrations in the database."""

from __future__ import annotations

import functools
import json
from typing import Any

from jwcrypto.jwk import JWK
from pylti1p3.deployment import Deployment as PyltiDeployment
from pylti1p3.registration import Registration as PyltiRegistration
from pylti1p3.tool_config.abstract import ToolConfAbstract
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..keys import active_key
from ..models import Registration
from ..registrations import loaded_deployment


@functools.lru_cache(maxsize=16)
def _public_pem(kid: str, public_jwk_json: str) -> str:
    # The export costs ~1 ms; a key never changes under its kid (the thumbprint).
    return str(JWK.from_json(public_jwk_json).export_to_pem().decode())


def to_pylti_registration(
    registration: Registration, *, with_key: bool = True
) -> PyltiRegistration:
    """The pylti1p3 view of a stored registration; ``with_key``: signed with the tool's active
    key (pylti1p3's own service calls need it; login and launch validation do not)."""
    pylti = PyltiRegistration()
    pylti.set_issuer(registration.issuer)
    pylti.set_client_id(registration.client_id)
    pylti.set_auth_login_url(registration.auth_login_url)
    pylti.set_auth_token_url(registration.auth_token_url)
    pylti.set_key_set_url(registration.key_set_url)
    if registration.audience:
        pylti.set_auth_audience(registration.audience)
    if with_key:
        key = active_key()
        pylti.set_tool_private_key(key.private_key_pem)
        # pylti1p3 takes the client assertion's kid from the public key; without it the
        # assertion carries no kid and platforms that pick keys by kid (Moodle) refuse it.
        pylti.set_tool_public_key(_public_pem(key.kid, json.dumps(key.public_jwk, sort_keys=True)))
    return pylti


class DatabaseToolConf(ToolConfAbstract[Any]):
    """Every issuer may have several client ids: the lookup is always by (issuer, client id).

    pylti1p3 keeps the relation type in a class-level dict; this class answers the two checks
    itself so that nothing is shared between instances or processes. One instance serves one
    request: pylti1p3 asks for the same registration several times, the database once."""

    def __init__(self) -> None:
        super().__init__()
        self._found: dict[tuple[str, str | None], Registration | None] = {}

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_stored_registration(self, iss: str, client_id: str | None) -> Registration | None:
        """The registration for (iss, client_id) with its deployments; without a client id only
        an unambiguous one."""
        if (iss, client_id) in self._found:
            return self._found[(iss, client_id)]
        query = (
            select(Registration)
            .where(Registration.issuer == iss)
            .options(joinedload(Registration.deployments))
        )
        if client_id:
            found = (
                db.session.scalars(query.where(Registration.client_id == client_id))
                .unique()
                .first()
            )
        else:
            candidates = list(db.session.scalars(query.limit(2)).unique())
            found = candidates[0] if len(candidates) == 1 else None
        self._found[(iss, client_id)] = found
        if found is not None:
            self._found[(iss, found.client_id)] = found
        return found

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Any:
        stored = self.find_stored_registration(iss, None)
        return to_pylti_registration(stored, with_key=False) if stored else None

    def find_registration_by_params(
        self, iss: str, client_id: str, *args: Any, **kwargs: Any
    ) -> Any:
        stored = self.find_stored_registration(iss, client_id)
        return to_pylti_registration(stored, with_key=False) if stored else None

    def find_deployment(self, iss: str, deployment_id: str) -> PyltiDeployment | None:
        stored = self.find_stored_registration(iss, None)
        if stored is None:
            return None
        return self._deployment(stored, deployment_id)

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str, *args: Any, **kwargs: Any
    ) -> PyltiDeployment | None:
        stored = self.find_stored_registration(iss, client_id)
        if stored is None:
            return None
        return self._deployment(stored, deployment_id)

    @staticmethod
    def _deployment(registration: Registration, deployment_id: str) -> PyltiDeployment | None:
        found = loaded_deployment(registration, deployment_id)
        if found is None:
            return None
        return PyltiDeployment().set_deployment_id(found.deployment_id)
