"""``flask lti …``: registrations with presets, deployments, keys, the values for the LMS form.
Every refused command says why and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from lti_tool.extensions import db
from lti_tool.keys import active_key, public_jwks
from lti_tool.models import Deployment, Launch, LtiContext, LtiUser, Registration, ToolKey, utcnow
from tests.lti_tool.conftest import CraftedPlatform

MOODLE = [
    "--name",
    "Moodle HSF",
    "--client-id",
    "Xy7kQ2pL9mN4vB1",
    "--deployment",
    "1",
    "--preset",
    "moodle",
    "--base-url",
    "https://moodle.example/",
]
EXPLICIT = [
    "--name",
    "Plattform X",
    "--issuer",
    "https://lms.example",
    "--client-id",
    "cid-1",
    "--auth-login-url",
    "https://lms.example/auth",
    "--auth-token-url",
    "https://lms.example/token",
    "--key-set-url",
    "https://lms.example/jwks",
    "--deployment",
    "7",
    "--deployment",
    "8",
]


@pytest.fixture
def cli(sqlite_app: Flask) -> FlaskCliRunner:
    """The CLI on SQLite (the subject here is the command, not the database)."""
    return sqlite_app.test_cli_runner()


def lti(runner: FlaskCliRunner, *args: str, input: str | None = None) -> Result:
    result = runner.invoke(args=["lti", *args], input=input)
    db.session.rollback()  # read what the command committed, nothing else
    return result


def rows(model: type) -> int:
    db.session.rollback()
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def stored(name: str) -> Registration:
    db.session.rollback()
    return db.session.scalars(select(Registration).where(Registration.name == name)).one()


# -- platform add -----------------------------------------------------------------------------


def test_platform_add_with_explicit_urls(cli: FlaskCliRunner) -> None:
    result = lti(cli, "platform", "add", *EXPLICIT)

    assert result.exit_code == 0, result.output
    assert "Plattform 'Plattform X' registriert" in result.output
    registration = stored("Plattform X")
    assert (registration.issuer, registration.client_id) == ("https://lms.example", "cid-1")
    assert registration.auth_login_url == "https://lms.example/auth"
    assert registration.auth_token_url == "https://lms.example/token"
    assert registration.key_set_url == "https://lms.example/jwks"
    assert [d.deployment_id for d in registration.deployments] == ["7", "8"]
    assert registration.product_family is None


def test_platform_add_with_moodle_preset(cli: FlaskCliRunner) -> None:
    result = lti(cli, "platform", "add", *MOODLE)

    assert result.exit_code == 0, result.output
    registration = stored("Moodle HSF")
    # Moodle's issuer is its wwwroot without trailing slash (lti-notes §2).
    assert registration.issuer == "https://moodle.example"
    assert registration.auth_login_url == "https://moodle.example/mod/lti/auth.php"
    assert registration.auth_token_url == "https://moodle.example/mod/lti/token.php"
    assert registration.key_set_url == "https://moodle.example/mod/lti/certs.php"
    assert registration.product_family == "moodle"


def test_platform_add_with_ilias_preset(cli: FlaskCliRunner) -> None:
    result = lti(
        cli,
        "platform",
        "add",
        "--name",
        "ILIAS",
        "--client-id",
        "c-ilias",
        "--deployment",
        "3",
        "--preset",
        "ilias",
        "--base-url",
        "https://ilias.example/ilias/",
    )

    assert result.exit_code == 0, result.output
    registration = stored("ILIAS")
    assert registration.issuer == "https://ilias.example/ilias"
    base = "https://ilias.example/ilias/Modules/LTIConsumer/"
    assert registration.auth_login_url == base + "ltiauth.php"
    assert registration.auth_token_url == base + "ltitoken.php"
    assert registration.key_set_url == base + "lticerts.php"
    assert registration.product_family == "ilias"


def test_explicit_url_overrides_the_preset(cli: FlaskCliRunner) -> None:
    result = lti(cli, "platform", "add", *MOODLE, "--key-set-url", "https://keys.example/jwks")

    assert result.exit_code == 0, result.output
    registration = stored("Moodle HSF")
    assert registration.key_set_url == "https://keys.example/jwks"
    assert registration.auth_login_url == "https://moodle.example/mod/lti/auth.php"


def replace(args: list[str], option: str, value: str) -> list[str]:
    changed = list(args)
    changed[changed.index(option) + 1] = value
    return changed


def without(args: list[str], *options: str) -> list[str]:
    changed = list(args)
    for option in options:
        i = changed.index(option)
        del changed[i : i + 2]
    return changed


BAD_ADDS = [
    pytest.param(
        replace(EXPLICIT, "--auth-login-url", "keine-adresse"),
        "--auth-login-url: Keine gültige http(s)-Adresse: 'keine-adresse'",
        id="not-a-url",
    ),
    pytest.param(
        replace(EXPLICIT, "--issuer", "lms.example"),
        "--issuer: Der Issuer muss eine http(s)-Adresse sein",
        id="issuer-not-a-url",
    ),
    pytest.param(
        replace(MOODLE, "--preset", "blackboard"),
        "Unbekanntes Preset 'blackboard'. Bekannt: ilias, moodle.",
        id="unknown-preset",
    ),
    pytest.param(
        replace(MOODLE, "--base-url", "moodle.example"),
        "--base-url ist keine gültige http(s)-Adresse",
        id="base-url-not-a-url",
    ),
    pytest.param(
        replace(MOODLE, "--name", "Moodle zweiter Name"),
        "Issuer 'https://moodle.example' mit Client-ID 'Xy7kQ2pL9mN4vB1' ist bereits als "
        "'Moodle HSF' registriert.",
        id="duplicate-issuer-and-client-id",
    ),
    pytest.param(
        replace(EXPLICIT, "--name", "Moodle HSF"),
        "Eine Plattform namens 'Moodle HSF' gibt es bereits.",
        id="duplicate-name",
    ),
    pytest.param(
        without(EXPLICIT, "--deployment", "--deployment"),
        "Missing option '--deployment'",
        id="no-deployment",
    ),
    pytest.param(
        replace(EXPLICIT, "--deployment", "8"),
        "--deployment: Deployment-IDs doppelt angegeben.",
        id="duplicate-deployment",
    ),
    pytest.param(
        replace(EXPLICIT, "--deployment", ""),
        "--deployment: Muss 1 bis 255 Zeichen lang sein.",
        id="empty-deployment",
    ),
    pytest.param(
        without(MOODLE, "--base-url"),
        "--preset und --base-url gehören zusammen.",
        id="preset-without-base-url",
    ),
    pytest.param(
        without(MOODLE, "--preset"),
        "--preset und --base-url gehören zusammen.",
        id="base-url-without-preset",
    ),
    pytest.param(
        without(EXPLICIT, "--key-set-url"),
        "--key-set-url: Keine gültige http(s)-Adresse",
        id="missing-url",
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD_ADDS)
def test_bad_platform_add_is_refused_and_changes_nothing(
    cli: FlaskCliRunner, args: list[str], message: str
) -> None:
    assert lti(cli, "platform", "add", *MOODLE).exit_code == 0
    before = (rows(Registration), rows(Deployment))

    result = lti(cli, "platform", "add", *args)

    assert result.exit_code != 0
    assert message in result.output
    assert "registriert (id" not in result.output
    assert (rows(Registration), rows(Deployment)) == before


# -- platform list / remove, deployment add ---------------------------------------------------


def test_platform_list_as_text_and_json(cli: FlaskCliRunner) -> None:
    assert "Keine Plattform registriert." in lti(cli, "platform", "list").output
    lti(cli, "platform", "add", *MOODLE)
    lti(cli, "platform", "add", *EXPLICIT)

    text = lti(cli, "platform", "list").output
    assert "Moodle HSF" in text and "Plattform X" in text
    assert "Issuer:       https://moodle.example\n" in text
    assert "Client-ID:    Xy7kQ2pL9mN4vB1" in text
    assert "Deployments:  7, 8" in text
    assert "Keyset:       https://moodle.example/mod/lti/certs.php" in text

    listed = json.loads(lti(cli, "platform", "list", "--json").output)
    assert [p["name"] for p in listed] == ["Moodle HSF", "Plattform X"]
    assert listed[0]["issuer"] == "https://moodle.example"
    assert listed[0]["product_family"] == "moodle"
    assert listed[1]["deployments"] == ["7", "8"]
    assert set(listed[0]) == {
        "id",
        "name",
        "issuer",
        "client_id",
        "auth_login_url",
        "auth_token_url",
        "key_set_url",
        "audience",
        "product_family",
        "deployments",
    }


def test_platform_remove_by_name_or_id(cli: FlaskCliRunner) -> None:
    lti(cli, "platform", "add", *MOODLE)
    lti(cli, "platform", "add", *EXPLICIT)
    x_id = stored("Plattform X").id

    assert lti(cli, "platform", "remove", "Moodle HSF", "--yes").exit_code == 0
    result = lti(cli, "platform", "remove", str(x_id), "--yes")

    assert result.exit_code == 0
    assert "Plattform 'Plattform X' entfernt." in result.output
    assert (rows(Registration), rows(Deployment)) == (0, 0)


def test_platform_remove_asks_first(cli: FlaskCliRunner) -> None:
    lti(cli, "platform", "add", *MOODLE)

    result = lti(cli, "platform", "remove", "Moodle HSF", input="n\n")

    assert result.exit_code != 0
    assert "alle ihre Daten entfernen?" in result.output
    assert rows(Registration) == 1


def test_platform_remove_of_an_unknown_platform_is_refused(cli: FlaskCliRunner) -> None:
    lti(cli, "platform", "add", *MOODLE)

    result = lti(cli, "platform", "remove", "Blackboard", "--yes")

    assert result.exit_code != 0
    assert "Keine Plattform 'Blackboard' registriert." in result.output
    assert rows(Registration) == 1


def test_platform_remove_takes_its_users_courses_and_launches_along(
    app: Flask, runner: FlaskCliRunner, db_platform: CraftedPlatform
) -> None:
    assert db_platform.launch().status_code == 303
    assert (rows(LtiUser), rows(LtiContext), rows(Launch)) == (1, 1, 1)

    result = lti(runner, "platform", "remove", db_platform.name, "--yes")

    assert result.exit_code == 0, result.output
    assert (rows(Registration), rows(Deployment)) == (0, 0)
    assert (rows(LtiUser), rows(LtiContext), rows(Launch)) == (0, 0, 0)


def test_deployment_add(cli: FlaskCliRunner) -> None:
    lti(cli, "platform", "add", *MOODLE)

    result = lti(cli, "deployment", "add", "Moodle HSF", "18")

    assert result.exit_code == 0, result.output
    assert "Deployment '18' für 'Moodle HSF' hinzugefügt." in result.output
    assert [d.deployment_id for d in stored("Moodle HSF").deployments] == ["1", "18"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["Moodle HSF", "1"],
            "Deployment '1' ist für 'Moodle HSF' schon registriert.",
            id="duplicate",
        ),
        pytest.param(["Moodle HSF", "  "], "Die Deployment-ID darf nicht leer sein.", id="empty"),
        pytest.param(
            ["Blackboard", "2"], "Keine Plattform 'Blackboard' registriert.", id="unknown-platform"
        ),
    ],
)
def test_bad_deployment_add_is_refused_and_changes_nothing(
    cli: FlaskCliRunner, args: list[str], message: str
) -> None:
    lti(cli, "platform", "add", *MOODLE)

    result = lti(cli, "deployment", "add", *args)

    assert result.exit_code != 0
    assert message in result.output
    assert rows(Deployment) == 1


# -- keys and config --------------------------------------------------------------------------


def test_keys_ensure_creates_one_key_once(cli: FlaskCliRunner) -> None:
    first = lti(cli, "keys", "ensure")
    second = lti(cli, "keys", "ensure")

    kid = db.session.scalars(select(ToolKey.kid)).one()
    assert first.output.strip() == f"Neuer Schlüssel {kid}"
    assert second.output.strip() == f"Schlüssel vorhanden: {kid}"


def test_keys_rotate_publishes_both_until_the_overlap_ends(
    app: Flask, runner: FlaskCliRunner
) -> None:
    lti(runner, "keys", "ensure")
    old_kid = active_key().kid

    result = lti(runner, "keys", "rotate")

    assert result.exit_code == 0, result.output
    new_kid = active_key().kid
    assert new_kid != old_kid
    assert f"Neuer aktiver Schlüssel {new_kid}; 2 Schlüssel im JWKS (Überlappung 7 Tage)." in (
        result.output
    )
    served = app.test_client().get("/lti/jwks.json").get_json()
    assert sorted(k["kid"] for k in served["keys"]) == sorted([old_kid, new_kid])
    old = db.session.scalars(select(ToolKey).where(ToolKey.kid == old_kid)).one()
    assert old.retire_at is not None
    assert timedelta(days=6) < old.retire_at - utcnow() <= timedelta(days=7)

    # The overlap has passed: only the new key is published, and it still signs.
    old.retire_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    served = app.test_client().get("/lti/jwks.json").get_json()
    assert [k["kid"] for k in served["keys"]] == [new_kid]
    assert active_key().kid == new_kid


def test_keys_rotate_without_overlap(cli: FlaskCliRunner) -> None:
    lti(cli, "keys", "ensure")

    result = lti(cli, "keys", "rotate", "--overlap-days", "0")

    assert "1 Schlüssel im JWKS (Überlappung 0 Tage)" in result.output
    assert [k["kid"] for k in public_jwks()["keys"]] == [active_key().kid]


def test_keys_rotate_refuses_a_negative_overlap(cli: FlaskCliRunner) -> None:
    lti(cli, "keys", "ensure")

    result = lti(cli, "keys", "rotate", "--overlap-days", "-1")

    assert result.exit_code != 0
    assert rows(ToolKey) == 1


def test_config_prints_the_urls_for_the_lms_form(cli: FlaskCliRunner) -> None:
    result = lti(cli, "config", "--base-url", "https://lotsen.example/")

    assert result.exit_code == 0
    for line in (
        "Tool-URL:                      https://lotsen.example/lti/launch",
        "Initiate login URL:            https://lotsen.example/lti/login",
        "Redirection URI(s):            https://lotsen.example/lti/launch",
        "Public keyset:                 https://lotsen.example/lti/jwks.json",
    ):
        assert line in result.output
    values = json.loads(lti(cli, "config", "--base-url", "https://lotsen.example", "--json").output)
    assert values == {
        "tool_url": "https://lotsen.example/lti/launch",
        "initiate_login_url": "https://lotsen.example/lti/login",
        "redirection_uris": ["https://lotsen.example/lti/launch"],
        "public_keyset_url": "https://lotsen.example/lti/jwks.json",
        "deep_linking_url": "https://lotsen.example/lti/launch",
    }


@pytest.fixture
def public_app(sqlite_app: Flask) -> Iterator[Flask]:
    sqlite_app.config["PUBLIC_BASE_URL"] = "https://lotsen.hsf.example"
    yield sqlite_app


def test_config_uses_the_public_base_url(public_app: Flask) -> None:
    result = lti(public_app.test_cli_runner(), "config", "--json")

    assert json.loads(result.output)["initiate_login_url"] == (
        "https://lotsen.hsf.example/lti/login"
    )
