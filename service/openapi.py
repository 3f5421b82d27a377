"""The OpenAPI 3.1 document of the API, served at /openapi.json (tests check it against the routes)."""
from __future__ import annotations

import json
import unicodedata
from typing import Any

from flask import Blueprint, current_app

bp = Blueprint("openapi", __name__)

NULLABLE_STRING = {"type": ["string", "null"]}
ERROR = {"description": "client mistake or unavailable", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(schema: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _op(summary: str, ok: str, *, body: str | None = None, params: list | None = None, secured: bool = False) -> dict:
    op: dict[str, Any] = {"summary": summary, "responses": {"200": _json(ok), "4XX": ERROR, "503": ERROR}}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}}}
    if params:
        op["parameters"] = params
    if secured:
        op["security"] = [{"bearer": []}]
    return op


ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 128}}


def _query(name: str, schema: dict, description: str = "") -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


NAME = {"type": "string", "minLength": 1, "maxLength": 200}
SIMILAR_PARAMS = [
    _query("k", {"type": "integer", "minimum": 1, "maximum": 100}),
    _query("profile", {"type": "string", "enum": ["widget"]}, "named defaults from the service's PROFILES"),
    _query("duplicates", {"type": "string", "enum": ["collapse", "include"]}),
    _query("language", NAME), _query("section", NAME), _query("source", NAME), _query("exclude_source", NAME),
    _query("exclude", {"type": "string"}, "comma-separated ids (empty items are ignored)"),
    _query("since", {"type": "string", "format": "date-time"}), _query("until", {"type": "string", "format": "date-time"}),
    _query("max_age_days", {"type": "number", "minimum": 0}), _query("min_score", {"type": "number", "minimum": -1, "maximum": 1}),
    _query("min_relatedness", {"type": "number", "minimum": 0, "maximum": 1},
           "least relatedness shown (default: the model's calibrated floor)"),
    _query("recency_half_life_days", {"type": "number", "minimum": 0}),
    _query("diversity", {"type": "number", "minimum": 0, "maximum": 1}),
    _query("fill", {"type": "string", "enum": ["none", "section", "latest"]},
           "top up a block fewer than k related items reach: with the newest of the article's section "
           "(relation more_from_section) or of all (relation latest); default none"),
]

# "Not only whitespace", spelt out: JSON Schema regexes follow ECMA-262, whose \s differs from Python's.
_SPACES = "".join(f"\\u{cp:04x}" for cp in range(0x10000) if chr(cp).isspace())
HAS_TEXT = f"[^{_SPACES}]"
CONTROL = "\\x00-\\x1f\\x7f-\\x9f"
# Format characters (zero-width, bidi controls, BOM): a headline of only these shows nothing.
_FORMAT = "".join(f"\\u{cp:04x}" for cp in range(0x10000) if unicodedata.category(chr(cp)) == "Cf")
VISIBLE = f"[^{_SPACES}{CONTROL}{_FORMAT}]"
# The id grammar of index.article.valid_id: segments, none empty, "." or "..", the last no sub-route.
ID_PATTERN = (f"^(?![{_SPACES}])(?!.*[{_SPACES}]$)(?!(?:.*/)?\\.\\.?(?:/|$))(?!.+/(?:similar|pins|duplicates)$)"
              f"[^/{CONTROL}]+(?:/[^/{CONTROL}]+)*$")
