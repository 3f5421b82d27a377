"""Sitemaps read into page URLs: sitemap indexes followed (a sitemap listed twice, or by itself, is read
once), urlsets with their Google News fields (`news:title`, `news:publication_date`, `news:language`),
plain-text sitemaps (a URL a line), gzip'd ones; bounds on the sitemaps read and the URLs taken."""
from __future__ import annotations

import gzip
import io
import re
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit
from xml.etree import ElementTree

MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the protocol's limit, uncompressed
MAX_SITEMAPS = 10_000
MAX_URLS = 1_000_000  # URLs taken from one site's sitemaps in one run
NEWS_FIELDS = {"title": "title", "publication_date": "published", "language": "language"}


class SitemapError(Exception):
    """A sitemap that could not be fetched or read: its URLs are not taken, the others' are."""


class Entry(NamedTuple):
    """A page a sitemap lists, with what a news sitemap says of it."""

    url: str
    lastmod: str | None = None
    title: str | None = None
    published: str | None = None
    language: str | None = None


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def unzip(body: bytes, limit: int = MAX_SITEMAP_BYTES) -> bytes:
    """A gzip'd sitemap's bytes (others as they are), at most `limit` of them."""
    if body[:2] != b"\x1f\x8b":
        return body
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as f:
            data = f.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise SitemapError(f"not a valid gzip file ({exc})") from None
    if len(data) > limit:
        raise SitemapError(f"larger than {limit:,} bytes uncompressed")
    return data


def _text_sitemap(body: bytes) -> list[Entry]:
    lines = [line.strip() for line in body.decode("utf-8", "replace").splitlines() if line.strip()]
    if not lines or any(urlsplit(line).scheme not in ("http", "https") or " " in line for line in lines):
        raise SitemapError("not XML, nor a list of URLs")
    return [Entry(line) for line in lines]


def _entry(node: ElementTree.Element) -> Entry | None:
    """A <url>: its own <loc> and <lastmod>, and the fields of its <news:news> (not those of images, videos)."""
    own = {_local(child.tag): (child.text or "").strip() for child in node}
    news = next((child for child in node if _local(child.tag) == "news"), None)
    extra = {NEWS_FIELDS[_local(e.tag)]: (e.text or "").strip() or None
             for e in (news.iter() if news is not None else ()) if _local(e.tag) in NEWS_FIELDS}
    return Entry(own["loc"], own.get("lastmod") or None, **extra) if own.get("loc") else None


def parse(body: bytes) -> tuple[list[str], list[Entry]]:
    """(the sitemaps an index lists, the pages a urlset lists) of a sitemap's bytes."""
    body = unzip(body)
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not start.startswith(b"<"):
        return [], _text_sitemap(start)
    if re.search(rb"<!(DOCTYPE|ENTITY)", body[:65_536], re.IGNORECASE):
        raise SitemapError("declares a DOCTYPE or entities, which sitemaps never do: not read")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise SitemapError(f"not XML ({exc})") from None
    kind = _local(root.tag)
    if kind == "sitemapindex":
        locs = (next((c.text for c in s if _local(c.tag) == "loc"), None) for s in root if _local(s.tag) == "sitemap")
        return [loc.strip() for loc in locs if loc and loc.strip()], []
    if kind == "urlset":
        return [], [e for e in (_entry(u) for u in root if _local(u.tag) == "url") if e is not None]
    raise SitemapError(f"not a sitemap (its root element is <{kind[:40]}>)")


def url_key(url: str) -> str:
    """A URL as compared: scheme and host in lower case, no fragment."""
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


@dataclass
class Sitemaps:
    """Walks a site's sitemaps from the root one; `read(url)` gives a sitemap's bytes or raises SitemapError.
    `problems` says, a line each, which sitemaps were not read and why."""

    read: Callable[[str], bytes]
    bound: int = MAX_URLS
    problems: list[str] = field(default_factory=list)
    done: int = 0  # sitemaps read
    listed: int = 0  # page URLs taken

    def entries(self, root: str) -> Iterator[Entry]:
        """The pages listed, each once, in the sitemaps' order (an index's sitemaps read in turn)."""
        queue, seen, taken, host = deque([root]), {url_key(root)}, set(), urlsplit(root).hostname
        while queue:
            url = queue.popleft()
            try:
                sitemaps, pages = parse(self.read(url))
            except SitemapError as exc:
                self.problems.append(f"sitemap {url}: {exc}")
                continue
            self.done += 1
            for listed in sitemaps:
                if self._follow(url, listed, seen, host):
                    seen.add(url_key(listed))
                    queue.append(listed)
            for entry in pages:
                if url_key(entry.url) in taken:
                    continue
                if len(taken) >= self.bound:
                    self.problems.append(f"sitemap {url}: stopped at {self.bound:,} URLs (the bound); the rest not taken")
                    return
                taken.add(url_key(entry.url))
                self.listed += 1
                yield entry

    def _follow(self, index: str, listed: str, seen: set[str], host: str | None) -> bool:
        """Whether a sitemap an index lists is read; a problem line when it is not."""
        why = None
        if url_key(listed) == url_key(index):
            why = "lists itself: a loop, not read again"
        elif url_key(listed) in seen:
            why = f"lists {listed}, already listed (a loop or a repeat): not read again"
        elif urlsplit(listed).scheme not in ("http", "https") or urlsplit(listed).hostname != host:
            why = f"lists {listed[:200]}, not an http(s) URL of {host}: not read"
        elif len(seen) >= MAX_SITEMAPS:
            why = f"lists more sitemaps than {MAX_SITEMAPS:,} in all: {listed} not read"
        if why:
            self.problems.append(f"sitemap {index}: {why}")
        return why is None
