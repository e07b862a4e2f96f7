"""The 1EdTech certification matrix for a tool (lti-notes §4) and the attacks worth adding: every
known-bad launch is refused with its German problem page and leaves no trace; every valid variant
is accepted for instructors and learners alike."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from jwt import api_jws
from sqlalchemy import select

from courses.services.roles import tool_role_for
from lti_tool.extensions import db
from lti_tool.models import Launch, LtiContext, LtiUser
from lti_tool.registrations import add_platform
from lti_tool.vocab import Claim
from tests.lti_tool.conftest import (
    DROP,
    CraftedPlatform,
    cached_key,
    count,
    launches,
    loaded,
    problem_detail,
    problem_title,
)
from tests.support.tokens import INSTRUCTOR, LEARNER

Builder = Callable[[CraftedPlatform, str], str]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], body: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    """A JWT built without a library: base64url(header).base64url(body).base64url(signature)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(body).encode())}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def signed(**overrides: Any) -> Builder:
    """A token signed with the platform's key, claims changed by ``overrides``."""
    return lambda p, nonce: p.sign(p.claims(nonce, **overrides))


def signed_raw(change: Callable[[dict[str, Any]], Any]) -> Builder:
    """Signed correctly, with a payload PyJWT itself would refuse to build (``change`` edits it)."""

    def build(p: CraftedPlatform, nonce: str) -> str:
        body: Any = p.claims(nonce)
        body = change(body) or body
        return api_jws.encode(
            json.dumps(body).encode(),
            loaded(p.key),
            algorithm="RS256",
            headers={"kid": p.key.kid},
        )

    return build


def without_kid(p: CraftedPlatform, nonce: str) -> str:
    return jwt.encode(p.claims(nonce), loaded(p.key), algorithm="RS256")


def unknown_kid(p: CraftedPlatform, nonce: str) -> str:
    return p.sign(p.claims(nonce), key=cached_key("nobody-published-this"))


def without_lti_claims(p: CraftedPlatform, nonce: str) -> str:
    body = p.claims(nonce)
    return p.sign({k: v for k, v in body.items() if not k.startswith("https://")})


def without_nonce(p: CraftedPlatform, nonce: str) -> str:
    return p.sign({k: v for k, v in p.claims(nonce).items() if k != "nonce"})


def alg_none(p: CraftedPlatform, nonce: str) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": p.key.kid}
    return hand_made(header, p.claims(nonce), lambda _: b"")


def hs256_with_public_key(p: CraftedPlatform, nonce: str) -> str:
    # The classic key confusion: the public key PEM, known to everyone, as the HMAC secret.
    secret = p.key.public_pem.encode()
    return hand_made(
        {"alg": "HS256", "typ": "JWT", "kid": p.key.kid},
        p.claims(nonce, roles=[INSTRUCTOR]),
        lambda data: hmac.new(secret, data, hashlib.sha256).digest(),
    )


def tampered(p: CraftedPlatform, nonce: str) -> str:
    header, _, signature = p.sign(p.claims(nonce, roles=[LEARNER])).split(".")
    escalated = p.claims(nonce, roles=[INSTRUCTOR])
    return f"{header}.{b64url(json.dumps(escalated).encode())}.{signature}"


def now() -> int:
    return int(time.time())


