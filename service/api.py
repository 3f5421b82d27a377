"""The `/v1` JSON API."""
from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from index.engine import Engine
from index.errors import InvalidInput
from index.records.article import validate_article, validate_draft
from index.records.options import Option, SimilarOptions, options_from

from .rate_limit import rate_limited
from .security import UnsupportedMediaType, requires_key

bp = Blueprint("api", __name__, url_prefix="/v1")

MAX_LIST = 100
# The options of GET /v1/articles (checked here, described by /openapi.json from these).
MAX_QUERY = 200
QUERY = re.compile(r"[^\x00-\x1f\x7f-\x9f]*")  # `q`: no control characters
LIMIT = Option("limit", "integer", "how many headlines, at most", 1, MAX_LIST)
OFFSET = Option("offset", "integer", "how many headlines to skip", 0, 10**9)
LIST_DEFAULTS = {"limit": 20, "offset": 0}


def engine() -> Engine:
    return current_app.extensions["engine"]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_body() -> Any:
    """The request's JSON document; 415 unless it is sent as `application/json` (a page on another
    site can send a "simple" text/plain POST without asking), 413 beyond MAX_CONTENT_LENGTH (chunked
    bodies too), else a 400 that says why it is not one (NaN and Infinity are not JSON)."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("request body must be sent as Content-Type: application/json", "Content-Type")
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if (request.content_length or 0) > limit:  # refused from its length, unread
        raise RequestEntityTooLarge()
    # A chunked body has no Content-Length to check beforehand, and werkzeug's stream would cut it at
    # the limit without a word: read what the server says ends (input_terminated) up to one byte more.
    terminated = request.environ.get("wsgi.input_terminated")
    raw = (request.environ["wsgi.input"] if terminated else request.stream).read(limit + 1)
    if len(raw) > limit:
        raise RequestEntityTooLarge()
    if not raw:
        raise InvalidInput("request body must be a JSON document", None)
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise InvalidInput("request body is not valid UTF-8", None)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"request body is not valid JSON: {str(exc)[:120]}", None)


@bp.post("/articles")
@requires_key
def upsert_articles():
    doc = json_body()
    if isinstance(doc, dict) and "articles" in doc:
        batch = doc["articles"]
        limit = current_app.config["MAX_BULK"]
        if not isinstance(batch, list) or not batch:
            raise InvalidInput("'articles' must be a non-empty list of articles", "articles")
        if len(batch) > limit:
            raise InvalidInput(f"'articles' holds {len(batch)} articles; at most {limit} per request", "articles")
        articles = [validate_article(item, f"articles[{i}].") for i, item in enumerate(batch)]
    else:
        articles = [validate_article(doc)]
    ids = engine().upsert(articles)
    return {"upserted": len(ids), "ids": ids}


@bp.get("/articles")
def list_articles():
    q = request.args.get("q", "")
    if len(q) > MAX_QUERY or not QUERY.fullmatch(q):
        raise InvalidInput(f"'q' must be at most {MAX_QUERY} characters, without control characters", "q")
    limit, offset = (option.parse(request.args.get(option.name, LIST_DEFAULTS[option.name]), option.name)
                     for option in (LIMIT, OFFSET))
    return engine().list_articles(q, limit, offset)


@bp.get("/articles/<path:article_id>")
def get_article(article_id: str):
    stored = engine().get(article_id)
    return {**stored.article.to_dict(), "story_id": stored.story_id}


@bp.delete("/articles/<path:article_id>")
@requires_key
def delete_article(article_id: str):
    engine().delete(article_id)
    return {"deleted": article_id}


def similar_options(params: Any) -> SimilarOptions:
    """Request parameters over the chosen profile over the service's defaults."""
    if hasattr(params, "getlist") and len(params.getlist("exclude")) > 1:
        params = {**params.to_dict(), "exclude": params.getlist("exclude")}
    return options_from(params, current_app.extensions["similar_defaults"], current_app.config["PROFILES"])


@bp.get("/articles/<path:article_id>/similar")
def similar(article_id: str):
    return engine().similar(article_id, similar_options(request.args))


@bp.post("/similar")
@rate_limited
def similar_to_draft():
    doc = json_body()
    headline, body = validate_draft(doc)
    return engine().similar_to_text(headline, body, similar_options(doc))


@bp.get("/articles/<path:article_id>/pins")
def get_pins(article_id: str):
    return engine().pins(article_id)


@bp.put("/articles/<path:article_id>/pins")
@requires_key
def put_pins(article_id: str):
    doc = json_body()
    return engine().set_pins(article_id, doc.get("ids") if isinstance(doc, dict) else doc)


@bp.delete("/articles/<path:article_id>/pins")
@requires_key
def delete_pins(article_id: str):
    engine().clear_pins(article_id)
    return {"article_id": article_id, "ids": []}


@bp.get("/articles/<path:article_id>/duplicates")
def duplicates(article_id: str):
    return engine().duplicates(article_id)


@bp.post("/duplicates")
@rate_limited
def duplicates_of_draft():
    return engine().duplicates_of_text(*validate_draft(json_body()))


@bp.post("/compare")
@rate_limited
def compare():
    doc = json_body()
    if not isinstance(doc, dict):
        raise InvalidInput("request body must be a JSON object with 'a' and 'b'", None)
    for side in ("a", "b"):
        if side not in doc:
            raise InvalidInput(f"'{side}' is required", side)
    return engine().compare(validate_draft(doc["a"], "a."), validate_draft(doc["b"], "b."))
