"""Backfilling from a site's sitemaps: a real HTTP server on 127.0.0.1 serving the fixtures of
tests/fixtures/site/ (a news site's sitemaps, and pages built around real articles of the bundled sample with
a news site's chrome), trafilatura's real extraction, a real engine over a temporary folder."""
from __future__ import annotations

import functools
import gzip
import http.server
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.feeds.fetch import USER_AGENT
from service.sites import pages
from service.sites.backfill import SiteBackfill
from service.sites.extract import decode, extract
from service.sites.pages import Fetcher, Skip
from service.sites.sitemaps import SitemapError, Sitemaps, parse, unzip
from service.sites.state import FILE_NAME

from .conftest import serving_on_loopback

FIXTURES = Path(__file__).parent / "fixtures" / "site"
MANIFEST = json.loads((FIXTURES / "site.json").read_text(encoding="utf-8"))
ROUTES = MANIFEST["routes"]
BASE = "http://site.example"
STORED = [r["id"] for r in ROUTES if r["kind"] in ("article", "busy-once", "windows-1256")]
# The URL each stored article is listed at: its page's, or the one that redirects to it (within the host).
LISTED = {r["id"]: r["path"] for r in ROUTES if r.get("id") in STORED and r["listed"]} | \
    {page["id"]: r["path"] for r in ROUTES if r["kind"] == "redirect" for page in ROUTES if page["path"] == r["to"]}
EXTRACTED = [r for r in ROUTES if "id" in r]  # every article page, the one robots.txt keeps us from included
SLOW = 3.0  # seconds the slow page takes; the tests' fetchers give up after 1


