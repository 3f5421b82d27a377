"""One place where errors become JSON: `{"error": {"code", "message", "field"}}`."""
from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from index.errors import EngineError, IndexCorrupt, InvalidInput, ModelMismatch, NotFound

log = logging.getLogger(__name__)

STATUS = {InvalidInput: 400, NotFound: 404, ModelMismatch: 503, IndexCorrupt: 503}


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
        return error_response(status, exc.code, exc.message, exc.field)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = {413: "too_large", 404: "not_found", 405: "method_not_allowed"}.get(exc.code, "http_error")
        message = exc.description or exc.name
        if exc.code == 413:
            message = f"request body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes"
        return error_response(exc.code or 500, code, message)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal", "internal server error")
