"""The embeddable block through Flask's test client: widget.js, the iframe page, ETag/304, CORS."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from markupsafe import escape

from service import create_app
from service.config import from_environ
from service.cross_origin import allow_origin, parse_origins
from service.widget import SCRIPT, block_language, block_params, csp_hash, relative_time, safe_url

XSS = "<img src=x onerror=alert(1)>"

# English articles on one story (ids with slashes, as some CMSs have them) and one with hostile fields
# (the store accepts only http(s) URLs; the widget checks again, see test_block_rules).
ENGLISH = [
    {"id": "en/storm/1", "headline": "Storm Ciara floods coastal towns in northern England",
     "body": "Storm Ciara brought heavy rain and gale-force winds to northern England on Sunday, flooding "
             "coastal towns, closing roads and cutting power to thousands of homes. Rescue teams evacuated "
             "residents from flooded streets as rivers burst their banks.",
     "url": "https://news.example/en/storm/1", "source": "Northern Post", "published_at": "2020-02-09T10:00:00Z",
     "language": "en", "section": "weather"},
    {"id": "en/storm/2", "headline": "Thousands without power as Storm Ciara batters England",
     "body": "Thousands of homes across England were left without electricity after Storm Ciara swept in "
             "with gale-force winds and torrential rain. Flood warnings were issued for coastal areas and "
             "several rivers overflowed, forcing emergency services to evacuate residents.",
     "url": "https://news.example/en/storm/2", "source": "Daily Courier", "published_at": "2020-02-09T16:30:00Z",
     "language": "en", "section": "weather"},
    {"id": "en/storm/xss", "headline": XSS,
     "body": "Flood defences failed in several coastal towns during Storm Ciara, and emergency crews worked "
             "through the night to pump water from homes after strong winds and heavy rain hit England.",
     "source": "<b>Evil</b> & Co", "published_at": "2020-02-10T08:00:00Z",
     "language": "en", "section": "weather"},
]


def post(client, url, doc, method="post"):
    return client.open(url, method=method.upper(), data=json.dumps(doc), content_type="application/json")


@pytest.fixture
def loaded(client, few):
    assert post(client, "/v1/articles", {"articles": few + ENGLISH}).status_code == 200
    # The hostile article is pinned first in the English block, so it is always shown.
    assert post(client, "/v1/articles/en/storm/1/pins", {"ids": ["en/storm/xss"]}, method="put").status_code == 200
    return few


def headlines(html: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'class="sa-link"[^>]*>(.*?)</(?:a|span)>', html, re.DOTALL)]


# -- widget.js -------------------------------------------------------------------------------


def test_widget_js_is_small_cacheable_and_revalidates(client):
    assert SCRIPT.stat().st_size < 10 * 1024  # raw source; the minified file is smaller still
    response = client.get("/widget.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.data == SCRIPT.read_bytes()
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    assert response.headers["Access-Control-Allow-Origin"] == "*" and "Origin" in response.headers["Vary"]
    etag = response.headers["ETag"]
    again = client.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag


def test_widget_js_uses_no_eval_nor_html_insertion():
    source = SCRIPT.read_text(encoding="utf-8")
    for banned in ("eval(", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "new Function",
                   "setAttribute(\"on"):
        assert banned not in source


# -- JSON answers ----------------------------------------------------------------------------


def test_similar_answers_carry_etag_and_304(client, loaded):
    url = f"/v1/articles/{loaded[0]['id']}/similar?k=3&min_relatedness=0"
    first = client.get(url)
    assert first.status_code == 200 and first.headers["Cache-Control"] == "public, max-age=60"
    etag = first.headers["ETag"]
    second = client.get(url, headers={"If-None-Match": etag})
    assert second.status_code == 304 and second.data == b""
    assert second.headers["Access-Control-Allow-Origin"] == "*"
    other = client.get(f"/v1/articles/{loaded[0]['id']}/similar?k=4&min_relatedness=0")
    assert other.headers["ETag"] != etag
    assert client.get(url, headers={"If-None-Match": '"stale"'}).status_code == 200


def test_a_304_is_logged_and_counted_as_304(client, loaded, caplog):
    """The status a client gets is the one /metrics counts and the access log writes (it was the 200
    the view returned before the ETag hook turned it into a 304)."""
    from service.observability import REQUESTS

    url = f"/v1/articles/{loaded[0]['id']}/similar?k=3&min_relatedness=0"
    route = "/v1/articles/<path:article_id>/similar"

    def counted(status: str) -> float:
        return REQUESTS.labels(route=route, method="GET", status=status)._value.get()

    etag = client.get(url).headers["ETag"]
    before_304, before_200 = counted("304"), counted("200")
    with caplog.at_level("INFO", logger="service.access"):
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert (counted("304") - before_304, counted("200") - before_200) == (1, 0)
    assert [r.status for r in caplog.records if hasattr(r, "status")] == [304]


def test_other_reads_revalidate_and_writes_and_errors_are_not_cached(client, loaded):
    article = client.get(f"/v1/articles/{loaded[0]['id']}")
    assert article.headers["Cache-Control"] == "no-cache" and article.headers["ETag"]
    assert client.get(f"/v1/articles/{loaded[0]['id']}", headers={"If-None-Match": article.headers["ETag"]}
                      ).status_code == 304
    missing = client.get("/v1/articles/nope/similar")
    assert missing.status_code == 404 and "ETag" not in missing.headers and missing.is_json
    assert missing.headers["Access-Control-Allow-Origin"] == "*"  # the widget can read why
    draft = post(client, "/v1/similar", {"headline": loaded[0]["headline"], "k": 2})
    assert draft.status_code == 200 and "ETag" not in draft.headers
    assert "ETag" not in client.get("/healthz").headers


# -- CORS ------------------------------------------------------------------------------------


def test_cors_lists_only_configured_origins(engine):
    app = create_app({"TESTING": True, "DATA_DIR": str(engine.data_dir), "RATE_LIMIT": "",
                      "WIDGET_ORIGINS": "https://news.example, https://Other.example/"}, engine=engine)
    client = app.test_client()
    allowed = client.get("/widget.js", headers={"Origin": "https://news.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://news.example"
    assert "Origin" in allowed.headers["Vary"]
    assert client.get("/healthz", headers={"Origin": "https://other.example"}).headers.get(
        "Access-Control-Allow-Origin") is None  # not a widget path
    assert client.get("/v1/articles", headers={"Origin": "https://other.example"}).headers[
        "Access-Control-Allow-Origin"] == "https://other.example"
    refused = client.get("/v1/articles", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in refused.headers and "Origin" in refused.headers["Vary"]
    page = client.get("/widget/unknown")
    assert "frame-ancestors https://news.example https://other.example" in page.headers["Content-Security-Policy"]


def test_origin_rules():
    assert parse_origins("") is None and parse_origins(" * ") is None and parse_origins(None) is None
    allowed = parse_origins("https://a.example/,http://127.0.0.1:8000")
    assert allowed == {"https://a.example", "http://127.0.0.1:8000"}
    assert allow_origin("https://a.example", allowed) == "https://a.example"
    assert allow_origin("https://b.example", allowed) is None and allow_origin(None, allowed) is None
    assert allow_origin("https://b.example", None) == "*"
    assert from_environ({"WIDGET_ORIGINS": "https://a.example"}) == {"WIDGET_ORIGINS": "https://a.example"}


# -- the iframe page -------------------------------------------------------------------------


def test_iframe_page_renders_the_api_items_in_order_rtl(client, loaded):
    article_id = loaded[0]["id"]
    answer = client.get(f"/v1/articles/{article_id}/similar?k=4").get_json()
    response = client.get(f"/widget/{article_id}?k=4")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert headlines(html) == [item["headline"] for item in answer["items"]]
    assert '<html lang="ar" dir="rtl">' in html and 'class="sa-block" lang="ar" dir="rtl"' in html
    assert "<h2 class=\"sa-title\">مقالات مشابهة</h2>" in html
    assert "قبل " in html  # relative dates in Arabic
    assert response.headers["Cache-Control"] == "public, max-age=60" and response.headers["ETag"]
    assert client.get(f"/widget/{article_id}?k=4", headers={"If-None-Match": response.headers["ETag"]}
                      ).status_code == 304


def test_iframe_page_has_a_strict_csp_and_no_script(client, loaded):
    response = client.get(f"/widget/{loaded[0]['id']}")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy and "unsafe-inline" not in policy
    html = response.get_data(as_text=True)
    assert "<script" not in html
    style = re.search(r"<style>(.*?)</style>", html, re.DOTALL).group(1)
    assert f"style-src {csp_hash(style)}" in policy  # the one inline stylesheet is allowed by its hash
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_iframe_page_escapes_every_field(client, loaded):
    response = client.get("/widget/en/storm/1?k=3")  # an id with slashes
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert XSS not in html and str(escape(XSS)) in html and headlines(html)[0] == XSS
    assert "<b>Evil</b>" not in html and "&lt;b&gt;Evil&lt;/b&gt; &amp; Co" in html
    assert f'<span class="sa-link" dir="auto" lang="en">{escape(XSS)}</span>' in html  # no URL: not a link
    assert '<span class="sa-source" dir="auto">&lt;b&gt;Evil' in html  # isolated from the date (bidi)
    assert 'dir="ltr"' in html and "Similar articles" in html and ' ago</time>' in html


def test_iframe_page_options(client, loaded):
    html = client.get("/widget/en/storm/1?title=%3Cb%3ERead%20more&theme=dark&lang=ar&k=1").get_data(as_text=True)
    assert '<h2 class="sa-title">&lt;b&gt;Read more</h2>' in html
    assert 'class="sa-block sa-dark" lang="ar" dir="rtl"' in html
    assert len(headlines(html)) == 1
    assert client.get("/widget/en/storm/1?profile=widget").status_code == 200


def test_iframe_page_errors_are_html_pages(client, loaded):
    missing = client.get("/widget/no/such/article")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert "Content-Security-Policy" in missing.headers and "sa-block\"" not in missing.get_data(as_text=True)
    bad = client.get(f"/widget/{loaded[0]['id']}?k=1000")
    assert bad.status_code == 400 and bad.mimetype == "text/html"
    assert client.get(f"/widget/{loaded[0]['id']}?profile=nope").status_code == 400


# -- pure helpers ----------------------------------------------------------------------------


NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def ago(**delta) -> str:
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("moment, lang, expected", [
    (ago(seconds=20), "en", "now"),
    (ago(seconds=20), "ar", "الآن"),
    (ago(minutes=1), "en", "1 minute ago"),
    (ago(hours=5), "en", "5 hours ago"),
    (ago(days=3), "en", "3 days ago"),
    (ago(days=3), "ar", "قبل 3 أيام"),
    (ago(days=1), "ar", "قبل يوم واحد"),
    (ago(days=2), "ar-TN", "قبل يومين"),
    (ago(hours=11), "ar", "قبل 11 ساعة"),
    (ago(days=21), "ar", "قبل 3 أسابيع"),
    (ago(days=11 * 30), "ar", "قبل 11 شهرًا"),
    (ago(days=365 * 9), "ar", "قبل 9 سنوات"),
    (ago(days=365 * 11), "ar", "قبل 11 سنة"),
    (ago(days=-5), "en", "now"),  # the future reads "now"
    (ago(days=3), "fr", ago(days=3)[:10]),  # no table: the date
    ("not a date", "en", ""),
])
def test_relative_time(moment, lang, expected):
    assert relative_time(moment, lang, NOW) == expected


def test_block_rules():
    items = [{"language": "ar"}, {"language": "en"}, {"language": "ar"}]
    assert block_language("fr", "en", items) == "fr"
    assert block_language(None, "en", items) == "en"
    assert block_language(None, None, items) == "ar"
    assert block_language(None, None, []) == "en"
    tie = [{"language": "en"}, {"language": "ar"}, {"language": "ar"}, {"language": "en"}]
    assert block_language(None, None, tie) == "en"  # the first item's, as widget.js
    assert block_params({"title": "x", "lang": "ar", "theme": "dark"}) == {"k": "5"}
    assert block_params({"k": "3", "profile": "widget", "language": "fr"}) == {"k": "3", "profile": "widget"}
    assert safe_url("https://a.example/x") and safe_url("HTTP://a.example") and not safe_url("javascript:alert(1)")
    assert not safe_url(" https://a.example") and not safe_url(None) and not safe_url("data:text/html,x")
