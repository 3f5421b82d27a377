"""Backfilling an archive from a site's sitemaps (`python -m service backfill-site SITEMAP_URL`): the pages
they list fetched politely (`pages`), their articles extracted (`extract`) and upserted in batches, each
page's outcome remembered (`state`) so that a rerun goes on where a run stopped; a progress line every
few pages and a summary that counts what was skipped by reason, a line a URL."""
from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from index.engine import Engine
from index.errors import InvalidInput
from index.records.article import MAX_BODY, MAX_NAME, Article, validate_article

from ..feeds.formats import article_id, language_tag
from .extract import Found, extract, page_html
from .pages import Fetcher, Response, Skip
from .sitemaps import MAX_SITEMAP_BYTES, Entry, SitemapError, Sitemaps
from .state import FILE_NAME, PageLog

log = logging.getLogger(__name__)

BATCH = 50  # articles an upsert
PROGRESS_EVERY = 25  # pages fetched between two progress lines
MAX_LISTED = 50  # skipped URLs and sitemap problems listed in the summary, a line each
OPTIONAL = ("url", "source", "published_at", "language")  # left out when not valid, rather than the article


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


@dataclass
class Tally:
    """What a run did."""

    started: float = field(default_factory=time.monotonic)
    fetched: int = 0  # pages requested
    stored: int = 0
    resumed: int = 0  # of them, extracted by an earlier run that stopped before storing them
    before: int = 0  # pages an earlier run finished with: not fetched again
    cut: int = 0
    waiting: int = 0  # extracted, not stored: the run was interrupted
    skipped: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    lines: list[str] = field(default_factory=list)

    def skip(self, url: str, exc: Skip) -> None:
        (self.skipped if exc.final else self.failed)[exc.reason] += 1
        self.lines.append(f"{'skipped' if exc.final else 'failed'} {url}: {exc}")

    def per_minute(self) -> float:
        return self.fetched * 60 / max(time.monotonic() - self.started, 1e-9)

    def progress(self) -> str:
        return (f"backfill-site: {plural(self.fetched, 'page')} fetched, {self.stored} stored, {self.skipped.total()} skipped, "
                f"{self.failed.total()} failed, {time.monotonic() - self.started:.0f}s, "
                f"{self.per_minute():.0f} pages a minute")

    def summary(self, root: str, sitemaps: Sitemaps) -> list[str]:
        """The run in a few lines: counts, reasons, then a line a sitemap problem and a URL not stored."""
        lines = [f"backfill-site {root}: {plural(self.fetched, 'page')} fetched, {self.stored} stored"
                 + (f" ({self.resumed} extracted by an earlier run)" if self.resumed else "")
                 + f", {self.skipped.total()} skipped, {self.failed.total()} failed, {self.before} done before; "
                 f"{plural(sitemaps.done, 'sitemap')} read, {plural(sitemaps.listed, 'URL')} listed, "
                 f"{plural(len(sitemaps.problems), 'sitemap problem')}; {time.monotonic() - self.started:.1f}s, "
                 f"{self.per_minute():.0f} pages a minute"]
        for name, counts in (("skipped", self.skipped), ("failed (tried again by the next run)", self.failed)):
            if counts:
                lines.append(f"{name}: " + ", ".join(f"{n} {reason}" for reason, n in counts.most_common()))
        if self.cut:
            lines.append(f"{self.cut} bodies cut to {MAX_BODY} characters")
        if self.waiting:
            lines.append(f"interrupted: {self.waiting} articles extracted wait in {FILE_NAME}; the next run stores them")
        details = sitemaps.problems + self.lines
        lines += ["  " + line for line in details[:MAX_LISTED]]
        return lines + ([f"  ... and {len(details) - MAX_LISTED} more"] if len(details) > MAX_LISTED else [])


def to_article(key: str, entry: Entry, response: Response, found: Found) -> tuple[Article, bool]:
    """(the article of a page, whether its body was cut); what a news sitemap says wins over the page.
    Skip when it is not a valid article; an optional field that is not valid is left out."""
    headline = entry.title if entry.title and entry.title.strip() else found.headline
    source = (found.site_name or urlsplit(response.url).hostname or "")[:MAX_NAME].strip()
    fields = {"id": key, "headline": " ".join(headline.split()), "body": found.body[:MAX_BODY].rstrip(),
              "url": response.url, "source": source or None, "published_at": entry.published or found.published,
              "language": language_tag(entry.language) or found.language}
    while True:
        try:
            return validate_article(fields), len(found.body) > MAX_BODY
        except InvalidInput as exc:
            if exc.field not in OPTIONAL or fields.get(exc.field) is None:
                raise Skip("not a valid article", exc.message) from None
            fields[exc.field] = None


