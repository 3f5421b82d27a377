"""Who may write (API keys, or this machine in development), who the client is behind a proxy, and
how long a query string may be. How often a client may run the model: `rate_limit`."""
from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

from index.errors import EngineError, InvalidInput

log = logging.getLogger(__name__)
LOCALHOST = {"127.0.0.1", "::1"}
MIN_KEY_LENGTH = 16  # characters; a shorter key is warned about at start (random 16 characters are ~80+ bits)
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
# Headers a reverse proxy may add: a request carrying one came through a proxy, whatever its address.
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port",
                 "X-Forwarded-Prefix", "X-Real-IP", "Via")


class Unauthorized(EngineError):
    code = "unauthorized"


class Forbidden(EngineError):
    code = "forbidden"


class UnsupportedMediaType(EngineError):
    code = "unsupported_media_type"


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


def _check_query_string() -> None:
    limit = int(current_app.config["MAX_QUERY_STRING"])
    if len(request.query_string) > limit:
        raise InvalidInput(f"the query string is longer than {limit} bytes", None)


def init_app(app: Flask) -> None:
    """Keys, the query-string limit and, with TRUSTED_PROXIES=N, the client's address from the headers
    of the N proxies in front."""
    app.extensions["api_keys"] = load_keys(app)
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
