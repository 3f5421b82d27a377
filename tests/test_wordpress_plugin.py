"""The WordPress plugin (integrations/wordpress/): PHP syntax, its PHP unit tests, its block against the
service's iframe page, and its HTTP code against a real `python -m service serve`. Skipped without `php`
(Debian's php-cli)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.parse
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from .conftest import ROOT, TEST_CACHE, clean_environ
from .postgres_server import free_port
from .test_server import call, serving
from .test_widget import ENGLISH

PHP = shutil.which("php")
pytestmark = pytest.mark.skipif(PHP is None, reason="php is not installed (apt-get install php-cli)")

WORDPRESS = ROOT / "integrations" / "wordpress"
PLUGIN = WORDPRESS / "related-headlines"
TESTS = WORDPRESS / "tests"
API_KEY = "wp-live-key-" + "7f3c9a1e5b2d4f60"


def php(*args: str, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 120):
    return subprocess.run([PHP, *args], input=stdin, capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=timeout)


# -- the plugin's files ----------------------------------------------------------------------


def test_every_php_file_parses():
    files = sorted(WORDPRESS.rglob("*.php"))
    assert len(files) >= 15
    for path in files:
        result = php("-l", str(path))
        assert result.returncode == 0, f"{path}: {result.stdout}{result.stderr}"


def test_php_unit_tests_pass():
    result = php(str(TESTS / "run.php"))
    assert result.returncode == 0, result.stdout + result.stderr
    passed, failed = map(int, re.search(r"^(\d+) passed, (\d+) failed$", result.stdout, re.M).groups())
    assert failed == 0 and passed >= 30, result.stdout
    assert result.stderr == ""  # no warning or notice


def test_plugin_folder_is_a_wordpress_plugin():
    main = (PLUGIN / "related-headlines.php").read_text(encoding="utf-8")
    header = dict(re.findall(r"^ \* ([A-Za-z ]+):\s+(.+)$", main, re.M))
    assert header["Plugin Name"] == "Related headlines" and header["Text Domain"] == "related-headlines"
    version = header["Version"]
    assert f"define( 'RELATED_HEADLINES_VERSION', '{version}' );" in main
    readme = (PLUGIN / "readme.txt").read_text(encoding="utf-8")
    assert readme.startswith("=== Related headlines ===") and f"Stable tag: {version}" in readme
    for section in ("== Description ==", "== Installation ==", "== Frequently Asked Questions ==", "== Changelog =="):
        assert section in readme
    block = json.loads((PLUGIN / "block" / "block.json").read_text(encoding="utf-8"))
    assert block["name"] == "related-headlines/related-headlines" and block["version"] == version
    assert (PLUGIN / "block" / block["editorScript"].removeprefix("file:")).exists()
    assert "defined( 'WP_UNINSTALL_PLUGIN' ) || exit;" in (PLUGIN / "uninstall.php").read_text(encoding="utf-8")
    # Every other PHP file refuses to run outside WordPress.
    for path in PLUGIN.rglob("*.php"):
        if path.name != "uninstall.php":
            assert "defined( 'ABSPATH' ) || exit;" in path.read_text(encoding="utf-8"), path


def test_stylesheet_is_the_widgets():
    """The block's stylesheet is a copy of the one widget.js injects (between its /*sa-css*/ markers)."""
    script = (ROOT / "service" / "static" / "widget.js").read_text(encoding="utf-8")
    widget_css = re.search(r"/\*sa-css\*/.*?/\*/sa-css\*/", script, re.S).group(0)
    plugin_css = (PLUGIN / "assets" / "related-headlines.css").read_text(encoding="utf-8")
    assert re.search(r"/\*sa-css\*/.*?/\*/sa-css\*/", plugin_css, re.S).group(0) == widget_css


# -- the block against the service's own iframe page ----------------------------------------