class SiteBackfill:
    """Backfills an engine from a site's sitemaps; `limit`: pages fetched this run at the most."""

    def __init__(self, engine: Engine, fetcher: Fetcher, limit: int | None = None, batch: int = BATCH,
                 every: int = PROGRESS_EVERY, echo: Callable[[str], None] = print) -> None:
        self.engine, self.fetcher, self.limit, self.size, self.every, self.echo = \
            engine, fetcher, limit, batch, every, echo
        self.log = PageLog(engine.data_dir)
        self.batch: list[tuple[str, Article]] = []
        self.ids: dict[str, str] = {}  # article id -> the URL it came from, this run
        self.tally = Tally()

    def run(self, root: str) -> tuple[Tally, Sitemaps]:
        """Take every page the sitemaps under `root` list (up to `limit` fetched); Ctrl-C stops cleanly."""
        self.tally, sitemaps, host = Tally(), Sitemaps(self._read_sitemap), urlsplit(root).hostname
        try:
            waiting = self.log.waiting()
            self.ids.update((article.id, url) for url, article in waiting)
            self._store(waiting)
            self.tally.resumed = len(waiting)
            for entry in sitemaps.entries(root):
                if self.limit is not None and self.tally.fetched >= self.limit:
                    break
                self._take(entry, host)
            self._store(self.batch)
        except KeyboardInterrupt:
            self.tally.waiting = len(self.batch)
        return self.tally, sitemaps

    def _read_sitemap(self, url: str) -> bytes:
        try:
            return self.fetcher.get(url, MAX_SITEMAP_BYTES).body
        except Skip as exc:
            raise SitemapError(str(exc)) from None

    def _take(self, entry: Entry, host: str | None) -> None:
        """Fetch one listed page unless an earlier run finished with it; its article joins the batch."""
        if self.log.done(entry.url):
            self.tally.before += 1
            return
        fetched = self.tally.fetched
        try:
            article, cut = self._article(entry, host)
        except Skip as exc:
            self.log.skipped(entry.url, exc.reason, exc.detail, exc.final)
            self.tally.skip(entry.url, exc)
        else:
            self.log.extracted(entry.url, article)
            self.batch.append((entry.url, article))
            self.tally.cut += cut
            if len(self.batch) >= self.size:
                self._store(self.batch)
        if self.tally.fetched > fetched and self.tally.fetched % self.every == 0:
            self.echo(self.tally.progress())

    def _article(self, entry: Entry, host: str | None) -> tuple[Article, bool]:
        parts = urlsplit(entry.url)
        if parts.scheme not in ("http", "https") or parts.hostname != host:
            raise Skip("not an http(s) URL of the sitemap's host", entry.url[:200])
        if (key := article_id(entry.url)) is None:
            raise Skip("no usable article id", entry.url[:200])
        if key in self.ids:
            raise Skip("same article id as another URL", self.ids[key][:200])
        self.fetcher.allowed(entry.url)
        self.tally.fetched += 1
        response = self.fetcher.get(entry.url)
        try:
            found = extract(page_html(response), response.url)
        except Skip:
            raise
        except Exception as exc:  # a page must not stop the run: a parser's bug included
            log.exception("extracting %s", entry.url)
            raise Skip("extraction failed", f"unexpected {type(exc).__name__}: {exc}"[:200]) from None
        article, cut = to_article(key, entry, response, found)
        self.ids[key] = entry.url
        return article, cut

    def _store(self, pages: list[tuple[str, Article]]) -> None:
        """Upsert in batches; each batch's pages are marked stored once it is."""
        for start in range(0, len(pages), self.size):
            chunk = pages[start:start + self.size]
            self.engine.upsert([article for _, article in chunk])
            self.log.stored([url for url, _ in chunk])
            self.tally.stored += len(chunk)
        if pages is self.batch:
            self.batch = []

    def close(self) -> None:
        self.log.close()
