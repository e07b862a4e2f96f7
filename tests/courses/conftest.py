"""Fixtures of the domain tests: a client that carries launch tokens."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from lti_tool.launch.token import TOKEN_FIELD


class TokenClient:
    """The test client, presenting a launch token the way the tool's pages do: as ``lt`` in
    the query on GET, as a form field on POST."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def get(self, path: str, token: str | None = None, **query: Any) -> TestResponse:
        if token is not None:
            query[TOKEN_FIELD] = token
        return self.client.get(path, query_string=query)

    def post(
        self, path: str, token: str | None = None, data: dict[str, Any] | None = None, **kw: Any
    ) -> TestResponse:
        form: dict[str, Any] = dict(data or {})
        if token is not None:
            form[TOKEN_FIELD] = token
        return self.client.post(path, data=form, **kw)


@pytest.fixture
def tc(client: FlaskClient) -> TokenClient:
    return TokenClient(client)
