"""The Lotse role beyond the platform's roles: grants per (platform, sub) for ILIAS's "always
learner", and the custom parameter ``lotsen_rolle=lotse`` only on a deployment the admin trusts."""

from __future__ import annotations

from flask import Flask

from lti_tool.registrations import add_deployment
from tests import factories as f
from tests.courses.conftest import TokenClient

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"


def _cli(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["courses", "lotse", *args])
    return result.exit_code, result.output


def test_grant_makes_an_always_learner_a_lotse(app: Flask, tc: TokenClient) -> None:
    ilias = f.platform(name="ILIAS HSF", issuer="https://ilias.example", client_id="ilias-1")
    # ILIAS "always learner": the instructor arrives as a learner with a pseudonymous sub.
    before = f.launch(ilias, "9f86d081884c7d65", roles=[LEARNER], name="-")
    assert tc.get("/lotse/uebersicht", before.token).status_code == 403

    code, output = _cli(
        app,
        "grant",
        "--platform",
        "ILIAS HSF",
        "--sub",
        "9f86d081884c7d65",
        "--note",
        "Lotsin Kurs 1",
    )
    assert code == 0 and "Freigeschaltet" in output
    code, output = _cli(app, "grant", "--platform", "ILIAS HSF", "--sub", "9f86d081884c7d65")
    assert code == 0 and "Schon freigeschaltet" in output
    code, output = _cli(app, "list")
    assert "ILIAS HSF\t9f86d081884c7d65" in output and "Lotsin Kurs 1" in output

    # Applies at once, to the launch that was refused before, in every course of the platform.
    assert tc.get("/lotse/uebersicht", before.token).status_code == 200
    elsewhere = f.launch(ilias, "9f86d081884c7d65", roles=[LEARNER], context_id="kurs-9")
    assert tc.get("/lotse/teilnehmende", elsewhere.token).status_code == 200
    picker = f.launch(ilias, "9f86d081884c7d65", roles=[LEARNER], deep_linking=f.DL_SETTINGS)
    assert tc.get("/lotse/auswahl", picker.token).status_code == 200
    # The roster shows the person as a Lotse.
    roster = tc.get("/lotse/teilnehmende", before.token).text
    assert "Digital-Lotse/-Lotsin" in roster

    # Not on another platform with the same sub.
    moodle = f.platform()
    same_sub = f.launch(moodle, "9f86d081884c7d65", roles=[LEARNER])
    assert tc.get("/lotse/uebersicht", same_sub.token).status_code == 403

    code, output = _cli(app, "revoke", "--platform", "ILIAS HSF", "--sub", "9f86d081884c7d65")
    assert code == 0
    assert tc.get("/lotse/uebersicht", before.token).status_code == 403
    code, output = _cli(app, "revoke", "--platform", "ILIAS HSF", "--sub", "9f86d081884c7d65")
    assert code != 0 and "nicht freigeschaltet" in output
    code, output = _cli(app, "grant", "--platform", "Gibt es nicht", "--sub", "x")
    assert code != 0 and "Keine Plattform" in output


def test_custom_parameter_only_on_a_trusted_deployment(app: Flask, tc: TokenClient) -> None:
    ilias = f.platform(name="ILIAS HSF", issuer="https://ilias.example", client_id="ilias-1")
    add_deployment(ilias, "2")
    from lti_tool.extensions import db

    db.session.commit()
    custom = {"lotsen_rolle": "lotse"}
    untrusted = f.launch(ilias, "learner-1", roles=[LEARNER], custom=custom)
    assert tc.get("/lotse/uebersicht", untrusted.token).status_code == 403

    code, output = _cli(
        app, "custom-role", "enable", "--platform", "ILIAS HSF", "--deployment", "1"
    )
    assert code == 0 and "nur für Links" in output
    assert tc.get("/lotse/uebersicht", untrusted.token).status_code == 200
    # Without the parameter, or with another value, a learner stays a Navigator.
    plain = f.launch(ilias, "learner-2", roles=[LEARNER])
    assert tc.get("/lotse/uebersicht", plain.token).status_code == 403
    wrong = f.launch(ilias, "learner-3", roles=[LEARNER], custom={"lotsen_rolle": "admin"})
    assert tc.get("/lotse/uebersicht", wrong.token).status_code == 403
    code, output = _cli(app, "list")
    assert "Deployment 1" in output

    code, output = _cli(
        app, "custom-role", "enable", "--platform", "ILIAS HSF", "--deployment", "99"
    )
    assert code != 0 and "kein Deployment" in output
    code, _output = _cli(
        app, "custom-role", "disable", "--platform", "ILIAS HSF", "--deployment", "1"
    )
    assert code == 0
    assert tc.get("/lotse/uebersicht", untrusted.token).status_code == 403


def test_a_granted_lotse_is_a_lotse_everywhere(app: Flask, tc: TokenClient) -> None:
    """The grant counts in every role check: the landing page, the Notenbuch, and the
    Navigator-only pages, which refuse the granted person like any Lotse."""
    ilias = f.platform(name="ILIAS HSF", issuer="https://ilias.example", client_id="ilias-1")
    launched = f.launch(ilias, "c0ffee", roles=[LEARNER], name="-")
    assert tc.get("/api/module", launched.token).status_code == 200
    assert tc.get("/lotse/notenbuch", launched.token).status_code == 403

    assert _cli(app, "grant", "--platform", "ILIAS HSF", "--sub", "c0ffee")[0] == 0

    home = tc.get("/start", launched.token)
    assert home.status_code in (302, 303)
    assert "/lotse/" in home.headers["Location"]
    assert tc.get("/lotse/notenbuch", launched.token).status_code == 200
    assert tc.get("/api/module", launched.token).status_code == 403
