"""Service tokens and requests (lti_tool.services.http) against the token endpoints of Moodle
(mod/lti/token.php) and ILIAS (ltitoken.php) as the test platform plays them, and the faults
real platforms produce. Raw requests show the platform refuses what the real ones refuse, so
the protocol's passing is worth something."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest
import requests
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.keys import active_key
from lti_tool.models import Registration
from lti_tool.services.ags import service_url
from lti_tool.services.http import (
    CLIENT_ASSERTION_TYPE,
    access_token,
    client_assertion,
    service_request,
)
from lti_tool.services.platform import ServiceError
from tests.support.platform import GRADE_SYNC, ILIAS, MOODLE, Platform
from tests.support.platform.vocab import (
    LINEITEM_CONTAINER_TYPE,
    LINEITEM_TYPE,
    SCOPE_LINEITEM,
    SCOPE_NRPS,
    SCOPE_SCORE,
    SCORE_TYPE,
)
from tests.support.protocol_app import PlatformFactory


def registration() -> Registration:
    db.session.rollback()
    return db.session.scalars(select(Registration)).one()


def token_request(platform: Platform, assertion: str, scope: str = SCOPE_SCORE) -> Any:
    return requests.post(
        platform.auth_token_url,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": assertion,
            "scope": scope,
        },
        timeout=10,
    )


def signed(claims: dict[str, Any], kid: str | None = None) -> str:
    key = active_key()
    return jwt.encode(
        claims, key.private_key_pem, algorithm="RS256", headers={"kid": kid or key.kid}
    )


def claims_for(platform: Platform, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": platform.client_id,
        "sub": platform.client_id,
        "aud": platform.auth_token_url,
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    claims.update(changes)
    return claims


@pytest.mark.parametrize("flavour", [MOODLE, ILIAS])
def test_the_tools_assertion_gets_a_token_with_the_granted_scopes(
    make_platform: PlatformFactory, flavour: str
) -> None:
    platform = make_platform(flavour, grade_sync=GRADE_SYNC)
    token = access_token(registration(), [SCOPE_SCORE, SCOPE_LINEITEM, SCOPE_NRPS])
    [issued] = platform.tokens.values()
    if flavour == MOODLE:
        # Grade sync only: no …/scope/lineitem; NRPS on.
        assert issued.scopes == {SCOPE_SCORE, SCOPE_NRPS}
    else:
        # ILIAS grants every AGS scope asked for, never NRPS; its token is a JWT it signed.
        assert issued.scopes == {SCOPE_SCORE, SCOPE_LINEITEM}
        assert jwt.get_unverified_header(token)["kid"] == platform.keys.current.kid
    assert platform.jwks_fetches == 1  # the tool's key set, fetched for this request
    assert access_token(registration(), [SCOPE_SCORE, SCOPE_LINEITEM, SCOPE_NRPS]) == token
    assert platform.token_requests == 1  # cached by the tool


def test_moodle_refuses_assertions_as_token_php_does(make_platform: PlatformFactory) -> None:
    platform = make_platform(MOODLE)
    good = client_assertion(registration())
    assert token_request(platform, good).status_code == 200
    refusals = {
        "replayed jti": good,
        "other audience": signed(claims_for(platform, aud="https://elsewhere.example")),
        "expired": signed(claims_for(platform, exp=int(time.time()) - 10)),
        "unknown kid": signed(claims_for(platform), kid="unbekannt"),
        "other client": signed(claims_for(platform, sub="someone-else")),
    }
    for case, assertion in refusals.items():
        answer = token_request(platform, assertion)
        assert answer.status_code == 400, case
        assert answer.json()["error"] in ("invalid_client", "invalid_request"), case
    unsupported = requests.post(
        platform.auth_token_url,
        data={
            "grant_type": "password",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": signed(claims_for(platform)),
            "scope": SCOPE_SCORE,
        },
        timeout=10,
    )
    assert unsupported.json() == {"error": "unsupported_grant_type", "error_description": ""}
    no_scope = token_request(platform, signed(claims_for(platform)), scope="urn:x:unbekannt")
    assert no_scope.json()["error"] == "invalid_scope"
    as_json = requests.post(platform.auth_token_url, json={"grant_type": "x"}, timeout=10)
    assert as_json.status_code == 400  # token.php wants a form
    assert len(platform.tokens) == 1


def test_an_assertion_ilias_cannot_verify_is_a_500_and_fails_visibly(
    make_platform: PlatformFactory,
) -> None:
    platform = make_platform(ILIAS)
    answer = token_request(platform, signed(claims_for(platform), kid="unbekannt"))
    assert answer.status_code == 500
    assert answer.json()["error"] == "ERROR_OPEN_SSL_CONF"

    # The tool's published key set no longer holds its signing key (lti-notes §7).
    platform.tool_jwks_url = platform.url + "/Modules/LTIConsumer/lticerts.php"
    with pytest.raises(ServiceError) as refused:
        access_token(registration(), [SCOPE_SCORE])
    assert refused.value.status == 500
    assert "500" in refused.value.message
    assert platform.tokens == {}


def test_a_401_refreshes_the_token_once(make_platform: PlatformFactory) -> None:
    platform = make_platform(MOODLE)
    scopes = [SCOPE_LINEITEM]
    service_request(
        registration(), scopes, "GET", platform.lineitems_url, accept=LINEITEM_CONTAINER_TYPE
    )
    platform.fail_next(1, "401")  # every token issued so far expires
    answer = service_request(
        registration(), scopes, "GET", platform.lineitems_url, accept=LINEITEM_CONTAINER_TYPE
    )
    assert answer.status_code == 200
    assert platform.token_requests == 2
    assert platform.faults_served["401"] == 1


@pytest.mark.parametrize(
    ("fault", "status", "retryable"),
    [("500", 500, True), ("429", 429, True), ("timeout", None, True)],
)
def test_faults_become_service_errors(
    make_platform: PlatformFactory,
    protocol_app: Any,
    fault: str,
    status: int | None,
    retryable: bool,
) -> None:
    protocol_app.config["HTTP_TIMEOUT_SECONDS"] = 0.5
    platform = make_platform(MOODLE, retry_after=7, timeout_sleep=1.0)
    scopes = [SCOPE_LINEITEM]
    access_token(registration(), scopes)
    platform.fail_next(1, fault)
    with pytest.raises(ServiceError) as failed:
        service_request(
            registration(), scopes, "GET", platform.lineitems_url, accept=LINEITEM_CONTAINER_TYPE
        )
    assert failed.value.status == status
    assert failed.value.retryable is retryable
    if fault == "429":
        assert failed.value.retry_after == 7


def test_moodle_grade_sync_only_refuses_a_column_even_with_a_fresh_token(
    make_platform: PlatformFactory,
) -> None:
    platform = make_platform(MOODLE, grade_sync=GRADE_SYNC)
    with pytest.raises(ServiceError) as refused:
        service_request(
            registration(),
            [SCOPE_SCORE, SCOPE_LINEITEM],
            "POST",
            platform.lineitems_url,
            json_body={"label": "Neu", "scoreMaximum": 10},
            content_type=LINEITEM_TYPE,
        )
    assert refused.value.status == 401
    assert platform.token_requests == 2  # the 401 was answered with a new token, in vain
    assert platform.line_items == {}


@pytest.mark.parametrize(
    ("flavour", "charset_status"),
    [(MOODLE, 400), (ILIAS, 200)],
)
def test_the_score_content_type_is_compared_whole_by_moodle_only(
    make_platform: PlatformFactory, flavour: str, charset_status: int
) -> None:
    platform = make_platform(flavour)
    link = platform.add_link("Modul 1", graded=True)
    person = platform.person()
    assert platform.launch(requests.Session(), person, link=link).status_code == 200
    assert link.line_item_id is not None
    url = platform.lineitem_url(link.line_item_id)
    scores = service_url(url, "scores")
    token = access_token(registration(), [SCOPE_SCORE])
    body = {
        "userId": person.sub,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "scoreGiven": 1,
        "scoreMaximum": 2,
        "timestamp": "2026-12-03T10:00:00+00:00",
    }
    answer = requests.post(
        scores,
        json=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": SCORE_TYPE + "; charset=utf-8",
        },
        timeout=10,
    )
    assert answer.status_code == charset_status, answer.text
    # Appending /scores after Moodle's query puts it into type_id: no resource matches.
    if flavour == MOODLE:
        wrong = requests.post(
            url + "/scores",
            json=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": SCORE_TYPE},
            timeout=10,
        )
        assert wrong.status_code in (400, 401)