# (builder, expected <h1>, a word of the technical detail or None)
BAD_LAUNCHES = [
    pytest.param(without_kid, "Schlüsselkennung fehlt", None, id="no-kid"),
    pytest.param(unknown_kid, "Unbekannter Schlüssel", "kid=", id="unknown-kid"),
    pytest.param(
        signed(**{Claim.VERSION: "1.1.0"}), "Falsche LTI-Version", "1.1.0", id="wrong-version"
    ),
    pytest.param(
        signed(**{Claim.VERSION: DROP}), "Falsche LTI-Version", "version fehlt", id="no-version"
    ),
    pytest.param(
        signed(**{Claim.MESSAGE_TYPE: "LtiStartProctoring"}),
        "Nachrichtentyp nicht unterstützt",
        "LtiStartProctoring",
        id="invalid-message-type",
    ),
    pytest.param(
        without_lti_claims,
        "Nachrichtentyp nicht unterstützt",
        "message_type fehlt",
        id="missing-lti-claims",
    ),
    pytest.param(
        signed(iat=now() - 900, exp=now() - 600), "Start-Token abgelaufen", None, id="expired"
    ),
    pytest.param(
        signed(iat=now() + 900, exp=now() + 1200),
        "Start-Token aus der Zukunft",
        None,
        id="iat-in-future",
    ),
    pytest.param(
        signed(**{Claim.MESSAGE_TYPE: DROP}),
        "Nachrichtentyp nicht unterstützt",
        "message_type fehlt",
        id="message-type-missing",
    ),
    pytest.param(
        signed(**{Claim.ROLES: DROP}), "Pflichtangabe fehlt", "roles fehlt", id="roles-missing"
    ),
    pytest.param(
        signed(**{Claim.DEPLOYMENT_ID: DROP}),
        "Pflichtangabe fehlt",
        "deployment_id fehlt",
        id="deployment-id-missing",
    ),
    pytest.param(
        signed(**{Claim.RESOURCE_LINK: {"title": "ohne id"}}),
        "Pflichtangabe fehlt",
        "resource_link.id fehlt",
        id="resource-link-id-missing",
    ),
    pytest.param(signed(sub=DROP), "Pflichtangabe fehlt", "sub fehlt", id="sub-missing"),
    pytest.param(signed(iss=DROP), "Pflichtangabe fehlt", "iss", id="iss-missing"),
    pytest.param(signed(aud=DROP), "Falscher Empfänger", "aud fehlt", id="aud-missing"),
    pytest.param(without_nonce, "Pflichtangabe fehlt", "nonce fehlt", id="nonce-missing"),
    pytest.param(signed(exp=DROP), "Pflichtangabe fehlt", "exp", id="exp-missing"),
    pytest.param(signed(iat=DROP), "Pflichtangabe fehlt", "iat", id="iat-missing"),
    pytest.param(alg_none, "Unzulässiges Signaturverfahren", "none", id="alg-none"),
    pytest.param(
        hs256_with_public_key, "Unzulässiges Signaturverfahren", "HS256", id="hs256-public-key"
    ),
    pytest.param(tampered, "Signatur ungültig", None, id="tampered-payload"),
    pytest.param(
        signed(aud="someone-else"), "Plattform nicht registriert", "someone-else", id="wrong-aud"
    ),
    pytest.param(
        signed(aud=["moodle-client-1", "other-tool"]),
        "Falscher Empfänger",
        "azp",
        id="multi-aud-without-azp",
    ),
    pytest.param(signed(azp="other-tool"), "Falscher Empfänger", "azp", id="azp-not-our-client-id"),
    pytest.param(
        signed(aud=["moodle-client-1", "other-tool"], azp="other-tool"),
        "Plattform nicht registriert",
        "other-tool",
        id="azp-names-another-client",
    ),
    pytest.param(
        signed(aud="ilias-client-9"),
        "Plattform nicht registriert",
        "ilias-client-9",
        id="issuer-client-mismatch",
    ),
    pytest.param(
        signed(**{Claim.DEPLOYMENT_ID: "999"}),
        "Deployment nicht registriert",
        None,
        id="unknown-deployment",
    ),
    pytest.param(
        signed(**{Claim.TARGET_LINK_URI: "https://evil.example/lti/launch"}),
        "Ziel-Adresse gehört nicht zu diesem Werkzeug",
        None,
        id="target-link-uri-elsewhere",
    ),
    # Malformed values that used to pass on SQLite and end in a 500 on PostgreSQL (or on both);
    # they run on both backends below.
]

MALFORMED_LAUNCHES = [
    pytest.param(
        signed(**{Claim.DEPLOYMENT_ID: 1}),
        "Pflichtangabe fehlt",
        "deployment_id ist keine",
        id="deployment-id-number",
    ),
    pytest.param(
        signed_raw(lambda body: body.update(iss=123)),
        "Pflichtangabe fehlt",
        "iss ist keine",
        id="iss-number",
    ),
    pytest.param(
        signed_raw(lambda body: [body]),
        "Ungültiges Start-Token",
        "kein JSON-Objekt",
        id="payload-not-an-object",
    ),
    pytest.param(signed(sub="s" * 256), "Pflichtangabe fehlt", "sub länger", id="sub-too-long"),
    pytest.param(
        signed(context_id="c" * 256),
        "Pflichtangabe fehlt",
        "context.id länger",
        id="context-id-too-long",
    ),
]


def assert_refused(response: Any, title: str, detail: str | None) -> None:
    assert response.status_code == 400, (response.status_code, problem_title(response))
    assert problem_title(response) == title
    if detail is not None:
        assert detail in problem_detail(response)
    assert "Location" not in response.headers


