"""Near-duplicates and story groups end to end: real model, FAISS, SQLite, and the HTTP API."""
import json

import pytest

from index.records.article import validate_article

FOOTER = "\nللمزيد من الأخبار تابعونا على موقعنا وأرسلوا كلمة أخبار إلى الرقم 88548 للاشتراك في الخدمة المجانية"


def sentences(body: str) -> list[str]:
    return [s for s in body.replace("\n", " ").split(". ") if s.strip()]


def republished(row: dict, new_id: str, source: str) -> dict:
    """The same wire story in another outlet: new headline, last sentence cut, a footer added."""
    parts = sentences(row["body"])
    body = ". ".join(parts[:-1] if len(parts) > 2 else parts) + FOOTER
    return {**row, "id": new_id, "headline": "عاجل: " + row["headline"], "body": body, "source": source,
            "published_at": "2017-03-31T12:00:00Z"}


def post(client, url, doc):
    return client.post(url, data=json.dumps(doc), content_type="application/json")


@pytest.fixture
def story(client, sample_by_id):
    """An original (with a same-event sibling in the sample) and two republished copies of it."""
    original = sample_by_id["JA-internationalNews-135-20170201"]
    sibling = sample_by_id["JA-internationalNews-134-20170201"]
    others = [row for key, row in sample_by_id.items() if key.startswith("JA-internationalNews-1")][:30]
    copies = [republished(original, "copy-okaz", "okaz"), republished(original, "copy-sabq", "sabq")]
    assert post(client, "/v1/articles", {"articles": others + [original, sibling] + copies}).status_code == 200
    return original, sibling, copies


def test_republished_copies_are_near_duplicates_with_their_overlap(client, story):
    original, _, copies = story
    answer = client.get(f"/v1/articles/{original['id']}/duplicates").get_json()
    found = {item["id"]: item for item in answer["items"]}
    assert set(found) == {c["id"] for c in copies}
    for item in found.values():
        assert item["relation"] == "near_duplicate" and 0.5 <= item["overlap"] < 1.0 and item["score"] > 0.9


def test_story_groups_are_shared_and_named_by_the_first_published(client, story):
    original, sibling, copies = story
    stories = {client.get(f"/v1/articles/{a['id']}").get_json()["story_id"] for a in [original] + copies}
    assert stories == {original["id"]}
    assert client.get(f"/v1/articles/{sibling['id']}").get_json()["story_id"] == sibling["id"]


def test_similar_leaves_out_the_articles_own_duplicates(client, story):
    original, sibling, copies = story
    default = client.get(f"/v1/articles/{original['id']}/similar?k=5&min_relatedness=0").get_json()["items"]
    assert not {c["id"] for c in copies} & {i["id"] for i in default}
    assert default[0]["id"] == sibling["id"] and default[0]["relation"] == "related"
    included = client.get(f"/v1/articles/{original['id']}/similar?k=5&duplicates=include&min_relatedness=0").get_json()["items"]
    assert {i["id"] for i in included[:2]} == {c["id"] for c in copies}
    assert {i["relation"] for i in included[:2]} == {"near_duplicate"}


def test_near_duplicates_among_results_collapse_into_one_item(client, story):
    original, sibling, copies = story
    items = client.get(f"/v1/articles/{sibling['id']}/similar?k=5&min_relatedness=0").get_json()["items"]
    ids = [i["id"] for i in items]
    story_items = [i for i in items if i["id"] in {original["id"]} | {c["id"] for c in copies}]
    assert len(story_items) == 1, ids  # three versions of one story, shown once
    chosen = story_items[0]
    assert chosen["id"] == original["id"]  # the earliest published
    assert sorted(chosen["also"]) == sorted(c["id"] for c in copies)
    assert len(set(i["story_id"] for i in items)) == len(items)


