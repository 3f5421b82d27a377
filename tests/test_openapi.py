"""/openapi.json states what validation does: every option and article field with its range, and a value
just outside a stated range is refused with a 400 naming the field."""
import json
from dataclasses import fields
from urllib.parse import urlencode

import pytest

from index.errors import InvalidInput
from index.records.article import validate_article
from index.records.options import SimilarOptions, options_from

HEADLINE = "Floods in the north"


@pytest.fixture
def doc(client):
    return client.get("/openapi.json").get_json()


def query_schemas(doc, path, method="get"):
    return {p["name"]: p["schema"] for p in doc["paths"][path][method]["parameters"] if p["in"] == "query"}


def body_schemas(doc):
    """DraftQuery's option properties, without the `null` (= not given) each also allows."""
    properties = doc["components"]["schemas"]["DraftQuery"]["properties"]
    return {name: [s for s in prop["anyOf"] if s != {"type": "null"}] for name, prop in properties.items()
            if name not in ("headline", "body")}


def post(client, article):
    return client.post("/v1/articles", data=json.dumps(article), content_type="application/json")


def accepted(app, params):
    """Whether options_from takes these options (the service's defaults and profiles)."""
    try:
        options_from(params, app.extensions["similar_defaults"], app.config["PROFILES"])
    except InvalidInput as exc:
        assert exc.field == next(iter(params)), exc.field
        return False
    return True


def edges(schema):
    """(values at the stated limits, values just outside them) of a schema."""
    inside, outside = [], []
    if "enum" in schema:
        inside += schema["enum"]
        outside.append(f"not-{schema['enum'][0]}")
    step = 1 if schema.get("type") == "integer" else 0.001
    if "minimum" in schema:
        inside.append(schema["minimum"])
        outside.append(schema["minimum"] - step)
    if "maximum" in schema:
        inside.append(schema["maximum"])
        outside.append(schema["maximum"] + step)
    if "maxLength" in schema:
        inside.append("x" * schema["maxLength"])
        outside.append("x" * (schema["maxLength"] + 1))
    if schema.get("minLength"):
        outside.append("")
    if "maxItems" in schema:
        inside.append(["x"] * schema["maxItems"])
        outside.append(["x"] * (schema["maxItems"] + 1))
    if schema.get("format") == "date-time":
        inside.append("2024-02-29T12:00:00Z")
        outside.append("yesterday")
    return inside, outside


def test_every_option_is_documented_with_its_range(app, doc):
    accepted_names = {f.name for f in fields(SimilarOptions)} | {"profile"}
    for path in ("/v1/articles/{id}/similar",):
        assert set(query_schemas(doc, path)) == accepted_names
    assert set(body_schemas(doc)) == accepted_names
    assert query_schemas(doc, "/v1/articles/{id}/similar")["profile"]["enum"] == sorted(app.config["PROFILES"])
    for name, alternatives in body_schemas(doc).items():
        for schema in alternatives:
            inside, outside = edges(schema)
            assert inside or schema == {"type": "string"}, f"{name}: no range stated"  # exclude as "a,b,c"
            for value in inside:
                assert accepted(app, {name: value}), (name, value)
            for value in outside:
                assert not accepted(app, {name: value}), (name, value)
            if schema.get("type") == "number" and "maximum" not in schema:
                assert accepted(app, {name: 1e12}), name  # no maximum stated: none checked


def test_the_query_string_and_the_body_state_the_same_ranges(doc):
    body = body_schemas(doc)
    for name, schema in query_schemas(doc, "/v1/articles/{id}/similar").items():
        assert schema in body[name] or name == "exclude", name  # exclude: a list in JSON, "a,b" in a query


def test_a_value_outside_a_stated_range_is_refused_naming_the_field(client, doc):
    checked = 0
    for path, url in (("/v1/articles/{id}/similar", "/v1/articles/some-id/similar"), ("/v1/articles", "/v1/articles")):
        for name, schema in query_schemas(doc, path).items():
            for value in edges(schema)[1]:
                response = client.get(f"{url}?{urlencode({name: value})}")
                assert response.status_code == 400, (path, name, value)
                assert response.get_json()["error"]["field"] == name, (path, name, value)
                checked += 1
    for name, alternatives in body_schemas(doc).items():
        for value in edges(alternatives[0])[1]:
            response = client.post("/v1/similar", data=json.dumps({"headline": HEADLINE, name: value}),
                                   content_type="application/json")
            assert response.status_code == 400, (name, value)
            assert response.get_json()["error"]["field"] == name, (name, value)
            checked += 1
    assert checked > 40


def test_every_article_field_is_documented_with_its_limits(client, doc):
    schema = doc["components"]["schemas"]["Article"]
    assert schema["additionalProperties"] is False and schema["required"] == ["id", "headline"]
    base = {"id": "a-1", "headline": HEADLINE}
    for name, field_schema in schema["properties"].items():
        if name in ("id", "headline"):
            continue
        if field_schema["type"] == ["array", "null"]:
            inside, outside = edges(field_schema)
            inside += [[edges(field_schema["items"])[0][0]]]
            outside += [[value] for value in edges(field_schema["items"])[1]]
        else:
            inside, outside = edges({**field_schema, "type": "string"})
            if "pattern" in field_schema or "format" in field_schema:  # "xxx..." is no URL, tag or date
                inside = []
        for value in inside:
            validate_article({**base, name: value})
        for value in outside:
            response = post(client, {**base, name: value})
            assert response.status_code == 400 and response.get_json()["error"]["field"] == name, (name, value)
    for name in ("id", "headline"):
        for value in edges(schema["properties"][name])[1]:
            response = post(client, {**base, name: value})
            assert response.status_code == 400 and response.get_json()["error"]["field"] == name, (name, value)
    assert client.get("/healthz").get_json()["articles"] == 0
