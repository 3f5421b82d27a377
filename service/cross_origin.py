"""CORS: which pages may call the API and load the widget (`WIDGET_ORIGINS`; any when unset)."""
from __future__ import annotations

from flask import Flask, Response, current_app, request

CORS_PATHS = ("/v1/", "/widget.js", "/widget/")


def parse_origins(setting: str | None) -> frozenset[str] | None:
    """`WIDGET_ORIGINS` as a set of origins; None means any origin ('' or '*')."""
    origins = {o.strip().rstrip("/").lower() for o in (setting or "").split(",") if o.strip()}
    return None if not origins or "*" in origins else frozenset(origins)


def allow_origin(origin: str | None, allowed: frozenset[str] | None) -> str | None:
    """The Access-Control-Allow-Origin value for a request from `origin` (None: no header)."""
    if allowed is None:
        return "*"
    return origin if origin and origin.rstrip("/").lower() in allowed else None


def allowed_origins() -> frozenset[str] | None:
    return parse_origins(current_app.config.get("WIDGET_ORIGINS"))


def add_allow_origin(response: Response) -> Response:
    """Access-Control-Allow-Origin on GET answers of the API and the widget's files."""
    if request.method in ("GET", "HEAD") and request.path.startswith(CORS_PATHS):
        value = allow_origin(request.headers.get("Origin"), allowed_origins())
        if value:
            response.headers["Access-Control-Allow-Origin"] = value
        response.vary.add("Origin")
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_allow_origin)
