"""Who may write, who the client is behind a proxy, and how often a client may run the model."""
from __future__ import annotations

import hmac
import logging
import math
import random
import threading
import time
from functools import wraps
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from flask import Flask, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

from index.errors import EngineError, InvalidInput
from index.sqlite import open_cache_file, transaction

log = logging.getLogger(__name__)
LOCALHOST = {"127.0.0.1", "::1"}
MIN_KEY_LENGTH = 16  # characters; a shorter key is warned about at start (random 16 characters are ~80+ bits)
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
# Headers a reverse proxy may add: a request carrying one came through a proxy, whatever its address.
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port",
                 "X-Forwarded-Prefix", "X-Real-IP", "Via")
LIMITS_WAIT_MS = 1000  # how long a request waits for another worker's hold on the shared rate limit


class Unauthorized(EngineError):
    code = "unauthorized"


class Forbidden(EngineError):
    code = "forbidden"


class UnsupportedMediaType(EngineError):
    code = "unsupported_media_type"


class TooManyRequests(EngineError):
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def load_keys(app: Flask) -> list[bytes]:
    """API keys from API_KEYS (comma-separated) and API_KEYS_FILE (one a line, `#` comments)."""
    keys = [k.strip() for k in (app.config.get("API_KEYS") or "").split(",")]
    path = app.config.get("API_KEYS_FILE")
    if path:
        try:
            keys += [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines()]
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"API_KEYS_FILE {path!r} cannot be read: {exc.strerror or exc}") from None
    return [k.encode() for k in keys if k and not k.startswith("#")]


def bearer_token(header: str) -> bytes:
    """The credentials of `Authorization: Bearer <token>` (the scheme is case-insensitive, RFC 7235)."""
    scheme, _, token = header.strip().partition(" ")
    return token.strip().encode() if scheme.lower() == "bearer" else b""


def from_this_machine() -> bool:
    """A request sent from this machine straight to the server: the socket's own peer is a loopback
    address (before any TRUSTED_PROXIES rewriting), no proxy header is present, and the Host is a
    loopback name (a page whose name was rebound to 127.0.0.1 still sends its own). A proxy on this
    machine that adds no header and keeps a loopback Host cannot be told apart: do not set
    ALLOW_LOCAL_WRITES behind one."""
    peer = request.environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR", request.remote_addr)
    host = urlsplit(f"//{request.host}").hostname or ""  # lower case, without port or brackets
    return (peer in LOCALHOST and host in LOOPBACK_HOSTS
            and not any(h in request.headers for h in PROXY_HEADERS))


