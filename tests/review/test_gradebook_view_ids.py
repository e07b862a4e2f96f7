"""Ids beyond the database's integer range in the Notenbuch's retry route are 404, not 500."""

from flask.testing import FlaskClient

from tests.lotse import factories as f
from tests.lotse.conftest import TokenClient


def test_retry_of_an_impossible_outbox_id_is_404(app, client: FlaskClient) -> None:
    tc = TokenClient(client)
    lotse = f.launch(f.platform(), "lotsin", lotse=True)
    for outbox_id in (2**31, 2**63 + 1):
        response = tc.post(f"/lotse/notenbuch/{outbox_id}/wiederholen", lotse.token)
        assert response.status_code == 404
