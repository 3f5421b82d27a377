"""The OpenAPI 3.1 document of the API, served at /openapi.json (tests check it against the routes).

Nothing the API checks is written here: the request options come from `index.records.options.OPTIONS`
(and `api.LIMIT`, `api.OFFSET`), the article's rules from `index.records.article.article_schema`, so the
document says what validation does. This module holds the routes, their responses and the answers' shapes.
"""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from flask import Blueprint, current_app

from index.records.article import MAX_ID, article_schema
from index.records.options import SimilarOptions, option_parameters, option_properties
from index.writes import MAX_PINS

from . import api
from .widget import BLOCK_OPTIONS, DEFAULT_K

bp = Blueprint("openapi", __name__)

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Related headlines", "version": "1.0.0",
             "description": "Similar stories and near-duplicates for news publishers."},
}
NULLABLE_STRING = {"type": ["string", "null"]}
STRING = {"type": "string"}
STRINGS = {"type": "array", "items": STRING}
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ID}}


def _ref(schema: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{schema}"}


def _content(media_type: str, schema: dict, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {media_type: {"schema": schema}}}


ERROR = _content("application/json", _ref("Error"), "client mistake or unavailable")


def _op(summary: str, ok: str, *, body: str | None = None, params: list | None = None, secured: bool = False) -> dict:
    ok_answer = _content("application/json", _ref(ok))
    op: dict[str, Any] = {"summary": summary, "responses": {"200": ok_answer, "4XX": ERROR, "503": ERROR}}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    if params:
        op["parameters"] = params
    if secured:
        op["security"] = [{"bearer": []}]
    return op


def _object(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


PUBLIC = {k: NULLABLE_STRING for k in ("url", "source", "published_at", "section", "language")}
ITEM = _object(["id", "headline", "story_id", "score", "relation", "overlap"], {
    "id": STRING, "headline": STRING, **PUBLIC, "story_id": STRING,
    "score": {"type": "number"}, "relatedness": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
    "overlap": {"type": "number", "minimum": 0, "maximum": 1},
    "relation": {"type": "string", "enum": ["duplicate", "near_duplicate", "related", "more_from_section", "latest"]},
    "also": STRINGS, "pinned": {"type": "boolean"}, "shared": STRINGS, "why": STRING,
})
ANSWER = _object(["article", "items"], {
    "article": {"type": "object", "properties": {"id": NULLABLE_STRING, "headline": STRING,
                                                 "story_id": NULLABLE_STRING, "language": NULLABLE_STRING}},
    "items": {"type": "array", "items": _ref("Item")},
})
RESPONSES = {
    "Error": _object(["error"], {"error": _object(["code", "message", "field"], {
        "code": STRING, "message": STRING, "field": NULLABLE_STRING})}),
    "Upserted": _object(["upserted", "ids"], {"upserted": {"type": "integer"}, "ids": STRINGS}),
    "Deleted": _object(["deleted"], {"deleted": STRING}),
    "ArticleList": _object(["total", "items"], {"total": {"type": "integer"},
                                                "items": {"type": "array", "items": {"type": "object"}}}),
    "Item": ITEM,
    "SimilarAnswer": ANSWER,
    "Comparison": _object(["relation", "score", "overlap", "compared"], {
        "relation": {"type": "string", "enum": ["duplicate", "near_duplicate", "related", "unrelated"]},
        "score": {"type": "number"}, "overlap": {"type": "number"},
        "compared": {"type": "string", "enum": ["body", "headline"]}}),
    "Pins": _object(["article_id", "ids"], {"article_id": STRING, "ids": STRINGS}),
    "Health": _object(["status", "articles", "indexed", "model"], {
        "status": STRING, "articles": {"type": "integer"}, "indexed": {"type": "integer"}, "model": STRING,
        "index_version": NULLABLE_STRING, "index_built_at": NULLABLE_STRING, "index_type": NULLABLE_STRING}),
    "Ready": _object(["ready"], {"ready": {"type": "boolean"}, "index_version": NULLABLE_STRING}),
}


def spec_for(profiles: list[str], max_bulk: int, base: SimilarOptions | None = None) -> dict[str, Any]:
    """The document of a service with these profile names, bulk limit and default options (`base`)."""
    base = base or SimilarOptions()
    doc = {**SPEC, "paths": _paths(profiles, base), "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": _schemas(profiles, base, max_bulk)}}
    return json.loads(json.dumps(doc))  # a copy: callers may change it, the parts above are shared


def _paths(profiles: list[str], base: SimilarOptions) -> dict[str, Any]:
    """The route table (longer than 40 lines: one entry a route, read best as one table)."""
    list_params = [_query("q", {"type": "string", "maxLength": api.MAX_QUERY, "pattern": f"^{api.QUERY.pattern}$"},
                          "text the headlines contain"),
                   *(option.parameter(default=api.LIST_DEFAULTS[option.name]) for option in (api.LIMIT, api.OFFSET))]
    block_params = option_parameters(profiles, replace(base, k=DEFAULT_K), names=BLOCK_OPTIONS) + [
        _query("title", STRING, "the block's heading (default: 'Similar articles' in its language)"),
        _query("lang", STRING, "the block's language (default: the article's, else its items')"),
        _query("theme", STRING, "dark for light text on a dark page")]
    return {
        "/v1/articles": {
            "post": _op("Upsert one article or {articles: [...]}", "Upserted", body="ArticleOrBatch", secured=True),
            "get": _op("Headlines containing q, newest first", "ArticleList", params=list_params),
        },
        "/v1/articles/{id}": {
            "get": _op("The stored article", "StoredArticle", params=[ID]),
            "delete": _op("Remove from store and index", "Deleted", params=[ID], secured=True),
        },
        "/v1/articles/{id}/similar": {"get": _op("Most similar stories", "SimilarAnswer",
                                                 params=[ID, *option_parameters(profiles, base)])},
        "/v1/articles/{id}/duplicates": {"get": _op("Stored (near-)duplicates", "SimilarAnswer", params=[ID])},
        "/v1/articles/{id}/pins": {
            "get": _op("Editorial pins", "Pins", params=[ID]),
            "put": _op("Set the pins", "Pins", params=[ID], body="PinsInput", secured=True),
            "delete": _op("Remove the pins", "Pins", params=[ID], secured=True),
        },
        "/v1/similar": {"post": _op("Similar stories of a draft", "SimilarAnswer", body="DraftQuery")},
        "/v1/duplicates": {"post": _op("Has this draft already run?", "SimilarAnswer", body="Draft")},
        "/v1/compare": {"post": _op("Relation of two texts", "Comparison", body="Pair")},
        "/healthz": {"get": _op("Liveness and what is served", "Health")},
        "/readyz": {"get": {"summary": "Ready once the index is loaded", "responses": {
            "200": _content("application/json", _ref("Ready")),
            "503": _content("application/json", _ref("Ready"), "not ready yet")}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": _content("text/plain", STRING)}}},
        "/widget.js": {"get": {"summary": "The embeddable similar-articles widget", "responses": {
            "200": _content("text/javascript", STRING), "304": {"description": "not modified"}}}},
        "/widget/{id}": {"get": {"summary": "The widget as a complete HTML page, for an iframe",
                                 "parameters": [ID, *block_params], "responses": {
                                     "200": _content("text/html", STRING), "304": {"description": "not modified"},
                                     # HTML from the page; JSON when the path itself matches no route
                                     "4XX": {"description": "unknown article or bad option", "content": {
                                         "text/html": {"schema": STRING},
                                         "application/json": {"schema": _ref("Error")}}}}}},
        "/openapi.json": {"get": {"summary": "This document",
                                  "responses": {"200": _content("application/json", {"type": "object"})}}},
    }


def _schemas(profiles: list[str], base: SimilarOptions, max_bulk: int) -> dict[str, Any]:
    """The request and answer shapes: the answers' (RESPONSES), the article's (from validation's limits)."""
    article = article_schema()
    fields = article["properties"]
    draft = _object(["headline"], {name: fields[name] for name in ("headline", "body")})
    return {
        **RESPONSES,
        "Article": article,
        "ArticleOrBatch": {"oneOf": [_ref("Article"), _object(["articles"], {"articles": {
            "type": "array", "minItems": 1, "maxItems": max_bulk, "items": _ref("Article")}})]},
        "StoredArticle": _object(["id", "headline", "story_id"], {**fields, "story_id": STRING}),
        "Draft": draft,
        "DraftQuery": {**draft, "properties": {**draft["properties"], **option_properties(profiles, base)}},
        "Pair": _object(["a", "b"], {"a": _ref("Draft"), "b": _ref("Draft")}),
        "PinsInput": _object(["ids"], {"ids": {"type": "array", "maxItems": MAX_PINS, "items": fields["id"]}}),
    }


@bp.get("/openapi.json")
def openapi():
    config = current_app.config
    return spec_for(sorted(config["PROFILES"]), int(config["MAX_BULK"]), current_app.extensions["similar_defaults"])
