"""RSS 2.0, Atom (through feedparser) and JSON Feed read into plain items, and an item mapped to an
Article (id from guid or link, text from content or summary, dates in UTC, categories as section and tags)."""
from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, NamedTuple
from urllib.parse import urlsplit
from xml.sax import SAXParseException

import feedparser

from index.errors import InvalidInput
from index.records.article import MAX_BODY, MAX_NAME, MAX_TAG, MAX_TAGS, Article, valid_id, validate_article

from .fetch import FeedError, Fetched

PERIODS = {"hourly": 3600, "daily": 86_400, "weekly": 604_800, "monthly": 2_592_000, "yearly": 31_536_000}
HTML_TYPES = ("text/html", "application/xhtml+xml")
# XML faults feedparser's lenient parser reads right (HTML entities such as &nbsp; in RSS); any other
# fault (a truncated document, mismatched tags) stops the feed: nothing of it is stored.
LENIENT = ("undefined entity",)
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8})*")


class FeedInfo(NamedTuple):
    title: str | None
    link: str | None
    language: str | None
    ttl: int | None  # seconds the feed asks readers to wait between polls


class Item(NamedTuple):
    """One entry, in any of the three formats, as plain text."""

    id: str | None
    link: str | None
    title: str | None
    body: str
    published: str | None
    categories: list[str]


class _Text(HTMLParser):
    """The text of HTML: a line break at each block element's edges, scripts and styles left out."""

    BLOCKS = frozenset("p div br li ul ol h1 h2 h3 h4 h5 h6 blockquote pre tr table section article header "
                       "footer figure figcaption hr dd dt".split())
    HIDDEN = frozenset(("script", "style", "noscript", "template"))

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: Any, step: int = 1) -> None:
        self.hidden = max(0, self.hidden + step * (tag in self.HIDDEN))
        self.parts.append("\n" if tag in self.BLOCKS else "")

    def handle_endtag(self, tag: str) -> None:
        self.handle_starttag(tag, None, -1)

    def handle_data(self, data: str) -> None:
        self.parts.append("" if self.hidden else re.sub(r"\s+", " ", data))


def tidy_lines(text: str) -> str:
    """Spaces collapsed within lines, blank lines dropped."""
    return "\n".join(filter(None, (" ".join(line.split()) for line in text.split("\n"))))


def html_to_text(html: str) -> str:
    """The text of an HTML fragment, one line a paragraph (block element); scripts and styles dropped."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return tidy_lines("".join(parser.parts))


def _text_of(detail: Any) -> str:
    """A feedparser text construct (title, summary, content) as plain text."""
    value = detail.get("value") or ""
    return html_to_text(value) if detail.get("type") in HTML_TYPES else tidy_lines(value)


def _iso(moment: Any) -> str | None:
    try:
        return datetime(*moment[:6], tzinfo=UTC).isoformat() if moment else None
    except (TypeError, ValueError, OverflowError):
        return None


def _ttl(feed: Any) -> int | None:
    """Seconds between polls that the feed asks for: RSS <ttl> (minutes), else sy:updatePeriod/Frequency."""
    try:
        if str(feed.get("ttl", "")).strip().isdigit():
            return int(feed["ttl"]) * 60
        period = PERIODS.get(str(feed.get("sy_updateperiod", "")).strip().lower())
        return period // max(1, int(feed.get("sy_updatefrequency") or 1)) if period else None
    except ValueError:
        return None


def _entry(entry: Any) -> Item:
    content = next((c for c in entry.get("content", []) if c.get("value")), None)
    return Item(entry.get("id"), entry.get("link"), _text_of(entry.get("title_detail") or {}),
                _text_of(content or entry.get("summary_detail") or {}),
                _iso(entry.get("published_parsed") or entry.get("updated_parsed")),
                [t.get("term") for t in entry.get("tags") or [] if t.get("term")])


def _json_item(item: Any) -> Item:
    item = item if isinstance(item, dict) else {}
    text = {k: v for k, v in item.items() if isinstance(v, str)}  # the fields of the right type
    key = str(item["id"]) if type(item.get("id")) in (str, int) else None
    body = html_to_text(text["content_html"]) if "content_html" in text else \
        tidy_lines(text.get("content_text") or text.get("summary") or "")
    tags = [t for t in item.get("tags") or [] if isinstance(t, str)] if isinstance(item.get("tags"), list) else []
    return Item(key, text.get("url"), text.get("title"), body,
                text.get("date_published") or text.get("date_modified"), tags)


def _json_feed(body: bytes) -> tuple[FeedInfo, list[Item]]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise FeedError(f"not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith("https://jsonfeed.org/version/") \
            or not isinstance(data.get("items"), list):
        raise FeedError("not a JSON Feed (no jsonfeed.org version and items)")
    text = {k: v for k, v in data.items() if isinstance(v, str)}
    info = FeedInfo(text.get("title"), text.get("home_page_url"), text.get("language"), None)
    return info, [_json_item(item) for item in data["items"]]


def read_feed(fetched: Fetched) -> tuple[FeedInfo, list[Item]]:
    """The feed's information and entries; FeedError when it is not a feed, or not well-formed."""
    content_type = fetched.headers.get("content-type", "")
    if "json" in content_type or fetched.body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
        return _json_feed(fetched.body)
    parsed = feedparser.parse(fetched.body, response_headers={"content-type": content_type,
                                                              "content-location": fetched.url})
    fault = parsed.get("bozo_exception")
    if not parsed.get("version"):
        raise FeedError("not an RSS, Atom or JSON feed" + (f" ({fault})" if fault else ""))
    if isinstance(fault, SAXParseException) and str(fault.getMessage()) not in LENIENT:
        raise FeedError(f"not well-formed XML (line {fault.getLineNumber()}: {fault.getMessage()})")
    if isinstance(fault, feedparser.CharacterEncodingUnknown):
        raise FeedError(f"unknown character encoding ({fault})")
    feed = parsed.feed
    info = FeedInfo(_text_of(feed.get("title_detail") or {}), feed.get("link"), feed.get("language"), _ttl(feed))
    return info, [_entry(e) for e in parsed.entries]


