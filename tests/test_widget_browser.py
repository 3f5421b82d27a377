"""The widget in a real browser: headless Chromium driven by Playwright, a real server process, and a host
page served from another origin (a second port) that embeds the blocks the way a CMS template does.

Skipped when Playwright or /usr/bin/chromium is missing (`.ci/run` installs both). No test writes into the
repository: `python -m tests.screenshots` regenerates the README's pictures.
"""
from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from service.widget import UNITS, relative_time

from .screenshots import CHROMIUM, DOCS, chromium, host_page, static_site, take_screenshots
from .test_server import call, free_port, running_server
from .test_widget import ENGLISH, XSS

EN_ID = "en/storm/1"

# Pinned in the English block after the hostile headline: a right-to-left source, a 200-character source
# without a space. (Bidi controls are removed at ingest, so they cannot be the test here.)
ODD = [
    # An Arabic source ending in digits: unisolated, the date's leading number joins its right-to-left run.
    {"id": "en/storm/bidi", "headline": "Flood warnings stay in place along the coast",
     "body": "Flood warnings remained in force along the coast on Monday as the storm moved east.",
     "source": "قناة 24", "published_at": "2020-02-10T09:00:00Z", "language": "en"},
    {"id": "en/storm/long", "headline": "Rivers keep rising after the storm", "url": "https://news.example/long",
     "body": "Rivers kept rising in the north after the storm, and more homes were evacuated overnight.",
     "source": "W" * 200, "published_at": "2020-02-10T10:00:00Z", "language": "en"},
]
# Blocks whose language is not their items' most common one: an Arabic article with English items, and an
# article with no detectable language whose items tie (two English, two Arabic; the first item's wins).
LANGUAGES = [
    {"id": "lang/ar", "headline": "البرلمان يصادق على الميزانية الجديدة", "language": "ar"},
    {"id": "lang/none", "headline": "2020 - 2021"},
    {"id": "lang/en-1", "headline": "Parliament approves the new budget", "language": "en",
     "published_at": "2021-03-01T08:00:00Z"},
    {"id": "lang/ar-1", "headline": "الحكومة تعرض خطة الإنفاق على النواب", "language": "ar",
     "published_at": "2021-03-01T09:00:00Z"},
    {"id": "lang/ar-2", "headline": "النواب يناقشون الضرائب الجديدة", "language": "ar",
     "published_at": "2021-03-01T10:00:00Z"},
    {"id": "lang/en-2", "headline": "Ministers present their spending plan", "language": "en",
     "published_at": "2021-03-01T11:00:00Z"},
]
PINS = {EN_ID: ["en/storm/xss", "en/storm/bidi", "en/storm/long"],
        "lang/ar": ["lang/en-1", "lang/en-2"],
        "lang/none": ["lang/en-1", "lang/ar-1", "lang/ar-2", "lang/en-2"]}
LANGUAGE_BLOCKS = (("own", "lang/ar", 2), ("none", "lang/none", 4))  # host page id, article, k

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)


# -- servers ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def articles(sample_rows) -> dict[str, Any]:
    arabic = [dict(row) for row in sample_rows if row["section"] == "sport"][:12]
    return {"arabic": arabic, "ar_id": arabic[0]["id"]}


@pytest.fixture(scope="module")
def service(tmp_path_factory, articles) -> Iterator[str]:
    """`python -m service ingest` then `serve` on 127.0.0.1, with the hostile articles pinned (`PINS`)."""
    tmp = tmp_path_factory.mktemp("widget-service")
    rows = articles["arabic"] + ENGLISH + ODD + LANGUAGES
    with running_server(tmp / "data", rows, RATE_LIMIT="", WIDGET_ORIGINS="", ALLOW_LOCAL_WRITES="1") as base:
        for article_id, ids in PINS.items():
            assert call(f"{base}/v1/articles/{article_id}/pins", {"ids": ids}, method="PUT")[0] == 200
        warm = [(articles["ar_id"], 5), (EN_ID, 5)] + [(a, k) for _, a, k in LANGUAGE_BLOCKS]
        for article_id, k in warm:  # the widget gives up after 4 s
            assert call(f"{base}/v1/articles/{article_id}/similar?k={k}")[0] == 200
        yield base


