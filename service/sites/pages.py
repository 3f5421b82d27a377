"""Fetching a site's pages politely: robots.txt read with the feed follower's user agent, requests to a host
spaced at a rate (its Crawl-delay when longer), retries with exponential backoff on 429, 5xx, timeouts and
lost connections (Retry-After honoured), redirects within the host only, a size cap."""
from __future__ import annotations

import http.client
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

# The feed follower's user agent, its redirect rule (same host; http to https, not back) and bounded read.
from ..feeds.fetch import USER_AGENT, BodyTooLarge, OtherHost, SameHost, read_body

ACCEPT = "text/html, application/xhtml+xml, application/xml;q=0.9, */*;q=0.5"
TIMEOUT = 20.0  # seconds for a whole page
TRIES = 4  # a page is given up after this many attempts (the next run tries it again)
BACKOFF = 1.0  # seconds before the first retry, twice as long before each next one
MAX_RETRY_AFTER = 300.0  # a longer Retry-After gives the page up for this run
MAX_PAGE_BYTES = 5 * 1024 * 1024
MAX_ROBOTS_BYTES = 512 * 1024
RETRIED = frozenset({429, 500, 502, 503, 504})


class Skip(Exception):
    """A URL not fetched, or not used: `reason` is its kind (counted in the summary), `detail` the particulars.
    `final`: the next run leaves it alone; otherwise (a failure that may pass) it is tried again."""

    def __init__(self, reason: str, detail: str = "", final: bool = True) -> None:
        super().__init__(f"{reason} ({detail})" if detail else reason)
        self.reason, self.detail, self.final = reason, detail, final


class _Retry(Exception):
    """A failure worth another try: after `wait` seconds when the server said so (Retry-After)."""

    def __init__(self, reason: str, detail: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.detail, self.wait = reason, detail, wait


class Response(NamedTuple):
    status: int
    body: bytes
    headers: dict[str, str]  # names in lower case
    url: str  # after redirects (within the host)


def size(limit: int) -> str:
    return f"{limit / 1024 / 1024:g} MB" if limit >= 1024 * 1024 else f"{limit / 1024:g} KB"


def retry_after(headers: Any) -> float | None:
    """Seconds a Retry-After header asks for (a number or an HTTP date), or None."""
    value = (headers.get("Retry-After") or "").strip() if headers is not None else ""
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time()) if value else None
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _read(response: Any, url: str, timeout: float, max_bytes: int) -> Response:
    headers = {k.lower(): v for k, v in response.headers.items()}
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise Skip(f"larger than {size(max_bytes)}", f"{int(length):,} bytes announced; not downloaded")
    try:
        body = read_body(response, max_bytes, time.monotonic() + timeout)
    except BodyTooLarge:
        raise Skip(f"larger than {size(max_bytes)}", f"over {max_bytes:,} bytes; the rest not downloaded") from None
    except TimeoutError:
        raise _Retry("timed out", f"after {timeout:g}s") from None
    return Response(response.status, body, headers, response.url)


def get_once(url: str, timeout: float, max_bytes: int) -> Response:
    """One GET: the response, or Skip (not worth retrying), or _Retry."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": ACCEPT})
    try:
        with urllib.request.build_opener(SameHost).open(request, timeout=timeout) as response:
            return _read(response, url, timeout, max_bytes)
    except HTTPError as exc:
        exc.close()
        if exc.code in RETRIED:
            raise _Retry(f"HTTP {exc.code}", str(exc.reason), retry_after(exc.headers)) from None
        raise Skip(f"HTTP {exc.code}", str(exc.reason)) from None
    except OtherHost as exc:
        raise Skip("redirected to another host", exc.url) from None
    except (URLError, OSError, ValueError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise _Retry("timed out", f"after {timeout:g}s") from None
        if isinstance(exc, ValueError):
            raise Skip("not a URL that can be fetched", str(exc)[:100]) from None
        raise _Retry("connection failed", str(reason)[:100]) from None


@dataclass
class Host:
    """What is known of one host: its robots.txt rules, the gap between two requests, when the next may go."""

    robots: RobotFileParser
    delay: float
    next_at: float = 0.0
    unreachable: str | None = None  # robots.txt could not be read: the host is not crawled this run


class Fetcher:
    """GETs URLs politely, one at a time; `rate` is requests a second per host at the most."""

    def __init__(self, rate: float = 1.0, timeout: float | None = None, tries: int | None = None,
                 backoff: float | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / rate
        self.timeout = timeout if timeout is not None else TIMEOUT
        self.tries = tries if tries is not None else TRIES
        self.backoff = backoff if backoff is not None else BACKOFF
        self.sleep, self.hosts = sleep, {}

    def allowed(self, url: str) -> None:
        """Raise Skip when robots.txt keeps us from `url` (or could not be read)."""
        host = self._host(url)
        if host.unreachable:
            raise Skip("robots.txt unreachable", host.unreachable, final=False)
        if not host.robots.can_fetch(USER_AGENT, url):
            raise Skip("disallowed by robots.txt")

    def get(self, url: str, max_bytes: int = MAX_PAGE_BYTES) -> Response:
        """GET `url` when robots.txt allows it; Skip says why not."""
        self.allowed(url)
        response = self._with_retries(url, self._host(url), max_bytes)
        if response.url != url:  # redirected within the host: to a path robots.txt may keep us from
            self.allowed(response.url)
        return response

    def _with_retries(self, url: str, host: Host, max_bytes: int) -> Response:
        for attempt in range(1, self.tries + 1):
            self._wait(host)
            try:
                return get_once(url, self.timeout, max_bytes)
            except _Retry as exc:
                failed = exc
                pause = max(self.backoff * 2 ** (attempt - 1), exc.wait or 0.0)
                if pause > MAX_RETRY_AFTER:
                    raise Skip(exc.reason, f"{exc.detail}; asked to come back in {pause:.0f}s", final=False) from None
                host.next_at = max(host.next_at, time.monotonic() + pause)
        raise Skip(failed.reason, f"{failed.detail}; {self.tries} tries", final=False)

    def _wait(self, host: Host) -> None:
        if (pause := host.next_at - time.monotonic()) > 0:
            self.sleep(pause)
        host.next_at = time.monotonic() + host.delay

    def _host(self, url: str) -> Host:
        parts = urlsplit(url)
        origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        if origin not in self.hosts:
            host = self.hosts[origin] = Host(RobotFileParser(origin + "/robots.txt"), self.interval)
            self._read_robots(origin, host)
        return self.hosts[origin]

    def _read_robots(self, origin: str, host: Host) -> None:
        """Read the host's robots.txt (RFC 9309): none (4xx) allows everything; one that cannot be read
        (5xx, timeouts) allows nothing this run. A Crawl-delay longer than the rate's gap is kept."""
        try:
            response = self._with_retries(origin + "/robots.txt", host, MAX_ROBOTS_BYTES)
            host.robots.parse(response.body.decode("utf-8", "replace").lstrip("\ufeff").splitlines())
        except Skip as exc:
            if exc.final:  # 4xx, a redirect elsewhere, too large: no rules
                host.robots.allow_all = True
            else:
                host.unreachable = str(exc)
        delay = host.robots.crawl_delay(USER_AGENT) if not host.robots.allow_all else None
        host.delay = max(self.interval, float(delay or 0))
        host.next_at += host.delay - self.interval  # the next request waits the Crawl-delay after this one
