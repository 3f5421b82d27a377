"""Who may write, and how often a client may run the model."""
from __future__ import annotations

import hmac
import logging
import math
import threading
import time
from functools import wraps
from pathlib import Path
from typing import Any, Callable

from flask import Flask, current_app, request

from index.errors import EngineError, InvalidInput

log = logging.getLogger(__name__)
LOCALHOST = {"127.0.0.1", "::1", "localhost"}


class Unauthorized(EngineError):
    code = "unauthorized"


class Forbidden(EngineError):
    code = "forbidden"


class TooManyRequests(EngineError):
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def load_keys(app: Flask) -> list[bytes]:
    """API keys from API_KEYS (comma-separated) and API_KEYS_FILE (one a line)."""
    keys = [k.strip() for k in (app.config.get("API_KEYS") or "").split(",")]
    path = app.config.get("API_KEYS_FILE")
    if path:
        keys += [line.strip() for line in Path(path).read_text().splitlines()]
    return [k.encode() for k in keys if k and not k.startswith("#")]


def requires_key(view: Callable[..., Any]) -> Callable[..., Any]:
    """Writes need `Authorization: Bearer <key>`; with no key configured, only localhost may write."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        keys: list[bytes] = current_app.extensions["api_keys"]
        if not keys:
            if request.remote_addr not in LOCALHOST:
                raise Forbidden("no API key is configured: writes are accepted from localhost only", "Authorization")
            return view(*args, **kwargs)
        header = request.headers.get("Authorization", "")
        given = header[7:].strip().encode() if header.startswith("Bearer ") else b""
        # Compare with every key, always, in constant time: no early exit to time.
        if not given or not any([hmac.compare_digest(given, key) for key in keys]):
            raise Unauthorized("a valid API key is required: Authorization: Bearer <key>", "Authorization")
        return view(*args, **kwargs)

    return guarded


class RateLimiter:
    """A token bucket per client: `rate` requests per `period` seconds, bursts up to `rate`."""

    def __init__(self, rate: int, period: float) -> None:
        self.rate, self.period = rate, period
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, client: str, now: float | None = None) -> float:
        """0 when the request may go, else the seconds to wait for the next token."""
        now = time.monotonic() if now is None else now
        per_second = self.rate / self.period
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.rate), now))
            tokens = min(float(self.rate), tokens + (now - last) * per_second)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                if len(self._buckets) > 100_000:  # forget idle clients rather than grow without bound
                    self._buckets = {c: v for c, v in self._buckets.items() if now - v[1] < self.period}
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1 - tokens) / per_second


def parse_rate(text: str) -> tuple[int, float]:
    """`30/minute`, `5/second`, `1000/hour` -> (count, seconds)."""
    count, _, unit = text.partition("/")
    seconds = {"second": 1, "minute": 60, "hour": 3600}.get(unit.strip())
    if not count.strip().isdigit() or seconds is None or int(count) < 1:
        raise ValueError(f"RATE_LIMIT must look like '30/minute', got {text!r}")
    return int(count), float(seconds)


def rate_limited(view: Callable[..., Any]) -> Callable[..., Any]:
    """Per-client limit on the endpoints that run the model (429 with Retry-After beyond it)."""

    @wraps(view)
    def limited(*args: Any, **kwargs: Any) -> Any:
        limiter: RateLimiter | None = current_app.extensions["rate_limiter"]
        if limiter is not None:
            wait = limiter.take(request.remote_addr or "unknown")
            if wait:
                raise TooManyRequests(f"rate limit of {limiter.rate} per {limiter.period:g} s reached", math.ceil(wait))
        return view(*args, **kwargs)

    return limited


def _check_query_string() -> None:
    limit = int(current_app.config["MAX_QUERY_STRING"])
    if len(request.query_string) > limit:
        raise InvalidInput(f"the query string is longer than {limit} bytes", None)


def init_app(app: Flask) -> None:
    app.extensions["api_keys"] = load_keys(app)
    rate = app.config.get("RATE_LIMIT")
    app.extensions["rate_limiter"] = RateLimiter(*parse_rate(rate)) if rate and rate != "off" else None
    app.before_request(_check_query_string)
    if not app.extensions["api_keys"]:
        log.warning("no API key configured (API_KEYS / API_KEYS_FILE): writes are accepted from localhost only")
