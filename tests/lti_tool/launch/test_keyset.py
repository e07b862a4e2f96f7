"""The platform's key set: fetched when needed, refetched at once when a platform rotates its key
and when its cache lifetime ends, and not hammered by launches with made-up key ids."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import timedelta

from lti_tool.extensions import db
from lti_tool.models import Registration, utcnow
from tests.lti_tool.conftest import (
    CraftedPlatform,
    cached_key,
    launches,
    problem_detail,
    problem_title,
)
from tests.support.tokens import PlatformKey


def registration(platform: CraftedPlatform) -> Registration:
    db.session.rollback()
    return db.session.scalars(
        db.select(Registration).where(Registration.client_id == platform.client_id)
    ).one()


def forget_key_set(platform: CraftedPlatform) -> None:
    stored = registration(platform)
    stored.key_set, stored.key_set_fetched_at = None, None
    db.session.commit()


def test_known_kid_uses_the_stored_key_set_without_fetching(platform: CraftedPlatform) -> None:
    assert platform.launch().status_code == 303
    assert platform.jwks.hits == 0


def test_platform_key_rotation_is_followed_without_restart(platform: CraftedPlatform) -> None:
    k1, k2, k3 = cached_key("rot-1"), cached_key("rot-2"), cached_key("rot-3")
    platform.jwks.keys = [k1.jwk]
    forget_key_set(platform)

    first = platform.launch(with_key(k1))
    assert first.status_code == 303, problem_title(first)
    assert platform.jwks.hits == 1
    assert [k["kid"] for k in registration(platform).key_set["keys"]] == [k1.kid]

    # The platform rotates: its key set now holds k2 only, and it signs with k2.
    platform.jwks.keys = [k2.jwk]
    rotated = platform.launch(with_key(k2))
    assert rotated.status_code == 303, problem_title(rotated)
    assert platform.jwks.hits == 2
    assert [k["kid"] for k in registration(platform).key_set["keys"]] == [k2.kid]

    # The retired key and a key nobody published are refused.
    for stranger in (k1, k3):
        refused = platform.launch(with_key(stranger))
        assert refused.status_code == 400
        assert problem_title(refused) == "Unbekannter Schlüssel"
        assert stranger.kid in problem_detail(refused)
    assert launches() == 2


def with_key(key: PlatformKey) -> Callable[[CraftedPlatform, str], str]:
    return lambda p, nonce: p.sign(p.claims(nonce), key=key)


def test_a_rotation_right_after_a_fetch_is_followed_by_the_first_launch(
    platform: CraftedPlatform,
) -> None:
    # The platform rotates seconds after the tool fetched its key set: the first launch signed
    # with the new kid must pass, not wait out JWKS_REFETCH_INTERVAL (issue 10).
    platform.app.config["JWKS_REFETCH_INTERVAL"] = 60
    k1, k2 = cached_key("fresh-1"), cached_key("fresh-2")
    platform.jwks.keys = [k1.jwk]
    forget_key_set(platform)
    assert platform.launch(with_key(k1)).status_code == 303
    assert platform.jwks.hits == 1

    platform.jwks.keys = [k1.jwk, k2.jwk]
    rotated = platform.launch(with_key(k2))

    assert rotated.status_code == 303, problem_title(rotated)
    assert platform.jwks.hits == 2
    assert launches() == 2


def test_refetch_for_a_kid_still_unknown_after_a_fetch_is_rate_limited(
    platform: CraftedPlatform,
) -> None:
    platform.app.config["JWKS_REFETCH_INTERVAL"] = 60
    k2, stranger = cached_key("rate-2"), cached_key("rate-stranger")

    first = platform.launch(with_key(stranger))
    assert problem_title(first) == "Unbekannter Schlüssel"
    assert platform.jwks.hits == 1
    second = platform.launch(with_key(stranger))
    assert problem_title(second) == "Unbekannter Schlüssel"
    assert platform.jwks.hits == 1, "the same unknown kid within the interval fetched again"

    # A genuine rotation right after the stranger's attempt is looked up at once.
    platform.jwks.keys = [k2.jwk]
    accepted = platform.launch(with_key(k2))
    assert accepted.status_code == 303, problem_title(accepted)
    assert platform.jwks.hits == 2

    # Once the interval has passed, the stranger's kid is looked up again.
    stored = registration(platform)
    stored.key_set_misses = {stranger.kid: (utcnow() - timedelta(seconds=61)).timestamp()}
    db.session.commit()
    assert problem_title(platform.launch(with_key(stranger))) == "Unbekannter Schlüssel"
    assert platform.jwks.hits == 3
    assert launches() == 1


def test_the_key_set_is_refetched_when_its_cache_lifetime_ends(platform: CraftedPlatform) -> None:
    k1 = cached_key("cache-1")
    platform.jwks.keys = [k1.jwk]
    platform.jwks.headers = {"Cache-Control": "public, max-age=3600"}
    forget_key_set(platform)
    assert platform.launch(with_key(k1)).status_code == 303
    assert platform.launch(with_key(k1)).status_code == 303
    assert platform.jwks.hits == 1, "a fresh key set was fetched again"

    # The hour has passed: the next launch asks the platform first.
    stored = registration(platform)
    stored.key_set_expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert platform.launch(with_key(k1)).status_code == 303
    assert platform.jwks.hits == 2


def test_a_key_set_marked_no_store_is_asked_each_launch(platform: CraftedPlatform) -> None:
    k1 = cached_key("nostore-1")
    platform.jwks.keys = [k1.jwk]
    platform.jwks.headers = {"Cache-Control": "no-store"}
    forget_key_set(platform)
    for _ in range(2):
        assert platform.launch(with_key(k1)).status_code == 303
    assert platform.jwks.hits == 2


def test_an_expired_key_set_still_serves_when_the_platform_is_down(
    platform: CraftedPlatform,
) -> None:
    k1 = cached_key("stale-1")
    platform.jwks.keys = [k1.jwk]
    platform.jwks.headers = {"Expires": "Thu, 01 Jan 1970 00:00:00 GMT"}
    forget_key_set(platform)
    assert platform.launch(with_key(k1)).status_code == 303
    platform.jwks.status = 500

    stale = platform.launch(with_key(k1))

    assert stale.status_code == 303, problem_title(stale)
    assert platform.jwks.hits == 2


def test_unreachable_key_set_is_reported_as_such(platform: CraftedPlatform) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    stored = registration(platform)
    stored.key_set_url = f"http://127.0.0.1:{closed_port}/certs"
    stored.key_set, stored.key_set_fetched_at = None, None
    db.session.commit()

    response = platform.launch()

    assert response.status_code == 502
    assert problem_title(response) == "Schlüssel der Plattform nicht abrufbar"
    assert launches() == 0


def test_a_failing_key_set_is_not_asked_again_within_the_interval(
    platform: CraftedPlatform,
) -> None:
    # Otherwise every launch with a made-up kid makes the tool wait on a platform that is down.
    platform.app.config["JWKS_REFETCH_INTERVAL"] = 60
    stranger = cached_key("down-stranger")
    platform.jwks.status = 500

    first = platform.launch(with_key(stranger))
    assert first.status_code == 502
    assert problem_title(first) == "Schlüssel der Plattform nicht abrufbar"
    assert platform.jwks.hits == 1

    second = platform.launch(with_key(stranger))
    assert problem_title(second) == "Unbekannter Schlüssel"
    assert platform.jwks.hits == 1, "the key set was asked again within the interval"
    # The keys known before still work.
    assert platform.launch().status_code == 303