@pytest.mark.parametrize(("build", "title", "detail"), BAD_LAUNCHES)
def test_known_bad_launch_is_refused_without_a_trace(
    platform: CraftedPlatform, build: Builder, title: str, detail: str | None
) -> None:
    # A second registration of another issuer, so that a client id exists that is not ours.
    add_platform(
        {
            "name": "ILIAS Test",
            "issuer": "https://ilias.example",
            "client_id": "ilias-client-9",
            "auth_login_url": "https://ilias.example/auth",
            "auth_token_url": "https://ilias.example/token",
            "key_set_url": "https://ilias.example/certs",
            "deployments": ["1"],
        }
    )
    db.session.commit()

    response = platform.launch(build)

    assert_refused(response, title, detail)
    assert launches() == 0
    assert count(LtiUser) == 0


@pytest.mark.parametrize(("build", "title", "detail"), MALFORMED_LAUNCHES)
def test_malformed_launch_is_refused_on_every_backend(
    db_platform: CraftedPlatform, build: Builder, title: str, detail: str | None
) -> None:
    response = db_platform.launch(build)

    assert_refused(response, title, detail)
    assert launches() == 0


def test_unknown_kid_refetches_the_key_set_once(platform: CraftedPlatform) -> None:
    before = platform.jwks.hits
    assert_refused(platform.launch(unknown_kid), "Unbekannter Schlüssel", None)
    assert platform.jwks.hits == before + 1


def test_replayed_id_token_is_refused(db_platform: CraftedPlatform) -> None:
    login = db_platform.login()
    token = db_platform.sign(db_platform.claims(login.nonce))

    first = db_platform.post_launch(login.state, token)
    second = db_platform.post_launch(login.state, token)

    assert first.status_code == 303
    assert_refused(second, "Start bereits verwendet", None)
    assert launches() == 1


def test_id_token_with_a_nonce_the_tool_never_issued_is_refused(
    db_platform: CraftedPlatform,
) -> None:
    login = db_platform.login()
    token = db_platform.sign(db_platform.claims("nonce-made-up-by-an-attacker"))

    assert_refused(db_platform.post_launch(login.state, token), "Start bereits verwendet", None)
    assert launches() == 0


def test_launch_without_state_is_refused(platform: CraftedPlatform) -> None:
    login = platform.login()
    token = platform.sign(platform.claims(login.nonce))

    assert_refused(platform.post_launch(None, token), "Sitzung nicht zuzuordnen", None)
    assert launches() == 0


def test_launch_with_forged_state_and_no_cookie_is_refused(platform: CraftedPlatform) -> None:
    login = platform.login()
    token = platform.sign(platform.claims(login.nonce))
    other_browser = platform.app.test_client()

    response = platform.post_launch(login.state, token, client=other_browser)

    assert_refused(response, "Sitzung nicht zuzuordnen", None)
    assert launches() == 0
    # The refused attempt did not burn the nonce: the real browser still gets in.
    assert platform.post_launch(login.state, token).status_code == 303


def test_launch_without_id_token_is_refused(platform: CraftedPlatform) -> None:
    login = platform.login()
    response = platform.client.post("/lti/launch", data={"state": login.state})
    assert_refused(response, "Ungültiges Start-Token", None)


# -- valid launches ---------------------------------------------------------------------------

PERSONS = {
    "instructor": ([INSTRUCTOR], "lotse", "Digital-Lotse/-Lotsin"),
    "learner": ([LEARNER], "navigator", "Digital-Navigator/in"),
}
SHORT = {"instructor": "Instructor", "learner": "Learner"}
EXTRA_ROLE = {
    "instructor": "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty",
    "learner": "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student",
}
COURSE = "Digital-Navigatoren 2026"
NO_COURSE = "kein Kurs übermittelt"


