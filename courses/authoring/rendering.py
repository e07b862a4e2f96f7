"""Markdown of readings and assignment briefs → sanitised HTML, with the catalogue's internal
links (``unit:x``, ``module:y``, ``module:y/z``) rewritten to the tool's own paths.
Runs once, at import."""

from __future__ import annotations

import re
import secrets
import xml.etree.ElementTree as etree
from collections.abc import Callable
from dataclasses import dataclass, field

import markdown
import nh3
from markdown.treeprocessors import Treeprocessor

#: What a sanitised body may contain. No images, no styles, no scripts, no frames.
ALLOWED_TAGS = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr",
    "ul", "ol", "li", "blockquote", "pre", "code", "em", "strong", "a",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "data-internal"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
#: ``unit:`` and ``module:`` links have been rewritten before nh3 sees the HTML; written as raw
#: HTML they are not catalogue links and lose their href.
URL_SCHEMES = {"http", "https", "mailto", "tel"}
#: On every link, raw HTML ones included; harmless on the tool's own relative paths.
LINK_REL = "noopener noreferrer"

_UNIT_LINK = re.compile(r"unit:(?P<unit>[^/\s]+)")
_MODULE_LINK = re.compile(r"module:(?P<module>[^/\s]+)(?:/(?P<unit>[^/\s]+))?")


@dataclass(frozen=True)
class InternalLink:
    """A catalogue link as written (``unit:x``, ``module:y`` or ``module:y/z``), parsed."""

    href: str
    module: str | None
    """Target module id; None for ``unit:x`` (the module the text belongs to)."""
    unit: str | None


def parse_internal_link(href: str) -> InternalLink | None:
    """Parse ``unit:x``/``module:y``/``module:y/z``; None for anything else."""
    if match := _UNIT_LINK.fullmatch(href):
        return InternalLink(href, None, match["unit"])
    if match := _MODULE_LINK.fullmatch(href):
        return InternalLink(href, match["module"], match["unit"])
    return None


def is_internal_href(href: str) -> bool:
    """Whether ``href`` uses one of the catalogue's link schemes (well-formed or not)."""
    return href.startswith(("unit:", "module:"))


def module_path(module: str) -> str:
    """The tool's path of a module (served by the Navigator views)."""
    return f"/module/{module}"


def unit_path(module: str, unit: str) -> str:
    """The tool's path of a unit (served by the Navigator views)."""
    return f"/module/{module}/einheit/{unit}"


#: Maps a parsed internal link to the tool path it leads to, or None when the target is unknown.
LinkResolver = Callable[[InternalLink], str | None]


@dataclass
class RenderedMarkdown:
    """The sanitised HTML and what the Markdown linked to, for the catalogue check."""

    html: str
    links: list[str] = field(default_factory=list)
    """Every link target of the Markdown, as written, in document order."""
    unresolved: list[str] = field(default_factory=list)
    """Internal links whose target the resolver did not know; rendered without href."""
    images: list[str] = field(default_factory=list)
    """Image sources; images are not supported and removed by the sanitiser."""


class _LinkTreeprocessor(Treeprocessor):
    """Rewrites the Markdown's ``unit:``/``module:`` links to tool paths and marks them internal.

    Only links written in Markdown pass through here; raw HTML is stashed away by Python-Markdown
    and reaches nh3 untouched. The mark therefore is a per-render nonce that nh3's attribute
    filter turns into ``data-internal="1"``: an author's raw ``data-internal`` can never make the
    page append a launch token to a foreign URL.
    """

    def __init__(self, md: markdown.Markdown, resolve: LinkResolver, nonce: str) -> None:
        super().__init__(md)
        self.resolve = resolve
        self.nonce = nonce
        self.result = RenderedMarkdown(html="")

    def run(self, root: etree.Element) -> None:
        for element in root.iter():
            if element.tag == "img":
                self.result.images.append(element.get("src", ""))
            if element.tag != "a" or element.get("href") is None:
                continue
            href = element.get("href", "").strip()
            self.result.links.append(href)
            if is_internal_href(href):
                link = parse_internal_link(href)
                target = self.resolve(link) if link is not None else None
                if target is None:
                    self.result.unresolved.append(href)
                    del element.attrib["href"]
                    continue
                element.set("href", target)
                element.set("data-internal", self.nonce)


def _make_markdown() -> markdown.Markdown:
    # No toc: headings get no ids, so nothing in a body can collide with the page's own ids.
    return markdown.Markdown(
        extensions=["tables", "fenced_code", "sane_lists"],
        extension_configs={"tables": {"use_align_attribute": True}},
        output_format="html",
    )


def _sanitise(html: str, nonce: str) -> str:
    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        if tag == "a" and attribute == "data-internal":
            return "1" if value == nonce else None
        return value

    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style", "iframe", "object", "noscript", "template"},
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=attribute_filter,
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
    )


def render_markdown(text: str, resolve: LinkResolver) -> RenderedMarkdown:
    """Render ``text`` to sanitised HTML; internal links become tool paths via ``resolve``."""
    nonce = secrets.token_hex(16)
    md = _make_markdown()
    links = _LinkTreeprocessor(md, resolve, nonce)
    # After "inline" (20), which creates the <a> elements, and before "prettify" (10).
    md.treeprocessors.register(links, "catalogue_links", 15)
    result = links.result
    result.html = _sanitise(md.convert(text), nonce)
    return result
