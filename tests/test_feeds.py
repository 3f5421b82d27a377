"""Following feeds: a real HTTP server on 127.0.0.1 serving the fixtures of tests/fixtures/feeds/ (real
articles of the bundled sample, and the English test articles), a real engine over a temporary folder."""
from __future__ import annotations

import hashlib
import http.server
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from index.records.article import MAX_BODY, validate_article
from service import create_app
from service.feeds.background import follow_in_background
from service.feeds.fetch import USER_AGENT
from service.feeds.follower import MAX_INTERVAL, Follower
from service.feeds.formats import article_id, html_to_text

from .conftest import serving_on_loopback

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
ARABIC = ["JA-sport-423-20170218", "JA-sport-441-20170219", "JA-sport-465-20170221", "JA-sport-470-20170221",
          "JA-sport-565-20170228"]
MODIFIED = "Sun, 09 Feb 2020 16:30:00 GMT"
TYPES = {".xml": "application/rss+xml", ".json": "application/feed+json", ".html": "text/html; charset=utf-8"}


class Site:
    """What the test server serves: path -> (content type, body, validator) or ("redirect"|"status"|"slow", x)."""

    def __init__(self, port: int) -> None:
        self.port, self.requests = port, []
        self.routes: dict[str, tuple] = {
            f"/{f.name}": (TYPES[f.suffix], f.read_bytes(), "etag") for f in FIXTURES.iterdir() if f.suffix in TYPES}
        self.routes["/en.atom.xml"] = ("application/atom+xml", (FIXTURES / "en.atom.xml").read_bytes(), "modified")
        self.routes["/feed.json"] = ("application/feed+json", (FIXTURES / "feed.json").read_bytes(), None)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        site: Site = self.server.site
        site.requests.append((self.path, dict(self.headers)))
        kind, value, *rest = site.routes.get(self.path, ("status", 404))
        if kind == "redirect":
            self.send_response(302)
            self.send_header("Location", value)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif kind in ("status", "slow"):
            time.sleep(value if kind == "slow" else 0)
            self.send_error(503 if kind == "slow" else value)
        else:
            self._send(kind, value, rest[0])

    def _send(self, content_type: str, body: bytes, validator: str | None) -> None:
        etag = f'"{hashlib.sha1(body).hexdigest()[:16]}"'
        if (validator == "etag" and self.headers.get("If-None-Match") == etag) or \
                (validator == "modified" and self.headers.get("If-Modified-Since") == MODIFIED):
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if validator:
            self.send_header(*(("ETag", etag) if validator == "etag" else ("Last-Modified", MODIFIED)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def site() -> Iterator[Site]:
    with serving_on_loopback(Handler, Site) as served:
        yield served


@pytest.fixture
def make_follower(engine) -> Iterator[Callable[..., Follower]]:
    """Makes followers of the engine (every=60 s, timeout=5 s unless told), closed after the test."""
    made: list[Follower] = []

    def make(every: float = 60, timeout: float = 5) -> Follower:
        made.append(Follower(engine, every=every, timeout=timeout))
        return made[-1]

    yield make
    for one in made:
        one.close()


@pytest.fixture
def upserts(engine, monkeypatch) -> list[list[str]]:
    """The ids of each call of engine.upsert."""
    calls, upsert = [], engine.upsert
    monkeypatch.setattr(engine, "upsert", lambda articles, *a, **k: calls.append([x.id for x in articles])
                        or upsert(articles, *a, **k))
    return calls


def stored(engine, key: str):
    return engine.get(key).article


def words(text: str) -> list[list[str]]:
    return [line.split() for line in text.split("\n")]


def test_entries_are_stored_with_their_fields_and_a_second_poll_costs_nothing(engine, site, sample_by_id, upserts,
                                                                             make_follower):
    follower = make_follower()
    first = [follower.poll(site.url(p)) for p in ("/ar.rss.xml", "/en.atom.xml", "/feed.json")]
    assert [p.line().split(": ", 1)[1] for p in first] == [
        f"fetched: {n} new, 0 changed, 0 unchanged, 0 skipped" for n in (5, 3, 3)]
    assert engine.store.count() == 11 and len(upserts) == 3  # one batch a feed
    for key in ARABIC + ["JA-sport-570-20170228", "JA-sport-481-20170222"]:
        article, row = stored(engine, key), validate_article(sample_by_id[key])
        assert (article.headline, article.url, article.source, article.published_at, article.language) == \
               (row.headline, row.url, "Jawhara FM", row.published_at, "ar")
        assert words(article.body) == words(row.body)  # HTML paragraphs back to lines (&nbsp; is a space)
        assert (article.section, article.tags) == ("sport", ["sport"])
    storm = stored(engine, "news.example/en/storm/1")  # an Atom id that is a URL, as an id
    assert storm.body.split("\n")[1] == "Rescue teams evacuated residents from flooded streets as rivers burst their banks."
    assert (storm.url, storm.source, storm.language, storm.section, storm.tags, storm.published_at) == (
        "https://news.example/en/storm/1", "Storm Desk", "en-GB", "weather", ["weather", "storm-ciara"],
        "2020-02-09T10:00:00Z")
    assert stored(engine, "news.example/en/storm/3").body.startswith("Rail operators cancelled")  # from the summary

    embedded: list[int] = []
    engine.observe(on_embed=lambda texts, seconds: embedded.append(texts))
    sent = len(site.requests)
    second = [follower.poll(site.url(p)).line() for p in ("/ar.rss.xml", "/en.atom.xml", "/feed.json")]
    assert second == [f"{site.url('/ar.rss.xml')}: not modified", f"{site.url('/en.atom.xml')}: not modified",
                      f"{site.url('/feed.json')}: fetched: 0 new, 0 changed, 3 unchanged, 0 skipped"]
    headers = [h for _, h in site.requests[sent:]]
    assert headers[0]["If-None-Match"].startswith('"') and headers[1]["If-Modified-Since"] == MODIFIED
    assert all(h["User-Agent"] == USER_AGENT for h in headers)
    assert len(upserts) == 3 and embedded == [] and engine.store.count() == 11


def test_a_changed_entry_is_updated_alone(engine, site, upserts, make_follower):
    follower = make_follower()
    url = site.url("/ar.rss.xml")
    follower.poll(url)
    kind, body, validator = site.routes["/ar.rss.xml"]
    old = stored(engine, ARABIC[2]).headline
    site.routes["/ar.rss.xml"] = (kind, body.replace(old.encode(), f"{old} (فيديو)".encode()), validator)
    assert follower.poll(url).line() == f"{url}: fetched: 0 new, 1 changed, 4 unchanged, 0 skipped"
    assert upserts[-1] == [ARABIC[2]] and stored(engine, ARABIC[2]).headline == f"{old} (فيديو)"
    assert engine.store.count() == 5


def test_bad_entries_are_reported_and_skipped_and_a_long_body_cut(engine, site, sample_by_id, make_follower):
    long = sample_by_id["JA-sport-739-20170309"]["body"]
    paragraph = f"<p>{escape(long)}</p>".encode()
    kind, body, validator = site.routes["/bad-entries.rss.xml"]
    site.routes["/bad-entries.rss.xml"] = (kind, body.replace(b"@LONG_BODY@", paragraph * (MAX_BODY // len(long) + 2)),
                                           validator)
    done = make_follower().poll(site.url("/bad-entries.rss.xml"))
    assert done.skipped == ["item 2: no title", "item 3: link is not http(s): 'javascript:alert(1)'",
                            "item 5: repeats item 1", "item 6: no title", "item 7: no usable id (guid, id or link)"]
    assert (done.new, done.cut) == (2, 1)
    assert done.line().endswith("2 new, 0 changed, 0 unchanged, 5 skipped (item 2: no title; item 3: link is not "
                                "http(s): 'javascript:alert(1)'; item 5: repeats item 1; ...), 1 cut to 200000 characters")
    assert sorted(a["id"] for a in engine.list_articles()["items"]) == ["JA-sport-698-20170307", "JA-sport-739-20170309"]
    cut = stored(engine, "JA-sport-739-20170309").body
    assert len(cut) <= MAX_BODY and cut.startswith(" ".join(long.split()[:20]))
    assert stored(engine, "JA-sport-698-20170307").body  # item 1 stored, not its bodiless repeat


def test_broken_feeds_and_errors_store_nothing_and_do_not_stop_the_run(engine, site, make_follower):
    site.routes.update({"/down.xml": ("status", 503), "/slow.xml": ("slow", 3),
                        "/moved.xml": ("redirect", site.url("/ar.rss.xml", host="localhost")),
                        "/same-host.json": ("redirect", site.url("/feed.json"))})
    paths = ["/broken.rss.xml", "/not-a-feed.html", "/down.xml", "/slow.xml", "/moved.xml", "/same-host.json",
             "/ar.rss.xml"]
    follower, lines = make_follower(timeout=1), []
    assert follower.run([site.url(p) for p in paths], once=True, echo=lines.append) == 5
    assert [line.split(": ", 1)[1] for line in lines] == [
        "error: not well-formed XML (line 11: unclosed token); nothing stored",
        "error: not an RSS, Atom or JSON feed (<unknown>:2:0: syntax error); nothing stored",
        "error: HTTP 503 Service Unavailable; nothing stored",
        "error: timed out after 1s; nothing stored",
        f"error: redirected to another host ({site.url('/ar.rss.xml', host='localhost')}); not followed; nothing stored",
        "fetched: 3 new, 0 changed, 0 unchanged, 0 skipped",  # a redirect within the host is followed
        "fetched: 5 new, 0 changed, 0 unchanged, 0 skipped"]
    assert not any(h.get("Host", "").startswith("localhost") for _, h in site.requests)
    assert engine.store.count() == 8
    assert follower.log.validators(site.url("/broken.rss.xml")) == (None, None)
    assert follower.poll(site.url("/down.xml")).next_in == 60 * 2 ** 2  # backs off: twice as long each failure


def test_windows_1256_feed_is_stored_as_arabic_and_ttls_are_honoured(engine, site, sample_by_id, make_follower):
    assert (FIXTURES / "windows-1256.rss.xml").read_bytes().startswith(b'<?xml version="1.0" encoding="windows-1256"?>')
    follower = make_follower()
    done = follower.poll(site.url("/windows-1256.rss.xml"))
    assert done.new == 2 and done.next_in == 1800  # sy:updatePeriod hourly, updateFrequency 2
    for key in ("JA-sport-537-20170225", "JA-sport-573-20170228"):
        assert stored(engine, key).headline == sample_by_id[key]["headline"]
    assert follower.poll(site.url("/ar.rss.xml")).next_in == 15 * 60  # <ttl>15</ttl>
    assert make_follower(every=1200).poll(site.url("/ar.rss.xml")).next_in == 1200  # never more often than --every
    assert follower.poll(site.url("/feed.json")).next_in == 60  # no TTL
    kind, body, _ = site.routes["/ar.rss.xml"]
    site.routes["/daily.xml"] = (kind, body.replace(b"<ttl>15</ttl>", b"<ttl>1440</ttl>"), None)
    assert follower.poll(site.url("/daily.xml")).next_in == MAX_INTERVAL == 3600  # at least hourly


def test_follow_once_prints_a_line_a_feed_then_pages_get_blocks(app, site):
    runner, url = app.test_cli_runner(), site.url("/ar.rss.xml")
    result = runner.invoke(args=["follow", "--once", url])
    assert result.exit_code == 0, result.output
    assert result.output == f"{url}: fetched: 5 new, 0 changed, 0 unchanged, 0 skipped\n"
    answer = app.test_client().get(f"/v1/articles/{ARABIC[2]}/similar?k=5")  # a block, with no rebuild
    items = answer.get_json()["items"]
    assert answer.status_code == 200 and items and {i["id"] for i in items} <= set(ARABIC), items
    failed = runner.invoke(args=["follow", "--once", site.url("/broken.rss.xml"), url])
    assert failed.exit_code == 1 and failed.output.splitlines()[1] == f"{url}: not modified"
    assert "not an http(s) URL" in runner.invoke(args=["follow", "--once", "file:///etc/passwd"]).output


def test_following_polls_each_feed_when_due(site, make_follower):
    class Stop(Exception):
        pass

    waits, lines = [], []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        raise Stop

    urls = [site.url("/ar.rss.xml"), site.url("/down.xml")]
    with pytest.raises(Stop):
        make_follower().run(urls, once=False, echo=lines.append, sleep=sleep)
    assert lines[0].endswith("5 new, 0 changed, 0 unchanged, 0 skipped; next poll in 900s")
    assert lines[1].endswith("error: HTTP 404 Not Found; nothing stored; retry in 120s")
    assert 110 < waits[0] <= 120  # the next feed due: the failed one, backing off


def test_entry_ids_and_html_text():
    assert article_id("JA-sport-423-20170218") == "JA-sport-423-20170218"
    assert article_id("https://news.example/en/storm/1/") == "news.example/en/storm/1"
    assert article_id("https://x.example/a/similar") is None and article_id("x" * 200) is None
    html = "<div><p>One &amp;\n two</p><script>alert(1)</script><p>Three<br>four</p></div>"
    assert html_to_text(html) == "One & two\nThree\nfour"


def test_the_server_follows_its_feeds_in_one_process_of_the_data_folder(engine, site):
    url = site.url("/ar.rss.xml")
    config = {"TESTING": True, "DATA_DIR": str(engine.data_dir), "FEEDS": f"{url}, {url}", "FEED_EVERY": 10}
    app = create_app(config, engine=engine)
    following = follow_in_background(app)
    try:
        assert following is not None and following.thread.daemon
        deadline = time.monotonic() + 120
        while len(engine.store.all_ids()) < len(ARABIC) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sorted(engine.store.all_ids()) == sorted(ARABIC)
        assert [path for path, _ in site.requests].count("/ar.rss.xml") == 1  # the repeated URL polled once
        assert follow_in_background(create_app(config, engine=engine)) is None  # another worker: the lock is held
        assert follow_in_background(create_app({**config, "FEEDS": ""}, engine=engine)) is None
    finally:
        following.stop()
    assert not following.thread.is_alive()
    again = follow_in_background(create_app(config, engine=engine))  # the lock was released
    assert again is not None
    again.stop()


def test_follow_without_urls_polls_the_feeds_setting_and_a_bad_one_stops_the_start(engine, site):
    url = site.url("/ar.rss.xml")
    app = create_app({"TESTING": True, "DATA_DIR": str(engine.data_dir), "FEEDS": url}, engine=engine)
    result = app.test_cli_runner().invoke(args=["follow", "--once"])
    assert result.exit_code == 0 and result.output.startswith(f"{url}: fetched: 5 new"), result.output
    empty = create_app({"TESTING": True, "DATA_DIR": str(engine.data_dir)}, engine=engine)
    assert "set FEEDS" in empty.test_cli_runner().invoke(args=["follow", "--once"]).output
    with pytest.raises(ValueError, match="FEEDS: not an http"):
        create_app({"TESTING": True, "DATA_DIR": str(engine.data_dir), "FEEDS": "ftp://example.com/feed"}, engine=engine)
