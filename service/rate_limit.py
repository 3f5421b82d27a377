"""How often a client may run the model: a token bucket per client address, shared by every worker
(a SQLite file of the data folder) or every machine (the shared database); 429 with Retry-After beyond."""
from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, current_app, request

from index.errors import EngineError
from index.store.base import Buckets
from index.store.factory import Backend

log = logging.getLogger(__name__)


class TooManyRequests(EngineError):
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after




class RateLimiter:
    """A token bucket per client, `rate` requests per `period` seconds, bursts up to `rate`, kept where
    every worker shares it: a SQLite file of the data folder, or the shared database (`DATABASE_URL`),
    so that several machines share one limit."""

    def __init__(self, rate: int, period: float, buckets: Buckets) -> None:
        self.rate, self.period = rate, period
        self._buckets = buckets

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


def init_app(app: Flask, backend: Backend) -> None:
    """The shared rate limit (RATE_LIMIT), its buckets where the engine's backend keeps them (opened
    only when there is a limit)."""
    rate = (app.config.get("RATE_LIMIT") or "off").strip()
    app.extensions["rate_limiter"] = None if rate == "off" else RateLimiter(*parse_rate(rate), backend.buckets)
