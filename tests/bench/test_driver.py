"""The launch benchmark's browser does with pylti1p3's cookie check page what the page's script
does in a real browser (``getUpdatedUrl`` in ``pylti1p3/cookies_allowed_check.py``)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from pylti1p3.cookies_allowed_check import CookiesAllowedCheckPage

from bench.driver import Reply, cookie_check_reload_url

PARAMS = {
    "lti1p3_new_window": "1",
    "iss": "https://moodle.example/",
    "login_hint": "2",
    "target_link_uri": "https://tool.example/lti/launch",
    "lti_message_hint": '{"cmid":7,"launchid":"ltilaunch1_x"}',
}


def _page(url: str) -> Reply:
    html = CookiesAllowedCheckPage(PARAMS, "https", "Blockiert", "Neues Fenster", "Lädt").get_html()
    return Reply(url, 200, [], html.encode(), 0.0)


def test_after_a_login_post_every_parameter_goes_into_the_query() -> None:
    url = cookie_check_reload_url(_page("https://tool.example/lti/login"))
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "tool.example", "/lti/login")
    # HTML-escaped in the page, unescaped and URI-encoded by the script.
    assert dict(parse_qsl(parts.query)) == PARAMS


def test_after_a_login_get_only_missing_parameters_are_added() -> None:
    url = cookie_check_reload_url(_page("https://tool.example/lti/login?iss=x&login_hint=2"))
    query = parse_qsl(urlsplit(url).query)
    assert query[:2] == [("iss", "x"), ("login_hint", "2")]
    assert [k for k, _ in query].count("iss") == 1
    assert dict(query)["lti_message_hint"] == PARAMS["lti_message_hint"]
