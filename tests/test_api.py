"""The HTTP contract through Flask's test client (real engine underneath)."""
import json

import pytest


def post(client, url, doc):
    return client.post(url, data=json.dumps(doc), content_type="application/json")


@pytest.fixture
def loaded(client, few):
    response = post(client, "/v1/articles", {"articles": few})
    assert response.status_code == 200
    return few


def error_of(response):
    assert response.is_json, response.data[:200]
    return response.get_json()["error"]


def test_bulk_upsert_answers_ids(client, few):
    response = post(client, "/v1/articles", {"articles": few[:3] + [few[0]]})
    assert response.get_json() == {"upserted": 3, "ids": [r["id"] for r in few[:3]]}


def test_bulk_of_a_thousand_in_one_request(client, few):
    batch = [{**few[i % len(few)], "id": f"bulk-{i}"} for i in range(1000)]
    response = post(client, "/v1/articles", {"articles": batch})
    assert response.status_code == 200 and response.get_json()["upserted"] == 1000
    assert client.get("/healthz").get_json()["indexed"] == 1000


def test_single_upsert_and_get(client, few):
    response = post(client, "/v1/articles", few[0])
    assert response.get_json() == {"upserted": 1, "ids": [few[0]["id"]]}
    stored = client.get(f"/v1/articles/{few[0]['id']}").get_json()
    assert stored["headline"] == few[0]["headline"] and stored["body"] == few[0]["body"]
    assert stored["tags"] == []


def test_similar_shape(client, loaded):
    answer = client.get(f"/v1/articles/{loaded[0]['id']}/similar?k=4&min_relatedness=0").get_json()
    assert answer["article"]["id"] == loaded[0]["id"]
    assert len(answer["items"]) == 4
    for item in answer["items"]:
        assert item["relation"] in {"duplicate", "near_duplicate", "related"}
        assert item["score"] == round(item["score"], 4)


def test_draft_similar(client, loaded):
    row = loaded[5]
    draft = {"headline": row["headline"], "body": row["body"], "k": 2}
    included = post(client, "/v1/similar", {**draft, "duplicates": "include"}).get_json()["items"]
    assert included[0]["id"] == row["id"] and included[0]["relation"] == "duplicate"
    default = post(client, "/v1/similar", draft).get_json()["items"]
    assert row["id"] not in [i["id"] for i in default]  # the draft's own duplicate is not "similar"


def test_delete(client, loaded):
    target = loaded[1]["id"]
    assert client.delete(f"/v1/articles/{target}").status_code == 200
    assert client.get(f"/v1/articles/{target}").status_code == 404
    assert client.delete(f"/v1/articles/{target}").status_code == 404
    assert client.get("/healthz").get_json()["articles"] == len(loaded) - 1


def test_ids_with_slashes_route_correctly(client, few):
    post(client, "/v1/articles", {**few[0], "id": "2017/02/a"})
    post(client, "/v1/articles", {**few[0], "id": "2017/02/b", "headline": "another headline"})
    assert client.get("/v1/articles/2017/02/a").get_json()["id"] == "2017/02/a"
    items = client.get("/v1/articles/2017/02/a/similar?duplicates=include").get_json()["items"]
    assert [i["id"] for i in items] == ["2017/02/b"]


def test_healthz(client, loaded):
    health = client.get("/healthz").get_json()
    assert health["status"] == "ok" and health["articles"] == health["indexed"] == len(loaded)
    assert health["model"] == "e5-small-q4"


def test_list_articles(client, loaded):
    answer = client.get("/v1/articles?limit=5").get_json()
    assert answer["total"] == len(loaded) and len(answer["items"]) == 5
    word = loaded[3]["headline"].split()[0]
    found = client.get("/v1/articles", query_string={"q": word}).get_json()
    assert loaded[3]["id"] in [i["id"] for i in found["items"]]


@pytest.mark.parametrize(
    "method, url, doc, status, field",
    [
        ("post", "/v1/articles", {"id": "x"}, 400, "headline"),
        ("post", "/v1/articles", {"headline": "x"}, 400, "id"),
        ("post", "/v1/articles", {"id": "x", "headline": "h", "tags": "t"}, 400, "tags"),
        ("post", "/v1/articles", {"articles": []}, 400, "articles"),
        ("post", "/v1/articles", {"articles": [{"id": "ok", "headline": "h"}, {"id": "bad"}]}, 400, "articles[1].headline"),
        ("post", "/v1/articles", [1, 2], 400, None),
        ("post", "/v1/similar", {"body": "b"}, 400, "headline"),
        ("post", "/v1/similar", {"headline": "h", "k": 101}, 400, "k"),
        ("post", "/v1/similar", {"headline": "h", "k": "many"}, 400, "k"),
        ("post", "/v1/similar", {"headline": "h", "k": True}, 400, "k"),
        ("post", "/v1/similar", {"headline": "h", "k": 2.5}, 400, "k"),
        ("get", "/v1/articles/nope", None, 404, "id"),
        ("get", "/v1/articles/nope/similar", None, 404, "id"),
        ("get", "/v1/articles?limit=0", None, 400, "limit"),
    ],
)
def test_client_mistakes_are_4xx_json_naming_the_field(client, method, url, doc, status, field):
    response = post(client, url, doc) if method == "post" else client.get(url)
    assert response.status_code == status
    error = error_of(response)
    assert error["field"] == field and error["message"] and error["code"]


@pytest.mark.parametrize("k", ["0", "101", "-1", "ten", ""])
def test_k_out_of_range(client, loaded, k):
    response = client.get(f"/v1/articles/{loaded[0]['id']}/similar?k={k}")
    assert response.status_code == 400 and error_of(response)["field"] == "k"


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b"\xff\xfe{}", b"[" * 100_000, b'{"id": "x", "headline": "\\ud800"}'],
)
def test_malformed_bodies_are_400(client, raw):
    response = client.post("/v1/articles", data=raw, content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid"


def test_rejected_bulk_stores_nothing_and_loses_nothing(client, loaded):
    before = client.get(f"/v1/articles/{loaded[0]['id']}").get_json()
    bad = [{**loaded[0], "headline": "changed"}, {"id": "new-one", "headline": ""}]
    assert post(client, "/v1/articles", {"articles": bad}).status_code == 400
    assert client.get(f"/v1/articles/{loaded[0]['id']}").get_json() == before
    assert client.get("/v1/articles/new-one").status_code == 404
    assert client.get("/healthz").get_json()["articles"] == len(loaded)


def test_body_over_the_limit_is_413(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post("/v1/articles", data=b"{" + b" " * 2000 + b"}", content_type="application/json")
    assert response.status_code == 413 and error_of(response)["code"] == "too_large"


def test_bulk_over_the_limit_is_400(app, client):
    app.config["MAX_BULK"] = 2
    response = post(client, "/v1/articles", {"articles": [{"id": str(i), "headline": "h"} for i in range(3)]})
    assert response.status_code == 400 and error_of(response)["field"] == "articles"


def test_unknown_route_and_method_are_json(client):
    assert error_of(client.get("/v1/nothing"))["code"] == "not_found"
    response = client.put("/v1/similar")
    assert response.status_code == 405 and error_of(response)["code"] == "method_not_allowed"


def test_demo_page_is_served(client):
    with client.get("/") as page:
        assert page.status_code == 200 and b'src="/static/demo.js"' in page.data and b'dir="rtl"' in page.data
    with client.get("/static/demo.js") as script:
        assert script.status_code == 200