@pytest.fixture(scope="module")
def host(service, articles) -> Iterator[str]:
    """A static HTTP server on another port (another origin) serving the host pages."""
    script = f'<script src="{service}/widget.js" async></script>'
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    ar, en = articles["ar_id"], EN_ID
    pages = {
        "index.html": host_page("Two blocks", f'<div data-similar-articles data-article-id="{ar}" id="ar"></div>\n'
                                f'<div data-similar-articles data-article-id="{en}" id="en"></div>', script),
        "down.html": host_page("Service down", f'<div data-similar-articles data-article-id="{ar}" id="dead" '
                               f'data-api="{dead}"></div>\n<div data-similar-articles data-article-id="{ar}" '
                               'id="ar"></div>', script),
        "options.html": host_page("Options", f'<div data-similar-articles data-article-id="{en}" id="opts" '
                                  'data-k="2" data-theme="dark" data-title="Read also" data-lang="ar"></div>\n'
                                  f'<div data-similar-articles data-article-id="{en}" id="prof" '
                                  'data-profile="widget"></div>', script),
        "lang.html": host_page("Page language", f'<div data-similar-articles data-article-id="{ar}" id="ar" '
                               'data-lang="fr"></div>', script, lang="ar"),
        "language.html": host_page("Languages", "\n".join(
            f'<div data-similar-articles data-article-id="{a}" data-k="{k}" id="{i}"></div>'
            for i, a, k in LANGUAGE_BLOCKS), script),
        "iframe.html": host_page("Iframe", f'<iframe id="frame" src="{service}/widget/{en}?k=3" title="similar" '
                                 'style="width:100%;height:320px;border:0"></iframe>', ""),
    }
    with static_site(pages) as site:
        yield site


# -- browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


class Watched:
    """A page with what went wrong on it: uncaught errors, dialogs (alert), and the API requests made."""

    def __init__(self, browser: Any, width: int = 1280, height: int = 900) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.similar_requests: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("dialog", self._dialog)
        self.page.on("request", lambda r: self.similar_requests.append(r.url) if "/similar" in r.url else None)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def ready(self, count: int, timeout: float = 30_000) -> None:
        self.wait_until(f"document.querySelectorAll('[data-similar-articles][data-sa-state=ready]').length === {count}",
                        timeout)

    def wait_until(self, expression: str, timeout: float = 30_000) -> None:
        """Wait until a JavaScript expression is true on the page. Polled with `evaluate`, which a page's
        Content-Security-Policy allows: `wait_for_function` evals its predicate in the page when it has
        to poll, and the demo page's policy (no 'unsafe-eval') refuses that."""
        deadline = time.monotonic() + timeout / 1000
        while not self.page.evaluate(expression):
            assert time.monotonic() < deadline, f"not true after {timeout / 1000:g} s: {expression}"
            time.sleep(0.05)

    def block(self, selector: str) -> dict[str, Any]:
        """What a block shows: its attributes, heading, and items in order."""
        return self.page.eval_on_selector(selector, """host => ({
            dir: host.getAttribute('dir'), lang: host.getAttribute('lang'), cls: host.className,
            title: host.querySelector('.sa-title').textContent,
            direction: getComputedStyle(host).direction, background: getComputedStyle(host).backgroundColor,
            images: host.querySelectorAll('img').length,
            items: [...host.querySelectorAll('.sa-item')].map(li => ({
                id: li.dataset.id, headline: li.querySelector('.sa-link').textContent,
                tag: li.querySelector('.sa-link').tagName, href: li.querySelector('.sa-link').getAttribute('href'),
                source: (li.querySelector('.sa-source') || {}).textContent,
                date: (li.querySelector('.sa-date') || {}).textContent,
                datetime: (li.querySelector('.sa-date') || {dateTime: null}).dateTime}))})""")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watched(browser) -> Iterator[Callable[..., Watched]]:
    opened: list[Watched] = []

    def open_page(width: int = 1280, height: int = 900) -> Watched:
        opened.append(Watched(browser, width, height))
        return opened[-1]

    yield open_page
    for page in opened:
        page.close()


def similar(service: str, article_id: str, query: str = "k=5") -> list[dict[str, Any]]:
    status, answer = call(f"{service}/v1/articles/{article_id}/similar?{query}")
    assert status == 200
    return answer["items"]


# -- tests -----------------------------------------------------------------------------------


