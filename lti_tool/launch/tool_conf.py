"""pylti1p3's ``ToolConfAbstract`` over the registrations in the database."""

from __future__ import annotations

from typing import Any

from jwcrypto.jwk import JWK
from pylti1p3.deployment import Deployment as PyltiDeployment
from pylti1p3.registration import Registration as PyltiRegistration
from pylti1p3.tool_config.abstract import ToolConfAbstract
from sqlalchemy import select

from ..extensions import db
from ..keys import active_key
from ..models import Registration
from ..registrations import find_deployment


def to_pylti_registration(registration: Registration) -> PyltiRegistration:
    """The pylti1p3 view of a stored registration, signed with the tool's active key."""
    key = active_key()
    pylti = PyltiRegistration()
    pylti.set_issuer(registration.issuer)
    pylti.set_client_id(registration.client_id)
    pylti.set_auth_login_url(registration.auth_login_url)
    pylti.set_auth_token_url(registration.auth_token_url)
    pylti.set_key_set_url(registration.key_set_url)
    if registration.audience:
        pylti.set_auth_audience(registration.audience)
    pylti.set_tool_private_key(key.private_key_pem)
    # pylti1p3 takes the client assertion's kid from the public key; without it the assertion
    # carries no kid and platforms that pick keys by kid (Moodle's keyset URL) refuse it.
    pylti.set_tool_public_key(JWK(**key.public_jwk).export_to_pem().decode())
    return pylti


class DatabaseToolConf(ToolConfAbstract[Any]):
    """Every issuer may have several client ids: the lookup is always by (issuer, client id).

    pylti1p3 keeps the relation type in a class-level dict; this class answers the two checks
    itself so that nothing is shared between instances or processes."""

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_stored_registration(self, iss: str, client_id: str | None) -> Registration | None:
        """The registration for (iss, client_id); without a client id only an unambiguous one."""
        query = select(Registration).where(Registration.issuer == iss)
        if client_id:
            return db.session.scalars(query.where(Registration.client_id == client_id)).first()
        candidates = list(db.session.scalars(query.limit(2)))
        return candidates[0] if len(candidates) == 1 else None

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Any:
        stored = self.find_stored_registration(iss, None)
        return to_pylti_registration(stored) if stored else None

    def find_registration_by_params(
        self, iss: str, client_id: str, *args: Any, **kwargs: Any
    ) -> Any:
        stored = self.find_stored_registration(iss, client_id)
        return to_pylti_registration(stored) if stored else None

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
        found = find_deployment(registration, deployment_id)
        if found is None:
            return None
        return PyltiDeployment().set_deployment_id(found.deployment_id)
