"""Cross-site request forgery: every state-changing route of the domain's pages and API is a
POST, and a POST takes the launch token only from the form or a header,
never from the query string (a link or cross-site form could carry that) and never from a cookie."""

from __future__ import annotations

import re

import pytest
from flask import Flask, current_app
from flask.testing import FlaskClient

from courses import BLUEPRINTS as DOMAIN_BLUEPRINTS
from tests import factories as f

BLUEPRINTS = tuple(blueprint.name for blueprint in DOMAIN_BLUEPRINTS)


def _post_rules() -> list[tuple[str, str]]:
    rules = []
    for rule in current_app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in BLUEPRINTS and "POST" in (rule.methods or set()):
            path = re.sub(r"<int:[^>]+>", "1", rule.rule)
            rules.append((rule.endpoint, re.sub(r"<[^>]+>", "b1", path)))
    return rules


def test_state_changing_routes_are_post_only(sqlite_app: Flask) -> None:
    for rule in sqlite_app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in BLUEPRINTS:
            continue
        methods = (rule.methods or set()) - {"HEAD", "OPTIONS"}
        assert methods <= {"GET", "POST"}, rule
        if "GET" in methods and "POST" in methods:
            assert rule.endpoint == "municipality.choose", rule


@pytest.mark.parametrize("who", ["navigator", "lotse"])
def test_post_ignores_a_token_in_the_query_string_or_a_cookie(
    app: Flask, client: FlaskClient, who: str
) -> None:
    moodle = f.platform()
    started = f.launch(moodle, "p-1", lotse=who == "lotse")
    f.place(started.context, f.module("b1"))
    rules = _post_rules()
    assert len(rules) >= 12
    client.set_cookie("lt", started.token)
    for endpoint, path in rules:
        response = client.post(path, query_string={"lt": started.token}, data={"x": "1"})
        assert response.status_code == 401, (endpoint, response.status_code)
    client.delete_cookie("lt")
