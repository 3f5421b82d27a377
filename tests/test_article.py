import pytest

from index.errors import InvalidInput
from index.records.article import validate_article, validate_draft

GOOD = {"id": "a-1", "headline": "عنوان", "body": "نص", "url": "https://example.com/a", "source": "X",
        "published_at": "2017-02-01T10:00:00+01:00", "language": "ar", "section": "news", "tags": ["t"]}


def test_valid_article_is_cleaned_up():
    article = validate_article({**GOOD, "headline": "  عنوان  "})
    assert article.headline == "عنوان"
    assert article.published_at == "2017-02-01T09:00:00Z"  # normalised to UTC
    assert article.tags == ["t"]


def test_early_years_keep_four_digits():  # found by the fuzzer: "535-05-13..." did not parse back
    assert validate_article({**GOOD, "published_at": "0535-05-13T16:08:16Z"}).published_at == "0535-05-13T16:08:16Z"


def test_date_without_zone_is_utc():
    assert validate_article({**GOOD, "published_at": "2017-02-01"}).published_at == "2017-02-01T00:00:00Z"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"id": None}, "id"),
        ({"id": ""}, "id"),
        ({"id": "x" * 129}, "id"),
        ({"id": 5}, "id"),
        ({"id": "a\x00b"}, "id"),
        ({"headline": None}, "headline"),
        ({"headline": "   "}, "headline"),
        ({"headline": "x" * 1001}, "headline"),
        ({"body": "x" * 200_001}, "body"),
        ({"body": ["x"]}, "body"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"published_at": "yesterday"}, "published_at"),
        ({"published_at": "0001-01-01T00:30:00+12:00"}, "published_at"),  # found by the fuzzer: a 500 before
        ({"language": "Arabic!"}, "language"),
        ({"tags": "a,b"}, "tags"),
        ({"tags": [1]}, "tags"),
        ({"headline": "\ud800"}, "headline"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_field_is_named(change, field):
    data = {**GOOD, **change}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(InvalidInput) as err:
        validate_article(data, prefix="articles[2].")
    assert err.value.field == f"articles[2].{field}"


def test_article_must_be_an_object():
    with pytest.raises(InvalidInput):
        validate_article(["id", "headline"])


def test_id_may_hold_slashes_and_unicode():
    assert validate_article({**GOOD, "id": "2017/02/مقال-1"}).id == "2017/02/مقال-1"


def test_draft_needs_only_a_headline():
    assert validate_draft({"headline": " h ", "k": 3}) == ("h", "")
    with pytest.raises(InvalidInput) as err:
        validate_draft({"body": "no headline"})
    assert err.value.field == "headline"
