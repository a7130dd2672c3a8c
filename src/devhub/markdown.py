"""Markdown to safe HTML: markdown-it-py renders (raw HTML off), nh3 sanitises what comes out.

Untrusted text (descriptions from catalog files and specs) goes through here before it reaches a page;
`javascript:` and `data:` links, event handlers and scripts are removed by nh3's allow-list.
"""

from __future__ import annotations

import html
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "kbd",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "th": {"align"},
    "td": {"align"},
    "*": {"id"},
}


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")


def sanitise_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def render_markdown(text: str | None) -> Markup:
    if not text:
        return Markup("")
    return Markup(sanitise_html(_renderer().render(text)))


def plain_text(text: str | None) -> str:
    """Markdown as plain text (for search snippets and summaries): rendered, every tag dropped."""
    if not text:
        return ""
    stripped = nh3.clean(_renderer().render(text), tags=set())
    return " ".join(html.unescape(stripped).split())
