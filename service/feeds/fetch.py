"""Fetching a feed over HTTP: a user agent, a time limit on the whole fetch, conditional requests
(ETag, Last-Modified: a 304 costs nothing), redirects followed within the feed's host only. The redirect
rule and the bounded read serve the site backfill's page fetching too (`sites.pages`)."""
from __future__ import annotations

import http.client
import time
import urllib.request
from typing import Any, NamedTuple
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

USER_AGENT = "related-headlines/0.1 (feed follower; python -m service follow)"
ACCEPT = "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, */*;q=0.5"
TIMEOUT = 20.0  # seconds for a whole fetch
MAX_FEED_BYTES = 16 * 1024 * 1024


class FeedError(Exception):
    """A feed could not be fetched or read: nothing of it is stored this poll."""


class Fetched(NamedTuple):
    status: int  # 200, or 304 not modified
    body: bytes
    headers: dict[str, str]  # names in lower case
    url: str  # after redirects (within the host)


class OtherHost(FeedError):
    """A redirect to another host (or from https to http), not followed; `url` is where it led."""

    def __init__(self, url: str) -> None:
        super().__init__(f"redirected to another host ({url}); not followed")
        self.url = url


class BodyTooLarge(Exception):
    """A body past its size cap: the rest is not downloaded."""


class SameHost(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        """Follow a redirect only to the same host (http to https allowed, not back)."""
        old, new = urlsplit(req.full_url), urlsplit(newurl)
        if (new.hostname or "").lower() != (old.hostname or "").lower() or new.scheme not in ("http", "https") \
                or (old.scheme, new.scheme) == ("https", "http"):
            fp.close()
            raise OtherHost(newurl[:200])
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def read_body(response: Any, max_bytes: int, deadline: float) -> bytes:
    """What a response's body holds, read as it comes, so that a trickle cannot outlast `deadline` (a
    `time.monotonic()`: TimeoutError past it); BodyTooLarge past `max_bytes`."""
    body = bytearray()
    while chunk := response.read1(65_536):
        body += chunk
        if len(body) > max_bytes:
            raise BodyTooLarge
        if time.monotonic() > deadline:
            raise TimeoutError
    return bytes(body)


def fetch(url: str, etag: str | None, modified: str | None, timeout: float = TIMEOUT) -> Fetched:
    """GET a feed with its validators; a 304 comes back with an empty body."""
    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT}
    headers.update({k: v for k, v in (("If-None-Match", etag), ("If-Modified-Since", modified)) if v})
    deadline, lower = time.monotonic() + timeout, lambda h: {k.lower(): v for k, v in h.items()}
    try:
        with urllib.request.build_opener(SameHost).open(urllib.request.Request(url, headers=headers),
                                                        timeout=timeout) as response:
            body = read_body(response, MAX_FEED_BYTES, deadline)
            return Fetched(response.status, body, lower(response.headers), response.url)
    except BodyTooLarge:
        raise FeedError(f"larger than {MAX_FEED_BYTES} bytes") from None
    except HTTPError as exc:
        exc.close()
        if exc.code == 304:
            return Fetched(304, b"", lower(exc.headers), url)
        raise FeedError(f"HTTP {exc.code} {exc.reason}") from None
    except (URLError, OSError, ValueError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise FeedError(f"timed out after {timeout:g}s" if isinstance(reason, TimeoutError)
                        else f"cannot fetch: {reason}") from None
