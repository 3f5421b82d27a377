"""Request bodies read whole, within one deadline, before Flask sees them.

A client that sends its body a byte every few seconds held a server thread for as long as it cared to:
eight of them took every thread of `make serve-prod`. Here a body that is not in by BODY_TIMEOUT seconds
is answered 408 and its thread is free again.

The deadline is one for the whole body, not one a read: gunicorn's `wsgi.input.read(n)` loops on
`recv()` until it has n bytes (at least 1 KiB), so a socket timeout, which bounds each `recv()`, lets a
byte every (timeout - 1) s through for ever. A timer instead shuts the socket's reading side when the
time is up: the `recv()` waiting returns at once, the answer is still written.
"""
from __future__ import annotations

import io
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, request

from index.errors import EngineError, InvalidInput

# Where the servers put the client's socket: gunicorn, and werkzeug's (`python -m service serve`).
SOCKET_KEYS = ("gunicorn.socket", "werkzeug.socket")
TIMED_OUT = "service.body_timeout"  # environ keys the middleware leaves for the request hook
UNREADABLE = "service.body_unreadable"
STEP = 64 * 1024  # bytes a read

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class BodyTimeout(EngineError):
    code = "request_timeout"


class BodyDeadline:
    """WSGI middleware: reads the body of a request that has one (up to MAX_CONTENT_LENGTH + 1 bytes)
    within BODY_TIMEOUT seconds and hands the app an in-memory copy; marks the request when the time ran
    out or the body could not be read. Requests without a socket (Flask's test client) pass untouched."""

    def __init__(self, wsgi_app: WSGIApp, app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        seconds = float(self.app.config["BODY_TIMEOUT"])
        sock = next((environ[key] for key in SOCKET_KEYS if environ.get(key) is not None), None)
        if sock is not None and seconds > 0:
            read_within(environ, sock, seconds, int(self.app.config["MAX_CONTENT_LENGTH"]))
        return self.wsgi_app(environ, start_response)


def declared_length(environ: dict[str, Any]) -> int | None:
    """The body's Content-Length; None when it is chunked or the header is not a number (Flask decides)."""
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return None
    try:
        return int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None


def read_within(environ: dict[str, Any], sock: socket.socket, seconds: float, limit: int) -> None:
    """Replace `wsgi.input` by the body read within `seconds`: exactly Content-Length bytes, or a
    chunked body up to `limit` + 1 bytes (the app answers 413 beyond `limit`, as without this)."""
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    wanted = limit + 1 if chunked and environ.get("wsgi.input_terminated") else declared_length(environ)
    if not wanted or (not chunked and wanted > limit):  # no body, or refused unread from its length
        return
    cut = threading.Event()
    timer = threading.Timer(seconds, _shut_reading, (sock, cut))
    timer.daemon = True
    timer.start()
    stream, parts, size, complete, failure = environ["wsgi.input"], [], 0, False, None
    try:
        while size < wanted:
            part = stream.read(min(STEP, wanted - size))
            if not part:
                complete = chunked  # a chunked body ends with its last chunk; a shorter one was cut
                break
            parts.append(part)
            size += len(part)
        else:
            complete = True
    except Exception as exc:  # noqa: BLE001 - a malformed chunk, a client gone, a shut socket: the client's doing
        failure = exc
    finally:
        timer.cancel()
    if cut.is_set() and not complete:
        environ[TIMED_OUT] = seconds
    elif failure is not None:
        environ[UNREADABLE] = type(failure).__name__
    environ["wsgi.input"] = io.BytesIO(b"".join(parts))


def _shut_reading(sock: socket.socket, cut: threading.Event) -> None:
    cut.set()
    try:
        # socket.socket's own shutdown, also for a TLS socket (whose shutdown would end TLS for the answer too)
        socket.socket.shutdown(sock, socket.SHUT_RD)
    except OSError:  # already closed
        pass


def refuse_unread_bodies() -> None:
    """408 for a body that did not arrive in time, 400 for one that could not be read (naming the body)."""
    if TIMED_OUT in request.environ:
        raise BodyTimeout(f"the request body was not received within {request.environ[TIMED_OUT]:g} s "
                          "(BODY_TIMEOUT)", "body")
    if UNREADABLE in request.environ:
        raise InvalidInput(f"the request body could not be read ({request.environ[UNREADABLE]})", "body")


def init_app(app: Flask) -> None:
    app.wsgi_app = BodyDeadline(app.wsgi_app, app)  # type: ignore[method-assign]
    app.before_request(refuse_unread_bodies)