def test_two_blocks_render_the_api_items_in_order(watched, host, service, articles):
    w = watched()
    w.page.goto(host + "/index.html")
    w.ready(2)
    for selector, article_id in (("#ar", articles["ar_id"]), ("#en", EN_ID)):
        expected = similar(service, article_id)
        shown = w.block(selector)["items"]
        assert [i["id"] for i in shown] == [i["id"] for i in expected]
        assert [i["headline"] for i in shown] == [i["headline"] for i in expected]
        for item, want in zip(shown, expected):
            assert item["source"] == want["source"] and item["datetime"] == want["published_at"]
            assert item["href"] == (want["url"] if want.get("url") else None)
    assert len(w.similar_requests) == 2  # one request per block
    assert w.page.eval_on_selector_all("style#sa-style", "nodes => nodes.length") == 1  # styles injected once
    assert w.page.is_visible("#host-text") and w.page.is_visible("#after")
    assert w.errors == [] and w.dialogs == []


def test_arabic_block_is_rtl_and_english_block_ltr(watched, host):
    w = watched(1280, 900)
    w.page.goto(host + "/index.html")
    w.ready(2)
    ar, en = w.block("#ar"), w.block("#en")
    assert (ar["dir"], ar["lang"], ar["direction"], ar["title"]) == ("rtl", "ar", "rtl", "مقالات مشابهة")
    assert all(item["date"].startswith("قبل ") for item in ar["items"])
    assert (en["dir"], en["lang"], en["direction"], en["title"]) == ("ltr", "en", "ltr", "Similar articles")
    assert all(item["date"].endswith(" ago") for item in en["items"])

    phone = watched(360, 780)
    phone.page.goto(host + "/index.html")
    phone.ready(2)
    phone.page.locator("#en").scroll_into_view_if_needed()
    box = phone.page.locator("#en").bounding_box()
    assert box["width"] <= 360 - 2 * 16 + 1
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= 360  # nothing overflows sideways
    assert w.errors == [] and phone.errors == []


def test_hostile_headline_stays_text(watched, host):
    w = watched()
    w.page.goto(host + "/index.html")
    w.ready(2)
    en = w.block("#en")
    hostile = next(i for i in en["items"] if i["id"] == "en/storm/xss")
    assert hostile["headline"] == XSS and hostile["tag"] == "SPAN"  # no URL: not a link
    assert hostile["source"] == "<b>Evil</b> & Co"
    assert en["images"] == 0 and w.page.eval_on_selector_all("main img", "n => n.length") == 0
    w.page.wait_for_timeout(300)
    assert w.dialogs == [] and w.errors == []


def test_block_of_an_unreachable_service_disappears(watched, host):
    w = watched()
    w.page.goto(host + "/down.html")
    w.ready(1)
    w.page.wait_for_selector("#dead", state="detached", timeout=10_000)
    assert w.page.is_visible("#ar") and w.page.is_visible("#host-text") and w.page.is_visible("#after")
    assert w.errors == []


def test_block_of_a_slow_service_gives_up_after_4_seconds(watched, host):
    w = watched()
    hanging: list[Any] = []
    w.page.route(re.compile(r"/v1/articles/en/storm/1/similar"), lambda route: hanging.append(route))  # no answer
    started = time.monotonic()
    w.page.goto(host + "/index.html")
    w.ready(1)
    w.page.wait_for_selector("#en", state="detached", timeout=15_000)
    assert time.monotonic() - started >= 3.5 and hanging
    assert w.page.is_visible("#ar") and w.page.is_visible("#after")
    assert w.errors == []


def test_data_attributes(watched, host, service):
    w = watched()
    w.page.goto(host + "/options.html")
    w.ready(2)
    opts = w.block("#opts")
    assert len(opts["items"]) == 2 and opts["title"] == "Read also"
    assert (opts["dir"], opts["lang"]) == ("rtl", "ar") and "sa-dark" in opts["cls"]
    assert opts["background"] == "rgb(22, 23, 27)"  # the dark preset
    assert any("profile=widget" in url for url in w.similar_requests)
    assert [i["id"] for i in w.block("#prof")["items"]] == [i["id"] for i in similar(service, EN_ID, "profile=widget")]
    # data-lang wins over the articles' language and the page's <html lang>
    w.page.goto(host + "/lang.html")
    w.ready(1)
    fr = w.block("#ar")
    assert (fr["dir"], fr["title"]) == ("ltr", "Articles similaires") and fr["items"][0]["date"].startswith("il y a")
    assert w.errors == []


