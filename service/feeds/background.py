"""The server following its FEEDS: one process of a data folder polls them in a thread of its own (the
one that holds `.feeds.lock`; a gunicorn's other workers, or a second server, leave them to it)."""
from __future__ import annotations

import logging
import threading
from contextlib import ExitStack
from urllib.parse import urlsplit

from flask import Flask

from index.engine import Engine
from index.sqlite import file_lock

log = logging.getLogger(__name__)


def feed_urls(setting: str | None) -> list[str]:
    """The URLs of a comma-separated list (the FEEDS setting); ValueError for one that is not http(s)."""
    urls = [url.strip() for url in (setting or "").split(",") if url.strip()]
    bad = [url for url in urls if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname]
    if bad:
        raise ValueError(f"not an http(s) URL: {bad[0]}")
    return list(dict.fromkeys(urls))


class Following:
    """A thread polling feeds until `stop`; it holds the data folder's feeds lock while it runs."""

    def __init__(self, engine: Engine, urls: list[str], every: int, lock: ExitStack) -> None:
        self.engine, self.urls, self.every, self._lock = engine, urls, every, lock
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="feeds", daemon=True)

    def _run(self) -> None:
        from .follower import Follower  # feedparser: loaded by a process that follows feeds only

        follower = Follower(self.engine, self.every)  # here: its SQLite connection belongs to this thread
        try:
            follower.run(self.urls, False, log.info, sleep=self._sleep)
        except _Stopped:
            pass
        finally:
            follower.close()
            self._lock.close()

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise _Stopped

    def stop(self, timeout: float = 30) -> None:
        """Stop after the poll under way, and release the lock."""
        self._stop.set()
        self.thread.join(timeout)


class _Stopped(Exception):
    pass


def follow_in_background(app: Flask) -> Following | None:
    """Follow FEEDS in a daemon thread of this process, unless none is set or another process of the
    data folder already follows them (None then)."""
    urls = feed_urls(app.config.get("FEEDS"))
    if not urls:
        return None
    engine = app.extensions["engine"]
    lock = ExitStack()  # held until the thread stops (the system lets it go when the process dies)
    if not lock.enter_context(file_lock(engine.data_dir / ".feeds.lock", exclusive=True)):
        lock.close()
        return None
    following = app.extensions["feeds"] = Following(engine, urls, int(app.config["FEED_EVERY"]), lock)
    following.thread.start()
    log.info("following %d feed%s, each polled every %ss at the most", len(urls), "" if len(urls) == 1 else "s",
             app.config["FEED_EVERY"])
    return following
