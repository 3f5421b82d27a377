"""HTTP caching of GET answers: Cache-Control by route, an ETag of the body, 304 to a client that
holds it (a CDN in front takes most of the widget's traffic)."""
from __future__ import annotations

from flask import Flask, Response, request

CACHE_CONTROL = {
    "api.similar": "public, max-age=60",
    "widget.page": "public, max-age=60",
    "widget.script": "public, max-age=3600",
}
REVALIDATE = "no-cache"  # other /v1 GET answers: cached, but checked (ETag) before each use


def add_caching(response: Response) -> Response:
    """Cache-Control, ETag and 304 on the successful GET answers of the API and the widget."""
    if request.method not in ("GET", "HEAD"):
        return response
    endpoint = request.endpoint or ""
    policy = CACHE_CONTROL.get(endpoint) or (REVALIDATE if endpoint.startswith("api.") else None)
    if policy and response.status_code == 200 and not response.direct_passthrough:
        response.headers["Cache-Control"] = policy
        response.add_etag()
        response.make_conditional(request)
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_caching)
