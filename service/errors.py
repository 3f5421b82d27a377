"""One place where errors become JSON: `{"error": {"code", "message", "field"}}`."""
from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from index.errors import (
    EngineError,
    IndexCorrupt,
    InvalidInput,
    ModelMismatch,
    NotFound,
    StorageFull,
    StoreUnavailable,
    is_storage_full,
)
from index.store.postgres import unavailable

from .rate_limit import TooManyRequests
from .request_body import BodyTimeout
from .security import Forbidden, Unauthorized, UnsupportedMediaType

log = logging.getLogger(__name__)

STATUS = {
    InvalidInput: 400, Unauthorized: 401, Forbidden: 403, NotFound: 404, UnsupportedMediaType: 415,
    BodyTimeout: 408, TooManyRequests: 429,
    ModelMismatch: 503, IndexCorrupt: 503, StoreUnavailable: 503,
    StorageFull: 507,
}
STORAGE_RETRY_SECONDS = 60  # Retry-After of a write refused for want of disk space (507)


def error_response(status: int, code: str, message: str, field: str | None = None):
    response = jsonify({"error": {"code": code, "message": message, "field": field}})
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(EngineError)
    def engine_error(exc: EngineError):
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 500)
        if status >= 500:
            log.error("engine error: %s", exc.message)
        response = error_response(status, exc.code, exc.message, exc.field)
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, StorageFull):
            response.headers["Retry-After"] = str(STORAGE_RETRY_SECONDS)
        if isinstance(exc, Unauthorized):
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = {413: "too_large", 404: "not_found", 405: "method_not_allowed", 414: "uri_too_long",
                308: "moved"}.get(exc.code, "http_error")
        message = exc.description or exc.name
        if exc.code == 413:
            message = f"request body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes"
        response = error_response(exc.code or 500, code, message)
        for header in ("Allow", "Location"):  # 405 says what is allowed, a redirect where to go
            value = exc.get_response().headers.get(header)
            if value:
                response.headers[header] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if is_storage_full(exc):  # PostgreSQL's disk_full (SQLSTATE 53100): as SQLite's, 507 naming it
            return engine_error(StorageFull("the database's disk is full; the write was not kept, send it again later"))
        if unavailable(exc):  # DATABASE_URL's server is down or saturated: a client may try again
            log.error("database unavailable: %s", exc)
            response = error_response(503, "database_unavailable", "the database is unavailable; try again shortly")
            response.headers["Retry-After"] = "5"
            return response
        log.exception("unhandled error")
        return error_response(500, "internal", "internal server error")