def test_theme_variables_apply(watched, host):
    w = watched()
    w.page.goto(host + "/index.html")
    w.ready(2)
    colour = w.page.evaluate("""() => { const host = document.querySelector('#en');
        host.style.setProperty('--sa-accent', 'rgb(0, 128, 0)');
        return getComputedStyle(host.querySelector('.sa-source')).color; }""")
    assert colour == "rgb(0, 128, 0)"


def test_iframe_page(watched, host, service):
    w = watched()
    response = w.page.goto(f"{service}/widget/{EN_ID}?k=3")
    assert response.status == 200
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert w.page.eval_on_selector(".sa-block", "b => getComputedStyle(b).borderTopWidth") == "3px"  # style allowed
    en = w.block(".sa-block")
    assert en["dir"] == "ltr" and [i["id"] for i in en["items"]] == [i["id"] for i in similar(service, EN_ID, "k=3")]
    assert en["items"][0]["headline"] == XSS and en["images"] == 0
    assert w.page.goto(f"{service}/widget/no/such/article").status == 404
    # embedded in a host page on another origin
    w.page.goto(host + "/iframe.html")
    frame = w.page.frame_locator("#frame")
    assert frame.locator(".sa-item").count() == len(en["items"])
    assert w.errors == [] and w.dialogs == []


