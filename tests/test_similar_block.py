"""The similar-stories block: filters, recency, diversity, pins, why, profiles (real model and index).

The mechanics are tested over every candidate (`min_relatedness=0`); what the relatedness floor
keeps is tested in test_relatedness.py."""
import json

import numpy as np
import pytest

from index.records.article import validate_article
from index.search.ranking import days_between

from .conftest import make_engine


@pytest.fixture(scope="module")
def block_engine(tmp_path_factory, e5, sample_rows):
    """600 sample articles (every section, Feb-Mar 2017), shared by this module's read-only tests."""
    engine = make_engine(tmp_path_factory.mktemp("block") / "data", e5)
    rows = sample_rows[::4][:600]
    for start in range(0, len(rows), 200):
        engine.upsert([validate_article(r) for r in rows[start : start + 200]])
    return engine


@pytest.fixture(scope="module")
def probe(sample_by_id):
    return sample_by_id["JA-internationalNews-135-20170201"]


@pytest.fixture(scope="module")
def in_block(block_engine, probe, sample_by_id):
    block_engine.upsert([validate_article(probe), validate_article(sample_by_id["JA-internationalNews-134-20170201"])])
    return probe["id"]


def ids(answer):
    return [item["id"] for item in answer["items"]]


def test_a_selective_filter_still_fills_k(block_engine, in_block):
    everything = block_engine.neighbours(in_block, 1000)
    since = "2017-03-15"
    late = [n.key for n in everything if n.article.published_at >= since and n.relation.relation == "related"]
    # A k for which one search of the default depth (3k + 20) sees fewer than k matching articles.
    k = next(k for k in range(1, len(late) + 1) if len([n for n in everything[: 3 * k + 20] if n.key in late]) < k)
    answer = block_engine.similar(in_block, min_relatedness=0, k=k, since=since)
    assert len(answer["items"]) == k  # found by searching deeper than the first neighbours
    assert all(i["published_at"] >= since for i in answer["items"])


def test_filters_combine(block_engine, in_block, sample_by_id):
    base = block_engine.similar(in_block, min_relatedness=0, k=10)["items"]
    excluded = base[0]["id"]
    answer = block_engine.similar(in_block, min_relatedness=0, k=10, exclude=[excluded], since="2017-02-15", until="2017-03-10",
                                  exclude_source="Nobody", min_score=0.87)
    assert answer["items"] and excluded not in ids(answer)
    for item in answer["items"]:
        assert "2017-02-15" <= item["published_at"] <= "2017-03-10T00:00:00Z" and item["score"] >= 0.87
    assert block_engine.similar(in_block, min_relatedness=0, source="Nobody")["items"] == []
    assert block_engine.similar(in_block, min_relatedness=0, language="en")["items"] == []
    near = block_engine.similar(in_block, min_relatedness=0, k=10, max_age_days=5)["items"]
    assert near and all(days_between(i["published_at"], "2017-02-01T10:00:00Z") <= 6 for i in near)


def test_recency_brings_this_weeks_follow_ups_forward(block_engine, in_block):
    plain = block_engine.similar(in_block, min_relatedness=0, k=10)["items"]
    recent = block_engine.similar(in_block, min_relatedness=0, k=10, recency_half_life_days=3)["items"]
    def age(items):
        return np.mean([days_between(i["published_at"], "2017-02-01T10:00:00Z") for i in items])

    assert age(recent) < age(plain)
    assert recent[0]["score"] <= plain[0]["score"]


def test_diversity_spreads_the_list(block_engine, in_block):
    def spread(items):
        vectors = np.stack([block_engine.vector(i["id"]) for i in items])
        sims = vectors @ vectors.T
        return sims[np.triu_indices(len(items), 1)].mean()

    focused = block_engine.similar(in_block, min_relatedness=0, k=6)["items"]
    diverse = block_engine.similar(in_block, min_relatedness=0, k=6, diversity=0.7)["items"]
    assert len(diverse) == 6 and spread(diverse) < spread(focused)
    assert ids(block_engine.similar(in_block, min_relatedness=0, k=6, diversity=0)) == ids({"items": focused})


