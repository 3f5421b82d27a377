"""Polling feeds: each feed at its own interval (its TTL, between --every and an hour, backing off
after failures), its new and changed entries upserted in one batch a poll. `feeds.sqlite` in the data
folder keeps each feed's HTTP validators and a hash of each entry stored, so an unchanged feed or entry
costs no embedding."""
from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from index.engine import Engine
from index.errors import EngineError
from index.records.article import MAX_BODY

from .fetch import TIMEOUT, FeedError, fetch
from .formats import entry_hash, read_feed, to_article

log = logging.getLogger(__name__)

MAX_INTERVAL = 3600  # a feed is polled at least once an hour, whatever its TTL
REASONS_SHOWN = 3


class FeedLog:
    """Per feed: its validators and the hash of each entry stored (SQLite)."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, timeout=30)
        self.db.executescript("CREATE TABLE IF NOT EXISTS feeds (url TEXT PRIMARY KEY, etag TEXT, modified TEXT);"
                              "CREATE TABLE IF NOT EXISTS entries (feed TEXT, id TEXT, hash TEXT, "
                              "PRIMARY KEY (feed, id))")

    def validators(self, url: str) -> tuple[str | None, str | None]:
        return self.db.execute("SELECT etag, modified FROM feeds WHERE url = ?", (url,)).fetchone() or (None, None)

    def hashes(self, url: str) -> dict[str, str]:
        return dict(self.db.execute("SELECT id, hash FROM entries WHERE feed = ?", (url,)))

    def remember(self, url: str, etag: str | None, modified: str | None, stored: dict[str, str]) -> None:
        """Record a poll whose entries are stored, in one transaction."""
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO feeds VALUES (?, ?, ?)", (url, etag, modified))
            self.db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?)",
                                [(url, key, digest) for key, digest in stored.items()])


@dataclass
class Poll:
    """What one poll of one feed did, as one line."""

    url: str
    status: str  # fetched, not modified, error
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)
    cut: int = 0
    error: str | None = None
    next_in: float = 0.0

    def line(self) -> str:
        if self.status != "fetched":
            return f"{self.url}: {self.status}" + (f": {self.error}" if self.error else "")
        reasons = "; ".join(self.skipped[:REASONS_SHOWN]) + ("; ..." if len(self.skipped) > REASONS_SHOWN else "")
        return (f"{self.url}: fetched: {self.new} new, {self.changed} changed, {self.unchanged} unchanged, "
                f"{len(self.skipped)} skipped" + (f" ({reasons})" if reasons else "")
                + (f", {self.cut} cut to {MAX_BODY} characters" if self.cut else ""))


class Follower:
    """Polls feeds into an engine; `every` is the shortest interval between two polls of a feed."""

    def __init__(self, engine: Engine, every: float, timeout: float = TIMEOUT) -> None:
        self.engine, self.every, self.timeout = engine, every, timeout
        self.log = FeedLog(engine.data_dir / "feeds.sqlite")
        self.ttl: dict[str, int | None] = {}
        self.failures: dict[str, int] = {}

    def poll(self, url: str) -> Poll:
        """Fetch one feed and upsert its new and changed entries in one batch; never raises for bad input."""
        try:
            done = self._poll(url)
            self.failures.pop(url, None)
            done.next_in = min(max(self.ttl.get(url) or self.every, self.every), MAX_INTERVAL)
            return done
        except (FeedError, EngineError, sqlite3.Error) as exc:
            error = str(exc)
        except Exception as exc:  # a feed must not stop the others: a parser's bug included
            log.exception("polling %s", url)
            error = f"unexpected {type(exc).__name__}: {exc}"
        self.failures[url] = self.failures.get(url, 0) + 1
        backoff = min(self.every * 2 ** self.failures[url], MAX_INTERVAL)
        return Poll(url, "error", error=f"{error}; nothing stored", next_in=backoff)

    def _poll(self, url: str) -> Poll:
        fetched = fetch(url, *self.log.validators(url), timeout=self.timeout)
        if fetched.status == 304:
            return Poll(url, "not modified")
        info, items = read_feed(fetched)
        self.ttl[url] = info.ttl
        done, known, fresh, seen = Poll(url, "fetched"), self.log.hashes(url), {}, {}
        for number, item in enumerate(items, start=1):
            article, note = to_article(item, info, url)
            if article is None or article.id in seen:
                done.skipped.append(f"item {number}: " + (note if article is None else f"repeats item {seen[article.id]}"))
                continue
            seen[article.id], digest = number, entry_hash(article)
            done.cut += note == "cut"
            if known.get(article.id) == digest:
                done.unchanged += 1
                continue
            done.changed += article.id in known
            done.new += article.id not in known
            fresh[article.id] = (article, digest)
        if fresh:
            self.engine.upsert([article for article, _ in fresh.values()])
        self.log.remember(url, fetched.headers.get("etag"), fetched.headers.get("last-modified"),
                          {key: digest for key, (_, digest) in fresh.items()})
        return done

    def run(self, urls: Sequence[str], once: bool, echo: Callable[[str], None],
            sleep: Callable[[float], None] = time.sleep) -> int:
        """Poll each feed when due, one line a poll; `once`: each feed once. Returns the failed polls."""
        due, failed = dict.fromkeys(urls, 0.0), 0
        while True:
            for url in [u for u, at in due.items() if at <= time.monotonic()]:
                done = self.poll(url)
                failed += done.status == "error"
                then = "retry" if done.error else "next poll"
                echo(done.line() if once else f"{done.line()}; {then} in {done.next_in:.0f}s")
                due[url] = time.monotonic() + done.next_in
            if once:
                return failed
            sleep(max(0.0, min(due.values()) - time.monotonic()))

    def close(self) -> None:
        self.log.db.close()