def test_a_draft_is_checked_before_publishing(client, story):
    original, _, _ = story
    draft = republished(original, "draft", "alwatan")
    answer = post(client, "/v1/duplicates", {"headline": draft["headline"], "body": draft["body"]}).get_json()
    assert original["id"] in [i["id"] for i in answer["items"]]
    fresh = post(client, "/v1/duplicates", {"headline": "مهرجان قرطاج الدولي يعلن برنامج دورته الجديدة",
                                            "body": "أعلنت إدارة مهرجان قرطاج الدولي عن برنامج الدورة الجديدة الذي يضم عروضا موسيقية ومسرحية"})
    assert fresh.get_json()["items"] == []


def test_compare_explains_one_pair(client, story):
    original, sibling, copies = story
    def pair(x, y):
        return post(client, "/v1/compare", {"a": {"headline": x["headline"], "body": x["body"]},
                                            "b": {"headline": y["headline"], "body": y["body"]}}).get_json()

    assert pair(original, copies[0])["relation"] == "near_duplicate"
    assert pair(original, original) == {"relation": "duplicate", "score": 1.0, "overlap": 1.0, "compared": "body"}
    related = pair(original, sibling)
    assert related["relation"] == "related" and related["overlap"] < 0.2
    assert post(client, "/v1/compare", {"a": {"headline": "x"}}).get_json()["error"]["field"] == "b"
    assert post(client, "/v1/compare", {"a": {"headline": "x"}, "b": {"body": "y"}}).get_json()["error"]["field"] == "b.headline"


def test_unknown_duplicates_mode_is_400(client, story):
    response = client.get(f"/v1/articles/{story[0]['id']}/similar?duplicates=hide")
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "duplicates"


@pytest.mark.slow  # embeds 25 texts the sample lacks
def test_outlet_boilerplate_does_not_make_near_duplicates(engine, sample_rows):
    """25 unrelated articles share a long footer: after a rebuild the footer counts for nothing."""
    rows = [r for r in sample_rows if len(r["body"].split()) > 120][:25]
    footer = (
        "خدمة إخبارية من جوهرة أف أم للاشتراك أرسل كلمة جوهرة إلى الرقم 85020 من أي هاتف جوال. "
        "تابعوا آخر الأخبار المحلية والدولية والرياضية على موقعنا الرسمي وعلى صفحاتنا في شبكات التواصل. "
        "جميع الحقوق محفوظة ولا يجوز إعادة نشر هذا المحتوى دون إذن كتابي مسبق من إدارة التحرير."
    )
    engine.upsert([validate_article({**r, "body": " ".join(r["body"].split()[:20]) + " " + footer}) for r in rows])
    before = engine.duplicates(rows[0]["id"])["items"]
    assert before and all(i["relation"] == "near_duplicate" for i in before)  # the footer alone links them
    engine.rebuild()
    answer = engine.duplicates(rows[0]["id"])
    assert answer["items"] == []
    assert len({engine.get(r["id"]).story_id for r in rows}) == 25


def test_articles_sharing_only_a_label_headline_are_not_one_story(engine, sample_rows):
    """Cartoons titled "كاريكاتير" with no body (42 of them in SaudiNewsNet): the label is learnt as
    boilerplate at the rebuild, and a real story with a copied headline still counts as a duplicate."""
    cartoons = [{"id": f"cartoon-{i}", "headline": "كاريكاتير", "source": f"outlet-{i % 3}"} for i in range(25)]
    story = {"id": "story", "headline": "الكرملين يدعو إلى التهدئة في إقليم ناجورنو كاراباخ", "source": "a"}
    copy = {**story, "id": "story-copy", "headline": "الكرملين يدعو إلى التهدئة في إقلیم ناجورنو کاراباخ", "source": "b"}
    engine.upsert([validate_article(a) for a in cartoons + [story, copy]])
    engine.rebuild()
    assert engine.duplicates("cartoon-0")["items"] == []
    assert len({engine.get(c["id"]).story_id for c in cartoons}) == 25
    assert [i["id"] for i in engine.duplicates("story")["items"]] == ["story-copy"]
    assert engine.get("story").story_id == engine.get("story-copy").story_id