def test_every_item_says_why(block_engine, in_block):
    items = block_engine.similar(in_block, k=5, min_relatedness=0.3)["items"]
    assert items[0]["shared"], items[0]
    for item in items:
        assert item["why"].startswith(item["relation"].replace("_", "-")) and f"{item['score']:.2f}" in item["why"]
    # 134 reports the same raid: the names they share say so.
    sibling = next(i for i in items if i["id"] == "JA-internationalNews-134-20170201")
    assert {"تونسي", "هيسن"} & set(" ".join(sibling["shared"]).split())


def post(client, url, doc, method="post"):
    return getattr(client, method)(url, data=json.dumps(doc), content_type="application/json")


@pytest.fixture
def loaded(client, sample_rows):
    rows = [r for r in sample_rows if r["section"] == "sport"][:20]
    assert post(client, "/v1/articles", {"articles": rows}).status_code == 200
    return rows


def test_pins_come_first_and_disappear_with_their_article(client, loaded):
    target, pin_a, pin_b = loaded[0]["id"], loaded[15]["id"], loaded[16]["id"]
    before = client.get(f"/v1/articles/{target}/similar?k=4&min_relatedness=0").get_json()["items"]  # cached until the next write
    assert not any(i["pinned"] for i in before)
    response = post(client, f"/v1/articles/{target}/pins", {"ids": [pin_b, pin_a]}, method="put")
    assert response.get_json() == {"article_id": target, "ids": [pin_b, pin_a]}
    items = client.get(f"/v1/articles/{target}/similar?k=4&min_relatedness=0").get_json()["items"]
    assert [i["id"] for i in items[:2]] == [pin_b, pin_a] and items[0]["pinned"] is True
    assert not any(i["pinned"] for i in items[2:]) and len(items) == 4
    assert [i["id"] for i in items].count(pin_a) == 1
    client.delete(f"/v1/articles/{pin_b}")
    assert client.get(f"/v1/articles/{target}/pins").get_json()["ids"] == [pin_a]
    assert client.delete(f"/v1/articles/{target}/pins").status_code == 200
    assert client.get(f"/v1/articles/{target}/pins").get_json()["ids"] == []


@pytest.mark.parametrize(
    "doc, field",
    [({"ids": ["nope"]}, "ids"), ({"ids": "x"}, "ids"), ({"ids": [None]}, "ids"), ({"ids": ["SELF"]}, "ids")],
)
def test_bad_pins_are_400(client, loaded, doc, field):
    target = loaded[0]["id"]
    doc = {"ids": [target if i == "SELF" else i for i in doc["ids"]]} if isinstance(doc["ids"], list) else doc
    response = post(client, f"/v1/articles/{target}/pins", doc, method="put")
    assert response.status_code == 400 and response.get_json()["error"]["field"] == field
    assert post(client, "/v1/articles/unknown/pins", {"ids": []}, method="put").status_code == 404


def test_profile_selects_defaults_and_request_overrides(client, loaded):
    target = loaded[0]["id"]
    assert len(client.get(f"/v1/articles/{target}/similar?profile=widget&min_relatedness=0").get_json()["items"]) == 6
    assert len(client.get(f"/v1/articles/{target}/similar?profile=widget&k=2&min_relatedness=0").get_json()["items"]) == 2
    response = client.get(f"/v1/articles/{target}/similar?profile=homepage")
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "profile"


@pytest.mark.parametrize(
    "query, field",
    [("recency_half_life_days=-2", "recency_half_life_days"), ("diversity=1.01", "diversity"),
     ("since=2017-02-30", "since"), ("max_age_days=soon", "max_age_days"), ("min_score=x", "min_score")],
)
def test_bad_parameters_answer_400_naming_them(client, loaded, query, field):
    response = client.get(f"/v1/articles/{loaded[0]['id']}/similar?{query}")
    assert response.status_code == 400 and response.get_json()["error"]["field"] == field


def test_draft_takes_the_same_options(client, loaded):
    row = loaded[3]
    doc = {"headline": row["headline"], "body": row["body"], "k": 3, "section": "sport", "exclude": [loaded[4]["id"]],
           "min_relatedness": 0}
    items = post(client, "/v1/similar", doc).get_json()["items"]
    assert len(items) == 3 and loaded[4]["id"] not in [i["id"] for i in items]
    assert post(client, "/v1/similar", {**doc, "diversity": 3}).get_json()["error"]["field"] == "diversity"