def test_server_dates_match_the_browsers(watched):
    """The iframe page's relative dates (Python) read as the widget's (Intl.RelativeTimeFormat)."""
    w = watched()
    w.page.set_content("<p>dates</p>")
    counts = {"minute": [1, 2, 3, 11, 59], "hour": [1, 2, 3, 11, 23], "day": [1, 2, 3, 6], "week": [1, 2, 3, 4],
              "month": [1, 2, 3, 10, 11, 12], "year": [1, 2, 3, 10, 11, 100, 101, 103, 111]}
    sizes = dict(UNITS)
    cases = [(lang, unit, n) for lang in ("ar", "en") for unit, ns in counts.items() for n in ns]
    browser_says = w.page.evaluate(
        "cases => cases.map(([lang, unit, n]) => new Intl.RelativeTimeFormat(lang, {numeric: 'always'}).format(-n, unit))",
        cases)
    now = time.time()
    moment = datetime.fromtimestamp(now, UTC)
    for (lang, unit, n), expected in zip(cases, browser_says):
        iso = datetime.fromtimestamp(now - n * sizes[unit] - 1, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert relative_time(iso, lang, moment) == expected, (lang, unit, n)


def test_demo_page_shows_the_block_of_the_picked_article(watched, service, articles):
    w = watched()
    w.page.goto(service + "/")
    w.wait_until("document.getElementById('chosen').textContent !== '—'")  # the newest, picked at load
    w.page.locator("#articles li", has_text=ENGLISH[1]["headline"]).click()
    w.page.wait_for_selector(f"#block [data-article-id='{ENGLISH[1]['id']}'][data-sa-state=ready]")
    shown = w.block("#block .sa-block")
    expected = [i["id"] for i in similar(service, ENGLISH[1]["id"], "k=10")]
    assert expected and [i["id"] for i in shown["items"]] == expected  # the other tellings of the storm
    assert shown["dir"] == "ltr" and w.page.text_content("#chosen") == ENGLISH[1]["headline"]
    assert w.errors == []


def test_demo_page_runs_under_its_content_security_policy(watched, service):
    """The demo page's policy (#26) allows all it loads: its script and stylesheet files, its API calls and
    the stylesheet widget.js adds to the page; the browser reports no violation."""
    w = watched()
    w.page.add_init_script("window.violations = []; document.addEventListener('securitypolicyviolation', "
                           "(e) => window.violations.push(e.violatedDirective + ' ' + e.blockedURI));")
    response = w.page.goto(service + "/")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY" and response.headers["x-content-type-options"] == "nosniff"
    w.wait_until("document.getElementById('chosen').textContent !== '—'")
    w.page.locator("#articles li", has_text=ENGLISH[1]["headline"]).click()
    w.page.wait_for_selector(f"#block [data-article-id='{ENGLISH[1]['id']}'][data-sa-state=ready]")
    assert w.page.eval_on_selector("#block .sa-block", "b => getComputedStyle(b).borderTopWidth") == "3px"  # widget.js's
    assert w.page.eval_on_selector("body", "b => getComputedStyle(b).marginTop") == "0px"  # demo.css
    assert w.page.evaluate("window.violations") == [] and w.errors == []


# Where each item's date starts and ends on screen, and where its source ends (left to right).
BIDI_LAYOUT = """(block, id) => {
    const li = block.querySelector(`.sa-item[data-id="${id}"]`);
    const source = li.querySelector('.sa-source').getBoundingClientRect();
    const date = li.querySelector('.sa-date'), text = date.firstChild, range = document.createRange();
    const left = (i) => { range.setStart(text, i); range.setEnd(text, i + 1);
        return range.getBoundingClientRect().left; };
    return {sourceRight: source.right, dateLeft: date.getBoundingClientRect().left,
            firstChar: left(0), lastChar: left(text.length - 1)};
}"""


def test_a_right_to_left_source_does_not_reorder_the_date(watched, host, service):
    """A right-to-left source stays inside its own run, in the script block and the iframe page."""
    w = watched()
    w.page.goto(host + "/index.html")
    w.ready(2)
    script = w.page.eval_on_selector("#en", BIDI_LAYOUT, "en/storm/bidi")
    w.page.goto(f"{service}/widget/{EN_ID}?k=3")
    page = w.page.eval_on_selector(".sa-block", BIDI_LAYOUT, "en/storm/bidi")
    for layout in (script, page):
        assert layout["firstChar"] < layout["lastChar"], layout  # "6 years ago" reads left to right
        assert layout["sourceRight"] <= layout["dateLeft"] + 0.5, layout  # and comes after the source


# Elements of a block that stick out of it (or are wider than it).
OVERFLOWING = """block => { const box = block.getBoundingClientRect();
    return [...block.querySelectorAll('*')].filter(e => { const r = e.getBoundingClientRect();
        return r.left < box.left - 0.5 || r.right > box.right + 0.5; }).map(e => e.className || e.tagName); }"""


def test_a_long_unbroken_source_stays_inside_the_block_on_a_phone(watched, host, service):
    """A 200-character source without a space wraps inside the block at 360 px, script block and iframe page."""
    phone = watched(360, 780)
    phone.page.goto(host + "/index.html")
    phone.ready(2)
    assert phone.page.eval_on_selector("#en", OVERFLOWING) == []
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= 360
    phone.page.goto(f"{service}/widget/{EN_ID}?k=3")
    assert phone.page.eval_on_selector(".sa-block", OVERFLOWING) == []
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= 360


def test_script_block_and_iframe_page_choose_the_same_language(watched, host, service):
    """The asked-for language, else the article's, else the items' most common (the first item's on a tie)."""
    w = watched()
    w.page.goto(host + "/language.html")
    w.ready(len(LANGUAGE_BLOCKS))
    script = {block_id: w.block("#" + block_id) for block_id, _, _ in LANGUAGE_BLOCKS}
    for block_id, article_id, k in LANGUAGE_BLOCKS:
        answer = call(f"{service}/v1/articles/{article_id}/similar?k={k}")[1]
        items = [i["language"] for i in answer["items"]]
        assert [i["id"] for i in answer["items"]] == PINS[article_id]
        assert w.page.goto(f"{service}/widget/{article_id}?k={k}").status == 200
        page = w.block(".sa-block")
        assert (script[block_id]["lang"], script[block_id]["dir"], script[block_id]["title"]) == (
            page["lang"], page["dir"], page["title"]), (article_id, answer["article"], items)
        assert page["lang"] == (answer["article"]["language"] or items[0])
    assert script["own"]["lang"] == "ar" and script["none"]["lang"] == "en"


def test_screenshots_are_written_where_asked(browser, host, tmp_path):
    """What `python -m tests.screenshots` does, into a temporary folder."""
    paths = take_screenshots(browser, host + "/index.html", tmp_path)
    assert sorted(p.name for p in paths) == sorted(p.name for p in DOCS.glob("widget-*.png"))  # the README's
    widths = {}
    for path in paths:
        png = path.read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        widths[path.name] = int.from_bytes(png[16:20], "big")  # IHDR
    assert widths["widget-en-phone.png"] <= 360 - 2 * 16 and 360 < widths["widget-ar-desktop.png"] <= 1280


def docs_state() -> dict[str, tuple[int, str]]:
    return {p.name: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest()) for p in DOCS.glob("*.png")}


@pytest.fixture(scope="module", autouse=True)
def docs_before() -> dict[str, tuple[int, str]]:
    return docs_state()


def test_browser_tests_leave_the_docs_screenshots_alone(docs_before):
    """Last in the module: no test above wrote docs/*.png (`python -m tests.screenshots` does)."""
    assert docs_state() == docs_before