def variant_claims(variant: str, person: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Claim overrides of a variant, and what the landing page and the user row must show."""
    roles = PERSONS[person][0]
    if variant == "plain":
        return {"roles": roles, "name": "Erika Mustermann", "email": "erika@example.org"}, {
            "name": "Erika Mustermann",
            "email": "erika@example.org",
            "course": COURSE,
        }
    if variant == "several-roles":
        return {"roles": [*roles, EXTRA_ROLE[person]], "name": "Erika Mustermann"}, {
            "name": "Erika Mustermann",
            "course": COURSE,
        }
    if variant == "short-role-names":
        return {"roles": [SHORT[person]]}, {"name": "anonym", "course": COURSE}
    if variant == "email-only":
        return {"roles": roles, "email": "e.m@example.org"}, {
            "name": "anonym",
            "email": "e.m@example.org",
            "course": COURSE,
        }
    if variant == "names-only":
        return {"roles": roles, "given_name": "Erika", "family_name": "Mustermann"}, {
            "name": "Erika Mustermann",
            "email": None,
            "course": COURSE,
        }
    if variant == "no-personal-data":
        return {"roles": roles}, {"name": "anonym", "email": None, "course": COURSE}
    if variant == "email-without-context":
        return {"roles": roles, "email": "e.m@example.org", "context_id": None}, {
            "name": "anonym",
            "email": "e.m@example.org",
            "course": NO_COURSE,
        }
    if variant == "multi-aud-with-azp":
        audiences = ["other-tool", "moodle-client-1"]
        return {"roles": roles, "aud": audiences, "azp": "moodle-client-1"}, {
            "name": "anonym",
            "course": COURSE,
        }
    if variant == "ilias-dash-names":
        return {
            "roles": roles,
            "name": "-",
            "given_name": "-",
            "family_name": "-",
            "email": "a81f2@6bd4e1c0-1d2e-4f5a-9b8c-7d6e5f4a3b2c.ilias",
        }, {"name": "anonym", "course": COURSE}
    raise AssertionError(variant)


VARIANTS = [
    "plain",
    "several-roles",
    "short-role-names",
    "email-only",
    "names-only",
    "no-personal-data",
    "email-without-context",
    "multi-aud-with-azp",
    "ilias-dash-names",
]


def landing_fact(page: str, label: str) -> str:
    found = re.search(rf"<dt>{label}</dt>\s*<dd>(.*?)</dd>", page, re.S)
    assert found, f"{label} fehlt auf der Startseite"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def accept(platform: CraftedPlatform, **overrides: Any) -> tuple[Launch, str]:
    response = platform.launch(**overrides)
    assert response.status_code == 303, (problem_title(response), problem_detail(response))
    assert response.headers["Location"].startswith("/start?lt=")
    page = platform.client.get(response.headers["Location"])
    assert page.status_code == 200
    db.session.rollback()
    launch = db.session.scalars(select(Launch)).one()
    return launch, page.text


@pytest.mark.parametrize("person", ["instructor", "learner"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_valid_variant_is_accepted(platform: CraftedPlatform, variant: str, person: str) -> None:
    overrides, shown = variant_claims(variant, person)
    _, role, role_label = PERSONS[person]

    launch, page = accept(platform, **overrides)

    assert tool_role_for(launch.lti_roles) == role
    assert launch.lti_roles == overrides["roles"]
    assert landing_fact(page, "Rolle") == role_label
    assert landing_fact(page, "Name") == shown["name"]
    assert landing_fact(page, "Kurs") == shown["course"]
    assert landing_fact(page, "Plattform") == platform.name
    if "email" in shown:
        assert launch.user.email == shown["email"]
    if shown["course"] == NO_COURSE:
        assert launch.context is None and count(LtiContext) == 0
    else:
        assert launch.context is not None and launch.context.title == COURSE


@pytest.mark.parametrize(
    ("roles", "role", "role_label"),
    [
        pytest.param(
            ["http://example.org/roles#Zauberlehrling"],
            "navigator",
            "Digital-Navigator/in",
            id="unknown-role",
        ),
        pytest.param([], "navigator", "Digital-Navigator/in", id="no-role-at-all"),
        pytest.param(
            ["http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"],
            "lotse",
            "Digital-Lotse/-Lotsin",
            id="teaching-assistant",
        ),
        pytest.param(["Instructor"], "lotse", "Digital-Lotse/-Lotsin", id="short-instructor"),
    ],
)
def test_role_mapping(
    platform: CraftedPlatform, roles: list[str], role: str, role_label: str
) -> None:
    launch, page = accept(platform, roles=roles)

    assert tool_role_for(launch.lti_roles) == role
    assert landing_fact(page, "Rolle") == role_label


def test_withheld_data_replaces_what_was_shared_before(platform: CraftedPlatform) -> None:
    accept(platform, name="Erika Mustermann", email="erika@example.org")
    db.session.execute(db.delete(Launch))
    db.session.commit()

    launch, page = accept(platform)

    assert landing_fact(page, "Name") == "anonym"
    assert launch.user.email is None
    assert count(LtiUser) == 1


def test_over_long_names_and_titles_are_shortened(db_platform: CraftedPlatform) -> None:
    long_title = "Kurs " + "x" * 400
    launch, page = accept(
        db_platform,
        name="N" * 300,
        email="e" * 300 + "@example.org",
        **{
            Claim.CONTEXT: {"id": "course-1", "title": long_title},
            Claim.LAUNCH_PRESENTATION: {"return_url": "https://moodle.example/" + "r" * 2000},
        },
    )
    assert launch.user.name == "N" * 255
    assert launch.user.email is None
    assert launch.context.title == long_title[:255]
    assert launch.return_url is None
    assert landing_fact(page, "Kurs") == long_title[:255]