ARTICLE_FIELDS = {
    "id": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": ID_PATTERN},
    "headline": {"type": "string", "minLength": 1, "maxLength": 1000, "pattern": VISIBLE},
    "body": {"type": ["string", "null"], "maxLength": 200000},
    "url": {"type": ["string", "null"], "maxLength": 2048, "pattern": "^https?://[^\\x00-\\x20\\x7f]+$"},
    "source": {"type": ["string", "null"], "maxLength": 200},
    "published_at": {"type": ["string", "null"], "format": "date-time"},
    "language": {"type": ["string", "null"], "pattern": "^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$", "maxLength": 35},
    "section": {"type": ["string", "null"], "maxLength": 200},
    "tags": {"type": ["array", "null"], "maxItems": 100, "items": {"type": "string", "minLength": 1, "maxLength": 100,
                                                                     "pattern": HAS_TEXT}},
}
PUBLIC = {k: NULLABLE_STRING for k in ("url", "source", "published_at", "section", "language")}
ITEM = {
    "type": "object",
    "required": ["id", "headline", "story_id", "score", "relation", "overlap"],
    "properties": {
        "id": {"type": "string"}, "headline": {"type": "string"}, **PUBLIC, "story_id": {"type": "string"},
        "score": {"type": "number"}, "relatedness": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
        "overlap": {"type": "number", "minimum": 0, "maximum": 1},
        "relation": {"type": "string", "enum": ["duplicate", "near_duplicate", "related", "more_from_section",
                                                "latest"]},
        "also": {"type": "array", "items": {"type": "string"}}, "pinned": {"type": "boolean"},
        "shared": {"type": "array", "items": {"type": "string"}}, "why": {"type": "string"},
    },
}
ANSWER = {
    "type": "object",
    "required": ["article", "items"],
    "properties": {
        "article": {"type": "object", "properties": {"id": NULLABLE_STRING, "headline": {"type": "string"},
                                                     "story_id": NULLABLE_STRING, "language": NULLABLE_STRING}},
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
    },
}
DRAFT = {"type": "object", "required": ["headline"], "properties": {
    "headline": ARTICLE_FIELDS["headline"], "body": ARTICLE_FIELDS["body"]}}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Related headlines", "version": "1.0.0",
             "description": "Similar stories and near-duplicates for news publishers."},
    "paths": {
        "/v1/articles": {
            "post": _op("Upsert one article or {articles: [...]}", "Upserted", body="ArticleOrBatch", secured=True),
            "get": _op("Headlines containing q, newest first", "ArticleList", params=[
                _query("q", {"type": "string", "maxLength": 200, "pattern": f"^[^{CONTROL}]*$"}),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
                _query("offset", {"type": "integer", "minimum": 0, "maximum": 1_000_000_000})]),
        },
        "/v1/articles/{id}": {
            "get": _op("The stored article", "StoredArticle", params=[ID]),
            "delete": _op("Remove from store and index", "Deleted", params=[ID], secured=True),
        },
        "/v1/articles/{id}/similar": {"get": _op("Most similar stories", "SimilarAnswer", params=[ID] + SIMILAR_PARAMS)},
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
        "/readyz": {"get": {"summary": "Ready once the index is loaded",
                            "responses": {"200": _json("Ready"), "503": _json("Ready", "not ready yet")}}},
        "/metrics": {"get": {"summary": "Prometheus metrics",
                             "responses": {"200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/widget.js": {"get": {"summary": "The embeddable similar-articles widget",
                               "responses": {"200": {"description": "OK", "content": {"text/javascript": {"schema": {"type": "string"}}}},
                                             "304": {"description": "not modified"}}}},
        "/widget/{id}": {"get": {"summary": "The widget as a complete HTML page, for an iframe",
                                 "parameters": [ID] + [p for p in SIMILAR_PARAMS if p["name"] in ("k", "profile")] + [
                                     _query("title", {"type": "string"}), _query("lang", {"type": "string"}),
                                     _query("theme", {"type": "string"})],
                                 "responses": {"200": {"description": "OK", "content": {"text/html": {"schema": {"type": "string"}}}},
                                               "304": {"description": "not modified"},
                                               # HTML from the page; JSON when the path itself matches no route
                                               "4XX": {"description": "unknown article or bad option",
                                                       "content": {"text/html": {"schema": {"type": "string"}},
                                                                   "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}},
        "/openapi.json": {"get": {"summary": "This document",
                                  "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message", "field"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": NULLABLE_STRING}}}},
            "Article": {"type": "object", "required": ["id", "headline"], "properties": ARTICLE_FIELDS,
                        "additionalProperties": False},
            "ArticleOrBatch": {"oneOf": [
                {"$ref": "#/components/schemas/Article"},
                {"type": "object", "required": ["articles"], "properties": {
                    "articles": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Article"}}}}]},
            "StoredArticle": {"type": "object", "required": ["id", "headline", "story_id"],
                              "properties": {**ARTICLE_FIELDS, "story_id": {"type": "string"}}},
            "Upserted": {"type": "object", "required": ["upserted", "ids"],
                         "properties": {"upserted": {"type": "integer"}, "ids": {"type": "array", "items": {"type": "string"}}}},
            "Deleted": {"type": "object", "required": ["deleted"], "properties": {"deleted": {"type": "string"}}},
            "ArticleList": {"type": "object", "required": ["total", "items"], "properties": {
                "total": {"type": "integer"}, "items": {"type": "array", "items": {"type": "object"}}}},
            "Item": ITEM,
            "SimilarAnswer": ANSWER,
            "Draft": DRAFT,
            # In a JSON body every option may also be null (= not given).
            "DraftQuery": {**DRAFT, "properties": {**DRAFT["properties"],
                           **{p["name"]: {"anyOf": [p["schema"], {"type": "null"}]}
                              for p in SIMILAR_PARAMS if p["name"] != "exclude"},
                           "exclude": {"anyOf": [{"type": "array", "items": {"type": "string", "minLength": 1}},
                                                 {"type": "string"},
                                                 {"type": "null"}]}}},
            "Pair": {"type": "object", "required": ["a", "b"], "properties": {
                "a": {"$ref": "#/components/schemas/Draft"}, "b": {"$ref": "#/components/schemas/Draft"}}},
            "Comparison": {"type": "object", "required": ["relation", "score", "overlap", "compared"], "properties": {
                "relation": {"type": "string", "enum": ["duplicate", "near_duplicate", "related", "unrelated"]},
                "score": {"type": "number"}, "overlap": {"type": "number"},
                "compared": {"type": "string", "enum": ["body", "headline"]}}},
            "PinsInput": {"type": "object", "required": ["ids"], "properties": {
                "ids": {"type": "array", "maxItems": 20, "items": {"type": "string"}}}},
            "Pins": {"type": "object", "required": ["article_id", "ids"], "properties": {
                "article_id": {"type": "string"}, "ids": {"type": "array", "items": {"type": "string"}}}},
            "Health": {"type": "object", "required": ["status", "articles", "indexed", "model"], "properties": {
                "status": {"type": "string"}, "articles": {"type": "integer"}, "indexed": {"type": "integer"},
                "model": {"type": "string"}, "index_version": NULLABLE_STRING, "index_built_at": NULLABLE_STRING,
                "index_type": NULLABLE_STRING}},
            "Ready": {"type": "object", "required": ["ready"], "properties": {"ready": {"type": "boolean"},
                                                                              "index_version": NULLABLE_STRING}},
        },
    },
}


def spec_for(profiles: list[str], max_bulk: int) -> dict[str, Any]:
    """SPEC with this service's settings: its profile names and its bulk limit."""
    doc = json.loads(json.dumps(SPEC))
    doc["paths"]["/v1/articles/{id}/similar"]["get"]["parameters"][2]["schema"]["enum"] = profiles
    doc["paths"]["/widget/{id}"]["get"]["parameters"][2]["schema"]["enum"] = profiles
    doc["components"]["schemas"]["DraftQuery"]["properties"]["profile"]["anyOf"][0]["enum"] = profiles
    doc["components"]["schemas"]["ArticleOrBatch"]["oneOf"][1]["properties"]["articles"]["maxItems"] = max_bulk
    return doc


@bp.get("/openapi.json")
def openapi():
    return spec_for(sorted(current_app.config["PROFILES"]), int(current_app.config["MAX_BULK"]))