def article_id(raw: str) -> str | None:
    """An entry's guid/id (or link) as an article id: itself when valid, else a URL without its scheme and
    empty segments (`https://x.com/a/b/` is `x.com/a/b`), else None."""
    if valid_id(raw := raw.strip()):
        return raw
    segments = re.sub(r"^[a-z][a-z0-9+.-]*:/*", "", raw, flags=re.IGNORECASE).split("/")
    candidate = "/".join(s for s in segments if s not in ("", ".", ".."))
    return candidate if valid_id(candidate) else None


def language_tag(value: str | None) -> str | None:
    """`ar`, `AR_tn`, ` ar-TN ` as a language tag (`ar`, `ar-tn`, `ar-TN`), or None when it is not one."""
    primary, _, rest = (value or "").strip().replace("_", "-").partition("-")
    tag = primary.lower() + ("-" + rest if rest else "")
    return tag if _LANGUAGE.fullmatch(tag) else None


def to_article(item: Item, info: FeedInfo, feed_url: str) -> tuple[Article | None, str]:
    """(the article, "" or "cut") of an entry, or (None, why it is skipped). A body over the limit is cut."""
    if not (item.title or "").strip():
        return None, "no title"
    link = (item.link or "").strip() or None
    if link and urlsplit(link).scheme.lower() not in ("http", "https"):
        return None, f"link is not http(s): {link[:60]!r}"
    if (key := article_id(item.id or link or "")) is None:
        return None, "no usable id (guid, id or link)"
    body, note = (item.body[:MAX_BODY].rstrip(), "cut") if len(item.body) > MAX_BODY else (item.body, "")
    tags = list(dict.fromkeys(t.strip() for t in item.categories if t.strip() and len(t.strip()) <= MAX_TAG))
    source = (info.title or urlsplit(info.link or feed_url).hostname or "")[:MAX_NAME].strip()
    try:
        return validate_article({
            "id": key, "headline": " ".join(item.title.split()), "body": body, "url": link, "source": source or None,
            "published_at": item.published, "language": language_tag(info.language),
            "section": tags[0] if tags else None, "tags": tags[:MAX_TAGS]}), note
    except InvalidInput as exc:
        if exc.field == "published_at":  # a date that cannot be read: the article without one
            return to_article(item._replace(published=None), info, feed_url)
        return None, exc.message


def entry_hash(article: Article) -> str:
    return hashlib.sha256(json.dumps(article.to_dict(), sort_keys=True).encode()).hexdigest()[:32]
