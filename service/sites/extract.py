"""A fetched page's article: the page decoded (the HTTP charset, else its <meta> charset, else UTF-8, else a
guess), then headline, body, date and site name by trafilatura, language from `<html lang>`. A page without
an article (no text, no headline, a list of links, a few words) is a Skip saying so."""
from __future__ import annotations

import codecs
import re
from typing import NamedTuple

import charset_normalizer
import trafilatura

from ..feeds.formats import language_tag
from .pages import Response, Skip

HTML_TYPES = ("text/html", "application/xhtml+xml")
MIN_TEXT = 80  # characters: less is not an article
LIST_SHARE = 0.5  # a text more than this share list items is a list of links, not an article
# The page's own date (meta tags, <time>, JSON-LD), to the second; never a guess from its other text.
DATES = {"extensive_search": False, "original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE)
_HTTP_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE)
_HTML_LANG = re.compile(r"""<html\b[^>]{0,500}?\blang\s*=\s*["']?([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*)""",
                        re.IGNORECASE)


class Found(NamedTuple):
    headline: str
    body: str  # a line a paragraph
    published: str | None  # ISO 8601
    language: str | None
    site_name: str | None


def _codec(label: str | None) -> str | None:
    """A Python codec for a declared charset label; Latin-1 and ASCII read as windows-1252, as browsers do."""
    try:
        name = codecs.lookup((label or "").strip("\"' ")).name if label else None
    except LookupError:
        return None
    return "cp1252" if name in ("latin-1", "iso8859-1", "ascii") else name


def decode(body: bytes, content_type: str) -> str:
    """The page's text: a BOM, the HTTP charset, the <meta> one, UTF-8 when it is valid, else a guess."""
    if body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", "replace")
    declared = _HTTP_CHARSET.search(content_type)
    meta = _META_CHARSET.search(body[:8192])
    for label in (declared and declared.group(1), meta and meta.group(1).decode("ascii")):
        if codec := _codec(label):
            return body.decode(codec, "replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        guess = charset_normalizer.from_bytes(body[:1_000_000]).best()
        return body.decode(guess.encoding if guess else "cp1252", "replace")


def page_html(response: Response) -> str:
    """The HTML of a fetched page; Skip when it is something else (a PDF, an image, a feed)."""
    content_type = response.headers.get("content-type", "")
    kind = content_type.split(";")[0].strip().lower()
    if kind and kind not in HTML_TYPES:
        raise Skip("not an HTML page", kind[:60])
    return decode(response.body, content_type)


def html_language(html: str) -> str | None:
    """The page's `<html lang>` as a language tag, or None."""
    found = _HTML_LANG.search(html[:20_000])
    return language_tag(found.group(1)) if found else None


def _body(text: str, headline: str) -> str:
    """Trafilatura's text, a line a paragraph, without the headline it repeats in its first line."""
    lines = [" ".join(line.split()) for line in text.split("\n")]
    lines = [line for line in lines if line]
    return "\n".join(lines[1:] if lines and lines[0] == headline else lines)


def _mostly_list(body: str) -> bool:
    lines = body.split("\n")
    return sum(len(line) for line in lines if line.startswith("- ")) > LIST_SHARE * max(1, len(body))


def extract(html: str, url: str) -> Found:
    """The article of a page; Skip("no article found", why) when it holds none."""
    found = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False,
                                        include_tables=False, favor_precision=True, date_extraction_params=DATES)
    if found is None or not (found.text or "").strip():
        raise Skip("no article found", "no main text")
    headline = " ".join((found.title or "").split())
    if not headline:
        raise Skip("no article found", "no headline")
    body = _body(found.text, headline)
    if _mostly_list(body):
        raise Skip("no article found", "a list of links")
    if len(body) < MIN_TEXT:
        raise Skip("no article found", f"{len(body)} characters of text")
    return Found(headline, body, found.date, html_language(html), (found.sitename or "").strip() or None)