def requires_key(view: Callable[..., Any]) -> Callable[..., Any]:
    """Writes need `Authorization: Bearer <key>`. With no key configured, they are refused, unless
    ALLOW_LOCAL_WRITES is set (`make run`) and the request comes from this machine, not via a proxy."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        keys: list[bytes] = current_app.extensions["api_keys"]
        if not keys:
            if not (current_app.config["ALLOW_LOCAL_WRITES"] and from_this_machine()):
                raise Forbidden("writes need an API key (set API_KEYS); ALLOW_LOCAL_WRITES=1 accepts writes "
                                "sent from this machine without one", "Authorization")
            return view(*args, **kwargs)
        given = bearer_token(request.headers.get("Authorization", ""))
        # Compare with every key, always, in constant time: no early exit to time.
        if not given or not any([hmac.compare_digest(given, key) for key in keys]):
            raise Unauthorized("a valid API key is required: Authorization: Bearer <key>", "Authorization")
        return view(*args, **kwargs)

    return guarded


# (a bucket's (tokens, at) or None, the time) -> (tokens, at, wait): see `RateLimiter.spend`.
Spend = Callable[[tuple[float, float] | None, float], tuple[float, float, float]]


class RateLimiter:
    """A token bucket per client, `rate` requests per `period` seconds, bursts up to `rate`, kept where
    every worker shares it: a SQLite file of the data folder, or the shared database (`DATABASE_URL`),
    so that several machines share one limit."""

    def __init__(self, rate: int, period: float, buckets: Path | Any) -> None:
        self.rate, self.period = rate, period
        self._buckets = SqliteBuckets(buckets) if isinstance(buckets, Path) else buckets

    def take(self, client: str, now: float | None = None) -> float:
        """0 when the request may go, else the seconds to wait for the next token.

        Args:
            now: the time (tests); by default the wall clock (the same in every process), read only
                once the client's bucket is locked.
        """
        clock = time.time if now is None else (lambda: now)
        # Idle clients (full buckets) are forgotten now and then rather than kept without bound.
        forget_after = self.period if random.random() < 0.001 else None
        return self._buckets.update(client, clock, self.spend, forget_after)

    def spend(self, row: tuple[float, float] | None, now: float) -> tuple[float, float, float]:
        """A bucket's (tokens, at) after one request at `now`, and the wait (0: the request goes).

        A bucket's clock never moves backwards: a time read before another request's (a clock
        behind, on another machine) would refill the same seconds twice.
        """
        per_second = self.rate / self.period
        tokens, last = row if row else (float(self.rate), now)
        now = max(now, last)
        tokens = min(float(self.rate), tokens + (now - last) * per_second)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / per_second
        return (tokens - 1 if not wait else tokens), now, wait


class SqliteBuckets:
    """Token buckets in a SQLite file (see `RateLimiter`)."""

    def __init__(self, path: Path) -> None:
        schema = "CREATE TABLE IF NOT EXISTS buckets (client TEXT PRIMARY KEY, tokens REAL, at REAL);"
        self._conn = open_cache_file(path, schema, "rate-limit state", busy_timeout_ms=LIMITS_WAIT_MS)
        self._lock = threading.Lock()

    def update(self, client: str, clock: Callable[[], float], spend: Spend, forget_after: float | None) -> float:
        """Replace a client's (tokens, at) by spend's in one transaction, the time read from `clock`
        once every other process's update is done (BEGIN IMMEDIATE); returns spend's wait.

        Args:
            forget_after: also drop the buckets idle for longer than this many seconds.
        """
        with transaction(self._conn, self._lock) as conn:
            now = clock()
            row = conn.execute("SELECT tokens, at FROM buckets WHERE client = ?", (client,)).fetchone()
            tokens, at, wait = spend(tuple(row) if row else None, now)
            conn.execute("INSERT INTO buckets (client, tokens, at) VALUES (?, ?, ?) "
                         "ON CONFLICT(client) DO UPDATE SET tokens = excluded.tokens, at = excluded.at",
                         (client, tokens, at))
            if forget_after is not None:
                conn.execute("DELETE FROM buckets WHERE at < ?", (now - forget_after,))
        return wait


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
            try:
                wait = limiter.take(request.remote_addr or "unknown")
            except Exception as exc:  # the shared table is busy beyond its timeout, or unreachable: let it go
                log.warning("rate limit not checked (%s); request let through", exc)
                wait = 0.0
            if wait:
                raise TooManyRequests(f"rate limit of {limiter.rate} per {limiter.period:g} s reached", math.ceil(wait))
        return view(*args, **kwargs)

    return limited


def _check_query_string() -> None:
    limit = int(current_app.config["MAX_QUERY_STRING"])
    if len(request.query_string) > limit:
        raise InvalidInput(f"the query string is longer than {limit} bytes", None)


def init_app(app: Flask, data_dir: Path, shared_buckets: Any = None) -> None:
    """Keys, the shared rate limit (in `data_dir`, or `shared_buckets` of the shared database), the
    query-string limit and, with TRUSTED_PROXIES=N, the client's address from the headers of the N
    proxies in front."""
    app.extensions["api_keys"] = load_keys(app)
    rate = (app.config.get("RATE_LIMIT") or "off").strip()
    buckets = shared_buckets or Path(data_dir) / "limits.sqlite"
    limiter = None if rate == "off" else RateLimiter(*parse_rate(rate), buckets)
    app.extensions["rate_limiter"] = limiter
    app.before_request(_check_query_string)
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]


def warn_about_writes(app: Flask) -> None:
    """Say at a server's start who may write through it (the commands write directly, not through it)."""
    if not app.extensions["api_keys"]:
        log.warning("no API key configured (API_KEYS / API_KEYS_FILE): writes over HTTP are %s",
                    "accepted from this machine only (ALLOW_LOCAL_WRITES)" if app.config["ALLOW_LOCAL_WRITES"] else "refused")
    short = sum(1 for key in app.extensions["api_keys"] if len(key.decode()) < MIN_KEY_LENGTH)
    if short:  # how many, never which: the log must not help guess them
        log.warning("%d API key%s shorter than %d characters (API_KEYS / API_KEYS_FILE): use long random keys",
                    short, " is" if short == 1 else "s are", MIN_KEY_LENGTH)
