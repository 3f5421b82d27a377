"""Security headers: `nosniff` on every response; on the service's own HTML pages (the demo) a
Content-Security-Policy that allows what they load, and no framing.

The widget's iframe page (`/widget/<id>`) sets its own policy, which lets WIDGET_ORIGINS frame it, and
`/widget.js` is a script other sites load: neither gets the pages' policy nor X-Frame-Options.
"""
from __future__ import annotations

from flask import Flask, Response

from .widget import csp_hash, css_between_markers, read_script


def site_policy() -> str:
    """The demo page's policy: its scripts and stylesheet from this origin, its API calls to this origin,
    and the one inline stylesheet widget.js adds to a page (allowed by its hash); nothing else."""
    widget_css = csp_hash(css_between_markers(read_script()))
    return ("default-src 'none'; script-src 'self'; "
            f"style-src 'self' {widget_css}; connect-src 'self'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")


def add_security_headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    if response.mimetype == "text/html" and "Content-Security-Policy" not in response.headers:
        response.headers["Content-Security-Policy"] = site_policy()
        response.headers["X-Frame-Options"] = "DENY"
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
