"""Markdown → sanitised HTML, with the catalogue's internal links rewritten."""

from __future__ import annotations

import pytest

from courses.authoring.rendering import (
    InternalLink,
    parse_internal_link,
    render_markdown,
    unit_path,
)


def _resolve(link: InternalLink) -> str | None:
    if link.module is None and link.unit == "da":
        return unit_path("m1", "da")
    return None


@pytest.mark.parametrize(
    ("markdown", "forbidden"),
    [
        ("<script>alert(1)</script>", "alert"),
        ("<style>p { color: red }</style>", "color"),
        ('<p onclick="alert(1)">x</p>', "onclick"),
        ('<img src="x" onerror="alert(1)">', "onerror"),
        ('<a href="javascript:alert(1)">x</a>', "javascript"),
        ("[x](javascript:alert(1))", "javascript"),
        ('<iframe src="https://example.org"></iframe>', "iframe"),
        ('<a href="https://example.org" data-internal="1">x</a>', "data-internal"),
        ('<p style="position: fixed">x</p>', "style"),
    ],
)
def test_sanitiser_removes(markdown: str, forbidden: str) -> None:
    assert forbidden not in render_markdown(markdown, _resolve).html


def test_allowed_markup_survives() -> None:
    html = render_markdown(
        "## Titel\n\n*a* **b** `c`\n\n- eins\n- zwei\n\n> Zitat\n\n---\n\n"
        "| A | B |\n|---|--:|\n| 1 | 2 |\n",
        _resolve,
    ).html

    for tag in ("<h2>", "<em>", "<strong>", "<code>", "<ul>", "<li>", "<blockquote>", "<hr>"):
        assert tag in html
    assert '<td align="right">2</td>' in html


def test_internal_links_become_tool_paths() -> None:
    rendered = render_markdown("[da](unit:da) und [weg](unit:weg)", _resolve)

    assert '<a data-internal="1" href="/module/m1/einheit/da"' in rendered.html
    assert rendered.unresolved == ["unit:weg"]
    assert "unit:weg" not in rendered.html


def test_external_links_get_rel() -> None:
    html = render_markdown("[x](https://example.org)", _resolve).html

    assert 'href="https://example.org"' in html
    assert 'rel="noopener noreferrer"' in html
    assert "data-internal" not in html


def test_headings_get_no_ids() -> None:
    assert render_markdown("## Titel", _resolve).html == "<h2>Titel</h2>"


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("unit:a", InternalLink("unit:a", None, "a")),
        ("module:m", InternalLink("module:m", "m", None)),
        ("module:m/a", InternalLink("module:m/a", "m", "a")),
        ("module:m/a/b", None),
        ("unit:", None),
        ("https://example.org", None),
    ],
)
def test_parse_internal_link(href: str, expected: InternalLink | None) -> None:
    assert parse_internal_link(href) == expected
