import logging

from lti_tool.log_filters import RedactSecrets, redact


def test_launch_tokens_and_login_hints_are_redacted():
    line = '"GET /start?lt=eyJsIjoiMTZj.awLu6g.1mnRO4 HTTP/1.1" 200 -'
    assert "eyJsIjoiMTZj" not in redact(line)
    assert redact("/lti/login?iss=https%3A%2F%2Flms&login_hint=42&client_id=c") == (
        "/lti/login?iss=https%3A%2F%2Flms&login_hint=…&client_id=c"
    )


def test_werkzeug_request_lines_reach_the_log_redacted(app, caplog):
    # create_app installed the filter on werkzeug's logger.
    logger = logging.getLogger("werkzeug")
    assert any(isinstance(f, RedactSecrets) for f in logger.filters)
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logger.info('%s - - "%s" %s', "127.0.0.1", "GET /module?lt=SECRET.TOKEN HTTP/1.1", "200")
    assert "SECRET.TOKEN" not in caplog.text
    assert "GET /module?lt=…" in caplog.text