class Events(HTMLParser):
    """A block as (start, tag, attributes) / (text, ...) / (end, tag) events, entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple] = []

    def handle_starttag(self, tag, attrs):
        self.events.append(("start", tag, sorted((k, v) for k, v in attrs if k != "target")))

    def handle_endtag(self, tag):
        self.events.append(("end", tag))

    def handle_data(self, data):
        if data.strip():
            self.events.append(("text", data.strip()))


def block_events(html: str) -> list[tuple]:
    parser = Events()
    parser.feed(html)
    return parser.events


def iframe_block(page: str) -> str:
    return re.search(r'<div class="sa-block.*?</ol>\s*</div>', page, re.S).group(0)


@pytest.fixture
def widget_articles(client, few):
    articles = few[:4] + ENGLISH
    response = client.post("/v1/articles", json={"articles": articles})
    assert response.status_code == 200
    assert client.put("/v1/articles/en/storm/1/pins", json={"ids": ["en/storm/xss"]}).status_code == 200
    return articles


@pytest.mark.parametrize("article_id, query", [
    ("en/storm/1", "k=3"),                            # English, a pinned hostile item without a URL
    ("newest", "k=3&fill=latest"),                    # Arabic, RTL, topped up under its own heading
])
def test_block_is_the_iframe_pages_block(client, widget_articles, few, article_id, query):
    """The plugin renders an answer as the service's iframe page does: same elements, classes, attributes
    and texts (the iframe's links only add target=_top)."""
    if article_id == "newest":  # the newest Arabic one: the others are older, so "latest" has items
        article_id = max(few[:4], key=lambda a: (a["published_at"], a["id"]))["id"]
    path = "/".join(urllib.parse.quote(part, safe="") for part in article_id.split("/"))
    answer = client.get(f"/v1/articles/{path}/similar?{query}").get_json()
    assert answer["items"]
    page = client.get(f"/widget/{path}?{query}").get_data(as_text=True)
    result = php(str(TESTS / "render.php"), stdin=json.dumps(answer, ensure_ascii=False))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert block_events(result.stdout) == block_events(iframe_block(page))
    assert "<script" not in result.stdout and "<img" not in result.stdout


# -- the plugin's HTTP code against a real service ------------------------------------------

SITE = {"home_url": "https://news.example.com", "locale": "en_GB", "name": "Northern &amp; Co Post"}
POSTS = [
    {"ID": 101, "title": "Storm Ciara floods coastal towns in northern England",
     "content": "<!-- wp:paragraph --><p>Storm Ciara brought heavy rain and gale-force winds to northern England on "
                "Sunday, flooding coastal towns, closing roads and cutting power to thousands of homes.</p>"
                "<!-- /wp:paragraph --><!-- wp:paragraph --><p>Rescue teams evacuated residents from flooded "
                "streets as rivers burst their banks.</p><!-- /wp:paragraph -->",
     "permalink": "https://news.example.com/2020/02/09/storm-ciara-floods/", "date_gmt": "2020-02-09 10:00:00",
     "categories": ["Weather"], "tags": ["Storm Ciara", "floods"]},
    {"ID": 102, "title": "Thousands without power as Storm Ciara batters England",
     "content": "<p>Thousands of homes across England were left without electricity after Storm Ciara swept in "
                "with gale-force winds and torrential rain.</p><p>Flood warnings were issued for coastal areas "
                "and several rivers overflowed, forcing emergency services to evacuate residents.</p>",
     "permalink": "https://news.example.com/2020/02/09/power-cuts/", "date_gmt": "2020-02-09 16:30:00",
     "categories": ["Weather"], "tags": ["Storm Ciara"]},
    {"ID": 103, "title": "Local bakery wins national award for sourdough",
     "content": "<p>A family bakery in Leeds was named the best in the country for its sourdough loaves.</p>",
     "permalink": "https://news.example.com/2020/02/10/bakery/", "date_gmt": "2020-02-10 08:00:00",
     "categories": ["Food"], "tags": []},
]


def test_plugin_pushes_posts_to_a_real_service_and_renders_its_block(tmp_path: Path):
    """live.php pushes three posts with the plugin's mapping, client and transport (wp_remote_request over
    PHP streams) to a real server that requires an API key, deletes the third, and renders the first
    post's block from the real `GET similar` through Display (settings, transient cache)."""
    port = free_port()
    env = {**clean_environ(), "DATA_DIR": str(tmp_path / "data"), "EMBEDDING_CACHE": str(TEST_CACHE),
           "PORT": str(port), "API_KEYS": API_KEY}
    posts_file = tmp_path / "posts.json"
    posts_file.write_text(json.dumps({"site": SITE, "posts": POSTS}), encoding="utf-8")
    with serving(env) as base:
        live_env = {**clean_environ(), "RH_SERVICE_URL": base + "/", "RH_API_KEY": API_KEY}
        started = time.monotonic()
        result = php(str(TESTS / "live.php"), str(posts_file), env=live_env)
        assert result.returncode == 0 and result.stderr == "", result.stdout + result.stderr
        out = json.loads(result.stdout)

        assert [r["ok"] for r in out["pushed"]] == [True, True, True], out["pushed"]
        assert out["deleted"]["ok"] and out["deleted"]["status"] == 200
        status, stored = call(f"{base}/v1/articles/wp-news.example.com-101")
        assert status == 200
        assert {k: stored[k] for k in ("headline", "url", "published_at", "language", "section", "source", "tags")} == {
            "headline": POSTS[0]["title"], "url": POSTS[0]["permalink"], "published_at": "2020-02-09T10:00:00Z",
            "language": "en-GB", "section": "Weather", "source": "Northern & Co Post",
            "tags": ["Storm Ciara", "floods"]}
        assert "Rescue teams evacuated" in stored["body"] and "<p>" not in stored["body"] and "wp:" not in stored["body"]
        assert call(f"{base}/v1/articles/wp-news.example.com-103")[0] == 404  # deleted
        # Without the key, the service refuses the plugin's writes (so the key above was really used).
        status, error = call(base + "/v1/articles", {"id": "x", "headline": "x"})
        assert status == 401 and error["error"]["code"] == "unauthorized"

    html = out["html"]
    assert 'class="sa-block" lang="en-GB" dir="ltr"' in html
    assert POSTS[1]["title"] in [unescape(h) for h in re.findall(r'class="sa-link"[^>]*>(.*?)</a>', html)]
    assert f'href="{POSTS[1]["permalink"]}"' in html and "Northern &amp; Co Post" in html
    assert POSTS[0]["title"] not in html and POSTS[2]["title"] not in html  # never itself; deleted
    assert out["cached_html"] == html and out["requests_for_cached"] == 0 and out["style_enqueued"]
    assert out["reads_with_key"] == 0
    everything = result.stdout
    assert API_KEY not in html and API_KEY not in everything
    # Failures render nothing: an unknown article, a service that never answers (in the 2 s read
    # timeout, then skipped by other blocks for a minute), and one that refuses connections.
    assert out["unknown_html"] == "" and out["slow_html"] == "" and out["down_html"] == ""
    assert 1.5 <= out["slow_seconds"] < 5 and out["unreachable_flag"]
    assert out["skipped_html"] == "" and out["requests_while_down"] == 0
    assert time.monotonic() - started < 60
