"""The Flask layer: parses requests, calls the engine in `index/`, renders JSON."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import Flask

from index.engine import Engine
from index.errors import EngineError, InvalidInput
from index.records.options import SimilarOptions, options_from

from . import observability
from .config import DEFAULTS, from_environ
from .errors import register_error_handlers
from .feeds.background import feed_urls


def create_app_or_exit() -> Flask:
    """`create_app()` for the commands and gunicorn: a configuration error, or a data folder or store that
    cannot be used (read-only, damaged), exits with one line saying what is wrong."""
    try:
        return create_app()
    except ValueError as exc:
        raise SystemExit(f"configuration error: {exc}") from None
    except EngineError as exc:
        raise SystemExit(f"cannot start: {exc.message}") from None


def create_app(test_config: dict[str, Any] | None = None, engine: Engine | None = None) -> Flask:
    """Build the app: defaults, then environment variables, then `test_config`.

    Args:
        test_config: settings that win over everything else.
        engine: an engine to serve instead of building one from the settings.
    """
    app = Flask(__name__)
    # `//x` is the id "/x" (refused: no id starts with a slash), never a redirect to the id "x".
    app.url_map.merge_slashes = False
    app.config.from_mapping(DEFAULTS)
    app.config.update(from_environ())
    if test_config:
        app.config.update(test_config)
    try:
        feed_urls(app.config["FEEDS"])
    except ValueError as exc:  # stops the start, naming the setting
        raise ValueError(f"FEEDS: {exc}") from None
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    if engine is None:
        engine = Engine(
            Path(app.config["DATA_DIR"]),
            model=app.config["EMBEDDING_MODEL"],
            lead_words=int(app.config["LEAD_WORDS"]),
            embedding_cache=app.config["EMBEDDING_CACHE"],
            keep_versions=int(app.config["KEEP_VERSIONS"]),
            related_floor=app.config["RELATED_FLOOR"],
            database_url=app.config["DATABASE_URL"],
        )
    app.extensions["engine"] = engine
    _similar_defaults(app, engine)
    engine.observe(on_embed=observability.record_embedding, on_answer=observability.record_answer)
    _register(app, engine)
    return app


def _similar_defaults(app: Flask, engine: Engine) -> None:
    """Defaults of similar-stories requests and the named profiles, checked now rather than per request,
    and the option sets pages use (the defaults, each profile, a widget block with neither): their
    answers are shared by all workers through the answer file, and `rebuild` computes them ahead."""
    from .widget import DEFAULT_K

    base = SimilarOptions(recency_half_life_days=float(app.config["RECENCY_HALF_LIFE_DAYS"]))
    profiles = app.config["PROFILES"]
    for name in profiles:
        try:
            options_from({"profile": name}, base, profiles)
        except InvalidInput as exc:
            raise ValueError(f"profile {name!r} in PROFILES: {exc.message}") from exc
    app.extensions["similar_defaults"] = base
    common = [base, replace(base, k=DEFAULT_K)] + [options_from({"profile": name}, base, profiles) for name in profiles]
    app.extensions["page_options"] = list(dict.fromkeys(common))
    engine.share_answers(common)


def _register(app: Flask, engine: Engine) -> None:
    from . import (
        api,
        caching,
        cli,
        cross_origin,
        demo,
        headers,
        health,
        openapi,
        rate_limit,
        request_body,
        security,
        widget,
    )

    # After-request hooks run in the reverse order of their registration: the access log and /metrics
    # first here, so that they run last and record the response as sent (a 304 made by `caching`).
    observability.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(demo.bp)
    app.register_blueprint(widget.bp)
    caching.init_app(app)  # Cache-Control, ETag, 304: after CORS (hooks run in reverse order)
    cross_origin.init_app(app)
    cli.init_app(app)
    security.init_app(app)
    rate_limit.init_app(app, engine.backend)
    request_body.init_app(app)  # a body slower than BODY_TIMEOUT is 408, its thread freed
    headers.init_app(app)
    app.register_blueprint(openapi.bp)
    register_error_handlers(app)