@functools.cache
def big_page() -> bytes:
    """A 10 MB article page (made here, not committed): a live blog that never ends."""
    paragraph = "<p>" + "Live: the match goes on, minute after minute, with no end in sight. " * 20 + "</p>\n"
    head = "<!DOCTYPE html><html lang=\"en\"><head><title>Live</title></head><body><article><h1>Live</h1>\n"
    return (head + paragraph * (10 * 1024 * 1024 // len(paragraph) + 1) + "</article></body></html>\n").encode()


def sitemap_bytes(name: str, base: str) -> bytes:
    raw = (FIXTURES / name).read_bytes()
    if name.endswith(".gz"):
        return gzip.compress(gzip.decompress(raw).replace(BASE.encode(), base.encode()), mtime=0)
    return raw.replace(BASE.encode(), base.encode())


class Site:
    """What the test server serves: path -> (kind, value, content type, body); every request is recorded."""

    def __init__(self, port: int) -> None:
        self.port, self.base = port, f"http://127.0.0.1:{port}"
        self.requests: list[tuple[str, float, str]] = []  # (path, when, user agent)
        self.routes: dict[str, tuple] = {"/robots.txt": ("page", None, "text/plain", (FIXTURES / "robots.txt").read_bytes())}
        for name in ("sitemap.xml", "news-sitemap.xml", "sitemap-video.xml", "pages-sitemap.xml.gz"):
            kind = "application/gzip" if name.endswith(".gz") else "application/xml"
            self.routes["/" + name] = ("page", None, kind, sitemap_bytes(name, self.base))
        for route in ROUTES:
            self.routes[route["path"]] = self._route(route)

    def _route(self, route: dict) -> tuple:
        kind, html = route["kind"], "text/html; charset=utf-8"
        page = (FIXTURES / "pages" / f"{route['id']}.html").read_bytes() if "id" in route else b""
        return {"article": ("page", None, html, page), "private": ("page", None, html, page),
                "busy-once": ("busy", None, html, page), "windows-1256": ("page", None, "text/html", page),
                "no-article": ("page", None, html, (FIXTURES / "pages" / "news.html").read_bytes()),
                "big": ("page", None, html, None), "slow": ("slow", SLOW, html, b"<html></html>"),
                "redirect": ("redirect", self.base + route.get("to", ""), None, None),
                "redirect-other-host": ("redirect", f"http://localhost:{self.port}{route.get('to', '')}", None, None),
                }[kind]

    def url(self, path: str) -> str:
        return self.base + path

    def pages_requested(self) -> Counter:
        return Counter(p for p, _, _ in self.requests if p != "/robots.txt" and "sitemap" not in p)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        site: Site = self.server.site
        site.requests.append((self.path, time.monotonic(), self.headers.get("User-Agent", "")))
        kind, value, content_type, body = site.routes.get(self.path, ("status", 404, None, None))
        try:
            if kind == "redirect":
                self._send(302, None, b"", [("Location", value)])
            elif kind == "status":
                self.send_error(value)
            elif kind == "busy" and [p for p, _, _ in site.requests].count(self.path) == 1:
                self._send(429, "text/plain", b"slow down", [("Retry-After", "1")])
            else:
                time.sleep(value if kind == "slow" else 0)
                self._send(200, content_type, body if body is not None else big_page(), [],
                           length=value != "unannounced")
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (too large, too slow)
            pass

    def _send(self, status: int, content_type: str | None, body: bytes, headers: list, length: bool = True) -> None:
        self.send_response(status)
        for name, value in headers + ([("Content-Type", content_type)] if content_type else []):
            self.send_header(name, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def site() -> Iterator[Site]:
    with serving_on_loopback(Handler, Site) as served:
        yield served


def quick_fetcher(rate: float = 50) -> Fetcher:
    """A fetcher that gives a page up after 1 s, twice, 50 ms apart (the defaults: 20 s, 4 times, 1 s)."""
    return Fetcher(rate, timeout=1.0, tries=2, backoff=0.05)


def run(engine, site: Site, fetcher: Fetcher | None = None, path: str = "/sitemap.xml", **options):
    backfill = SiteBackfill(engine, fetcher or quick_fetcher(), echo=lambda line: None, **options)
    try:
        return backfill.run(site.url(path))
    finally:
        backfill.close()


def norm(text: str) -> str:
    return " ".join(text.split())


def sentences(body: str) -> list[str]:
    return [s for paragraph in body.split("\n") for s in re.split(r"(?<=[.!?؟])\s+", norm(paragraph)) if s]


def page_of(route: dict) -> str:
    raw = (FIXTURES / "pages" / f"{route['id']}.html").read_bytes()
    return decode(raw, "text/html; charset=utf-8" if route["kind"] != "windows-1256" else "text/html")


def test_extraction_finds_each_pages_headline_and_body_and_none_of_its_chrome(sample_by_id):
    for route in EXTRACTED:
        real, found = sample_by_id[route["id"]], extract(page_of(route), BASE + route["path"])
        assert found.headline == norm(real["headline"]), route["id"]
        first, last = sentences(real["body"])[0], sentences(real["body"])[-1]
        assert first in norm(found.body) and last in norm(found.body), route["id"]
        chrome = [c for c in MANIFEST["chrome"] if c not in real["body"] and c not in real["headline"]]
        assert [c for c in chrome if c in found.body] == [], route["id"]
        assert found.language == "ar" and found.site_name == "Jawhara FM"
        assert found.published[:16] == real["published_at"][:16]  # the page's own date, to the minute
    listing = (FIXTURES / "pages" / "news.html").read_text(encoding="utf-8")
    with pytest.raises(Skip, match="no article found"):
        extract(listing, BASE + "/ar/news/")


def test_backfill_stores_the_articles_and_says_why_each_other_page_was_not(engine, site, sample_by_id):
    tally, sitemaps = run(engine, site)
    ids = {f"127.0.0.1:{site.port}{LISTED[key]}": key for key in STORED}  # the URL without its scheme
    assert sorted(engine.store.get_many(list(ids))) == sorted(ids) and engine.store.count() == len(ids) == 7
    for key, real in ((key, sample_by_id[ant]) for key, ant in ids.items()):
        article, page = engine.get(key).article, next(r["path"] for r in ROUTES if r.get("id") == ids[key])
        assert (article.headline, article.body) == (norm(real["headline"]), "\n".join(map(norm, real["body"].split("\n"))))
        assert (article.url, article.source, article.language) == (site.url(page), "Jawhara FM", "ar")
        assert article.published_at == engine_time(real["published_at"])
    assert tally.skipped == {"no article found": 1, "larger than 5 MB": 1, "redirected to another host": 1,
                             "disallowed by robots.txt": 1}
    assert tally.failed == {"timed out": 1} and (tally.fetched, tally.stored) == (11, 7)
    lines = "\n".join(tally.summary(site.url("/sitemap.xml"), sitemaps))
    for expected in (f"sitemap {site.url('/sitemap.xml')}: lists itself: a loop, not read again",
                     f"sitemap {site.url('/sitemap-video.xml')}: not XML (mismatched tag",
                     f"skipped {site.url('/ar/news/')}: no article found (a list of links)",
                     f"skipped {site.url('/ar/video/2017/03/live-stream')}: larger than 5 MB (10,",
                     f"skipped {site.url('/ar/go/partner-story')}: redirected to another host (http://localhost:",
                     "disallowed by robots.txt", f"failed {site.url('/ar/archive/slow-story')}: timed out (after 1s; 2 tries)",
                     "11 pages fetched, 7 stored, 4 skipped, 1 failed, 0 done before; 3 sitemaps read, 12 URLs listed, "
                     "2 sitemap problems"):
        assert expected in lines, lines
    requested = site.pages_requested()
    private = next(r["path"] for r in ROUTES if r["kind"] == "private")
    busy = next(r["path"] for r in ROUTES if r["kind"] == "busy-once")
    assert private not in requested and requested[busy] == 2 and requested["/ar/archive/slow-story"] == 2
    times = [t for p, t, _ in site.requests if p == busy]
    assert times[1] - times[0] >= 0.9  # its Retry-After: 1
    assert {agent for _, _, agent in site.requests} == {USER_AGENT}
    assert [p for p, _, _ in site.requests].count("/robots.txt") == 1


def engine_time(published: str) -> str:
    from index.records.article import validate_article

    return validate_article({"id": "x", "headline": "x", "published_at": published}).published_at


def test_a_run_stopped_midway_goes_on_where_it_stopped_and_fetches_nothing_twice(engine, site, monkeypatch):
    upserted: list[str] = []
    upsert = engine.upsert
    monkeypatch.setattr(engine, "upsert", lambda articles, *a, **k: upserted.extend(x.id for x in articles)
                        or upsert(articles, *a, **k))
    fetcher, calls = quick_fetcher(), []
    get = fetcher.get

    def killed_after_five(url: str, *args, **kwargs):
        if "sitemap" not in url:
            calls.append(url)
            if len(calls) > 5:
                raise RuntimeError("killed")
        return get(url, *args, **kwargs)

    monkeypatch.setattr(fetcher, "get", killed_after_five)
    with pytest.raises(RuntimeError, match="killed"):
        run(engine, site, fetcher, batch=2)
    first = site.pages_requested()
    assert len(first) == 5 and engine.store.count() == 4  # two batches of 2 stored, 1 waiting
    site.requests.clear()
    tally, _ = run(engine, site, batch=2)
    second = site.pages_requested()
    assert not set(first) & set(second), (first, second)
    assert (tally.resumed, tally.before, tally.stored) == (1, 5, 7 - 4) and engine.store.count() == 7
    assert sorted(upserted) == sorted(set(upserted)) and len(upserted) == 7  # each article stored once
    site.requests.clear()
    tally, _ = run(engine, site)  # a third run: only the page that failed (timed out) is tried again
    assert site.pages_requested() == {"/ar/archive/slow-story": 2} and tally.before == 11
    assert (engine.data_dir / FILE_NAME).exists()


def test_the_rate_and_crawl_delay_space_the_requests_to_a_host(engine, site):
    six = [r for r in ROUTES if r["kind"] == "article"] + [next(r for r in ROUTES if r["kind"] == "windows-1256")]
    listed = "".join(f"<url><loc>{site.url(r['path'])}</loc></url>" for r in six[:6])
    site.routes["/six-sitemap.xml"] = ("page", None, "application/xml",
                                       f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{listed}</urlset>'
                                       .encode())
    started = time.monotonic()
    tally, _ = run(engine, site, Fetcher(5, timeout=5), path="/six-sitemap.xml")
    assert (tally.fetched, tally.stored) == (6, 6)
    # 8 requests (robots.txt, the sitemap, 6 pages) started 0.2 s apart at least; lower bounds only (the server's
    # clock reads jitter: it shares this process with the extraction).
    assert time.monotonic() - started >= 1.35 and len(site.requests) == 8
    assert site.requests[-1][1] - site.requests[0][1] >= 1.2
    site.routes["/robots.txt"] = ("page", None, "text/plain", b"User-agent: *\nCrawl-delay: 1\nDisallow: /private/\n")
    site.requests.clear()
    fetcher, started = Fetcher(5, timeout=5), time.monotonic()  # a Crawl-delay longer than the rate's gap wins
    for route in six[:2]:
        fetcher.get(site.url(route["path"]))
    assert time.monotonic() - started >= 1.95 and len(site.requests) == 3  # robots.txt, then a page a second
    assert site.requests[-1][1] - site.requests[0][1] >= 1.8


def test_ctrl_c_keeps_the_articles_extracted_for_the_next_run(engine, site, monkeypatch):
    fetcher, calls = quick_fetcher(), []
    get = fetcher.get

    def interrupted(url: str, *args, **kwargs):
        calls.append(url)
        if len(calls) == 4:  # robots.txt is read by allowed(); the sitemap, two pages, then Ctrl-C
            raise KeyboardInterrupt
        return get(url, *args, **kwargs)

    monkeypatch.setattr(fetcher, "get", interrupted)
    tally, sitemaps = run(engine, site, fetcher, path="/news-sitemap.xml")
    assert (tally.fetched, tally.stored, tally.waiting, engine.store.count()) == (3, 0, 2, 0)
    assert "interrupted: 2 articles extracted wait in site-backfill.sqlite; the next run stores them" in \
        tally.summary(site.url("/news-sitemap.xml"), sitemaps)
    tally, _ = run(engine, site, path="/news-sitemap.xml")
    assert (tally.resumed, tally.fetched, tally.stored, engine.store.count()) == (2, 1, 3, 3)


def test_retries_back_off_exponentially_and_oversized_pages_are_cut_off(site, monkeypatch):
    failures = iter([503, 502, 500])
    page = (FIXTURES / "pages" / f"{STORED[0]}.html").read_bytes()
    site.routes["/flaky"] = ("page", None, "text/html", page)
    original = Handler.do_GET

    def flaky(handler):
        if handler.path == "/flaky" and (code := next(failures, None)):
            handler.server.site.requests.append((handler.path, time.monotonic(), ""))
            return handler.send_error(code)
        return original(handler)

    monkeypatch.setattr(Handler, "do_GET", flaky)
    fetcher = Fetcher(50, timeout=2, tries=4, backoff=0.1)
    assert fetcher.get(site.url("/flaky")).body == page
    times = [t for p, t, _ in site.requests if p == "/flaky"]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(times) == 4 and gaps[0] >= 0.08 and gaps[1] >= 0.17 and gaps[2] >= 0.35, gaps  # 0.1, 0.2, 0.4 s
    site.routes["/endless"] = ("page", "unannounced", "text/html", None)  # 10 MB, no Content-Length
    with pytest.raises(Skip, match="larger than 5 MB .*the rest not downloaded"):
        fetcher.get(site.url("/endless"))
    with pytest.raises(Skip, match="HTTP 404"):
        fetcher.get(site.url("/nowhere"))


def test_sitemaps_news_fields_text_lists_bounds_and_bad_ones():
    news = parse((FIXTURES / "news-sitemap.xml").read_bytes())[1]
    assert [(e.title is not None, e.published[:4], e.language) for e in news] == [(True, "2017", "ar")] * 3
    image = (b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:image="http://www.google.com/'
             b'schemas/sitemap-image/1.1"><url><image:image><image:loc>http://x.test/a.jpg</image:loc></image:image>'
             b"<loc>http://x.test/a</loc></url></urlset>")
    assert parse(image)[1][0].url == "http://x.test/a"  # not the image's <loc>
    assert [e.url for e in parse(b"http://x.test/a\nhttps://x.test/b\n")[1]] == ["http://x.test/a", "https://x.test/b"]
    for bad, message in ((b"Sitemap coming soon", "not XML, nor a list of URLs"), (b"<rss><channel/></rss>", "<rss>"),
                         (b'<!DOCTYPE x [<!ENTITY a "aaaa">]><urlset/>', "DOCTYPE")):
        with pytest.raises(SitemapError, match=re.escape(message)):
            parse(bad)
    with pytest.raises(SitemapError, match="larger than 100 bytes uncompressed"):
        unzip(gzip.compress(b"x" * 5000), limit=100)
    plain = gzip.decompress((FIXTURES / "pages-sitemap.xml.gz").read_bytes())
    walk = Sitemaps(lambda url: plain, bound=4)
    assert len(list(walk.entries("http://site.example/pages-sitemap.xml.gz"))) == 4
    assert walk.problems == ["sitemap http://site.example/pages-sitemap.xml.gz: stopped at 4 URLs (the bound); "
                             "the rest not taken"]


def test_pages_in_other_encodings_are_read_as_they_declare_or_as_they_look(sample_by_id):
    real = sample_by_id[STORED[0]]
    html = f"<html><body><h1>{real['headline']}</h1><p>{real['body']}</p></body></html>"
    assert decode(html.encode("windows-1256"), "text/html; charset=windows-1256") == html
    assert decode(html.encode("utf-8"), "text/html") == html
    assert decode(html.encode("windows-1256"), "text/html") == html  # no declaration: the guess


def test_backfill_site_command_prints_progress_and_the_summary_then_goes_on(app, engine, site, monkeypatch):
    monkeypatch.setattr(pages, "TIMEOUT", 1.0)
    monkeypatch.setattr(pages, "TRIES", 2)
    monkeypatch.setattr(pages, "BACKOFF", 0.05)
    runner, url = app.test_cli_runner(), site.url("/sitemap.xml")
    first = runner.invoke(args=["backfill-site", "--rate", "50", "--limit", "2", url])
    assert first.exit_code == 0, first.output
    assert f"backfill-site {url}: 2 pages fetched, 2 stored, 0 skipped" in first.output
    result = runner.invoke(args=["backfill-site", "--rate", "50", url])
    assert result.exit_code == 0, result.output
    assert "9 pages fetched, 5 stored, 4 skipped, 1 failed, 2 done before" in result.output
    assert "skipped: 1 " in result.output and "failed (tried again by the next run): 1 timed out" in result.output
    assert app.test_client().get(f"/v1/articles/127.0.0.1:{site.port}{ROUTES[-1]['path']}").status_code == 200
    assert "not an http(s) URL" in runner.invoke(args=["backfill-site", "file:///etc/passwd"]).output
    gone = runner.invoke(args=["backfill-site", "--rate", "50", site.url("/no-sitemap.xml")])
    assert gone.exit_code == 1 and "sitemap " + site.url("/no-sitemap.xml") + ": HTTP 404" in gone.output
