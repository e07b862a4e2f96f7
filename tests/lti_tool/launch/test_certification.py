"""Every valid launch of the certification list (lti-notes §4), from a platform that behaves like
Moodle and like ILIAS, as learner and as instructor, lands on a working page of the protocol and
is recorded as the platform sent it; and a platform that rotates its key is followed by the very
next launch (issue 10)."""

from __future__ import annotations

import re

import jwt
import pytest
import requests
from flask import Flask
from sqlalchemy import func, select

from lti_tool.extensions import db
from lti_tool.models import Launch, Registration
from tests.support.platform import ILIAS, MOODLE, Platform
from tests.support.platform.variants import ROLES, VARIANTS, LaunchVariant
from tests.support.protocol_app import PlatformFactory


def title_of(page: requests.Response) -> str:
    found = re.search(r"<h1>(.*?)</h1>", page.text, re.S)
    return found.group(1).strip() if found else f"<kein h1: {page.status_code}>"


def stored_launch() -> Launch:
    db.session.rollback()
    return db.session.scalars(select(Launch)).one()


@pytest.mark.parametrize("flavour", [MOODLE, ILIAS])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_valid_launch_variant_lands_on_the_protocol_page(
    make_platform: PlatformFactory, flavour: str, role: str, variant: LaunchVariant
) -> None:
    platform = make_platform(flavour)
    person = platform.person("Erika", "Mustermann")
    sent_roles = variant.launch_kwargs(role)["roles"]

    page = platform.launch(requests.Session(), person, **variant.launch_kwargs(role))

    assert page.status_code == 200, (page.status_code, title_of(page), page.text[:500])
    assert page.url.split("?")[0].endswith("/lti/gestartet")
    assert title_of(page) == "Start angenommen"
    assert '<html lang="de">' in page.text
    claims = platform.last_claims
    assert claims is not None
    launch = stored_launch()
    # Recorded as sent: the roles claim (also when empty), the course only when there was one.
    assert sorted(launch.lti_roles) == sorted(sent_roles)
    if variant.with_course:
        assert launch.context is not None and launch.context.title == platform.course.title
        assert "Digital-Navigatoren Sachsen 2026" in page.text
    else:
        assert launch.context is None
        assert "ohne Kurs" in page.text
    user = launch.user
    assert user.sub == person.sub
    if variant.names is False:
        assert user.name is user.given_name is user.family_name is None
    elif variant.names is None and flavour == ILIAS:
        # ILIAS' withheld names arrive as "-": the tool keeps no such name.
        assert claims["name"] == "-" and user.name is None
    else:
        assert user.name == "Erika Mustermann"
    if variant.email is False:
        assert user.email is None
    elif variant.email is None and flavour == ILIAS:
        assert user.email == platform.ilias_pseudonym(person)
        assert user.email.endswith(".ilias")
    else:
        assert user.email == person.email
    link_title = launch.resource_link.title if launch.resource_link else None
    assert (link_title is None) == (variant.title is None)
    has_ags = variant.ags is not False and variant.with_course
    assert (launch.ags is not None) == has_ags
    has_nrps = flavour == MOODLE and variant.nrps is not False and variant.with_course
    assert (launch.context is not None and launch.context.nrps_url is not None) == has_nrps


@pytest.mark.parametrize("flavour", [MOODLE, ILIAS])
def test_the_first_launch_after_a_key_rotation_passes(
    make_platform: PlatformFactory, protocol_app: Flask, flavour: str
) -> None:
    # The production damping of refetches: only a kid still unknown after a fetch waits.
    protocol_app.config["JWKS_REFETCH_INTERVAL"] = 60
    platform: Platform = make_platform(flavour)
    session = requests.Session()
    person = platform.person()
    first = platform.launch(session, person)
    assert first.status_code == 200, title_of(first)
    assert platform.jwks_served == 1
    old_kid = kid_of_last_launch(platform)

    # Rotation right after the tool fetched the key set: the old key is gone from the JWKS.
    new_kid = platform.rotate_key()
    second = platform.launch(session, person)

    assert second.status_code == 200, (title_of(second), second.text[:400])
    assert kid_of_last_launch(platform) == new_kid != old_kid
    assert platform.jwks_served == 2  # one fetch for the new kid, at once
    db.session.rollback()
    registration = db.session.scalars(select(Registration)).one()
    assert registration.key_set is not None
    assert [k["kid"] for k in registration.key_set["keys"]] == [new_kid]
    assert db.session.scalar(select(func.count()).select_from(Launch)) == 2

    # A third launch with the same new key needs no fetch.
    assert platform.launch(session, person).status_code == 200
    assert platform.jwks_served == 2


def kid_of_last_launch(platform: Platform) -> str:
    assert platform.last_launch_form is not None
    token = platform.last_launch_form[1]["id_token"]
    return str(jwt.get_unverified_header(token)["kid"])
