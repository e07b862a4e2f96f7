"""Launch validation: pylti1p3's checks plus the gaps it leaves (lti-notes §1, §4).

Added to pylti1p3: ``aud`` must contain our client id and ``azp`` must name it when there are
several audiences; ``exp``/``iat`` are required and checked; only RS256; each nonce is consumed
once in the database; an unknown ``kid`` refetches the platform key set (rate-limited) before
failing; ``target_link_uri`` must point at this tool; every required claim is present.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import jwt
import requests
from flask import current_app
from jwcrypto.jwk import JWK
from pylti1p3.contrib.flask import FlaskMessageLaunch
from pylti1p3.exception import LtiException
from pylti1p3.oidc_login import OIDCException

from ..errors import LaunchError, from_pylti
from ..extensions import db
from ..models import Registration, utcnow
from ..urls import points_at_this_tool
from ..vocab import LTI_VERSION, Claim, MessageType
from .login import ToolCookieService, pylti_request
from .storage import DatabaseLaunchDataStorage
from .tool_conf import DatabaseToolConf

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = ["RS256"]
#: LTI 1.3 core caps sub, deployment, context and resource link ids at 255 characters.
MAX_ID_LENGTH = 255


class ToolMessageLaunch(FlaskMessageLaunch):
    """pylti1p3's message launch with the gaps closed. Raises :class:`LaunchError`."""

    def __init__(self) -> None:
        storage = DatabaseLaunchDataStorage()
        self._conf = DatabaseToolConf()
        super().__init__(
            pylti_request(),
            self._conf,
            cookie_service=ToolCookieService(pylti_request()),
            launch_data_storage=storage,
        )
        self._storage = storage
        self._stored_registration: Registration | None = None

    # -- order: the nonce is consumed only after the signature proved the token genuine.
    def validate(self) -> ToolMessageLaunch:
        self._validated = True
        try:
            # validate_claims is ours; pylti1p3's chain methods are typed as returning the base.
            (
                self.validate_state()  # type: ignore[attr-defined]
                .validate_jwt_format()
                .validate_registration()
                .validate_jwt_signature()
                .validate_nonce()
                .validate_claims()
                .validate_deployment()
                .validate_message()
            )
        except LaunchError:
            self._validated = False
            raise
        except (LtiException, OIDCException) as error:
            self._validated = False
            raise from_pylti(error) from error
        return self

    def validate_state(self) -> ToolMessageLaunch:
        # The state comes back in our own cookie. pylti1p3 would first look for a state it
        # marked valid in save_launch_data, which this tool never calls (a query for nothing).
        state = self._get_request_param("state")
        if not state:
            raise LaunchError("state", "state fehlt")
        if self._cookie_service.get_cookie(state) != state:
            raise LaunchError("state")
        return self

    def validate_jwt_format(self) -> ToolMessageLaunch:
        super().validate_jwt_format()
        # A JWT whose header or payload is JSON but not an object ("[1]") would fail later with
        # an AttributeError (500); it is simply not an id_token.
        if not isinstance(self._jwt.get("header"), dict) or not isinstance(
            self._jwt.get("body"), dict
        ):
            raise LaunchError("jwt_format", "Kopf oder Inhalt ist kein JSON-Objekt")
        return self

    def get_client_id(self) -> str:
        body = self._get_jwt_body()
        aud, azp = body.get("aud"), body.get("azp")
        if isinstance(aud, list):
            if not aud:
                raise LaunchError("audience", "aud ist leer")
            if len(aud) > 1 and not azp:
                # OIDC Core 3.1.3.7: several audiences require azp naming the client.
                raise LaunchError("audience", "mehrere aud ohne azp")
            client_id = azp or aud[0]
        elif isinstance(aud, str) and aud:
            client_id = azp or aud
        else:
            raise LaunchError("audience", "aud fehlt")
        if not isinstance(client_id, str):
            raise LaunchError("audience", "azp ist keine Zeichenkette")
        if azp and azp not in (aud if isinstance(aud, list) else [aud]):
            # azp names the party the token was issued to, which must be one of its audiences;
            # otherwise the token is not for us (and not a registration problem).
            raise LaunchError("audience", "azp steht nicht in aud")
        return client_id

    def validate_registration(self) -> ToolMessageLaunch:
        iss = self.get_iss()
        if not isinstance(iss, str):
            # Compared with a VARCHAR column, a number is an error on PostgreSQL (500).
            raise LaunchError("claims", "iss ist keine Zeichenkette")
        self._stored_registration = self._conf.find_stored_registration(iss, self.get_client_id())
        if self._stored_registration is None:
            raise LaunchError("registration", f"iss={iss} client_id={self.get_client_id()}")
        super().validate_registration()
        return self

    def get_public_key(self) -> tuple[str, str]:
        header = self._jwt.get("header", {})
        kid, alg = header.get("kid"), header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise LaunchError("algorithm", f"alg={alg!r}")
        if not kid:
            raise LaunchError("kid_missing")
        registration = self._stored_registration
        assert registration is not None
        key = _current_key(registration, kid)
        if key is None:
            raise LaunchError("kid_unknown", f"kid={kid}")
        try:
            pem = JWK.from_json(json.dumps(key)).export_to_pem()
        except (ValueError, TypeError) as error:
            raise LaunchError("kid_unknown", "Schlüssel nicht lesbar") from error
        return pem.decode() if isinstance(pem, bytes) else pem, "RS256"

    def validate_jwt_signature(self) -> ToolMessageLaunch:
        public_key, _ = self.get_public_key()
        leeway = current_app.config["JWT_LEEWAY_SECONDS"]
        try:
            jwt.decode(
                self._get_id_token(),
                public_key,
                algorithms=ALLOWED_ALGORITHMS,
                audience=self.get_client_id(),
                issuer=self.get_iss(),
                leeway=leeway,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise LaunchError("expired") from error
        except jwt.ImmatureSignatureError as error:
            raise LaunchError("not_yet_valid") from error
        except jwt.InvalidAudienceError as error:
            raise LaunchError("audience", str(error)) from error
        except jwt.InvalidIssuerError as error:
            raise LaunchError("registration", str(error)) from error
        except jwt.MissingRequiredClaimError as error:
            raise LaunchError("claims", str(error)) from error
        except jwt.InvalidAlgorithmError as error:
            raise LaunchError("algorithm", str(error)) from error
        except jwt.InvalidTokenError as error:
            raise LaunchError("signature", str(error)) from error
        iat = self._get_jwt_body().get("iat")
        if isinstance(iat, int | float) and iat > utcnow().timestamp() + leeway:
            raise LaunchError("not_yet_valid")
        return self

    def validate_nonce(self) -> ToolMessageLaunch:
        nonce = self._get_jwt_body().get("nonce")
        if not nonce or not isinstance(nonce, str):
            raise LaunchError("claims", "nonce fehlt")
        # The nonce was stored by our login; deleting it makes every id_token good for one launch.
        if not self._storage.consume(f"lti1p3-nonce-{nonce}"):
            raise LaunchError("nonce")
        return self

    def validate_claims(self) -> ToolMessageLaunch:
        body = self._get_jwt_body()
        message_type = body.get(Claim.MESSAGE_TYPE)
        if not message_type:
            raise LaunchError("message_type", "message_type fehlt")
        if message_type not in (MessageType.RESOURCE_LINK, MessageType.DEEP_LINKING):
            raise LaunchError("message_type", f"message_type={message_type!r}")
        version = body.get(Claim.VERSION)
        if version is None:
            raise LaunchError("version", "version fehlt")
        if version != LTI_VERSION:
            raise LaunchError("version", f"version={version!r}")
        if not body.get("sub") or not isinstance(body.get("sub"), str):
            raise LaunchError("claims", "sub fehlt")
        roles = body.get(Claim.ROLES)
        if roles is None:
            raise LaunchError("claims", "roles fehlt")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise LaunchError("claims", "roles ist keine Liste")
        deployment_id = body.get(Claim.DEPLOYMENT_ID)
        if not deployment_id:
            raise LaunchError("claims", "deployment_id fehlt")
        if not isinstance(deployment_id, str):
            # LTI 1.3 core 5.3.3: a string. A number matched "1" on SQLite and failed with a
            # type error (500) on PostgreSQL.
            raise LaunchError("claims", "deployment_id ist keine Zeichenkette")
        if message_type == MessageType.RESOURCE_LINK:
            link = body.get(Claim.RESOURCE_LINK)
            if not isinstance(link, dict) or not link.get("id"):
                raise LaunchError("claims", "resource_link.id fehlt")
        else:
            settings = body.get(Claim.DEEP_LINKING_SETTINGS)
            if not isinstance(settings, dict) or not settings.get("deep_link_return_url"):
                raise LaunchError("claims", "deep_linking_settings.deep_link_return_url fehlt")
        target = body.get(Claim.TARGET_LINK_URI)
        if not isinstance(target, str) or not points_at_this_tool(target):
            raise LaunchError("target_link_uri", "target_link_uri des Starts")
        context = body.get(Claim.CONTEXT)
        if context is not None and (not isinstance(context, dict) or not context.get("id")):
            raise LaunchError("claims", "context.id fehlt")
        # The spec caps these ids at 255 characters, as do our columns: a longer one failed with
        # a 500 on PostgreSQL (and was stored on SQLite).
        link = body.get(Claim.RESOURCE_LINK)
        ids = {
            "sub": body["sub"],
            "deployment_id": deployment_id,
            "context.id": str(context["id"]) if context else "",
            "resource_link.id": str(link.get("id") or "") if isinstance(link, dict) else "",
        }
        for name, value in ids.items():
            if len(value) > MAX_ID_LENGTH:
                raise LaunchError("claims", f"{name} länger als {MAX_ID_LENGTH} Zeichen")
        return self

    def save_launch_data(self) -> ToolMessageLaunch:
        # Launch data is stored as a Launch row (see lti_tool.sessions), not in pylti1p3's cache.
        return self

    @property
    def stored_registration(self) -> Registration:
        assert self._stored_registration is not None
        return self._stored_registration

    @property
    def body(self) -> dict[str, Any]:
        return dict(self._get_jwt_body())


def _find_key(key_set: dict[str, Any] | None, kid: str) -> dict[str, Any] | None:
    for key in (key_set or {}).get("keys", []):
        if isinstance(key, dict) and key.get("kid") == kid and key.get("alg", "RS256") == "RS256":
            return key
    return None


def _current_key(registration: Registration, kid: str) -> dict[str, Any] | None:
    """The platform key ``kid`` from the stored key set, refetched when the set has expired by
    its own cache headers, or when it lacks ``kid``: a platform that rotates its key (D2L
    hourly, the 1EdTech security framework expects it) must be followed at once, by the first
    launch with the new kid. Only a kid that is still unknown after a fetch is not looked up
    again within JWKS_REFETCH_INTERVAL, so made-up kids cannot make the tool hammer (or wait on)
    a platform. The key set is shared by every worker through the database."""
    now = utcnow()
    expired = registration.key_set_expires_at is not None and registration.key_set_expires_at <= now
    key = _find_key(registration.key_set, kid)
    if key is not None and not expired:
        return key
    interval = current_app.config["JWKS_REFETCH_INTERVAL"]
    misses = {
        k: t
        for k, t in (registration.key_set_misses or {}).items()
        if isinstance(t, int | float) and now.timestamp() - t < interval
    }
    if key is None and kid in misses:
        return None
    try:
        key_set, expires_at = _fetch_key_set(registration.key_set_url)
    except LaunchError:
        if key is not None:
            # The set is past its cache lifetime but the platform does not answer: the key it
            # published is still the best knowledge there is.
            return key
        misses[kid] = now.timestamp()
        registration.key_set_misses = _newest(misses)
        registration.key_set_fetched_at = now
        db.session.commit()
        raise
    registration.key_set = key_set
    registration.key_set_fetched_at = now
    registration.key_set_expires_at = expires_at
    key = _find_key(key_set, kid)
    if key is None:
        misses[kid] = now.timestamp()
    else:
        misses.pop(kid, None)
    registration.key_set_misses = _newest(misses) or None
    db.session.commit()
    return key


#: How many unknown kids are remembered per platform (the newest).
MAX_REMEMBERED_MISSES = 50


def _newest(misses: dict[str, float]) -> dict[str, float]:
    newest = sorted(misses.items(), key=lambda item: item[1], reverse=True)
    return dict(newest[:MAX_REMEMBERED_MISSES])


def _cache_expiry(response: requests.Response) -> datetime | None:
    """When the fetched key set goes stale by its HTTP cache headers (RFC 9111 §5.2.2.1
    ``max-age``, ``no-cache``/``no-store``, §5.3 ``Expires``), or None when it says nothing."""
    directives = [d.strip().lower() for d in response.headers.get("Cache-Control", "").split(",")]
    now = utcnow()
    if "no-store" in directives or "no-cache" in directives:
        return now
    for directive in directives:
        name, _, value = directive.partition("=")
        if name.strip() == "max-age":
            try:
                return now + timedelta(seconds=max(0, int(value.strip().strip('"'))))
            except ValueError:
                return None
    expires = response.headers.get("Expires")
    if expires:
        try:
            when = parsedate_to_datetime(expires)
        except (TypeError, ValueError):
            return now  # RFC 9111 §5.3: an invalid date means "already expired"
        return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return None


def _fetch_key_set(url: str) -> tuple[dict[str, Any], datetime | None]:
    try:
        response = requests.get(url, timeout=current_app.config["HTTP_TIMEOUT_SECONDS"])
        response.raise_for_status()
        key_set = response.json()
    except (requests.RequestException, ValueError) as error:
        log.warning("platform key set not fetched: url=%s error=%s", url, type(error).__name__)
        raise LaunchError("keyset_unreachable", url) from error
    if not isinstance(key_set, dict) or not isinstance(key_set.get("keys"), list):
        raise LaunchError("keyset_unreachable", f"{url} liefert kein JWKS")
    return key_set, _cache_expiry(response)


def validate_launch() -> ToolMessageLaunch:
    """Validate the launch POST of the current request."""
    message_launch = ToolMessageLaunch()
    message_launch.validate()
    return message_launch
